# Set-up and entry points. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KERNEL := src/hamsham/_kernel.so
CORES  ?= all

.PHONY: install kernel lint test test-slurm bench-slurm run bench bench-entropy bench-scale sanitize test-sanitize clean

install: $(VENV)/.installed kernel

# The virtual environment with pinned dependencies; `src/` goes on its path
# (an editable install without a build backend in the loop).
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'hamsham-src.pth').write_text(str(pathlib.Path('src').resolve()) + '\n')"
	touch $@

# The pybind11 kernel, built in place with CMake (the pipeline's `kernel` rule runs the same script):
# portable, its hot loops chosen at run time; `HAMSHAM_NATIVE=ON make kernel` builds it for this CPU only.
kernel: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH bash ext/build.sh build/ext

# ruff (pyproject.toml [tool.ruff]), snakefmt and Snakemake's own linter: all clean.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check .
	$(VENV)/bin/snakemake --lint

test: install lint
	$(PY) -m pytest -q -rs --durations=15

# The reduced demo through profiles/slurm on a one-node SLURM cluster started on this
# machine (ci/slurm/start.sh: root, apt-get), compared with the same run locally; the
# cluster is stopped afterwards, also on failure or timeout (ci/slurm/test.sh).
test-slurm: install
	timeout -k 30 960 bash ci/slurm/test.sh $(PY) || { rc=$$?; bash ci/slurm/stop.sh; exit $$rc; }

# The whole demo through profiles/slurm on the one-node cluster and locally (~1 h):
# wall times and submissions of README "Cluster" (build/slurm-full/summary.json).
bench-slurm: install
	HAMSHAM_SLURM_TIMEOUT=9300 timeout -k 30 9400 bash ci/slurm/test.sh $(PY) --full --out build/slurm-full \
	  || { rc=$$?; bash ci/slurm/stop.sh; exit $$rc; }

# = snakemake --cores N from the repository root (profiles/default is picked up by itself).
run: install
	$(VENV)/bin/snakemake --cores $(CORES)

bench: install
	$(PY) bench/bench.py

# RLH (beyond the study) against the gap+value entropy, the study's model (HAM, sHAM, CSC),
# zstd -19 and xz -9 on the real subset and the demo layers (trains the demo nets; ~15 min).
bench-entropy: install
	$(PY) bench/entropy.py

# Full-size look-alikes of covtype, census and imagenet plus the real subset, through
# the whole pipeline: wall time and peak memory per rule (results/<dataset>/benchmarks.csv).
bench-scale: install
	$(PY) bench/scale.py

# The kernel built with AddressSanitizer + UndefinedBehaviorSanitizer, then the kernel tests under it.
sanitize: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH bash ext/build.sh build/sanitize -DHAMSHAM_SANITIZE=ON -DHAMSHAM_OUTPUT_DIR=$(CURDIR)/build/sanitize/hamsham-kernel

test-sanitize: sanitize
	bash ext/run_sanitized.sh $(PY) build/sanitize/hamsham-kernel

clean:
	rm -rf build $(KERNEL)

# docs/rulegraph.{svg,png}: the demo's rule graph (`snakemake --rulegraph`) drawn by graphviz.
# The rules after the `discover` checkpoint appear only once it has run, so the demo data and
# their inventory are made first (results/demo/inventory.csv, about 30 s, no kernel needed).
.PHONY: rulegraph
rulegraph: $(VENV)/.installed
	@command -v dot >/dev/null || { echo "make rulegraph: graphviz's 'dot' is not installed (Debian/Ubuntu: apt-get install graphviz)" >&2; exit 1; }
	$(VENV)/bin/snakemake --cores 1 results/demo/inventory.csv
	mkdir -p build
	$(VENV)/bin/snakemake --rulegraph > build/rulegraph.dot
	dot -Tsvg build/rulegraph.dot -o docs/rulegraph.svg
	dot -Tpng -Gdpi=96 build/rulegraph.dot -o docs/rulegraph.png
