# Two entry points, as the README's quick start says:
#   make demo   set up .venv, add a demo subscriber, run every step once on config.toml
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/publisher: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

demo: $(BIN)/publisher
	$(BIN)/publisher subscribers add reader@example.com --name "Demo Reader"
	$(BIN)/publisher run --once
	@echo "Digest messages: $(CURDIR)/outbox/new/  (open them with any mail client)"

test: $(BIN)/publisher
	$(BIN)/pytest -q

lint: $(BIN)/publisher
	$(BIN)/ruff check publisher tests $(wildcard bench)
	$(BIN)/ruff format --check publisher tests $(wildcard bench)
	$(BIN)/mypy publisher

clean:
	rm -rf data/*.db* feeds/*.xml outbox
