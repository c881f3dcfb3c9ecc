"""The `tiers` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tiers.versions import LAYERS, components

__all__ = ["main"]


def _info() -> int:
    import tiers

    print(f"tiers {tiers.__version__}")
    print(f"{'layer':<6}{'component':<22}{'pinned':<10}{'installed':<12}depends on")
    for c in components():
        layer, deps = LAYERS[c.name]
        mark = "" if c.ok else "  <- mismatch"
        print(f"{layer:<6}{c.name:<22}{c.pinned:<10}{c.installed or '-':<12}{', '.join(deps) or '-'}{mark}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tiers` command: report the installed stack."""
    parser = argparse.ArgumentParser(prog="tiers", description="The tiers deep-learning stack.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="show the installed components and the layer map (default)")
    args = parser.parse_args(argv)
    if args.command in (None, "info"):
        return _info()
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
