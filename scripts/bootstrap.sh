#!/usr/bin/env bash
# Install exactly the Debian 12 packages Ringmaster needs. Idempotent: when every package is already
# installed it only checks (dpkg-query) and exits, without touching apt.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config time
  # MPI, BLAS/LAPACKE
  openmpi-bin libopenmpi-dev libopenblas-dev liblapacke-dev
  # libraries: CLI, logging, config, JSON, compression
  libcxxopts-dev libspdlog-dev libtomlplusplus-dev nlohmann-json3-dev zlib1g-dev
  # Boost.Random (header-only): ziggurat normal sampling for stochastic gradients
  libboost-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing (scripts/fuzz.sh): clang 14 and its compiler-rt (libFuzzer, ASan and UBSan runtimes; only
  # recommended by clang, so not pulled in by --no-install-recommends)
  clang libclang-rt-14-dev
  # sweeps, plots and Slurm job scripts (tools/sweep.py, jobs/, scripts/slurm-local.sh, tests/test_slurm.sh)
  python3 python3-matplotlib slurm-wlm munge
  # runtime data: Fashion-MNIST for objective.kind = "mlp" (IDX .gz files in /usr/share/datasets/fashion-mnist)
  dataset-fashion-mnist
  # runtime data: the default corpus of objective.kind = "gpt" (fortune files in /usr/share/games/fortunes)
  fortunes
  # tests and benchmarks only, never a runtime dependency: the PyTorch references of the MLP's and the gpt
  # network's gradients (tests/mlp_reference.py, tests/gpt_reference.py over tools/gpt_torch.py) and the
  # PyTorch sides of `ringmaster bench mlp|gpt` (scripts/bench_*_torch.py), all run with Debian's /usr/bin/python3
  python3-torch python3-numpy
  # tools/gpt_checkpoint.py (a gpt run's checkpoint into PyTorch) and its test: the checkpoint's CBOR payload
  python3-cbor2
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if ((EUID != 0)); then sudo_cmd=(sudo); fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
