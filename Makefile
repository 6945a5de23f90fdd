# Blackwell Lab Kit. Quick start: `make lab` (JupyterLab on labs/) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Reinstall only when the pins change: the stamp name carries a hash of pyproject.toml (and "pyc": the venv's
# bytecode is compiled, see below).
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)-pyc
# Some managed machines cap torch through a pip constraints file; the kit pins its own versions.
export PIP_CONSTRAINT := /dev/null
# uv installs from its cache (~/.cache/uv) by hard links: a second clone sets up in seconds, not minutes.
UV := $(BIN)/uv
export TRITON_DEFAULT_FP_FUSION := 1
export PYTHONHASHSEED := 0
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=900
LAB_ARGS ?=

.PHONY: venv lab test test-lib test-notebooks test-gpu lint labs solutions check-labs doctor slides clean \
	hub hub-proxy nbgrader-env

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/python -m pip install -q "uv>=0.5"
	$(UV) pip install --python $(BIN)/python -e ".[test,dev,hub]"
	@# Bytecode for every installed module, also those of a venv installed before: uv writes none, and a machine
	@# with PYTHONDONTWRITEBYTECODE set never caches it, so each kernel would recompile
	@# torch (measured: `import torch` 5.2 s -> 2.2 s). A file written for a newer Python (one in torch's tests)
	@# does not compile and is skipped: Python would not import it either.
	@$(BIN)/python -c "import compileall, sysconfig; compileall.compile_dir(sysconfig.get_paths()['purelib'], quiet=2, workers=0)"
	@rm -f $(VENV)/.installed-*
	@touch $@

lab: venv
	$(BIN)/jupyter lab --notebook-dir=labs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The CPU path is tested on every machine (outputs compared strictly); on a machine with a CUDA GPU the native
# path runs too (outputs depend on the hardware there, so they are not compared).
# One pytest run for the library tests and the notebooks (no barrier between them); TEST_JOBS workers (2 measured
# fastest on 2 cores: 3 made the sandboxed and browser tests slower); `make test-lib` / `test-notebooks` apart.
TEST_JOBS ?= 2
test: venv lint hub-proxy nbgrader-env
	BWKIT_FORCE_CPU=1 $(BIN)/python -m pytest tests solutions -q -n $(TEST_JOBS) --dist loadfile --durations=12 \
		$(NBVAL_FLAGS)
	$(BIN)/python benchmarks/gpu_check.py --dry-run
	@if $(BIN)/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; \
	then $(MAKE) --no-print-directory test-gpu; else echo "No CUDA GPU here: native-path checks skipped (make test-gpu)"; fi

lint: venv
	$(BIN)/ruff check lib tests benchmarks tools

# tests/test_hub.py needs configurable-http-proxy (npm), tests/test_nbgrader.py nbgrader's own venv: both cached
test-lib: venv hub-proxy nbgrader-env
	$(BIN)/python -m pytest tests -q -n 2 --dist loadfile --durations=12

test-notebooks: venv
	BWKIT_FORCE_CPU=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile $(NBVAL_FLAGS) solutions/

test-gpu: venv
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=900 solutions/
	$(BIN)/python benchmarks/gpu_check.py

labs: venv
	$(BIN)/bwkit make-labs

check-labs: venv
	$(BIN)/bwkit make-labs --check

# Re-execute every solution notebook (CPU path, as committed), then regenerate labs/.
solutions: venv
	$(BIN)/bwkit execute solutions/[0-9][0-9]_*.ipynb
	$(BIN)/bwkit slides tag
	$(BIN)/bwkit make-labs

# Offline reveal.js decks, one per lab, into slides/build/ (needs npm for the vendored assets).
slides: venv
	$(BIN)/bwkit slides build

doctor: venv
	$(BIN)/bwkit doctor

# A class on one machine (README, "Deployment"): JupyterHub with PAM users; run as root (sudo make hub).
HUB_STATE ?= /srv/bwkit-hub
hub: venv hub-proxy
	BWKIT_HUB_STATE=$(HUB_STATE) $(BIN)/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

# configurable-http-proxy from npm into $(VENV)/node (a no-op once there)
hub-proxy: venv
	@$(BIN)/bwkit hub install-proxy >/dev/null

# nbgrader in its own venv (.venv-nbgrader/, pinned in bwkit.kit.nbgrader), so its pins never move the kit's
nbgrader-env: venv
	@$(BIN)/bwkit nbgrader env >/dev/null

clean:
	rm -rf $(VENV) .venv-nbgrader .pytest_cache build lib/*.egg-info slides/build slides/node_modules artifacts
