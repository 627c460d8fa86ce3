# allmende – two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test test-sqlite lint bench fuzz browser-deps gdal-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/allmende demo
	$(BIN)/allmende serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's chromium; install it where it is missing (needs root or sudo).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests ..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null \
	  || echo "WARNING: could not install chromium; the browser tests will fail and say how to get it."; }

# The OGC API Features tests are judged by GDAL's ogrinfo/ogr2ogr (Debian's gdal-bin).
gdal-deps:
	@command -v ogrinfo >/dev/null 2>&1 || { \
	  echo "Installing Debian's gdal-bin for the OGC API Features tests ..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq gdal-bin >/dev/null \
	  || echo "WARNING: could not install gdal-bin; the GDAL tests will fail and say how to get it."; }

test: $(STAMP) browser-deps gdal-deps
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile --durations=10

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# The property tests run seeded and bounded in `make test`; here with many more examples.
fuzz: $(STAMP)
	ALLMENDE_FUZZ_EXAMPLES=2000 $(BIN)/pytest -q -p no:cacheprovider -k random \
	  tests/test_harmonize_validate.py tests/test_harmonize_validate_csv.py

bench: $(STAMP)
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
