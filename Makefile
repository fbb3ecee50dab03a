# partnerbot — `make demo` and `make test` are all a newcomer needs.
# Both create .venv on first use and reuse it; it is re-installed only when
# pyproject.toml changes (the stamp file below is older than it).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export ORT_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: demo test lint typecheck eval bench clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PARTNERBOT_DATA_DIR=$${PARTNERBOT_DATA_DIR:-.partnerbot/demo} $(BIN)/partnerbot demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bot knowledge adapters tests bench

eval: $(STAMP)
	PARTNERBOT_DATA_DIR=$${PARTNERBOT_DATA_DIR:-.partnerbot/eval} $(BIN)/partnerbot eval --calibrate

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .partnerbot .pytest_cache .mypy_cache .ruff_cache bench/results
