#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (Ubuntu, as root).
# It installs backprop-service from the copy of the repository in this zip's
# backprop-service/ folder, with the pinned dependencies the service is tested with.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv
python3 -m venv /opt/backprop-service
/opt/backprop-service/bin/pip install --no-cache-dir \
    -r /autograder/source/backprop-service/requirements/runtime.txt
/opt/backprop-service/bin/pip install --no-cache-dir --no-deps /autograder/source/backprop-service
