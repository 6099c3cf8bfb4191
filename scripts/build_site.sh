#!/usr/bin/env bash
# Build the course's website (Jupyter Book 1.x) into _build/html from the committed, executed
# notebooks: nothing is executed, nothing is downloaded. Warnings are errors (a missing figure,
# a broken internal link, a missing library source). Needs `bash scripts/setup.sh` first.
# View it: open _build/html/index.html, or `.venv/bin/python -m http.server -d _build/html`.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf _build/html _build/.doctrees
.venv/bin/jupyter-book build . --config site/_config.yml --toc site/_toc.yml \
    --warningiserror --keep-going "$@"
