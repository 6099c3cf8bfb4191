"""The course's website: chapter order, and a real headless Chromium over the built site."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import check_site  # noqa: E402


def test_chapters_follow_readme_table():
    readme = (ROOT / "README.md").read_text()
    in_readme = re.findall(r"^\| \d\d \| \[[^]]*\]\((notebooks/\w+)\.ipynb\)", readme, re.M)
    in_book = re.findall(r"- file: (\S+)", (ROOT / "site" / "_toc.yml").read_text())
    assert len(in_readme) == 10
    assert in_book == in_readme


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
