"""Installed size of eventcompress's runtime dependency set, from an environment's metadata.

Walks ``Requires-Dist`` from eventcompress's own requirements (no extras; environment markers
evaluated for this interpreter) through the installed distributions, and sums the files each
one records in its RECORD. tonic and the other test oracles are extras, so they are not
counted unless something in the runtime set requires them (which the output would show).

    python tools/runtime_size.py [--requirement REQ ...]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _applies(requirement: str) -> bool:
    """Whether a Requires-Dist line holds here without extras (markers evaluated)."""
    if ";" not in requirement:
        return True
    marker = requirement.split(";", 1)[1]
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - packaging ships with pip's environments
        return True
    return Marker(marker).evaluate()


def runtime_requirements() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def closure(requirements: list[str]) -> dict[str, md.Distribution]:
    seen: dict[str, md.Distribution] = {}
    todo = [_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            print(f"not installed: {name}", file=sys.stderr)
            continue
        seen[name] = dist
        todo += [_name(r) for r in dist.requires or [] if _applies(r)]
    return seen


def installed_bytes(dist: md.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        path = Path(dist.locate_file(f))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirement", action="append",
                        help="start from these requirements instead of pyproject's runtime set")
    args = parser.parse_args()
    dists = closure(args.requirement or runtime_requirements())
    sizes = sorted(((installed_bytes(d), n, d.version) for n, d in dists.items()), reverse=True)
    for size, name, version in sizes:
        print(f"{size / 2**20:9.1f} MiB  {name} {version}")
    print(f"{sum(s for s, _, _ in sizes) / 2**20:9.1f} MiB  total, {len(sizes)} distributions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
