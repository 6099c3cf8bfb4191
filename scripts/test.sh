#!/usr/bin/env bash
# Set up, then run every test: style (ruff), the website's build (warnings are errors), unit
# tests (with the website's check in headless Chromium, where installed), and every notebook under
# nbval with the smoke profile. Needs CIFAR-10 offline (COURSE_DATA, data/, or ../shared/data/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export COURSE_PROFILE=smoke
export COURSE_DOWNLOAD=0  # tests never download: they use COURSE_DATA or a local copy
.venv/bin/ruff check course_lib tests scripts site
.venv/bin/ruff format --check course_lib tests scripts site
bash scripts/build_site.sh -q
.venv/bin/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
    --nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider "$@"
