# `make run` and `make test` are all a fresh machine needs (Python >= 3.10, make, the package registries).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The stamp is newer than pyproject.toml once its dependencies are installed: later calls skip pip.
STAMP := $(VENV)/.installed
# PyInstaller (the `package` extra), installed only by the packaging targets.
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: run test test-fast lint bench screenshots clean package package-check

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(PACKAGE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,package]'
	touch $(PACKAGE_STAMP)

run: $(STAMP)
	$(VENV)/bin/resnet-studio gui

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -p no:cacheprovider
	$(VENV)/bin/ruff check resnet_studio tests docs benchmarks packaging

# The edit-test loop: every test not marked slow (no training, no subprocess, no TensorFlow
# trace beyond a model build); under 2 minutes on 2 cores. `make test` (what CI runs) is all of them.
test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -p no:cacheprovider -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check resnet_studio tests docs benchmarks packaging

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
