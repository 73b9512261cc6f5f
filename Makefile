# Two entry points, as the README's quick start says:
#   make demo   set up .venv, add a demo subscriber, run every step once on config.toml
#   make test   set up .venv and run the whole test suite (what CI runs)
# and for everyday work: make test-fast (everything but the slow process tests), make lint.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint clean

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

# Everything `make demo` (and `publisher digest preview`) writes; the venv stays.
clean:
	rm -rf data/*.db data/*.db-wal data/*.db-shm outbox archive preview build dist
	find feeds -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
