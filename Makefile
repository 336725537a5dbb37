# Both entry points create their own virtual environment, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NMNIST ?= ../shared/realdata/nmnist/NMNIST-small
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS='--index-url URL-OF-A-CPU-WHEEL-INDEX' on a
# machine whose pip configuration does not already serve the CPU build.
TORCH_PIP_ARGS ?=

.PHONY: test demo lint bench clean-venv bench-quick

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch first and pinned. The pin alone does not pick a CPU build (PyPI's Linux x86-64 wheel
	# of torch is the multi-GB CUDA one): our machines' pip configuration serves the CPU wheel of
	# 2.13.0, so the pin resolves to it there; elsewhere pass a CPU index in TORCH_PIP_ARGS.
	$(PY) -m pip install torch==2.13.0 $(TORCH_PIP_ARGS)
	# dev holds the test oracles (tonic, aedat); the runtime needs neither.
	$(PY) -m pip install -e '.[dev,aedat]'
	# SpikingJelly (test oracle of docs/migrating.md, benchmark competitor) without its declared
	# dependencies: they name torchvision and torchaudio, whose resolve replaces the CPU torch
	# with a CUDA build. Its activation_based neurons and layers need only loguru.
	$(PY) -m pip install loguru
	$(PY) -m pip install --no-deps spikingjelly==2.0.0
	touch $@

test: $(VENV)/.installed
	$(PY) -m ruff check eventcompress tests tools
	$(PY) -m pytest -q

# The demo: the recordings, then the full method trained from the cache as the shipped recipe
# says (12 epochs) on one torch thread (fastest on a shared 2-core VM); DEMO_EPOCHS=N shortens
# or extends it. An epoch of NMNIST-small costs about 20-25 CPU-seconds (training, statistics
# pass, evaluations; README), so the training is 4-5 minutes on an idle 2-core machine.
DEMO_RUN := runs/demo-$(shell date -u +%Y%m%d-%H%M%S)
DEMO_EPOCHS ?=
DEMO_CACHE ?= $${EVENTCOMPRESS_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/eventcompress}

demo: $(VENV)/.installed
	$(VENV)/bin/eventcompress demo $(NMNIST) --png runs/demo.png
	$(VENV)/bin/eventcompress train nmnist-stc-scb-mtlif --data-root $(NMNIST) --cache-dir "$(DEMO_CACHE)" $(if $(DEMO_EPOCHS),--epochs $(DEMO_EPOCHS)) --threads 1 --out $(DEMO_RUN)
	$(VENV)/bin/eventcompress report $(DEMO_RUN)
	@echo "cache: $(DEMO_CACHE)  run directory: $(DEMO_RUN)  report: $(DEMO_RUN)/report.md"

lint: $(VENV)/.installed
	$(PY) -m ruff check eventcompress tests tools

bench: $(VENV)/.installed
	$(PY) tools/bench/run_all.py

# The suite a newcomer runs first: every benchmark, small inputs, < 2 min on 2 cores; rewrites the
# generated section of docs/benchmarks.md and docs/img/speedups.png.
bench-quick: $(VENV)/.installed
	$(PY) tools/bench/run.py --quick --plot

clean-venv:
	rm -rf $(VENV)
