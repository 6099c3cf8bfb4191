"""The course's website: chapter order, and a real headless Chromium over the built site."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import check_site  # noqa: E402


def toc_files() -> list[str]:
    """Every page of the book after README, in the order of site/_toc.yml."""
    return re.findall(r"- file: (\S+)", (ROOT / "site" / "_toc.yml").read_text())


def test_chapters_follow_readme_table():
    readme = (ROOT / "README.md").read_text()
    in_readme = re.findall(r"^\| \d\d \| \[[^]]*\]\((notebooks/\w+)\.ipynb\)", readme, re.M)
    in_book = toc_files()
    assert len(in_readme) == 10
    assert in_book[: len(in_readme)] == in_readme, "the chapters come first, in README's order"
    assert all(not page.startswith("notebooks/") for page in in_book[len(in_readme) :])


def heading_anchors(markdown: str) -> set[str]:
    """The anchors of a page's headings of levels 1-3 (site/_config.yml: myst_heading_anchors),
    made as MyST makes them: lower case, spaces to hyphens, other punctuation dropped."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)  # no headings in code blocks
    titles = re.findall(r"^#{1,3} (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", t.strip().lower().replace(" ", "-")) for t in titles}


def local_links(path: Path) -> list[tuple[str, str]]:
    """(target, anchor) of every link and image of a Markdown file to a file of the repository."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    found = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: ...
        target, _, anchor = target.partition("#")
        found.append((target, anchor))
    return found


def test_readme_is_short_and_its_pages_exist():
    """README stays a landing page (at most 250 lines); the rest lives in the pages it links to,
    which exist, are pages of the book, and have the sections README's links name."""
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) <= 250
    links = local_links(readme)
    pages = {target for target, _ in links if target.endswith(".md")}
    assert pages, "README links to the lab notebook and reference pages"
    book = set(toc_files())
    for target, anchor in links:
        path = ROOT / target if target else readme
        assert path.exists(), f"README links to {target}, which does not exist"
        if path.suffix == ".md":
            assert path == readme or str(path.relative_to(ROOT).with_suffix("")) in book, (
                f"{target} is not a page of the book (site/_toc.yml)"
            )
            if anchor:
                assert anchor in heading_anchors(path.read_text()), (
                    f"{target}#{anchor}: no such section"
                )


def test_reference_pages_link_to_what_exists():
    """The pages README links to (docs/): every link, image and #section they name exists."""
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert str(page.relative_to(ROOT).with_suffix("")) in toc_files(), f"{page} not in the book"
        for target, anchor in local_links(page):
            path = (page.parent / target).resolve() if target else page
            assert path.exists(), f"{page.name} links to {target}, which does not exist"
            if anchor and path.suffix == ".md":
                assert anchor in heading_anchors(path.read_text()), (
                    f"{page.name}: {target}#{anchor}"
                )


@pytest.fixture(scope="module")
def chromium():
    """The system's Chromium, with the site built (by scripts/test.sh, or here); else a skip."""
    path = check_site.find_chromium()
    if path is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium, or set CHROMIUM")
    pytest.importorskip("playwright", reason="playwright not installed: pip install -e '.[site]'")
    if not (check_site.HTML / "README.html").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "build_site.sh")], check=True)
    return path


def test_site_in_browser(chromium):
    """Landing page and every chapter: no broken image, link or anchor, all math typeset."""
    problems = check_site.check_site(chromium)
    assert problems == []
    assert (check_site.SHOTS / "README.png").exists()
    assert (check_site.SHOTS / "02_triplet_attention-math.png").exists()


def test_browser_check_finds_faults(chromium, tmp_path):
    """The check itself: a page with a broken image, link and anchor, a TeX error and raw TeX."""
    (tmp_path / "mathjax").symlink_to(check_site.HTML / "_static" / "mathjax")
    (tmp_path / "page.html").write_text(
        '<script defer src="mathjax/tex-chtml.js"></script><article>'
        '<p><span class="math">\\(\\frac{1}\\)</span> and $x$ left as text</p>'
        '<img src="missing.png"><a href="gone.html">a</a><a href="page.html#nowhere">b</a>'
        "</article>"
    )
    problems = "\n".join(check_site.check_site(chromium, tmp_path, tmp_path, ["page.html"]))
    for fault in ("broken image", "broken link", "missing anchor", "math error", "TeX left"):
        assert fault in problems
