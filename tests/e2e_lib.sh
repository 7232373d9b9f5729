# e2e_lib.sh — helpers shared by the end-to-end shell tests (source it; set $eqsim first).
# Every check counts into $passed / $failed; e2e_finish prints the closing line
# "<name>: N passed, N failed" and returns non-zero on any failure.
export EQS_NO_PROGRESS=1
passed=0
failed=0

check() { # check "what" command...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $what" >&2
    fi
}

# check_fails_with "what" "needle" eqsim-args...: eqsim must fail (exit status 2 when
# $E2E_WANT_STATUS is 2, any non-zero status otherwise) and say something containing needle.
check_fails_with() {
    local what=$1 needle=$2
    shift 2
    local out rc
    out=$("$eqsim" "$@" 2>&1)
    rc=$?
    local status_ok=1
    if [ "${E2E_WANT_STATUS:-any}" = 2 ]; then [ $rc -eq 2 ] || status_ok=0; else [ $rc -ne 0 ] || status_ok=0; fi
    if [ $status_ok -eq 1 ] && grep -qF -- "$needle" <<<"$out"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $what: exit $rc, output: $out" >&2
    fi
}

ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

e2e_finish() {
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
