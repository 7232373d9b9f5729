#!/usr/bin/env bash
# e2e_sweep.sh — end-to-end checks of `eqsim sweep` on real Fashion-MNIST data (tiny subsets):
# a 2-point x 2-seed sweep and its outputs, a rerun that skips everything and changes no file,
# a deleted result that re-runs only its point bit for bit, an interrupted run that resumes bit
# for bit (on hardware too), a misspelled key that fails before any run, and --dry-run.
# Usage: e2e_sweep.sh EQSIM SOURCE_DIR
set -u
eqsim=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/e2e_lib.sh"

cat >"$tmp/s.yaml" <<EOF
schema: eqs.sweep/1
name: tiny
experiment: $src/experiments/quickstart.yaml
set: [data.train_subset=500, data.test_subset=500, training.epochs=2, algorithm.t1=10,
      algorithm.t2=4]
seeds: [0, 1]
grid:
  algorithm.estimator: [symmetric, one_sided]
EOF
out=$tmp/out
runs=("estimator=symmetric-seed0" "estimator=symmetric-seed1" "estimator=one_sided-seed0"
    "estimator=one_sided-seed1")
sums() { (cd "$out" && find . -type f | LC_ALL=C sort | xargs md5sum); }

# 1. --dry-run lists the 4 runs and makes nothing.
"$eqsim" sweep "$tmp/s.yaml" --out "$out" --dry-run >"$tmp/dry.log" 2>&1
check "dry run exits 0" [ $? -eq 0 ]
check "dry run lists 4 runs to make" [ "$(grep -c '(to run)' "$tmp/dry.log")" -eq 4 ]
check "dry run names the run directories" grep -qF "$out/estimator=one_sided-seed1" "$tmp/dry.log"
check "dry run makes nothing" [ ! -e "$out" ]

# 2. The sweep: 4 run directories of the train path, the tables and the plot.
"$eqsim" sweep "$tmp/s.yaml" --out "$out" >"$tmp/a.log" 2>&1
check "sweep exits 0" [ $? -eq 0 ]
for r in "${runs[@]}"; do
    check "run $r finished" grep -q "epochs_done: 2" "$out/$r/result.yaml"
    check "run $r has the train outputs" [ -s "$out/$r/metrics.csv" -a -s "$out/$r/accuracy.png" \
        -a -s "$out/$r/checkpoint/manifest.yaml" ]
done
check "resolved config holds the seed" grep -q "seed: 1" "$out/estimator=one_sided-seed1/config.yaml"
check "resolved config holds the point" grep -q "estimator: one_sided" \
    "$out/estimator=one_sided-seed1/config.yaml"
check "progress line per run" [ "$(grep -cE '^\[[1-4]/4\] estimator=.* seed [01]: best test acc' "$tmp/a.log")" -eq 4 ]
want="point,algorithm.estimator,seed,best_test_acc,best_epoch,final_test_acc,final_train_loss,wall_s,run_dir"
check "results.csv columns" [ "$(head -1 "$out/results.csv")" = "$want" ]
check "results.csv: 4 rows" [ "$(wc -l <"$out/results.csv")" -eq 5 ]
check "results.csv row" grep -qE '^estimator=one_sided,one_sided,1,0\.[0-9]+,[12],0\.[0-9]+,[0-9.]+,[0-9.]+,estimator=one_sided-seed1$' \
    "$out/results.csv"
check "summary.csv: 2 points" [ "$(wc -l <"$out/summary.csv")" -eq 3 ]
check "summary.csv columns" grep -q "^point,algorithm.estimator,n_seeds,best_test_acc_mean,best_test_acc_std,best_test_acc_min,best_test_acc_max," \
    "$out/summary.csv"
check "summary.csv: 2 seeds per point" [ "$(cut -d, -f3 "$out/summary.csv" | grep -c '^2$')" -eq 2 ]
mean=$(awk -F, '$2 == "symmetric" { s += $4; n++ } END { printf "%.6f", s / n }' "$out/results.csv")
check "summary mean = mean of results ($mean)" grep -q "^estimator=symmetric,symmetric,2,$mean," \
    "$out/summary.csv"
check "plot is a PNG" grep -q PNG <(head -c 8 "$out/best_test_acc_vs_estimator.png")
check "plot data has both estimators" [ "$(grep -c 'symmetric\|one_sided' \
    "$out/best_test_acc_vs_estimator.csv")" -eq 2 ]
check "sweep.yaml lists the points" [ "$(grep -c '^  - {algorithm.estimator: ' "$out/sweep.yaml")" -eq 2 ]
acc=$(awk -F, 'NR > 1 { print $4 }' "$out/results.csv" | sort -n | head -1)
check "tiny runs learn something (worst $acc > 0.4)" ge "$acc" 0.4

# 2b. --jobs 2 runs two points at once in child processes: the same numbers and weights.
"$eqsim" sweep "$tmp/s.yaml" --out "$tmp/par" --jobs 2 >"$tmp/par.log" 2>&1
check "parallel sweep exits 0" [ $? -eq 0 ]
check "parallel: a line per run" [ "$(grep -cE '^\[[1-4]/4\] estimator=.* seed [01]: best test acc' "$tmp/par.log")" -eq 4 ]
check "parallel: same results as serial" cmp -s <(cut -d, -f1-7 "$out/results.csv") \
    <(cut -d, -f1-7 "$tmp/par/results.csv")
check "parallel: same weights" cmp -s "$out/estimator=one_sided-seed1/checkpoint/fc1.weight.npy" \
    "$tmp/par/estimator=one_sided-seed1/checkpoint/fc1.weight.npy"
E2E_WANT_STATUS=2 check_fails_with "--jobs 0" "--jobs expects" sweep "$tmp/s.yaml" --jobs 0

# 3. A rerun skips every run and changes no file (a re-trained run would rewrite metrics.csv,
# whose epoch times differ).
before=$(sums)
"$eqsim" sweep "$tmp/s.yaml" --out "$out" >"$tmp/b.log" 2>&1
check "rerun exits 0" [ $? -eq 0 ]
check "rerun skips all 4" [ "$(grep -c 'finished earlier, skipped' "$tmp/b.log")" -eq 4 ]
check "rerun says 4 skipped" grep -q "4 runs, 4 skipped" "$tmp/b.log"
check "rerun changes no file" [ "$before" = "$(sums)" ]

# 4. The resolved sweep.yaml is the same sweep: everything skipped.
"$eqsim" sweep "$out/sweep.yaml" --out "$out" >"$tmp/c.log" 2>&1
check "sweep.yaml reloads as the same sweep" grep -q "4 runs, 4 skipped" "$tmp/c.log"

# 5. A deleted result re-runs that point only, bit for bit.
r=$out/estimator=one_sided-seed0
cp "$out/results.csv" "$tmp/results.before"
(cd "$r" && md5sum checkpoint/*.npy best/*.npy) >"$tmp/w.md5"
rm "$r/result.yaml"
"$eqsim" sweep "$tmp/s.yaml" --out "$out" >"$tmp/d.log" 2>&1
check "re-run exits 0" [ $? -eq 0 ]
check "only that point re-runs" [ "$(grep -c 'finished earlier, skipped' "$tmp/d.log")" -eq 3 ]
check "the re-run is that point" grep -q "^\[3/4\] estimator=one_sided seed 0: best test acc" "$tmp/d.log"
check "re-run weights bit-identical" bash -c "cd '$r' && md5sum --quiet -c '$tmp/w.md5'"
check "re-run results identical (but wall_s)" \
    diff <(cut -d, -f1-7,9 "$tmp/results.before") <(cut -d, -f1-7,9 "$out/results.csv")

# 6. An interrupted run (1 of 2 epochs done, its checkpoint kept) resumes, bit for bit.
r=$out/estimator=symmetric-seed1
(cd "$r" && md5sum checkpoint/*.npy best/*.npy) >"$tmp/w2.md5"
"$eqsim" train "$r/config.yaml" --set training.epochs=1 --out "$tmp/half" >/dev/null 2>&1
cp "$r/config.yaml" "$tmp/half/config.yaml" && rm "$tmp/half/result.yaml" && rm -rf "$r" &&
    mv "$tmp/half" "$r"
"$eqsim" sweep "$tmp/s.yaml" --out "$out" >"$tmp/e.log" 2>&1
check "interrupted run resumed" grep -q "^\[2/4\] estimator=symmetric seed 1: .*(resumed)" "$tmp/e.log"
check "resumed weights bit-identical" bash -c "cd '$r' && md5sum --quiet -c '$tmp/w2.md5'"

# 6b. The same on hardware (PCM: the checkpoint holds the device state), and a hardware
# checkpoint without it (written by an older eqsim: no neurons.counts) is made again instead.
sed -e 's/^name: tiny/name: tinyhw/' -e 's/algorithm.t2=4]/algorithm.t2=4,\n      hardware=..\/hwconfigs\/pcm-nandakumar2020.yaml]/' \
    -e 's/seeds: \[0, 1\]/seeds: [0]/' -e 's/\[symmetric, one_sided\]/[symmetric]/' \
    "$tmp/s.yaml" >"$tmp/hw.yaml"
hw_out=$tmp/hw_out
r=$hw_out/estimator=symmetric-seed0
"$eqsim" sweep "$tmp/hw.yaml" --out "$hw_out" >/dev/null 2>&1
check "hardware sweep exits 0" [ $? -eq 0 ]
(cd "$r" && md5sum checkpoint/* best/* counters.csv) >"$tmp/w3.md5"
for kind in resumed remade; do
    "$eqsim" train "$r/config.yaml" --set training.epochs=1 --out "$tmp/half" >/dev/null 2>&1
    cp "$r/config.yaml" "$tmp/half/config.yaml" && rm "$tmp/half/result.yaml" && rm -rf "$r"
    [ $kind = remade ] && rm "$tmp/half/checkpoint/neurons.counts"
    mv "$tmp/half" "$r"
    "$eqsim" sweep "$tmp/hw.yaml" --out "$hw_out" >"$tmp/h.log" 2>&1
    if [ $kind = resumed ]; then
        check "interrupted hardware run resumed" grep -q "seed 0: .*(resumed)" "$tmp/h.log"
    else
        check "hardware run without device state made again" bash -c \
            "grep -q 'seed 0: best test acc' '$tmp/h.log' && ! grep -q '(resumed)' '$tmp/h.log'"
    fi
    check "hardware run $kind: checkpoint, best/ and counters bit-identical" \
        bash -c "cd '$r' && md5sum --quiet -c '$tmp/w3.md5'"
done

# 7. A misspelled swept key fails at once, naming it and its place, before any run.
sed 's/algorithm.estimator:/algorithm.estimatr:/' "$tmp/s.yaml" >"$tmp/bad.yaml"
E2E_WANT_STATUS=2 check_fails_with "misspelled swept key" \
    "bad.yaml:8:3: algorithm.estimatr: unknown key (did you mean 'estimator'?)" \
    sweep "$tmp/bad.yaml" --out "$tmp/bad"
check "nothing made for a bad sweep" [ ! -e "$tmp/bad" ]
sed 's/one_sided\]/one_sidd]/' "$tmp/s.yaml" >"$tmp/bad2.yaml"
E2E_WANT_STATUS=2 check_fails_with "bad swept value" "bad2.yaml:8:36: algorithm.estimator: expected one of" \
    sweep "$tmp/bad2.yaml" --out "$tmp/bad"
sed 's/^grid:/gird:/' "$tmp/s.yaml" >"$tmp/bad3.yaml"
E2E_WANT_STATUS=2 check_fails_with "unknown sweep key" "gird: unknown key (did you mean 'grid'?)" \
    sweep "$tmp/bad3.yaml" --out "$tmp/bad"
E2E_WANT_STATUS=2 check_fails_with "a run dir of another config is refused" "holds a run of another config" \
    sweep "$tmp/s.yaml" --out "$out" --set training.epochs=3
check "help" "$eqsim" sweep --help >/dev/null

e2e_finish e2e_sweep
