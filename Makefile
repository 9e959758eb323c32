# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   - create .venv, install prunelab, serve the Gradio app on 127.0.0.1
#   make test   - create .venv, install prunelab[dev] + Chromium, run ruff and pytest
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.prunelab-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT   ?= 7860

.PHONY: demo test test-all lint browser venv clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (prunelab needs Python 3.11)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium, driven by Python playwright; never a downloaded browser.
browser:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y chromium \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

demo: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(PY) -m demos --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) browser lint
	PRUNELAB_REQUIRE_BROWSER=1 $(PY) -m pytest -m "not slow" -q

test-all: $(STAMP) browser lint
	PRUNELAB_REQUIRE_BROWSER=1 $(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info test-artifacts
