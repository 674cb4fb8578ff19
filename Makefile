# eqlab — two commands: `make reproduce` (set up, then run the pipeline) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.eqlab-installed
KERNEL := $(VENV)/share/jupyter/kernels/eqlab/kernel.json
# stages call `python`: run DVC with the project's environment first on PATH
RUN    := PATH="$(abspath $(BIN)):$$PATH"

.PHONY: setup reproduce validate test bench lint clean-env

PLOTS  := .dvc/plots/offline.html

setup: $(STAMP) $(KERNEL) $(PLOTS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Pinned, complete environment (torch 2.14.1 / torchvision 0.29.1 come from this machine's disk).
# pip compiles bytecode one file at a time; compiling on every core afterwards is ~2x faster (files that
# do not compile, e.g. torch's Python-3.12-only test helpers, are skipped silently, as pip skips them).
# Never skip the compile: where PYTHONDONTWRITEBYTECODE is set, every stage would recompile torch.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
	$(BIN)/python -c "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=2, workers=0)" $(VENV)/lib
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# dvc plots show without network: Vega inlined (.dvc/config names this template)
$(PLOTS): $(STAMP)
	$(BIN)/python -m eqlab.report.dvc_plots $@ >/dev/null

$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name eqlab --display-name "eqlab" >/dev/null
	touch $@

# validate first (dvc repro removes a stage's outputs before running it, so a bad param found by a
# stage would cost the previous result); eqlab repro is dvc repro plus a wall-time table per stage
reproduce: setup
	$(RUN) $(BIN)/python -m eqlab validate
	$(RUN) $(BIN)/python -m eqlab repro

validate: setup
	$(RUN) $(BIN)/python -m eqlab validate

test: setup
	$(BIN)/ruff check src stages tests bench experiments
	$(RUN) $(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

bench: setup
	$(RUN) $(BIN)/python bench/run.py --out reports/bench

lint: setup
	$(BIN)/ruff check src stages tests bench experiments

clean-env:
	rm -rf $(VENV)
