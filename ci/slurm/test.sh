#!/usr/bin/env bash
# `make test-slurm`: start the one-node SLURM cluster (ci/slurm/start.sh), run the
# reduced demo through profiles/slurm and locally and compare them (ci/slurm/demo.py),
# then stop the cluster, also when something failed (trap). Needs root (apt-get,
# slurmd) and `make install` done. Everything runs under `timeout -k`.
#   usage: ci/slurm/test.sh [PYTHON [DEMO_ARGS...]]   (default .venv/bin/python)
#   `make bench-slurm`: ci/slurm/test.sh .venv/bin/python --full --out build/slurm-full
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${1:-.venv/bin/python}
shift || true
DEMO_ARGS=("$@")
[[ ${#DEMO_ARGS[@]} -gt 0 ]] || DEMO_ARGS=(--out build/slurm-test)
DIR=${HAMSHAM_SLURM_DIR:-/tmp/hamsham-slurm}
export HAMSHAM_SLURM_DIR=$DIR

trap 'timeout -k 5 60 bash ci/slurm/stop.sh "$DIR"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
timeout -k 10 300 bash ci/slurm/start.sh "$DIR"
export SLURM_CONF=$DIR/slurm.conf
# The venv first on PATH: the cluster jobs (sbatch --export=ALL) find its snakemake.
PATH=$(cd "$(dirname "$PY")" && pwd):$PATH
export PATH
# demo.py bounds each snakemake run itself; this bounds the whole (--full: ~2.5 h at most).
timeout -k 20 ${HAMSHAM_SLURM_TIMEOUT:-840} "$PY" ci/slurm/demo.py "${DEMO_ARGS[@]}"
