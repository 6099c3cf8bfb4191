"""Copy chapter 09's leaderboard tables (results/leaderboard-<profile>.md) into README.md.

README holds the tables between ``<!-- leaderboard:start -->`` and ``<!-- leaderboard:end -->``;
the website build fails when the two differ, so run this after re-executing chapter 09:

    python scripts/update_readme_leaderboard.py            # the quick profile
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES_MARK = "<!-- notes -->"
BLOCK = re.compile(r"(<!-- leaderboard:start -->\n).*?(<!-- leaderboard:end -->)", re.S)


def main(profile: str = "quick") -> int:
    generated = ROOT / "results" / f"leaderboard-{profile}.md"
    if not generated.exists():
        print(f"{generated} does not exist: execute chapter 09 first", file=sys.stderr)
        return 1
    tables = generated.read_text().split(NOTES_MARK)[0].strip()
    readme = ROOT / "README.md"
    text = readme.read_text()
    if not BLOCK.search(text):
        print("README.md has no leaderboard block", file=sys.stderr)
        return 1
    readme.write_text(BLOCK.sub(lambda m: m.group(1) + tables + "\n" + m.group(2), text))
    print(f"README.md: leaderboard block copied from {generated.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
