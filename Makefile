# The two commands of the README. Both first install whatever the active Python environment is missing
# (a no-op taking seconds once installed; the first run builds mmcv from source: tens of minutes).
PYTHON ?= python3

.PHONY: setup demo test lint

setup:
	$(PYTHON) tools/setup_env.py

demo: setup
	$(PYTHON) tools/demo.py

# pytest-xdist workers (one per core, at most 4), one OpenMP thread each: two threads per core run far slower
test: setup
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -n auto --maxprocesses 4 --dist loadgroup

# for contributors: flake8 and isort (installed on first use) with setup.cfg's settings
lint:
	$(PYTHON) -m flake8 --version >/dev/null 2>&1 || $(PYTHON) -m pip install flake8
	$(PYTHON) -m isort --version >/dev/null 2>&1 || $(PYTHON) -m pip install isort
	$(PYTHON) -m flake8
	$(PYTHON) -m isort --check-only --diff scalenet_mm tools tests configs
