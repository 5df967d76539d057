#!/usr/bin/env bash
# Configure and build the kernel with CMake.
#   usage: ext/build.sh BUILD_DIR [extra cmake -D args...]
#          ext/build.sh --native      (prints ON or OFF: would this build use -march=native?)
# `python` is taken from PATH (the Makefile puts .venv/bin first); it must have pybind11.
#
# -march=native: HAMSHAM_NATIVE=ON|OFF in the environment decides; unset (or `auto`), it is
# ON, except inside a SLURM job (SLURM_JOB_ID set): a kernel that one node of a cluster
# builds runs on every node, and -march=native code can crash on an older CPU.
set -euo pipefail

native=${HAMSHAM_NATIVE:-auto}
case ${native^^} in
  AUTO) if [[ -n ${SLURM_JOB_ID:-} ]]; then native=OFF; else native=ON; fi ;;
  ON | 1 | TRUE | YES) native=ON ;;
  OFF | 0 | FALSE | NO) native=OFF ;;
  *)
    echo "$0: HAMSHAM_NATIVE must be ON, OFF or auto, not '$native'" >&2
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

echo "$0: HAMSHAM_NATIVE=$native${SLURM_JOB_ID:+ (in SLURM job $SLURM_JOB_ID)}"
cmake -S "$src_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DHAMSHAM_NATIVE="$native" \
  -Dpybind11_DIR="$pybind11_dir" -DPython_EXECUTABLE="$python_exe" "$@"
cmake --build "$build_dir" -j 2
