# One command each: `make demo` (install, ingest the KAGL catalogue, sample queries) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CATALOGUE ?= ../shared/data/kagl/products.csv

.PHONY: setup system-deps demo test bench eval lint

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

demo: setup
	$(BIN)/shop-assistant ingest $(CATALOGUE)
	$(BIN)/shop-assistant search --text "red sneakers for men"
	$(BIN)/shop-assistant search --image ../shared/data/kagl/images/17840.jpg --text "but in black"

test: setup system-deps
	$(BIN)/python -m pytest

eval: setup
	$(BIN)/shop-assistant eval benchmarks/queries/kagl-dev.jsonl

bench: setup
	$(BIN)/python benchmarks/bench_query.py

lint: setup
	$(BIN)/ruff check assistant tools tests benchmarks
