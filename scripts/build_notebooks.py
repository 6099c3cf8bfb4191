"""Build notebooks/NN_*.ipynb from their jupytext sources in notebooks/src/NN_*.py.

The sources are percent-format scripts (``# %%`` cells, ``# %% [markdown]`` text, cell tags as
``# %% tags=["parameters"]``). Building keeps the outputs of an existing notebook only when its
code is unchanged, so run the course afterwards to refresh them:

    python scripts/build_notebooks.py            # every source
    python scripts/build_notebooks.py 00 03      # some
    python -m course_lib run-notebooks --profile quick --inplace
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def build(source: Path) -> Path:
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = KERNEL
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata.pop("jupytext", None)
    target = ROOT / "notebooks" / f"{source.stem}.ipynb"
    if target.exists():  # keep outputs of unchanged cells
        old = {
            c.source: c for c in nbformat.read(target, as_version=4).cells if c.cell_type == "code"
        }
        for cell in notebook.cells:
            if cell.cell_type == "code" and cell.source in old:
                cell.outputs = old[cell.source].get("outputs", [])
                cell.execution_count = old[cell.source].get("execution_count")
    nbformat.validate(notebook)
    nbformat.write(notebook, target)
    return target


def main(prefixes: list[str]) -> None:
    sources = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
    if prefixes:
        sources = [s for s in sources if any(s.name.startswith(p) for p in prefixes)]
    for source in sources:
        print(f"{source.relative_to(ROOT)} -> {build(source).relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
