# snnsec developer entry points. `make demo` and `make test` set up .venv/ on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.snnsec-setup
SETUP_INPUTS := pyproject.toml constraints.txt requirements/base.txt requirements/nodeps.txt Makefile

.PHONY: setup demo test test-fast bench freeze clean-venv

setup: $(STAMP)

# Rebuilt whenever a pin or the install recipe changes (stale .venv).
$(STAMP): $(SETUP_INPUTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt -r requirements/base.txt
	$(PIP) install -q -c constraints.txt --no-deps --ignore-requires-python -r requirements/nodeps.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@# Lava imports in any script of the venv: a .pth hook installs snnsec._lava_compat at startup.
	$(PY) -m snnsec._lava_pth
	@# lava-dl's wheel ships a top-level `tests` package (110 MB) that can shadow ours.
	@rm -rf "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tests"
	$(PY) -m snnsec env --check
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m snnsec demo

# pytest-xdist: one worker per core (tests/conftest.py gives each worker its share of torch
# threads, trains the shared demo model once for all workers, and orders the modules longest
# first). loadscope keeps each module on one worker, so module fixtures run once.
# PYTEST_WORKERS=0 runs serially; PYTEST_ARGS adds pytest arguments (test paths, -k, -x, ...).
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
PYTEST_PAR := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder)

# The suite starts about a hundred Python processes (CLI runs, torchrun ranks): each would compile
# every snnsec module it imports from source where no bytecode is cached (a fresh clone, or
# PYTHONDONTWRITEBYTECODE=1, as some CI images set): about 0.2 CPU-s each. compileall writes the
# bytecode once (gitignored __pycache__/, skipped when up to date); a file that does not compile
# is left for pytest to report.
BYTECODE := $(PY) -m compileall -q snnsec tests >/dev/null 2>&1 || true

test: $(STAMP)
	@$(BYTECODE)
	$(PY) -m pytest -q $(PYTEST_PAR) $(PYTEST_ARGS)

test-fast: $(STAMP)
	@$(BYTECODE)
	$(PY) -m pytest -q $(PYTEST_PAR) -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/attack_step.py
	$(PY) benchmarks/lava_streaming.py

freeze: $(STAMP)
	@{ echo "# Every package of the .venv, pinned. Regenerate with: make freeze"; \
	   $(PIP) freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt

clean-venv:
	rm -rf $(VENV)
