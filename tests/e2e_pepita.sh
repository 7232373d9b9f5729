#!/usr/bin/env bash
# e2e_pepita.sh — PEPITA through the eqsim command on real Fashion-MNIST: a one-epoch run that
# must learn, its run directory (angle_deg_F, pepita.F.npy, no bias files), resume, the F = 0
# ablation freezing the hidden layer, `eqsim grads`' PEPITA files, and errors on bad values of
# the new keys.
# Usage: e2e_pepita.sh EQSIM NPYTOOL SOURCE_DIR
set -u
eqsim=$1
npytool=$2
src=$3
exp=$src/experiments/fmnist-pepita.yaml
f0=$src/experiments/fmnist-pepita-f0.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/e2e_lib.sh"

not() { ! "$@" 2>/dev/null; }
field() { awk -v k="$1:" '$1 == k { print $2 }' "$2"; }
column() { # column CSV NAME ROW: the value of column NAME in data row ROW (1-based)
    awk -F, -v n="$2" -v r="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i }
        NR == r + 1 { print $c }' "$1"
}

one=(--set data.train_subset=2000 --set data.test_subset=2000 --set training.epochs=1)

# 1. One epoch on 2,000 images (32 steps of 64). Measured test accuracy on 2,000 test images:
# 70.4% (seed 0; seeds 1-3: 68.1, 69.7, 67.3%). An output layer that does not learn stays near
# the 10% of chance; one updated with the wrong sign falls below it. 60% leaves room for other
# BLAS builds. (F = 0 scores about the same after one epoch: the hidden layer's share shows
# later, so section 3 checks the hidden layer through its weights.)
"$eqsim" train "$exp" "${one[@]}" --out "$tmp/a" >"$tmp/a.log" 2>&1
check "train exits 0" [ $? -eq 0 ]
acc=$(field best_test_acc "$tmp/a/result.yaml")
echo "pepita, 1 epoch on 2000 images: test accuracy ${acc:-none}"
check "1 epoch beats 60% (got $acc)" ge "${acc:-0}" 0.60
check "metrics.csv has angle_deg_F" grep -q ",angle_deg_F$" "$tmp/a/metrics.csv"
check "checkpoint holds pepita.F.npy" [ -s "$tmp/a/checkpoint/pepita.F.npy" ]
check "best/ holds pepita.F.npy" [ -s "$tmp/a/best/pepita.F.npy" ]
check "bias: false writes no bias file" [ ! -e "$tmp/a/checkpoint/fc1.bias.npy" ]
check "the authors' momentum form is checkpointed" \
    [ -s "$tmp/a/checkpoint/optim.velocity.fc1.weight.npy" ]
for k in "pepita_modulation: error" "milestones: \[60\]" "name: sgd_lr_in_momentum" \
    "activation: relu" "bias: false" "dropout: 0.1"; do
    check "resolved config has '$k'" grep -q "$k" "$tmp/a/config.yaml"
done

# 2. Resume to a second epoch: the hidden layer moves, and the product of the forward weights
# turns away from F^T (the paper's Fig. 3b: its angle with F^T grows past 90 degrees; measured
# +0.8 degrees in epoch 2, seed 0; +0.3 to +0.7 for seeds 1-3).
cp -r "$tmp/a/checkpoint" "$tmp/a_epoch1"
"$eqsim" train --resume "$tmp/a" --set training.epochs=2 >"$tmp/a2.log" 2>&1
check "resume exits 0" [ $? -eq 0 ]
a1=$(column "$tmp/a/metrics.csv" angle_deg_F 1)
a2=$(column "$tmp/a/metrics.csv" angle_deg_F 2)
echo "angle between W2 W1 and F^T: ${a1:-none} after epoch 1, ${a2:-none} after epoch 2"
check "the angle grows in epoch 2 ($a1 -> $a2)" lt "${a1:-0}" "${a2:-0}"
check "the angle is past 90 degrees ($a2)" lt 90 "${a2:-0}"
check "PEPITA moves the hidden layer" \
    not "$npytool" same "$tmp/a_epoch1/fc1.weight.npy" "$tmp/a/checkpoint/fc1.weight.npy"

# 3. F = 0: the modulated pass repeats the standard one, the hidden layer stays bit-identical
# and only the output layer learns.
"$eqsim" train "$f0" "${one[@]}" --out "$tmp/f" >/dev/null 2>&1
cp -r "$tmp/f/checkpoint" "$tmp/f_epoch1"
"$eqsim" train --resume "$tmp/f" --set training.epochs=2 >/dev/null 2>&1
check "F = 0: fc1 unchanged by epoch 2" \
    "$npytool" same "$tmp/f_epoch1/fc1.weight.npy" "$tmp/f/checkpoint/fc1.weight.npy"
check "F = 0: fc2 learns" \
    not "$npytool" same "$tmp/f_epoch1/fc2.weight.npy" "$tmp/f/checkpoint/fc2.weight.npy"
check "F = 0: no angle column" not grep -q angle_deg_F "$tmp/f/metrics.csv"

# 4. grads on 64 test images: the files of the contract. The checkpoint's F replaces the one
# the seed would draw (here another seed), and with F = 0 the two passes coincide.
"$npytool" batch /usr/share/datasets/fashion-mnist 64 "$tmp/x.npy" "$tmp/y.npy"
out=$("$eqsim" grads "$exp" --weights "$tmp/a/checkpoint" --inputs "$tmp/x.npy" \
    --labels "$tmp/y.npy" --out "$tmp/g" --set training.seed=5 2>&1)
check "grads exits 0 and says where F came from ($out)" grep -q "F from --weights" <<<"$out"
for f in act_std.fc1 act_mod.fc1 input_mod error_std error_mod grad_pepita.fc1.weight \
    grad_pepita.fc2.weight pepita.F; do
    check "grads wrote $f.npy" [ -s "$tmp/g/$f.npy" ]
done
check "grads: no bias gradient without biases" [ ! -e "$tmp/g/grad_pepita.fc1.bias.npy" ]
check "grads: no BPTT gradient for PEPITA" [ ! -e "$tmp/g/grad_bptt.fc1.weight.npy" ]
check "grads used the checkpoint's F" \
    "$npytool" same "$tmp/g/pepita.F.npy" "$tmp/a/checkpoint/pepita.F.npy"
check "grads: the modulation changes the hidden activity" \
    not "$npytool" same "$tmp/g/act_std.fc1.npy" "$tmp/g/act_mod.fc1.npy"
"$eqsim" grads "$exp" --weights "$tmp/a/checkpoint" --inputs "$tmp/x.npy" --labels "$tmp/y.npy" \
    --out "$tmp/gnd" --set training.seed=5 --set model.layers.0.dropout=0 >/dev/null 2>&1
check "grads runs with dropout off" \
    "$npytool" same "$tmp/g/grad_pepita.fc1.weight.npy" "$tmp/gnd/grad_pepita.fc1.weight.npy"
"$eqsim" grads "$f0" --weights "$tmp/a/checkpoint" --inputs "$tmp/x.npy" --labels "$tmp/y.npy" \
    --out "$tmp/g0" >/dev/null 2>&1
check "grads, F = 0: x' = x" "$npytool" same "$tmp/x.npy" "$tmp/g0/input_mod.npy"
check "grads, F = 0: h' = h" "$npytool" same "$tmp/g0/act_std.fc1.npy" "$tmp/g0/act_mod.fc1.npy"

# 5. Bad values of the new keys: the key, the value and where.
E2E_WANT_STATUS=2
sed "s#\.\./models/#$src/models/#; s#pepita_f_scale: 0.05#pepita_f_scale: -0.05#" "$exp" \
    >"$tmp/bad.yaml"
check_fails_with "negative F scale in a file" \
    "bad.yaml:16:19: algorithm.pepita_f_scale: expected a number >= 0, got '-0.05'" \
    train "$tmp/bad.yaml" --out "$tmp/bad1"
check_fails_with "unknown modulation" \
    "algorithm.pepita_modulation: expected one of error, none, random, got 'sometimes'" \
    train "$exp" --set algorithm.pepita_modulation=sometimes --out "$tmp/bad2"
check_fails_with "unsorted milestones" \
    "optimizer.milestones.1: expected epochs in increasing order, got '30' after 60" \
    train "$exp" --set "optimizer.milestones=[60, 30]" --out "$tmp/bad3"
check_fails_with "misspelled optimizer" "(did you mean 'sgd_lr_in_momentum'?)" \
    train "$exp" --set optimizer.name=sgd_lr_in_momentm --out "$tmp/bad4"
check_fails_with "pepita without a softmax output" \
    "model.readout: algorithm pepita needs readout softmax" \
    train "$exp" --set model.readout=linear --out "$tmp/bad5"
check_fails_with "bias is a boolean" "model.bias: expected true or false, got 'maybe'" \
    train "$exp" --set model.bias=maybe --out "$tmp/bad6"
check_fails_with "gducheck refuses pepita" "algorithm pepita is a feed-forward rule" \
    gducheck "$exp"

e2e_finish e2e_pepita
