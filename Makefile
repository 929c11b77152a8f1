# benchy's two commands for a fresh machine: `make demo` and `make test`. Each installs what it
# needs first (`make setup`), idempotently: the Python environments live outside the work tree
# under $(BENCHY_HOME), keyed by their pinned versions, so a second run costs seconds.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

BENCHY_HOME ?= $(HOME)/.cache/benchy
PYTHON ?= python3

LM_EVAL_VERSION := 0.4.13
HF_HUB_VERSION := 2.4.0
LM_EVAL_ENV := $(BENCHY_HOME)/venvs/lm-eval-$(LM_EVAL_VERSION)
LM_EVAL_STAMP := $(LM_EVAL_ENV)/.benchy-ready

export BENCHY_HOME

.PHONY: setup build test demo bench clean-setup

## setup: install the pinned Python side (lm-eval and huggingface_hub) under $(BENCHY_HOME)
setup: $(LM_EVAL_STAMP)
	@ln -sfn "$(BENCHY_HOME)" .benchy

$(LM_EVAL_STAMP):
	@echo "setup: creating $(LM_EVAL_ENV) (lm-eval[api]==$(LM_EVAL_VERSION), huggingface_hub==$(HF_HUB_VERSION))"
	rm -rf "$(LM_EVAL_ENV)"
	$(PYTHON) -m venv "$(LM_EVAL_ENV)"
	"$(LM_EVAL_ENV)/bin/pip" install --quiet --disable-pip-version-check \
		"lm-eval[api]==$(LM_EVAL_VERSION)" "huggingface_hub==$(HF_HUB_VERSION)"
	touch "$@"

## build: the release binary and the plugin libraries
build:
	cargo build --release --workspace

## test: every test tier (unit, CLI, end to end)
test: setup build
	cargo test --workspace --release

## demo: the main job on the embedded default
demo: build
	target/release/benchy config explain -c configs/examples/generation-override.yaml \
		--source file:configs/examples/generation_config.json

## bench: the benchmarks whose figures the README reports
bench: setup build
	cargo bench --workspace

clean-setup:
	rm -rf "$(BENCHY_HOME)/venvs"
