# One command each: `make demo` (install, ingest the KAGL catalogue, sample queries) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CATALOGUE ?= ../shared/data/kagl/products.csv

.PHONY: setup system-deps postgres demo test bench eval lint

$(BIN)/shop-assistant: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# llama-cpp-python compiles llama.cpp (10-17 min on 2 cores, once; pip caches the wheel).
	# GGML_NATIVE=OFF: a portable build, not one tuned to (and only runnable on) this CPU.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -e '.[dev]'
	touch $@

setup: $(BIN)/shop-assistant

# Debian packages: espeak-ng (the spoken answers' voice, and test speech), ffmpeg (test audio
# in WebM and MP3; the server decodes with PyAV's own FFmpeg), chromium (the widget's browser
# test), fonts-wqy-microhei (Chinese text in the browser's screenshots). Skipped when present.
system-deps:
	@command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null && command -v chromium >/dev/null && \
	  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng ffmpeg chromium fonts-wqy-microhei)

# PostgreSQL for the sessions store's tests (`--sessions postgresql://...`): Debian's server,
# its default cluster started on 127.0.0.1:5432, and a role and database for the tests. Each
# step is skipped when already done; needs root, as apt-get does.
PG_TEST_URL ?= postgresql://shop_assistant:shop_assistant@127.0.0.1:5432/shop_assistant_test
postgres:
	@command -v pg_lsclusters >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql)
	@[ -n "$$(pg_lsclusters -h)" ] || pg_createcluster 15 main
	@pg_lsclusters -h | awk '$$4 != "online" {print $$1, $$2}' | while read v c; do pg_ctlcluster $$v $$c start; done
	@su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'shop_assistant'\"" | grep -q 1 || \
	  su postgres -c "psql -qc \"CREATE ROLE shop_assistant LOGIN PASSWORD 'shop_assistant'\""
	@su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'shop_assistant_test'\"" | grep -q 1 || \
	  su postgres -c "createdb -O shop_assistant shop_assistant_test"

demo: setup
	$(BIN)/shop-assistant ingest $(CATALOGUE)
	$(BIN)/shop-assistant search --text "red sneakers for men"
	$(BIN)/shop-assistant search --image ../shared/data/kagl/images/17840.jpg --text "but in black"

test: setup system-deps postgres
	SHOP_ASSISTANT_TEST_POSTGRES=$(PG_TEST_URL) $(BIN)/python -m pytest

eval: setup
	$(BIN)/shop-assistant eval benchmarks/queries/kagl-dev.jsonl

bench: setup
	$(BIN)/python benchmarks/bench_query.py

lint: setup
	$(BIN)/ruff check assistant tools tests benchmarks
