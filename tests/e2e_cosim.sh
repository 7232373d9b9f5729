#!/usr/bin/env bash
# e2e_cosim.sh — `eqsim cosim` on a small Fashion-MNIST MLP (784-32-10, symmetric EP, 120 steps of
# 20 images) and a small PEPITA MLP (784-64-10, 100 steps): every digital update computed by the
# verilated RTL equals the golden model's (0 mismatches), the (fixed - float) error stays within
# eqs_updunit_error_bound (0 violations), the ledger counts the digital updates, and the errors
# a user meets. Usage: e2e_cosim.sh EQSIM SOURCE_DIR [--no-rtl]
set -u
eqsim=$1
src=$2
rtl=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/e2e_lib.sh"

write_exp() { # write_exp FILE ALGO HIDDEN LR EXTRA_OPTIM
    cat >"$1" <<YAML
schema: eqs.experiment/1
name: cosim-small
model:
  schema: eqs.model/1
  name: mlp-784-$3-10
  input: {channels: 1, height: 28, width: 28}
  layers:
    - {name: fc1, out: $3}
    - {name: fc2, out: 10}
  activation: $5
  loss: cross_entropy
  readout: softmax
data:
  dir: /usr/share/datasets/fashion-mnist
  train_subset: 2400
  test_subset: 500
algorithm:
  name: $2
  estimator: symmetric
  beta: 0.1
  t1: 20
  t2: 8
optimizer:
  name: sgd
  lr: $4
  momentum: 0
training:
  epochs: 1
  batch_size: 20
  seed: 3
  threads: 1
hardware:
  schema: eqs.hwconfig/1
  name: ideal-digital
  update:
    digital: golden
YAML
}
write_exp "$tmp/ep.yaml" ep 32 "[0.1, 0.05]" hard_sigmoid
write_exp "$tmp/pep.yaml" pepita 64 "0.01" relu

summary_num() { # summary_num FILE REGEX: the number before the regex on the closing line
    grep -E '^rtl vs golden' "$1" | sed -E "s/.* ([0-9]+) $2.*/\1/"
}

for u in ep pep; do
    steps=120
    [ $u = pep ] && steps=100
    "$eqsim" cosim "$tmp/$u.yaml" --steps $steps --out "$tmp/$u" $rtl >"$tmp/$u.log" 2>&1
    rc=$?
    check "$u: cosim exits 0 (log: $(tail -3 "$tmp/$u.log" | tr '\n' ' '))" [ $rc -eq 0 ]
    check "$u: summary written" [ -s "$tmp/$u/summary.txt" ]
    s=$tmp/$u/summary.txt
    check "$u: 0 mismatches" [ "$(summary_num "$s" 'mismatches')" = 0 ]
    check "$u: 0 bound violations" [ "$(summary_num "$s" 'violations')" = 0 ]
    if [ -z "$rtl" ]; then
        checked=$(grep -E '^rtl vs golden' "$s" | sed -E 's/.* in ([0-9]+) updates.*/\1/')
        check "$u: the RTL checked updates ($checked)" [ "${checked:-0}" -gt 100000 ]
    fi
    # per-transaction rows: every weight and bias array of every step
    rows=$(($(wc -l <"$tmp/$u/cosim.csv") - 1))
    check "$u: cosim.csv has 4 transactions per step ($rows)" [ "$rows" -eq $((4 * steps)) ]
    upd=$(awk -F, '$1 == "fc1.update_unit" && $3 == "synapse_updates" { print $4 }' \
        "$tmp/$u/counters.csv")
    hid=32
    [ $u = pep ] && hid=64
    check "$u: ledger counts the digital updates ($upd)" [ "${upd:-0}" -eq $((steps * hid * 784)) ]
done

# the errors a user meets
check_fails_with "adaptive optimizer refused" "optimizer.momentum: 0" \
    cosim "$tmp/ep.yaml" --steps 1 --set optimizer.momentum=0.9 --out "$tmp/x" --no-rtl
check_fails_with "bad width named" "digital_state_f" \
    cosim "$tmp/ep.yaml" --steps 1 --set hardware.update.digital_state_f=12 \
    --set hardware.update.digital_state_w=8 --out "$tmp/x" --no-rtl
check_fails_with "unknown digital mode" "digital" \
    cosim "$tmp/ep.yaml" --steps 1 --set hardware.update.digital=rtl --out "$tmp/x" --no-rtl
e2e_finish e2e_cosim
