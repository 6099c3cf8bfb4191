"""Open the built website in a real headless Chromium and check what a reader would see.

For the landing page and every chapter of site/_toc.yml: the page loads with no failed request
and no script error, every image has loaded, every internal link (and its #anchor) resolves,
and MathJax has typeset every formula without an error. Screenshots go to _build/screenshots/:
the top of each page, and where a page has them, its first formula and its first figure.

    python scripts/check_site.py              # after bash scripts/build_site.sh
    CHROMIUM=/path/to/chrome python scripts/check_site.py

Links to other sites (Colab, GitHub) are checked for form only: this machine has no network.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"

WAIT_FOR_PAGE = """async () => {
  await Promise.all([...document.images].map(img => img.complete ? null :
    new Promise(done => { img.onload = img.onerror = done; })));
  if (window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
}"""

PAGE_FACTS = r"""() => ({
  brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute('src')),
  images: document.images.length,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
  rawTeX: [...document.querySelectorAll('article p, article li, article td')]
    .filter(e => !e.closest('pre, code') && /\$|\\\(|\\\[/.test(
      [...e.childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.data).join('')))
    .map(e => e.textContent.slice(0, 80)),
})"""


def find_chromium() -> str | None:
    """The system's Chromium (or $CHROMIUM), or None."""
    names = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"]
    return next((shutil.which(n) for n in names if n and shutil.which(n)), None)


def pages() -> list[str]:
    """The landing page and the chapters, in the order of site/_toc.yml."""
    toc = (ROOT / "site" / "_toc.yml").read_text()
    return ["README.html"] + [f"{f}.html" for f in re.findall(r"- file: (\S+)", toc)]


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fetch(url: str) -> tuple[int, str]:
    """Status and text of a page of the local server."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


@functools.cache
def anchors(url: str) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', fetch(url)[1]))


def check_links(base: str, links: list[str]) -> list[str]:
    problems = []
    for link in sorted(set(links)):
        url, anchor = urldefrag(link)
        if not url.startswith(base):
            if urlparse(link).scheme not in ("https", "mailto"):
                problems.append(f"external link that is not https: {link}")
            continue
        status = fetch(url)[0]
        if status != 200:
            problems.append(f"broken link {link} ({status})")
        elif anchor and anchor not in anchors(url):
            problems.append(f"link to a missing anchor: {link}")
    return problems


def check_page(browser, base: str, name: str, shots: Path) -> list[str]:
    """Open one page; its problems, and its screenshots in shots/."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(f"script error: {error}"))
    page.on("requestfailed", lambda request: found.append(f"request failed: {request.url}"))
    page.on("response", lambda r: r.status >= 400 and found.append(f"{r.status}: {r.url}"))
    response = page.goto(base + name, wait_until="load")
    if response is None or response.status != 200:
        return ["does not load"]
    page.evaluate(WAIT_FOR_PAGE)
    facts = page.evaluate(PAGE_FACTS)
    found += [f"broken image {src}" for src in facts["brokenImages"]]
    found += [f"math error: {text}" for text in facts["mathErrors"]]
    found += [f"TeX left as text: {text!r}" for text in facts["rawTeX"]]
    if facts["typeset"] < facts["math"]:
        found.append(f"{facts['math']} formulas, only {facts['typeset']} typeset")
    found += check_links(base, facts["links"])
    colab = [link for link in facts["links"] if "colab.research.google.com/github/" in link]
    if name.startswith("notebooks/") and not colab:
        found.append("no Open in Colab link")
    stem = Path(name).stem
    page.screenshot(path=shots / f"{stem}.png")
    for what, selector in (("math", "mjx-container"), ("figure", "article img")):
        first = page.locator(selector).first
        if first.count():
            first.scroll_into_view_if_needed()
            page.screenshot(path=shots / f"{stem}-{what}.png")
    print(
        f"{name}: {facts['images']} images, {len(set(facts['links']))} links, "
        f"{facts['typeset']}/{facts['math']} formulas typeset, {len(found)} problems"
    )
    page.close()
    return found


def check_site(
    chromium: str, html: Path = HTML, shots: Path = SHOTS, names: list[str] | None = None
) -> list[str]:
    """Every problem found on the pages `names` (default: the book's), as lines naming their
    page; an empty list when all is well."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    server = serve(html)
    base = f"http://127.0.0.1:{server.server_port}/"
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium)
            for name in names or pages():
                problems += [
                    f"{name}: {problem}" for problem in check_page(browser, base, name, shots)
                ]
            browser.close()
    finally:
        server.shutdown()
    return problems


def main() -> int:
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found: install it (apt-get install chromium) or set CHROMIUM")
        return 2
    if not (HTML / "README.html").exists():
        print(f"no site in {HTML}: run bash scripts/build_site.sh first")
        return 2
    problems = check_site(chromium)
    print("\n".join(problems) or f"site OK; screenshots in {SHOTS.relative_to(ROOT)}/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
