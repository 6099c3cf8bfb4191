#!/usr/bin/env bash
# Create .venv and install course_lib with everything the course and its tests need.
# torch and torchvision are pinned to the releases this course is tested with; set TORCH_SPEC
# to install others (for example TORCH_SPEC="torch torchvision" on a machine with other wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC2086
.venv/bin/python -m pip install -q $TORCH_SPEC
.venv/bin/python -m pip install -q -e ".[notebooks,test,site]"
.venv/bin/python -c "import course_lib, torch; print('course_lib ready, torch', torch.__version__)"
# The website's browser check (tests/test_site.py) needs Chromium from the system's packages; it
# is skipped, with its reason, where there is none. Installed here only as root with apt-get.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ||
        echo "could not install chromium: the website's browser check will be skipped"
fi
