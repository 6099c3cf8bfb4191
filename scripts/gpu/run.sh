#!/usr/bin/env bash
# The GPU job's entry on the GPU machine: install course_lib without touching that machine's
# torch, then run scripts/gpu/job.py (its --help lists the options; --budget in seconds).
#   bash scripts/gpu/run.sh --budget 530
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1 COURSE_PROGRESS=off COURSE_DOWNLOAD=0
PYTHON=${PYTHON:-python3}
# --no-deps: never replace the machine's torch; --no-build-isolation: no network for setuptools
"$PYTHON" -m pip install -q --no-deps --no-build-isolation --no-index -e . \
    || echo "pip install failed: course_lib is imported from the checkout instead"
exec "$PYTHON" scripts/gpu/job.py "$@"
