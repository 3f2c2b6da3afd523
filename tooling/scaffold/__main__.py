"""`python -m tooling.scaffold NAME --patterns keyvalue,timeseries [--dest patterns/]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tooling.scaffold import ScaffoldError, scaffold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tooling.scaffold",
        description="Create a new backend plugin package (refused with UNIMPLEMENTED until "
        "its methods are filled in and its capabilities claimed).",
    )
    parser.add_argument("name", help="backend name: [a-z][a-z0-9_]*, e.g. cassandra")
    parser.add_argument(
        "--patterns",
        required=True,
        help="comma-separated patterns it serves, e.g. keyvalue,timeseries",
    )
    parser.add_argument(
        "--dest", type=Path, default=Path("patterns"), help="parent directory (default: patterns)"
    )
    args = parser.parse_args(argv)
    patterns = [p.strip() for p in args.patterns.split(",") if p.strip()]
    try:
        root = scaffold(args.name, patterns, args.dest, echo=print)
    except ScaffoldError as err:
        print(f"scaffold: {err}", file=sys.stderr)
        return 2
    print(
        f"scaffold: created {root}; `pip install -e {root}` registers backend "
        f"'{args.name}'. Fill in the methods, then claim capabilities in metadata.py and "
        "tests/conformance/claims.yaml."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
