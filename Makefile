# The two commands: `make run` serves the app, `make test` runs every test.
# Both create .venv and install what is missing first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test bench bench-quality screenshots system-deps clean

$(STAMP): requirements.txt requirements-dev.txt
	@bash scripts/system-deps.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements-dev.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import faster_whisper, pyannote.audio, resemblyzer, flask, playwright"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	$(PY) app.py

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench.speed
	$(PY) -m bench.load

bench-quality: $(STAMP)
	$(PY) -m bench.quality

screenshots: $(STAMP)
	$(PY) -m tests.screenshots

clean:
	rm -rf $(VENV)
