"""Write the superseded results' tables into the archive page, results/archive/README.md.

The page holds them between ``<!-- archive:start -->`` and ``<!-- archive:end -->``, generated
from the rows (``course_lib.experiments.leaderboard.build_archive``): every row under
``results/archive/`` and the rows of a superseded recipe still kept in ``results/quick/``. A test
fails when the page differs from the rows, so run this after moving rows into the archive:

    python scripts/update_archive_page.py            # the quick profile
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = ROOT / "results" / "archive" / "README.md"
BLOCK = re.compile(r"(<!-- archive:start -->\n).*?(<!-- archive:end -->)", re.S)


def generated(profile: str = "quick", results: Path = ROOT / "results") -> str:
    """The page's generated block: the superseded sections of ``profile`` as Markdown."""
    from course_lib.experiments.leaderboard import build_archive, format_archive

    return format_archive(build_archive(results, profile=profile)) + "\n"


def main(profile: str = "quick") -> int:
    text = PAGE.read_text()
    if not BLOCK.search(text):
        print(f"{PAGE.relative_to(ROOT)} has no archive block", file=sys.stderr)
        return 1
    tables = generated(profile)
    PAGE.write_text(BLOCK.sub(lambda m: m.group(1) + tables + m.group(2), text))
    print(f"{PAGE.relative_to(ROOT)}: superseded results of {profile} written")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
