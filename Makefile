# One entry point per job, shared by README, CI and people.
#   make run    serve the API on port 8000 (creates .venv on first use)
#   make test   lint, type checks and the test suite (creates .venv on first use)
#   make lint   ruff, mypy and hadolint only
#   make fuzz   the property tests with many more random examples (a few minutes)
#   make soak   concurrent good and bad requests against a real server (SOAK_SECONDS, 60 s)
#   make hostile  the hardening attacks (slow readers, heavy answers, echoes, floods, heads)
#               against `backprop-service serve --workers 1`, pass or fail each (about 40 s)
#   make test-torch  the tests that compare answers with PyTorch autograd (installs torch)
#   make browser-test  /playground, /docs and /redoc end to end in Debian's Chromium with
#               Playwright, offline (installs both if missing; screenshots in
#               test-artifacts/), and a drawn grading report (test-artifacts/pictures/)
#   make bench  the performance benchmark of docs/performance.md (about 4 minutes; installs
#               matplotlib, torch and apt's wrk if missing); BENCH_ARGS=--quick for a first look
#   make py310-test, py312-test  `pip install .` into a fresh venv of that Python (pyenv's, or
#               PY310=/path/to/python3.10) and the offline grader checked there for real
#   make gradescope-test  the Gradescope autograder's setup.sh with Python 3.10 and 3.12 in a
#               simulated /autograder, then run_autograder on the example and a per-student case
#   make mutate mutation testing of the maths (engine/network.py, activations.py, losses.py)
#               with mutmut against the engine's fast tests, from scratch each time (about 10
#               minutes with MUTATE_CHILDREN=2); docs/testing.md reports the kill rate

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

RUNTIME_STAMP := $(VENV)/.runtime-installed
TEST_STAMP    := $(VENV)/.test-installed
BENCH_STAMP   := $(VENV)/.bench-installed
BROWSER_STAMP := $(VENV)/.browser-installed
MUTATE_STAMP  := $(VENV)/.mutate-installed
CHROMIUM      ?= /usr/bin/chromium

.PHONY: run test lint pytest fuzz soak hostile test-torch browser-test bench mutate lock clean \
	py310-test py312-test gradescope-test

run: $(RUNTIME_STAMP)
	$(BIN)/backprop-service serve --port $(PORT)

test: lint pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile docs/prairielearn-grader/Dockerfile

pytest: $(TEST_STAMP)
	$(BIN)/pytest

fuzz: $(TEST_STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m "not server" tests/test_gradients.py \
		tests/test_engine_properties.py tests/test_schemathesis.py

SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 16
soak: $(TEST_STAMP)
	$(BIN)/python scripts/soak.py --clients $(SOAK_CLIENTS) --seconds $(SOAK_SECONDS)

hostile: $(TEST_STAMP)
	$(BIN)/python scripts/hostile.py

# PyTorch is the oracle of tests/test_torch_oracle.py, never a dependency of the service: it is
# installed here only, and `make test` skips those tests when it is absent.
TORCH_VERSION ?= 2.13.0
TORCH_REPORT  ?= $(VENV)/torch-oracle-report.json

test-torch: $(TEST_STAMP)
	@$(BIN)/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$(TORCH_VERSION)')" 2>/dev/null \
		|| $(BIN)/pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	TORCH_ORACLE_REPORT=$(TORCH_REPORT) $(BIN)/pytest -m torch
	@echo "largest errors per field: $(TORCH_REPORT)"

# Playwright drives the Chromium of Debian's package: no browser is ever downloaded.
browser-test: $(BROWSER_STAMP)
	@test -x $(CHROMIUM) || { apt-get update -qq && apt-get install -y -qq chromium; }
	CHROMIUM=$(CHROMIUM) $(BIN)/pytest -m browser

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The offline grader on Gradescope's Pythons: 3.10 (Ubuntu 22.04, its default image) and 3.12
# (Ubuntu 24.04). The interpreters are pyenv's unless PY310 / PY312 name others; the venvs and
# pip's cache are kept in .venv/compat/.
PYENV_ROOT ?= $(HOME)/.pyenv
PY310 ?= $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.10.*/bin/python3.10)))
PY312 ?= $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.12.*/bin/python3.12)))
NEED_PYTHON = { echo "no Python $(1): pyenv install $(1), or set $(2)=/path/to/python$(1)"; exit 1; }

py310-test: $(TEST_STAMP)
	@test -n "$(PY310)" || $(call NEED_PYTHON,3.10,PY310)
	$(BIN)/python scripts/py_compat.py --python $(PY310)

py312-test: $(TEST_STAMP)
	@test -n "$(PY312)" || $(call NEED_PYTHON,3.12,PY312)
	$(BIN)/python scripts/py_compat.py --python $(PY312)

gradescope-test: $(TEST_STAMP)
	@test -n "$(PY310)" || $(call NEED_PYTHON,3.10,PY310)
	@test -n "$(PY312)" || $(call NEED_PYTHON,3.12,PY312)
	$(BIN)/python scripts/py_compat.py --gradescope --python $(PY310) --python $(PY312)

# mutmut copies the code and the tests into mutants/ and keeps its verdicts there; they are
# removed first, because a cached verdict is not retested when only the tests have changed.
# What is mutated and which tests run: [tool.mutmut] in pyproject.toml.
MUTATE_CHILDREN ?= 2
mutate: $(MUTATE_STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATE_CHILDREN)
	$(BIN)/python scripts/mutation_report.py

lock:
	scripts/lock.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis mutants

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(VENV)/bin/python requirements/runtime.txt pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/runtime.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(TEST_STAMP): $(RUNTIME_STAMP) requirements/test.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/test.txt
	touch $@

$(BROWSER_STAMP): $(TEST_STAMP) requirements/browser.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/browser.txt
	touch $@

$(MUTATE_STAMP): $(TEST_STAMP) requirements/mutate.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/mutate.txt
	touch $@

$(BENCH_STAMP): $(TEST_STAMP) requirements/bench.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/bench.txt
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	touch $@

# --- Operations: the image, the Kubernetes manifests, the replica set -----------------------------
#   make image         build the image from the Dockerfile, tagged $(IMAGE)
#   make image-test    build it, run it as docs/deployment.md does (read-only, user 10001) on a
#                      loopback port and check every endpoint family, the HEALTHCHECK, docker stop
#   make k8s-validate  deploy/*.yaml against Kubernetes' API schemas (offline, kubernetes-validate,
#                      oldest and newest version supported) and against each other and the app
#   make scale-test    three containers behind Debian's nginx (installed by apt-get if missing):
#                      kill one, roll another under steady load, zero failed requests; the
#                      throughput of 1 and 2 replicas (about a minute; SCALE_ARGS for more)
# The image targets need a Docker engine (CI starts one with ../shared/tools/docker-sandbox.sh).
IMAGE ?= backprop-service:test
K8S_VERSIONS ?= 1.25.0 1.37.0
OPS_STAMP := $(VENV)/.ops-installed

.PHONY: image image-test k8s-validate scale-test

image:
	docker build --network host -t $(IMAGE) .

image-test: image $(TEST_STAMP)
	$(BIN)/python scripts/image_test.py --image $(IMAGE)

scale-test: image $(TEST_STAMP)
	command -v nginx >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }
	$(BIN)/python scripts/scale_test.py --image $(IMAGE) $(SCALE_ARGS)

k8s-validate: $(OPS_STAMP)
	for version in $(K8S_VERSIONS); do \
		$(BIN)/kubernetes-validate --strict --kubernetes-version $$version deploy/*.yaml || exit 1; \
	done
	$(BIN)/python scripts/check_manifests.py

$(OPS_STAMP): $(TEST_STAMP) requirements/ops.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/ops.txt
	touch $@
