#!/usr/bin/env bash
# Configure and build the kernel with CMake.
#   usage: ext/build.sh BUILD_DIR [extra cmake -D args...]
# `python` is taken from PATH (the Makefile puts .venv/bin first); it must have pybind11.
set -euo pipefail

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

cmake -S "$src_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$pybind11_dir" -DPython_EXECUTABLE="$python_exe" "$@"
cmake --build "$build_dir" -j 2
