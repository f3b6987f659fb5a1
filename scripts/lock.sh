#!/usr/bin/env bash
# Pin every dependency, transitive ones included, from pyproject.toml into requirements/*.txt.
# The Dockerfile installs requirements/runtime.txt; `make test` and CI install requirements/test.txt;
# `make bench` installs requirements/bench.txt; `make k8s-validate` requirements/ops.txt;
# `make browser-test` requirements/browser.txt; `make mutate` requirements/mutate.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip
"$tmp/venv/bin/pip" install --quiet .
{
  echo "# Pinned runtime dependencies: regenerate with 'make lock'."
  "$tmp/venv/bin/pip" freeze --exclude backprop-service
} > requirements/runtime.txt
"$tmp/venv/bin/pip" install --quiet ".[test]"
{
  echo "# Pinned test and lint dependencies: regenerate with 'make lock'."
  echo "-r runtime.txt"
  "$tmp/venv/bin/pip" freeze --exclude backprop-service | grep -v -x -F -f <(grep -v '^#' requirements/runtime.txt)
} > requirements/test.txt
"$tmp/venv/bin/pip" install --quiet ".[bench]"
{
  echo "# Pinned benchmark dependencies (make bench): regenerate with 'make lock'."
  echo "-r test.txt"
  "$tmp/venv/bin/pip" freeze --exclude backprop-service | sed 's/+cpu$//' \
    | grep -v -x -F -f <(grep -hv '^[#-]' requirements/runtime.txt requirements/test.txt)
} > requirements/bench.txt
# ops: on top of the test pins, in a venv of its own (the bench venv holds torch and friends)
python3 -m venv "$tmp/ops"
"$tmp/ops/bin/pip" install --quiet -r requirements/test.txt ".[ops]"
{
  echo "# Pinned operations dependencies (make k8s-validate): regenerate with 'make lock'."
  echo "-r test.txt"
  "$tmp/ops/bin/pip" freeze --exclude backprop-service \
    | grep -v -x -F -f <(grep -hv '^[#-]' requirements/runtime.txt requirements/test.txt)
} > requirements/ops.txt
python3 -m venv "$tmp/browser"  # without the bench's packages
"$tmp/browser/bin/pip" install --quiet --upgrade pip
"$tmp/browser/bin/pip" install --quiet ".[test,browser]"
{
  echo "# Pinned browser-test dependencies (make browser-test): regenerate with 'make lock'."
  echo "-r test.txt"
  "$tmp/browser/bin/pip" freeze --exclude backprop-service \
    | grep -v -x -F -f <(grep -hv '^[#-]' requirements/runtime.txt requirements/test.txt)
} > requirements/browser.txt
# mutate: on top of the test pins, in a venv of its own (mutmut runs the test suite)
python3 -m venv "$tmp/mutate"
"$tmp/mutate/bin/pip" install --quiet -r requirements/test.txt ".[mutate]"
{
  echo "# Pinned mutation-testing dependencies (make mutate): regenerate with 'make lock'."
  echo "-r test.txt"
  "$tmp/mutate/bin/pip" freeze --exclude backprop-service \
    | grep -v -x -F -f <(grep -hv '^[#-]' requirements/runtime.txt requirements/test.txt)
} > requirements/mutate.txt
echo "wrote requirements/runtime.txt, test.txt, bench.txt, ops.txt, browser.txt and mutate.txt"
