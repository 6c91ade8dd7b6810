# The two commands of the README. Both first install whatever the active Python environment is missing
# (a no-op taking seconds once installed; the first run builds mmcv from source: tens of minutes).
PYTHON ?= python3

.PHONY: setup demo test

setup:
	$(PYTHON) tools/setup_env.py

demo: setup
	$(PYTHON) tools/demo.py

test: setup
	$(PYTHON) -m pytest
