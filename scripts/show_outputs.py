"""Print a notebook's text outputs and save its figures to a folder, for a quick review."""

import base64
import sys
from pathlib import Path

import nbformat

notebook, folder = Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/figs")
folder.mkdir(parents=True, exist_ok=True)
nb = nbformat.read(notebook, as_version=4)
figure = 0
for i, cell in enumerate(nb.cells):
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            print(f"[{i} {out.name}] {out.text[:1500]}")
        elif out.output_type == "error":
            print(f"[{i} ERROR] {out.ename}: {out.evalue}")
        elif "image/png" in out.get("data", {}):
            figure += 1
            path = folder / f"{notebook.stem}_{figure}.png"
            path.write_bytes(base64.b64decode(out.data["image/png"]))
            print(f"[{i} figure] {path} ({path.stat().st_size // 1024} KB)")
        elif "image/jpeg" in out.get("data", {}):
            figure += 1
            path = folder / f"{notebook.stem}_{figure}.jpg"
            path.write_bytes(base64.b64decode(out.data["image/jpeg"]))
            print(f"[{i} figure] {path} ({path.stat().st_size // 1024} KB)")
        elif "text/markdown" in out.get("data", {}):
            print(f"[{i} markdown] {out.data['text/markdown'][:1500]}")
        elif "text/plain" in out.get("data", {}):
            print(f"[{i} result] {out.data['text/plain'][:300]}")
print(f"notebook size: {notebook.stat().st_size / 1e6:.2f} MB")
