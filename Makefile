# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   - create .venv, install prunelab[all], serve the Gradio app on 127.0.0.1
#   make test   - create .venv, install prunelab[dev,all] + Chromium, run ruff and pytest
# Each install is remembered by a stamp file in .venv that is older than pyproject.toml when the
# dependencies change, so the next make re-installs.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP_ALL := $(VENV)/.prunelab-installed-all
STAMP_DEV := $(VENV)/.prunelab-installed-dev-all
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT   ?= 7860
comma  := ,

.PHONY: demo test test-all lint browser venv clean

# $(call install,EXTRAS): create the venv if needed and install prunelab with those extras (editable).
define install
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (prunelab needs Python 3.11)"; exit 2; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(1)]'
endef

$(STAMP_ALL): pyproject.toml
	$(call install,all)
	touch $(STAMP_ALL)

$(STAMP_DEV): pyproject.toml
	$(call install,dev$(comma)all)
	touch $(STAMP_DEV) $(STAMP_ALL)

venv: $(STAMP_DEV)

# Debian's Chromium, driven by Python playwright; never a downloaded browser.
browser:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y chromium \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

demo: $(STAMP_ALL)
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(PY) -m demos --host 127.0.0.1 --port $(PORT)

lint: $(STAMP_DEV)
	$(PY) -m ruff check .

test: $(STAMP_DEV) browser lint
	PRUNELAB_REQUIRE_BROWSER=1 $(PY) -m pytest -m "not slow" -q

test-all: $(STAMP_DEV) browser lint
	PRUNELAB_REQUIRE_BROWSER=1 $(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info test-artifacts
