#!/usr/bin/env bash
# e2e_gducheck.sh — `eqsim gducheck` on real Fashion-MNIST: the files it writes, the layers it
# reports (all three dynamic layers of the deeper CRNN; only fc1 when the readout is a softmax
# outside the dynamics), measured bounds on the RelMSE between EP's per-step updates and BPTT's
# per-step gradients, and the error paths.
# Usage: e2e_gducheck.sh EQSIM SOURCE_DIR
set -u
eqsim=$1
src=$2
mlp2=$src/experiments/fmnist-mlp2-ep.yaml
quick=$src/experiments/quickstart.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/e2e_lib.sh"
E2E_WANT_STATUS=2 # gducheck exits 2 on bad input

is_number() { [[ $1 =~ ^[0-9]\.[0-9]{6}e[-+][0-9]+$ ]]; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
relmse() { # relmse DIR layer group estimator
    awk -F, -v l="$2" -v g="$3" -v e="$4" '$1 == l && $2 == g && $3 == e { print $4 }' "$1/gdu.csv"
}

# The files of a run over the given dynamic layers, K nudged steps.
check_files() {
    local dir=$1 k=$2
    shift 2
    local rows=$((1 + 9 * $#))
    check "$dir/gdu.csv has $rows lines" [ "$(wc -l <"$dir/gdu.csv")" -eq "$rows" ]
    check "$dir/gdu.csv header" [ "$(head -1 "$dir/gdu.csv")" = "layer,group,estimator,relmse" ]
    for l in "$@"; do
        for g in neurons weights biases; do
            for e in one_sided_pos one_sided_neg symmetric; do
                local v
                v=$(relmse "$dir" "$l" "$g" "$e")
                check "$l $g $e is a number ($v)" is_number "$v"
            done
        done
        check "$l: PNG signature" is_png "$dir/gdu_$l.png"
        # header + K rows; t, then 4 columns for each of 5 neurons and 5 weights
        check "$l: trace CSV has $((k + 1)) lines" [ "$(wc -l <"$dir/gdu_$l.csv")" -eq $((k + 1)) ]
        check "$l: trace CSV has 41 columns" \
            [ "$(head -1 "$dir/gdu_$l.csv" | awk -F, '{ print NF }')" -eq 41 ]
    done
}

# 1. The deeper CRNN (three dynamic layers, MSE on the output in the dynamics) at its own
# beta = 0.5, T1 = 50, K = 15, initialisation. The nudge is strong there, so the per-step
# match is only approximate; but the one-sided estimates' O(beta) errors have opposite signs for
# +beta and -beta and the symmetric mean cancels them. Measured (seed 0, 10 images), weights:
# symmetric 0.351 / 0.331 / 0.312 against one-sided 0.767-1.041 / 0.655-0.964 / 0.541-0.920
# (fc1 / fc2 / fc3). Bound: symmetric below both one-sided values and below 0.5.
out=$("$eqsim" gducheck "$mlp2" --set data.train_subset=200 --batch 10 --out "$tmp/mlp2" 2>&1)
check "gducheck mlp2 exits 0" [ $? -eq 0 ]
echo "$out"
check_files "$tmp/mlp2" 15 fc1 fc2 fc3
for l in fc1 fc2 fc3; do
    sym=$(relmse "$tmp/mlp2" $l weights symmetric)
    pos=$(relmse "$tmp/mlp2" $l weights one_sided_pos)
    neg=$(relmse "$tmp/mlp2" $l weights one_sided_neg)
    check "$l weights: symmetric $sym < one-sided +beta $pos" lt "${sym:-9}" "${pos:-0}"
    check "$l weights: symmetric $sym < one-sided -beta $neg" lt "${sym:-9}" "${neg:-0}"
    check "$l weights: symmetric $sym < 0.5" lt "${sym:-9}" 0.5
done

# 2. The GDU property itself: at beta = 0.01 the parameter updates match BPTT's per-step
# gradients closely. Measured symmetric RelMSE of the weights 3.8e-4 / 3.1e-4 / 8.4e-7; a wrong
# sign, a step offset or a missing 1/B gives >= 0.03. (The neurons stay near 0.2-0.5: BPTT
# assigns dL/ds to saturated hard-sigmoid units, whose state EP cannot move.)
"$eqsim" gducheck "$mlp2" --set data.train_subset=200 --batch 10 --beta 0.01 \
    --out "$tmp/small" >/dev/null 2>&1
check "gducheck --beta 0.01 exits 0" [ $? -eq 0 ]
for l in fc1 fc2 fc3; do
    sym=$(relmse "$tmp/small" $l weights symmetric)
    echo "beta 0.01: $l weights symmetric RelMSE $sym"
    check "$l weights at beta 0.01: symmetric $sym < 2e-3" lt "${sym:-9}" 2e-3
done

# 3. A softmax readout: only fc1 is dynamic; the output says why fc2 is missing.
out=$("$eqsim" gducheck "$quick" --batch 10 --steps 8 --seed 3 --out "$tmp/quick" 2>&1)
check "gducheck quickstart exits 0" [ $? -eq 0 ]
check "quickstart: readout named as outside the dynamics" grep -q "softmax readout fc2" <<<"$out"
check_files "$tmp/quick" 8 fc1
check "quickstart: no fc2 rows" [ "$(grep -c '^fc2,' "$tmp/quick/gdu.csv")" -eq 0 ]

# 4. Bad input: exit 2 and a message naming the culprit.
check_fails_with "unknown flag" "--bogus" gducheck "$quick" --bogus
check_fails_with "batch 0" "--batch" gducheck "$quick" --batch 0
check_fails_with "batch larger than the data" "only 50 images" gducheck "$quick" \
    --set data.train_subset=50 --batch 51 --out "$tmp/bad"
check_fails_with "missing weights" "$tmp/nope/fc1.weight.npy" gducheck "$quick" \
    --weights "$tmp/nope" --out "$tmp/bad"
check_fails_with "K beyond T1" "--steps <= 30" gducheck "$quick" --steps 31 --out "$tmp/bad"
check_fails_with "negative beta" "--beta" gducheck "$quick" --beta -0.1 --out "$tmp/bad"
check "help exits 0" "$eqsim" gducheck --help >/dev/null

e2e_finish e2e_gducheck
