# `make run` serves Callgoose; `make test` runs every test; `make bench` measures ingestion.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test bench openapi translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	@echo "Installing Callgoose and its dependencies into $(VENV) (log: $(VENV)/install.log)..."
	@$(BIN)/pip install -e '.[test]' > $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask --app callgoose init-db
	$(BIN)/flask --app callgoose serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)
	$(BIN)/python bench/storm.py $(STORM_ARGS)
	$(BIN)/python bench/worst_config.py
	$(BIN)/python bench/scale.py $(SCALE_ARGS)
	$(BIN)/python bench/bigdb.py $(BIGDB_ARGS)
	$(BIN)/python bench/paging.py $(PAGING_ARGS)
	$(BIN)/python bench/schedules.py
	$(BIN)/python bench/rota.py
	$(BIN)/python bench/isolation.py
	$(BIN)/python bench/reports.py $(REPORTS_ARGS)

openapi: $(VENV)/.installed
	$(BIN)/python -c "import json; from callgoose.web.openapi import DOCUMENT; open('docs/openapi.json', 'w').write(json.dumps(DOCUMENT, indent=2) + '\\n')"

# After marking text with _() in templates or code: extract it, add it to every catalogue
# (a changed source text keeps its old translation marked fuzzy, with the previous source),
# compile the .mo files the server reads (fuzzy entries are left out), and list per language
# what is missing, fuzzy or changed (README, "Languages"). It fails while an offered language
# is incomplete.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k Say -k Plural:1,2 -k lazy_ngettext:1,2 --no-location --sort-output --project Callgoose -o callgoose/translations/messages.pot .
	$(BIN)/pybabel update -i callgoose/translations/messages.pot -d callgoose/translations --previous --ignore-obsolete --width 100
	$(BIN)/python -m callgoose.catalogues --compile

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
