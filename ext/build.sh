#!/usr/bin/env bash
# Configure and build the kernel with CMake.
#   usage: ext/build.sh BUILD_DIR [extra cmake -D args...]
#          ext/build.sh --native      (prints ON or OFF: would this build use -march=native?)
# `python` is taken from PATH (the Makefile puts .venv/bin first); it must have pybind11.
#
# The default build is portable: it runs on any x86-64 CPU, and picks the fastest version
# of its hot loops for the CPU at run time (ext/src/dispatch.hpp), so a kernel built on
# one node of a cluster runs on every node. HAMSHAM_NATIVE=ON in the environment compiles
# for this machine's CPU only (-march=native). CMAKE_BUILD_PARALLEL_LEVEL sets the build's
# parallel jobs (default: the number of CPUs, `nproc`).
set -euo pipefail

native=${HAMSHAM_NATIVE:-OFF}
case ${native^^} in
  ON | 1 | TRUE | YES) native=ON ;;
  OFF | 0 | FALSE | NO) native=OFF ;;
  *)
    echo "$0: HAMSHAM_NATIVE must be ON or OFF, not '$native'" >&2
    exit 2
    ;;
esac
if [[ ${1:-} == --native ]]; then
  echo "$native"
  exit 0
fi

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [extra cmake -D args...]" >&2
  exit 2
fi
build_dir=$1
shift
src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

python_exe=$(command -v python) || { echo "$0: no 'python' on PATH" >&2; exit 1; }
pybind11_dir=$("$python_exe" -m pybind11 --cmakedir) || {
  echo "$0: '$python_exe -m pybind11 --cmakedir' failed: is pybind11 installed for this python?" >&2
  exit 1
}

jobs=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
if [[ $native == ON ]]; then what="native: -march=native, for this machine's CPU only"
else what="portable: x86-64, hot loops chosen at run time"; fi
echo "$0: HAMSHAM_NATIVE=$native${SLURM_JOB_ID:+ (in SLURM job $SLURM_JOB_ID)} ($what); $jobs parallel jobs"
cmake -S "$src_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DHAMSHAM_NATIVE="$native" \
  -Dpybind11_DIR="$pybind11_dir" -DPython_EXECUTABLE="$python_exe" "$@"
cmake --build "$build_dir" --parallel "$jobs"
