#!/usr/bin/env bash
# Installs everything eqsim needs from Debian's packages (Debian 12), non-interactively.
# Usage: sudo scripts/install-deps.sh   (as root, sudo is not needed)
set -euo pipefail
packages=(
  build-essential cmake pkg-config        # toolchain
  libopenblas-dev libyaml-dev zlib1g-dev  # the library's dependencies
  gnuplot-nox                             # PNG plots of runs
  dataset-fashion-mnist                   # the default data set (/usr/share/datasets/fashion-mnist)
  libsystemc-dev verilator                # SystemC model and RTL harnesses
  yosys                                   # synthesis of the RTL update units (docs/rtl.md)
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q -o DPkg::Lock::Timeout=900
$SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900 "${packages[@]}"
