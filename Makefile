# Lifelines: `make run` serves it on 127.0.0.1:8000; `make test` runs every test on both stacks.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run serve test bench screenshots migrate clean

$(VENV)/.run: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.test: $(VENV)/.run requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

migrate: $(VENV)/.run
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate -v0

run: migrate
	@echo "Lifelines: http://127.0.0.1:$(PORT)/  (Ctrl-C stops it)"
	DEBUG=$${DEBUG:-true} $(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) config.asgi:application

# several daphne processes on one port (one per core, or WORKERS=n); needs REDIS_URL (README: how far one machine goes)
serve: migrate
	DEBUG=$${DEBUG:-true} $(PY) scripts/serve.py --port $(PORT) $${WORKERS:+--workers $$WORKERS}

test: $(VENV)/.test
	VENV=$(VENV) bash scripts/test.sh

bench: $(VENV)/.test
	VENV=$(VENV) bash scripts/bench.sh

# every lesson at its key moment, as PNGs under docs/gallery/ (SIZES=phone adds phone-sized shots)
screenshots: $(VENV)/.test
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
