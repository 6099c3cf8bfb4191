"""Sphinx extension of the course's book: what each chapter page adds to its notebook.

- Every code cell is folded (myst-nb's ``hide-input`` tag): the page reads as prose, outputs and
  figures, and "Show code cell source" opens a cell.
- Under the chapter's title, links: open in Colab, the notebook, and the library source that the
  chapter builds (``course_chapter_sources`` in site/_config.yml).
- README's leaderboard (the landing page) must equal the table that chapter 09 wrote from the
  results (results/leaderboard-quick.md); a difference is a build warning, so an error under -W.
- Each script is loaded once (see ``drop_repeated_scripts``).

The notebook is changed only as Sphinx reads it (``source-read``); the files stay as committed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)
NOTES_MARK = "<!-- notes -->"  # chapter 09 writes the leaderboard's notes after this line
LEADERBOARD = re.compile(r"<!-- leaderboard:start -->\n(.*?)<!-- leaderboard:end -->", re.S)


def github_links(app) -> tuple[str, str]:
    """(owner/name, branch) of the repository named once in site/_config.yml."""
    options = app.config.html_theme_options
    url = options["repository_url"].rstrip("/")
    return url.removeprefix("https://github.com/"), options.get("repository_branch", "main")


def chapter_links(app, docname: str) -> str:
    repo, branch = github_links(app)
    root = Path(app.srcdir)
    colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{docname}.ipynb"
    links = [
        f"[Open in Colab]({colab})",
        f"[the notebook](https://github.com/{repo}/blob/{branch}/{docname}.ipynb)",
    ]
    sources = []
    for source in app.config.course_chapter_sources.get(Path(docname).name[:2], []):
        if not (root / source).exists():
            logger.warning(f"course_chapter_sources: {source} does not exist", location=docname)
            continue
        kind = "tree" if (root / source).is_dir() else "blob"
        sources.append(f"[`{source}`](https://github.com/{repo}/{kind}/{branch}/{source})")
    if sources:
        links.append("the library: " + ", ".join(sources))
    return " · ".join(links)


def prepare_notebook(app, docname: str, text: str) -> str:
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
    links = {"cell_type": "markdown", "metadata": {}, "source": chapter_links(app, docname)}
    if "id" in notebook["cells"][0]:  # nbformat 4.5 and later: every cell has an id
        links["id"] = "course-links"
    notebook["cells"].insert(1, links)  # the first cell holds the chapter's title
    return json.dumps(notebook)


def check_leaderboard(app, docname: str, text: str) -> None:
    generated = Path(app.srcdir) / "results" / "leaderboard-quick.md"
    found = LEADERBOARD.search(text)
    if not found or not generated.exists():
        logger.warning("README's leaderboard block or results/leaderboard-quick.md is missing")
        return
    table = generated.read_text().split(NOTES_MARK)[0].strip()  # every section's table
    if found.group(1).strip() != table:
        logger.warning(
            "README's leaderboard differs from results/leaderboard-quick.md (written by chapter "
            "09 from the results): copy the table from there",
            location=docname,
        )


def on_source_read(app, docname: str, source: list[str]) -> None:
    if docname.startswith("notebooks/"):
        source[0] = prepare_notebook(app, docname, source[0])
    elif docname == "README":
        check_leaderboard(app, docname, source[0])


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """Each script once: sphinx-thebe 0.3.1 under Sphinx 7.4 puts its inline configuration
    (``const THEBE_JS_URL = ...``) on every page twice, a script error in the browser."""
    scripts, seen = context.get("script_files", []), set()
    for script in list(scripts):
        # once with filename None, once with "": the same script
        key = (getattr(script, "filename", script) or "", repr(getattr(script, "attributes", {})))
        if key in seen:
            scripts.remove(script)
        seen.add(key)


def setup(app):
    app.add_config_value("course_chapter_sources", {}, "env")
    app.connect("source-read", on_source_read)
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
