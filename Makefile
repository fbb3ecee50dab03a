# partnerbot — `make demo` and `make test` are all a newcomer needs.
# Both create .venv on first use and reuse it; it is re-installed only when
# pyproject.toml changes (the stamp file below is older than it).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export ORT_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: demo test lint typecheck eval bench clean install postgresql chromium

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) postgresql chromium

# The tests start a throwaway PostgreSQL server (tests/postgres_server.py): Debian's
# postgresql package, installed quietly when no initdb is found (needs root or sudo).
postgresql:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing postgresql (for the store tests)…"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

# The console's browser tests drive Debian's chromium (/usr/bin/chromium) with Playwright;
# nothing downloads a browser. Installed quietly when missing (needs root or sudo).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium (for the console's browser tests)…"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

demo: $(STAMP)
	PARTNERBOT_DATA_DIR=$${PARTNERBOT_DATA_DIR:-.partnerbot/demo} $(BIN)/partnerbot demo

# Everything on the default SQLite state, then the scenarios and the console's tests again
# with every test's PARTNERBOT_DATABASE_URL on a fresh database of the session's PostgreSQL
# server (the replica scenarios always run on PostgreSQL and a `chroma run` server: not twice).
test: $(STAMP) postgresql chromium
	$(BIN)/python -m pytest -q
	PARTNERBOT_TEST_DATABASE=postgres $(BIN)/python -m pytest -q tests/scenarios tests/bot/console -k "not replica"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bot knowledge adapters tests bench

eval: $(STAMP)
	PARTNERBOT_DATA_DIR=$${PARTNERBOT_DATA_DIR:-.partnerbot/eval} $(BIN)/partnerbot eval --calibrate --distractors 1000

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .partnerbot .pytest_cache .mypy_cache .ruff_cache bench/results/*.json
