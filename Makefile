# neardupd: `make run PHOTOS=~/Pictures` to run the daemon on a folder, `make test` to test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PHOTOS ?= $(HOME)/Pictures
BENCH ?= ../shared/bench-dev
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo))
CHROMEDRIVER := /usr/bin/chromedriver

.PHONY: install run test bench lint clean

$(BIN)/neardupd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/neardupd

run: install
	@test -d "$(PHOTOS)" || { echo "make run: no folder $(PHOTOS); say which: make run PHOTOS=/path/to/photos" >&2; exit 1; }
	$(BIN)/neardupd run --root "$(PHOTOS)"

# the review page's tests drive Debian's chromium (no browser download)
$(CHROMEDRIVER):
	$(SUDO) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver'

test: install $(CHROMEDRIVER)
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/neardupd bench $(BENCH)
	$(BIN)/python benchmarks/scan_speed.py
	$(BIN)/python benchmarks/index_cost.py
	$(BIN)/python benchmarks/daemon_speed.py

lint: install
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
