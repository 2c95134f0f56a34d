#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (the zip is unpacked in
# /autograder/source): bubblewrap for the sandbox, Python >= 3.11 with torch (CPU) and the grader with
# every tier, MNIST, and the grader's trained models. Choose the Ubuntu 24.04 base image (Python 3.12);
# on 22.04 this installs python3.11. AUTOGRADER_ROOT points it at another tree.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"

apt-get update -qq
apt-get install -y -qq bubblewrap python3-venv >/dev/null
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PYTHON="$candidate"
    break
  fi
done
if [ -z "$PYTHON" ]; then
  apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  PYTHON=python3.11
fi

"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install -q --upgrade pip
"$ROOT/venv/bin/pip" install -q --index-url https://download.pytorch.org/whl/cpu @TORCH_PINS@
"$ROOT/venv/bin/pip" install -q "$ROOT/source/grader-src"

# MNIST into $ROOT/data, and the models the grader trains once (cached in $ROOT/cache), before any submission.
export CNN_GRADER_DATA="$ROOT/data" CNN_GRADER_CACHE="$ROOT/cache"
"$ROOT/venv/bin/python" -P -m grader.packaging.autograder --prepare
