# Two commands matter: `make run` and `make test`. Every step below is idempotent and skips work already done.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps

.PHONY: run test setup system python models clean-venv

# the app and its worker pool together (VEIL_WORKERS, default one per core); Ctrl-C stops both
run: setup
	$(PY) scripts/run.py --server.port 8501 --server.headless true --browser.gatherUsageStats false

test: setup
	$(PY) -m pytest

setup: system python models

system: $(STAMPS)/system
$(STAMPS)/system: packages.txt scripts/install_system.sh | $(STAMPS)
	scripts/install_system.sh
	@touch $@

python: $(STAMPS)/python
$(STAMPS)/python: requirements.txt requirements-dev.txt constraints.txt | $(STAMPS)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

models: $(STAMPS)/python
	$(PY) -m scripts.fetch_models

$(STAMPS): $(PY)
	@mkdir -p $@
$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Veil needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)

clean-venv:
	rm -rf $(VENV)
