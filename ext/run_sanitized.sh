#!/usr/bin/env bash
# Runs the kernel tests against a sanitizer build of _kernel.so.
#   usage: ext/run_sanitized.sh PYTHON KERNEL_DIR
# KERNEL_DIR holds _kernel.so built with -DHAMSHAM_SANITIZE=ON (see `make sanitize`).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 PYTHON KERNEL_DIR" >&2
  exit 2
fi
python_exe=$1
kernel_dir=$(cd "$2" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -f "$kernel_dir/_kernel.so" ]] || { echo "$0: no _kernel.so in $kernel_dir" >&2; exit 1; }

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
  [[ -f "$lib" ]] || { echo "$0: sanitizer runtime not found: $lib" >&2; exit 1; }
done

cd "$repo"
export HAMSHAM_KERNEL_DIR=$kernel_dir
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONDONTWRITEBYTECODE=1

echo "== kernel tests under ASan + UBSan ($kernel_dir/_kernel.so)"
LD_PRELOAD="$asan:$ubsan" "$python_exe" -m pytest -q -p no:cacheprovider tests/test_kernel.py
echo "== randomized products round under ASan + UBSan"
LD_PRELOAD="$asan:$ubsan" HAMSHAM_RANDOM_ROUNDS=40 HAMSHAM_RANDOM_SEED=20240611 \
  "$python_exe" -m pytest -q -p no:cacheprovider tests/test_kernel.py -k randomized
echo "== RLH tests (round trips, products, corrupted arrays and flipped bits) under ASan + UBSan"
LD_PRELOAD="$asan:$ubsan" "$python_exe" -m pytest -q -p no:cacheprovider tests/test_runlength.py
echo "== every version of the hot loops (HAMSHAM_ISA) under ASan + UBSan"
LD_PRELOAD="$asan:$ubsan" "$python_exe" -m pytest -q -p no:cacheprovider tests/test_build.py -k every_version
