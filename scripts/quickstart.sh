#!/usr/bin/env bash
# Builds eqsim (Release) and runs the quickstart: 2 epochs of symmetric EP on 10,000
# Fashion-MNIST images; prints the accuracy and leaves a run directory under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
build/sim/eqsim train experiments/quickstart.yaml "$@"
