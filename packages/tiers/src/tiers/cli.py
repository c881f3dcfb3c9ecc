"""The `tiers` command: `quickstart` trains an application on data that ships with it, `predict` runs an
exported model on your files, `info` shows the installed stack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tiers.versions import LAYERS, components

__all__ = ["main"]

APPS = ("vision", "segment", "text", "tabular", "collab")


def _info() -> int:
    import tiers

    print(f"tiers {tiers.__version__}")
    print(f"{'layer':<6}{'component':<22}{'pinned':<10}{'installed':<12}depends on")
    for c in components():
        layer, deps = LAYERS[c.name]
        mark = "" if c.ok else "  <- mismatch"
        print(f"{layer:<6}{c.name:<22}{c.pinned:<10}{c.installed or '-':<12}{', '.join(deps) or '-'}{mark}")
    return 0


def _quickstart(args: argparse.Namespace) -> int:
    from tiers.quickstart import recipe, summary

    out = Path(args.out) if args.out else Path("tiers-quickstart") / args.app
    result = recipe(args.app).run(out, epochs=args.epochs, cpu=args.cpu)
    print(summary(result))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from tiers.predict import PredictError, load_for_predict, predictor

    try:
        app, learn = load_for_predict(args.model, cpu=True, allow=args.allow)
        out = Path(args.out) if args.out else Path(args.model).resolve().parent / "predictions"
        predictor(app).predict(learn, args.inputs, out)
    except PredictError as e:
        print(f"tiers predict: {e}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiers", description="The tiers deep-learning stack.")
    sub = parser.add_subparsers(dest="command", metavar="{quickstart,predict,info}")
    qs = sub.add_parser(
        "quickstart",
        help="train an application on data that ships with tiers and write its pictures, metrics and model",
        description="Train on data that ships with the application packages (no download), print the metrics of "
        "each epoch, and write show_batch.png, show_results.png, the confusion matrix (or the application's "
        "equivalent picture), metrics.json and the exported model.",
    )
    qs.add_argument("app", choices=APPS, help="vision (digits), segment (shapes), text, tabular or collab")
    qs.add_argument("--out", metavar="DIR", help="where to write (default ./tiers-quickstart/<app>)")
    qs.add_argument("--epochs", type=int, metavar="N", help="number of epochs (default: the recipe's)")
    qs.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is available")
    pr = sub.add_parser(
        "predict",
        help="load an exported model safely and print its predictions",
        description="Load a model written by learn.export() (or tiers quickstart) without unpickling anything, and "
        "predict: image files or folders (vision), strings or .txt files (text), a CSV of rows (tabular), "
        "a CSV of (user, item) pairs (collab).",
    )
    pr.add_argument("model", help="the exported model file (.pth)")
    pr.add_argument("inputs", nargs="+", metavar="INPUT", help="what to predict on")
    pr.add_argument("--out", metavar="DIR", help="where to write result pictures (default: beside the model)")
    pr.add_argument("--allow", action="append", default=[], metavar="MODULE", help="also allow names from this module")
    sub.add_parser("info", help="show the installed components and the layer map (default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tiers` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in (None, "info"):
        return _info()
    if args.command == "quickstart":
        if args.epochs is not None and args.epochs < 1:
            parser.error(f"--epochs must be at least 1, got {args.epochs}")
        return _quickstart(args)
    return _predict(args)


if __name__ == "__main__":
    sys.exit(main())
