"""Compare the printed outputs of two executions of one notebook, cell by cell.

For checking that a re-execution (another machine, an empty run cache, a fresh clone)
reproduces the committed one: prints every line of text output that differs, and a summary.
Figures are compared by count only (their bytes change with any font or library version).

    python scripts/compare_outputs.py notebooks/02_triplet_attention.ipynb \\
        executed/quick/02_triplet_attention.ipynb

Exit status 0 when every text output is the same, 1 otherwise, 2 when the two notebooks do
not come from the same source (their code cells differ).
"""

import argparse
import difflib
import sys
from pathlib import Path

import nbformat


def cell_texts(cell) -> tuple[list[str], int]:
    """The cell's text outputs as lines (streams, markdown, plain results, errors) and its
    number of figures."""
    lines, figures = [], 0
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines += out.text.splitlines()
        elif out.output_type == "error":
            lines.append(f"ERROR {out.ename}: {out.evalue}")
        else:
            data = out.get("data", {})
            if "image/png" in data or "image/jpeg" in data:
                figures += 1
            elif "text/markdown" in data:
                lines += data["text/markdown"].splitlines()
            elif "text/plain" in data:
                lines += data["text/plain"].splitlines()
    return lines, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    args = parser.parse_args()
    first, second = (nbformat.read(p, as_version=4) for p in (args.first, args.second))
    # papermill inserts an "injected-parameters" cell: compare the cells both sources have
    cells = [
        [
            c
            for c in nb.cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
        ]
        for nb in (first, second)
    ]
    if [c.source for c in cells[0]] != [c.source for c in cells[1]]:
        print(f"{args.first} and {args.second} are not executions of one source", file=sys.stderr)
        return 2
    changed_cells = changed_lines = total_lines = 0
    figures = [0, 0]
    for index, (a, b) in enumerate(zip(*cells)):
        (lines_a, figs_a), (lines_b, figs_b) = cell_texts(a), cell_texts(b)
        figures[0] += figs_a
        figures[1] += figs_b
        total_lines += len(lines_a)
        if lines_a == lines_b:
            continue
        changed_cells += 1
        diff = [
            line
            for line in difflib.unified_diff(lines_a, lines_b, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        changed_lines += sum(line.startswith("-") for line in diff)
        if not args.quiet:
            print(f"--- code cell {index}: {a.source.splitlines()[0][:70]!r}")
            print("\n".join(diff))
    print(
        f"{len(cells[0])} code cells, {total_lines} lines of text output: {changed_cells} cells"
        f" and {changed_lines} lines differ; figures {figures[0]} and {figures[1]}"
    )
    return int(changed_cells > 0 or figures[0] != figures[1])


if __name__ == "__main__":
    sys.exit(main())
