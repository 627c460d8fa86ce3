# allmende – two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test test-sqlite lint bench fuzz test-deps bench-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/allmende demo
	$(BIN)/allmende serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's chromium; the interface tests judge with GDAL's ogrinfo (gdal-bin).
# Install what is missing (needs root or sudo).
DEBIAN_TEST_PACKAGES := chromium:chromium gdal-bin:ogrinfo
test-deps:
	@missing=""; for pair in $(DEBIAN_TEST_PACKAGES); do \
	  command -v "$${pair#*:}" >/dev/null 2>&1 || missing="$$missing $${pair%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages for the tests:$$missing ..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null \
	  || echo "WARNING: could not install$$missing; the tests that need them will fail and say how to get them."; \
	fi

# Plugins are named, not auto-loaded: pytest rewrites the asserts of every auto-loaded plugin's
# package (anyio, schemathesis, hypothesis) when a module of it is first imported, and CPython 3.11
# keeps the AST converter's depth counter in global state, so a rewrite in a server thread beside
# one in the test thread fails with "AST constructor recursion depth mismatch".
# Bytecode is written even where the machine sets PYTHONDONTWRITEBYTECODE: else each of the
# hundred-odd processes the tests start (servers, workers, commands, jobs' children) compiles
# allmende from source again, and each xdist worker rewrites every test module.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/pytest \
	-p xdist.plugin -p _hypothesis_pytestplugin

test: $(STAMP) test-deps
	$(PYTEST) -q -p no:cacheprovider -n 2 --dist loadfile --durations=10

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# The property tests run seeded and bounded in `make test`; here with many more examples from a
# random seed, and the Schemathesis run on every backend (`make test` runs it on one).
fuzz: $(STAMP)
	ALLMENDE_FUZZ_EXAMPLES=2000 $(PYTEST) -q -p no:cacheprovider -m property

# The search benchmark draws its vocabulary from Debian's German word list (wngerman).
bench-deps:
	@test -f /usr/share/dict/ngerman || { \
	  echo "Installing Debian's German word list (wngerman) for bench/search.py ..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wngerman >/dev/null \
	  || echo "WARNING: could not install wngerman; bench/search.py will say how to get it."; }

bench: $(STAMP) bench-deps
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
