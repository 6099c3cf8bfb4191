#!/usr/bin/env bash
# Set up, then run every test: style (ruff), unit tests, and every notebook under nbval with
# the smoke profile. Needs CIFAR-10 offline (COURSE_DATA, data/, or ../shared/data/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export COURSE_PROFILE=smoke
export COURSE_DOWNLOAD=0  # tests never download: they use COURSE_DATA or a local copy
.venv/bin/ruff check course_lib tests scripts
.venv/bin/ruff format --check course_lib tests scripts
.venv/bin/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider "$@"
