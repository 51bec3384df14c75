# The few targets people expect. Everything runs inside .venv, which `make install` creates.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
SHARED  ?= ../shared/data
OUT     ?= out

.PHONY: install test test-fast lint format bench quickstart sample-data clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Editable install with LLaMA-Factory (train) and the test tools (dev); verl is installed without
# its GPU dependencies, only for the reward-manager contract test.
install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[train,dev]"
	$(BIN)/pip install --quiet --no-deps -r requirements-verl-test.txt

test:
	$(BIN)/python -m pytest -q

test-fast:
	$(BIN)/python -m pytest -q -m "not framework"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench:
	$(BIN)/python benchmarks/prepare_throughput.py --records 200000 --memory

# The whole method on a CPU: embedded corpus, tiny local model, CM -> SA (llamafactory-cli and the
# recipes), DE (TRL + SFR), an evaluation after every stage and one report. Creates .venv when it
# is missing; a rerun skips the steps whose outputs exist.
$(BIN)/prouie: | $(BIN)/python
	$(MAKE) install

quickstart: $(BIN)/prouie
	$(BIN)/prouie quickstart --out $(OUT)/quickstart

# The data side on the real sample data: canonical records, the exact CM/SA stage mixes for the
# recipes (prouie plan), materialised alpaca files (prouie prepare) and Table 6 statistics.
sample-data:
	$(BIN)/prouie convert --input $(SHARED)/phee/test.json --format phee --out $(OUT)/records/phee.jsonl
	$(BIN)/prouie convert --input $(SHARED)/fewrel/val_wiki.json --format fewrel --out $(OUT)/records/fewrel.jsonl
	$(BIN)/prouie convert --input $(SHARED)/wikigold/wikigold.conll.txt --format conll --out $(OUT)/records/wikigold.jsonl
	$(BIN)/prouie plan --ner $(OUT)/records/wikigold.jsonl --re $(OUT)/records/fewrel.jsonl --ee $(OUT)/records/phee.jsonl --out $(OUT)/data
	$(BIN)/prouie prepare --input $(OUT)/records/wikigold.jsonl --format records --stage cm --out $(OUT)/data
	$(BIN)/prouie prepare --input $(OUT)/records/fewrel.jsonl --format records --stage cm --out $(OUT)/data
	$(BIN)/prouie prepare --input $(OUT)/records/phee.jsonl --format records --stage cm --out $(OUT)/data
	$(BIN)/prouie prepare --input $(OUT)/records/fewrel.jsonl --format records --stage sa --out $(OUT)/data
	$(BIN)/prouie prepare --input $(OUT)/records/phee.jsonl --format records --stage sa --out $(OUT)/data
	$(BIN)/prouie stats --input $(OUT)/records/fewrel.jsonl --format records --tokenizer qwen
	$(BIN)/prouie stats --input $(OUT)/records/phee.jsonl --format records --tokenizer qwen

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache build *.egg-info
