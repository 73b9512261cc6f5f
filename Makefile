# Two entry points, as the README's quick start says:
#   make demo   set up .venv, add a demo subscriber, run every step once on config.toml
#   make test   set up .venv and run the whole test suite (what CI runs)
# and for everyday work: make test-fast (everything but the slow process tests), make lint,
# make screenshots (digests in Chromium at phone and desktop widths, into build/screenshots/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint screenshots clean

$(BIN)/publisher: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,test,dev]'
	touch $@

demo: $(BIN)/publisher
	$(BIN)/publisher subscribers add reader@example.com --name "Demo Reader"
	$(BIN)/publisher run --once
	@echo "Digest messages: $(CURDIR)/outbox/new/  (open them with any mail client)"

test: $(BIN)/publisher
	$(BIN)/pytest -q

test-fast: $(BIN)/publisher
	$(BIN)/pytest -q -m "not slow"

lint: $(BIN)/publisher
	$(BIN)/ruff check publisher tests bench
	$(BIN)/ruff format --check publisher tests bench
	$(BIN)/mypy publisher

# The browser test's screenshots (needs /usr/bin/chromium): three digests at 320-1280 px,
# light and dark, and with images blocked. docs/img/ holds two of them for the README.
screenshots: $(BIN)/publisher
	SCREENSHOTS_DIR=$(CURDIR)/build/screenshots $(BIN)/pytest -q tests/test_digest_browser.py
	@echo "Screenshots: $(CURDIR)/build/screenshots/"

# Everything `make demo` (and `publisher digest preview`) writes; the venv stays.
clean:
	rm -rf data/*.db data/*.db-wal data/*.db-shm outbox archive preview build dist
	find feeds -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
