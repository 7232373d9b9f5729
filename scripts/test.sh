#!/usr/bin/env bash
# Builds eqsim (Release) and runs the default test suite with ctest.
# EQS_CMAKE_ARGS adds configure options (CI makes SystemC/Verilator required with it).
# EQS_BUILD_DIR picks the build folder (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${EQS_BUILD_DIR:-build}"
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${EQS_CMAKE_ARGS:-}
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j 2 -LE long
