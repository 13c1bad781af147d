# `make run` and `make test` are all a fresh machine needs (Python >= 3.10, make, the package registries).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Exact versions of every dependency, transitive ones too, with their hashes: requirements.lock
# (run, test, CI) and requirements-package.lock (the same plus PyInstaller, for the bundle).
# uv makes them (`uv pip compile`, from pyproject.toml's ranges) for CPython 3.11 on x86-64
# Linux; pip installs them. pyproject.toml keeps compatible ranges for `pip install`.
#   Add or change a dependency: edit pyproject.toml, `make lock`, `make test`, commit
#   pyproject.toml and both locks. `make lock` keeps every pin it can (only what the edit
#   needs moves); `make lock-upgrade` moves everything to the newest versions allowed.
# tests/packaging/test_lock.py fails, naming the package, when the environment differs.
LOCK := requirements.lock
PACKAGE_LOCK := requirements-package.lock
LOCK_PYTHON ?= 3.11
LOCK_PLATFORM ?= x86_64-manylinux_2_34
# uv from the project's environment (a dev dependency); `make lock UV=/path/to/uv` uses another
# (e.g. that of a shared environment) without installing this folder's .venv first.
UV ?= $(VENV)/bin/uv
UV_COMPILE = $(UV) pip compile pyproject.toml --quiet --generate-hashes \
	--python-version $(LOCK_PYTHON) --python-platform $(LOCK_PLATFORM) \
	--custom-compile-command "make lock"
# The stamp is newer than the lock and pyproject.toml once they are installed: later calls
# skip pip.
STAMP := $(VENV)/.installed
# PyInstaller (the `package` extra), installed only by the packaging targets.
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: run test test-fast lint lock lock-upgrade bench screenshots clean package package-check

$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(PACKAGE_STAMP): $(STAMP) $(PACKAGE_LOCK)
	$(PY) -m pip install --quiet --require-hashes -r $(PACKAGE_LOCK)
	touch $(PACKAGE_STAMP)

lock:
	test -x $(UV) || $(MAKE) $(STAMP)
	$(UV_COMPILE) --extra dev -o $(LOCK)
	$(UV_COMPILE) --extra dev --extra package -c $(LOCK) -o $(PACKAGE_LOCK)

lock-upgrade:
	test -x $(UV) || $(MAKE) $(STAMP)
	$(UV_COMPILE) --extra dev --upgrade -o $(LOCK)
	$(UV_COMPILE) --extra dev --extra package -c $(LOCK) --upgrade -o $(PACKAGE_LOCK)

run: $(STAMP)
	$(VENV)/bin/resnet-studio gui

# Two pytest worker processes (pytest-xdist): most of the suite's time is single-threaded
# (Python, Qt, TensorFlow start-up and tracing), so one process leaves the second core of a
# 2-core machine idle. `--dist loadfile` gives each test file to one worker, so a module's
# fixtures (a tiny trained run, say) are still computed once. `make test TEST_WORKERS=0`: one
# process, as before.
TEST_WORKERS ?= 2
PYTEST_WORKERS = -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS)
	$(VENV)/bin/ruff check resnet_studio tests docs benchmarks packaging
	$(VENV)/bin/lint-imports --no-cache

# The edit-test loop: every test not marked slow (no training, no subprocess, no TensorFlow
# trace beyond a model build); under 2 minutes on 2 cores. `make test` (what CI runs) is all of them.
test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -p no:cacheprovider -m "not slow" $(PYTEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check resnet_studio tests docs benchmarks packaging
	$(VENV)/bin/lint-imports --no-cache

# Benchmarks (not part of `make test`): every benchmarks/bench_*.py in turn, each printing its
# table; fails if any script misses a target. One script: make bench BENCH=benchmarks/bench_accuracy.py
BENCH ?= $(sort $(wildcard benchmarks/bench_*.py))
bench: $(STAMP)
	status=0; for f in $(BENCH); do echo "== $$f"; \
		TF_CPP_MIN_LOG_LEVEL=2 $(PY) $$f || status=1; done; exit $$status

# The desktop bundle dist/resnet-studio/ (launcher dist/resnet-studio/resnet-studio); see README
# "Desktop bundle". package-check builds it, then runs --version and --screenshot offscreen.
package: $(PACKAGE_STAMP)
	$(VENV)/bin/pyinstaller packaging/resnet-studio.spec --distpath dist \
		--workpath build/pyinstaller --noconfirm

package-check: $(PACKAGE_STAMP)
	$(PY) packaging/check_bundle.py

clean:
	rm -rf $(VENV) build dist *.egg-info

screenshots: $(STAMP)
	$(PY) docs/make_screenshots.py
	$(PY) docs/make_text_screenshots.py
