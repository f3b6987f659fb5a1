#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. It works on the
# base images Gradescope offers: Ubuntu 22.04 (its default: Python 3.10) and Ubuntu 24.04
# (Python 3.12). It installs backprop-service's offline grader from the copy of the repository
# in this zip's backprop-service/ folder into /opt/backprop-service, with the newest releases
# of its dependencies that pyproject.toml allows (on 3.10 the server's packages are left out:
# the grader does not need them). `make gradescope-test` runs this very script with Python
# 3.10 and 3.12 in a simulated /autograder.
#
# AUTOGRADER_ROOT, BACKPROP_VENV and PYTHON let you try it out elsewhere.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
venv="${BACKPROP_VENV:-/opt/backprop-service}"
python="${PYTHON:-python3}"
# Ubuntu's python3 has no venv module until python3-venv is installed
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv
fi
"$python" -m venv "$venv"
cache=(--no-cache-dir)  # a smaller image; a simulated run sets PIP_CACHE_DIR and keeps one
if [ -n "${PIP_CACHE_DIR:-}" ]; then cache=(); fi
"$venv/bin/pip" install --quiet "${cache[@]}" "$root/source/backprop-service"
"$venv/bin/backprop-service" grade --help > /dev/null
echo "backprop-service installed in $venv with $("$venv/bin/python" --version)"
