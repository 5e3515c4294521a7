# lmdsl: two commands on a fresh machine.
#   make demo   compile examples/trec.py on the embedded model and show the score rising
#   make test   the whole test suite (unit + integration on the real embedded model, served too)
#   make lint   ruff and the type checker (mypy); CI (.ci/run) runs it before the tests
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# llama-cpp-python is built from source. Built natively (GGML_NATIVE=ON) on these CPUs it
# segfaults at the first token (llama.cpp's AMX kernels), so we build a portable AVX2 binary.
# On another machine you may drop these flags (or set LLAMA_CMAKE_ARGS= for llama.cpp's
# defaults), or use e.g. -DGGML_METAL=ON on macOS / -DGGML_CUDA=ON with a GPU.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF

PLUGINS := plugins/lmdsl-copro plugins/lmdsl-sqlite-fts plugins/lmdsl-mipro plugins/lmdsl-gepa plugins/lmdsl-qdrant

# The offline embedder (the embeddings extra) and the LoRA finetuner plugin need torch (CPU). On these machines torch==2.13.0 (CPU build)
# comes from local disk; elsewhere use e.g. TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu",
# or WITH_LORA=0 to skip the plugin and its tests.
WITH_LORA  ?= 1
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test unit lint bench clean install llama-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[local,server,test,trace,report,ray]'
	# Headless Chromium for the report's browser test (Debian's package; the test says why it skips without it).
	command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "note: chromium not installed (no apt-get or not root): the report's browser test will skip"; }
	# torch first, so that sentence-transformers (the embeddings extra) never makes pip pick another build.
	$(BIN)/pip install --quiet $(TORCH_SPEC) && $(BIN)/pip install --quiet -e '.[embeddings]'
	for p in $(PLUGINS); do $(BIN)/pip install --quiet -e $$p || exit 1; done
	if [ "$(WITH_LORA)" = 1 ]; then $(BIN)/pip install --quiet $(TORCH_SPEC) && $(BIN)/pip install --quiet -e plugins/lmdsl-lora; fi
	npm ci --prefix lmdsl/sandbox --no-audit --no-fund --loglevel=error   # Pyodide: ProgramOfThought's sandbox
	touch $@

install: $(VENV)/.installed

# llama.cpp's own C++ server (what most deployments run; unlike llama_cpp.server it decodes several
# requests at once), built from the llama.cpp sources of the llama-cpp-python release installed, for
# the served-model tests (tests/served) and bench/served*.py --llama-server. Static, server only.
LLAMA_SERVER := $(BIN)/llama-server
llama-server: $(LLAMA_SERVER)
$(LLAMA_SERVER): | $(VENV)/.installed
	rm -rf build/llama-src build/llama-server && mkdir -p build/llama-src
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d build/llama-src \
		"llama-cpp-python==$$($(BIN)/python -c 'import llama_cpp; print(llama_cpp.__version__)')"
	tar xzf build/llama-src/llama_cpp_python-*.tar.gz -C build/llama-src
	cmake -S build/llama-src/llama_cpp_python-*/vendor/llama.cpp -B build/llama-server -DCMAKE_BUILD_TYPE=Release \
		-DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF \
		-DLLAMA_BUILD_EXAMPLES=OFF $(LLAMA_CMAKE_ARGS) >build/llama-server.log 2>&1 || { tail -30 build/llama-server.log; exit 1; }
	cmake --build build/llama-server --target llama-server -j$$(nproc) >>build/llama-server.log 2>&1 \
		|| { tail -30 build/llama-server.log; exit 1; }
	cp build/llama-server/bin/llama-server $@
	rm -rf build/llama-src

# Compile the TREC question-type program on the embedded model: few-shot demos chosen on 60 dev
# questions, then label calibration on top; then score zero-shot, few-shot and few-shot +
# calibrated on the 140 dev questions no optimizer saw.
demo: install
	$(BIN)/lmdsl compile examples/trec.py:QuestionType -O num_candidate_programs=3 -O max_labeled_demos=6 -O max_bootstrapped_demos=6 -o QuestionType.compiled.json
	$(BIN)/lmdsl compile QuestionType.compiled.json --trust-file --optimizer calibrate -o QuestionType.calibrated.json
	@echo "--- held-out dev questions, zero-shot:"
	$(BIN)/lmdsl evaluate examples/trec.py:QuestionType
	@echo "--- held-out dev questions, few-shot compiled:"
	$(BIN)/lmdsl evaluate QuestionType.compiled.json --trust-file
	@echo "--- held-out dev questions, few-shot compiled + calibrated:"
	$(BIN)/lmdsl evaluate QuestionType.calibrated.json --trust-file

test: install llama-server
	$(BIN)/python -m pytest -q

unit: install
	$(BIN)/python -m pytest -q -m "not integration"

# ruff, then mypy on lmdsl/ and the plugins' packages (what it checks: [tool.mypy] in pyproject.toml).
lint: install
	$(BIN)/ruff check lmdsl tests examples bench plugins
	$(BIN)/mypy

bench: install
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
