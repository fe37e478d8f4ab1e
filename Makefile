# Everything a fresh machine needs, from the project's own files.
#   make run   – install, build the web app, serve API + app on http://127.0.0.1:8000 (make run PORT=8080 for another port)
#   make test  – install (Python deps, web app, Debian chromium) and run the quick test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# the checkout keeps its cache beside it (an installed package uses the user cache directory)
export DEEPMEND_CACHE_DIR ?= $(CURDIR)/.cache

.PHONY: install web browser run test test-slow bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

web/dist/index.html: web/package.json web/package-lock.json $(shell find web/src web/index.html web/public -type f 2>/dev/null) $(wildcard web/vite.config.*)
	cd web && npm ci --no-audit --no-fund && npm run build

web: web/dist/index.html

browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

run: install web
	$(BIN)/deepmend serve --host $(HOST) --port $(PORT)

test: install web browser
	$(BIN)/pytest -m "not slow"
	cd web && npm test --silent

test-slow: install web browser
	$(BIN)/pytest -m slow || [ $$? -eq 5 ]

bench: install
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) web/node_modules web/dist .cache
