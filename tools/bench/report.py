"""Run the benchmarks with stated settings and write the README's Performance table from what they print.

Usage: python tools/bench/report.py [--only NAME,...] [--from-logs] [--print] [--timeout S]
       in the bench environment, where the peers are installed:
       `tools/dev env create bench && tools/dev run bench:python tools/bench/report.py`

Each bench in BENCHES runs as its own process with the arguments listed there (settings small enough for a shared
2-core machine; each row of the table shows them). Its whole output goes to docs/bench/<name>.txt with the command,
the date and the load average; the figures of the table are read from that text by the bench's parser below, so
`--from-logs` rebuilds the table from the committed logs without running anything (and the README test checks that
the committed table is what the committed logs give). Speed columns: how many times faster tiers is than the peer
(peer time / tiers time, or tiers throughput / peer throughput): above 1 tiers is faster. A figure a log lacks (a
peer not installed, a bench that failed) shows as "-", a bench without a log as "not run"; a bench whose log lacks
the tiers figure is an error.
`--only` runs some benches and keeps the others' committed logs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from readme_blocks import ROOT, write_block  # noqa: E402

LOGS = ROOT / "docs" / "bench"
NUMBER = r"([\d,]+(?:\.\d+)?)"


@dataclass(frozen=True)
class Row:
    """One case: the tiers figure and the peers' (None when not measured), in `unit`."""

    case: str
    unit: str
    tiers: float
    torch: float | None
    fastai: float | None
    higher_is_better: bool  # throughputs (img/s) yes, times (ms, us) no
    torch_label: str = "plain PyTorch"

    def speed(self, peer: float | None) -> float | None:
        if peer is None or peer <= 0 or self.tiers <= 0:
            return None
        return self.tiers / peer if self.higher_is_better else peer / self.tiers


def section(text: str, start: str, end: str | None = None) -> str:
    """The text from the first line containing `start` up to the next line containing `end` (or the end)."""
    i = text.find(start)
    if i < 0:
        return ""
    j = text.find(end, i + len(start)) if end else -1
    return text[i : j if j >= 0 else len(text)]


def figure(text: str, pattern: str) -> float | None:
    """The number that the first line matching `pattern` + whitespace + NUMBER carries (commas allowed)."""
    m = re.search(rf"^\s*{pattern}\s+{NUMBER}", text, re.MULTILINE)
    return float(m.group(1).replace(",", "")) if m else None


def must(value: float | None, what: str) -> float:
    if value is None:
        raise ValueError(f"bench report: no figure for {what} in its log")
    return value


# --- one parser per bench: the log's text -> rows ----------------------------------------------------------------
def optim_step(log: str) -> list[Row]:
    def ms(name: str) -> float | None:
        return figure(log, re.escape(name) + r"(?=\s+[\d.]+\s+[\d.]+x)")

    return [
        Row(
            "optimizer step, Adam(W), resnet18's parameters, default (torch's fused kernel)",
            "ms/step",
            must(ms("tiers Adam (AdamW)"), "tiers Adam"),
            ms("torch AdamW fused=True"),
            ms("fastai Adam"),
            False,
            "torch AdamW fused",
        ),
        Row(
            "the same, as the foreach composition of stats and steppers",
            "ms/step",
            must(ms("tiers Adam foreach=True"), "tiers Adam foreach"),
            ms("torch AdamW foreach=True"),
            ms("fastai Adam"),
            False,
            "torch AdamW foreach",
        ),
        Row(
            "optimizer step, SGD momentum + L2, default",
            "ms/step",
            must(ms("tiers SGD mom L2"), "tiers SGD"),
            ms("torch SGD mom L2 fused"),
            ms("fastai SGD mom L2"),
            False,
            "torch SGD fused",
        ),
        Row("optimizer step, LAMB", "ms/step", must(ms("tiers Lamb"), "tiers Lamb"), None, ms("fastai Lamb"), False),
    ]


def loop_overhead(log: str) -> list[Row]:
    rows = []
    for title, start, end in (
        ("training loop, MLP on CPU, Adam, bar off", "metric accuracy", "the loop alone"),
        ("training loop alone (model costs ~0), Adam, bar off", "the loop alone", "techniques as callbacks"),
    ):
        part = section(log, start, end)
        rows.append(
            Row(
                title,
                "us/batch",
                must(figure(part, r"Adam\s+Learner\.fit, bar off"), title),
                figure(part, r"Adam\s+hand-written torch loop"),
                figure(part, r"Adam\s+fastai Learner\.fit, bar off"),
                False,
                "hand-written loop",
            )
        )
    return rows


def dataloader(log: str) -> list[Row]:
    def rate(workers: int, name: str) -> float | None:
        return figure(log, rf"images\s+workers={workers}\s+{re.escape(name)}")

    rows = [
        Row(
            f"DataBlock image loading (PNG -> 64 px tensors), {workers} workers",
            "img/s",
            must(rate(workers, "datablock"), f"datablock images, {workers} workers"),
            rate(workers, "torch ImageFolder"),
            rate(workers, "fastai"),
            True,
            "ImageFolder + DataLoader",
        )
        for workers in (0, 2)
    ]
    fast = figure(log, r"memory\s+workers=0\s+datablock fast path")
    rows.append(
        Row(
            "in-memory tensors, bs 256",
            "batches/s",
            must(fast, "datablock fast path"),
            figure(log, r"memory\s+workers=0\s+TensorDataset"),
            None,
            True,
            "TensorDataset + DataLoader",
        )
    )
    return rows


def vision_loader(log: str) -> list[Row]:
    rows = []
    for workers, end in ((0, "2 workers"), (2, None)):
        part = section(log, f"{workers} workers", end)
        rows.append(
            Row(
                f"ImageDataLoaders.from_folder epoch with augmentation, {workers} workers",
                "img/s",
                must(figure(part, r"tiers"), f"tiers, {workers} workers"),
                figure(part, r"torchvision v2"),
                figure(part, r"fastai"),
                True,
                "torchvision v2 per item",
            )
        )
    return rows


def batch_augment(log: str) -> list[Row]:
    part = section(log, "## CPU, 1 thread(s)", "\n## ")
    return [
        Row(
            "aug_transforms() on a 224 px batch, 1 thread, no warp",
            "img/s",
            must(figure(part, re.escape("tiers aug_transforms() (no warp)")), "tiers aug_transforms"),
            None,
            figure(part, re.escape("fastai aug_transforms (no warp)")),
            True,
        ),
        Row(
            "the same augmentations as a torchvision v2 pipeline, 1 thread",
            "img/s",
            must(figure(part, re.escape("tiers like torchvision (no warp)")), "tiers like torchvision"),
            figure(part, re.escape("torchvision v2 per item (no warp)")),
            None,
            True,
            "torchvision v2 per item",
        ),
    ]


def padded_loader(log: str) -> list[Row]:
    return [
        Row(
            "padded text batches (sorted by length), 0 workers",
            "items/s",
            must(figure(log, r"datablock"), "datablock"),
            figure(log, r"torch"),
            None,
            True,
            "DataLoader + pad collate",
        )
    ]


def transform_overhead(log: str) -> list[Row]:
    return [
        Row(
            "Transform call on a 2-tuple (int, str)",
            "ns/call",
            must(figure(log, r"dispatch_transforms\s+2-tuple"), "dispatch_transforms"),
            figure(log, r"plain function\s+2-tuple"),
            figure(log, r"fasttransform\s+2-tuple"),
            False,
            "plain function",
        )
    ]


def typedtensor_overhead(log: str) -> list[Row]:
    rows = []
    for case, label in (("add (x + 1)", "x + 1"), ("torch.cat of 8", "torch.cat of 8")):
        c = re.escape(case)
        rows.append(
            Row(
                f"typed tensor op `{label}` (TensorImage, tiny tensor)",
                "us/op",
                must(figure(log, rf"{c}\s+typedtensor\.TensorImage"), case),
                figure(log, rf"{c}\s+torch\.Tensor"),
                figure(log, rf"{c}\s+fastai TensorImage"),
                False,
                "torch.Tensor",
            )
        )
    return rows


def tabular(log: str) -> list[Row]:
    prep, epoch, pred = section(log, "1. preprocessing", "2. one epoch"), section(log, "2. one epoch", "3. "), log
    pandas_peer = "peer: pandas" in log
    return [
        Row(
            "tabular preprocessing (Categorify, FillMissing, Normalize)",
            "s",
            must(figure(prep, r"tiers"), "tiers preprocessing"),
            figure(prep, r"pandas") if pandas_peer else None,
            None if pandas_peer else figure(prep, r"fastai"),
            False,
            "hand-written pandas",
        ),
        Row(
            "tabular_learner epoch (train + valid), bs 1024",
            "s",
            must(figure(epoch, r"tiers Learner"), "tiers epoch"),
            figure(epoch, r"hand loop"),
            figure(epoch, r"fastai Learner"),
            False,
            "hand-written loop",
        ),
        Row(
            "tabular learn.predict(row)",
            "us",
            must(figure(pred, r"tiers predict:"), "tiers predict"),
            None,
            figure(pred, r"fastai predict:"),
            False,
        ),
    ]


def text(log: str) -> list[Row]:
    m = re.search(rf"Learner {NUMBER}s, hand loop {NUMBER}s", log)
    if not m:
        raise ValueError("bench report: no LM epoch figures in the text log")
    return [
        Row(
            "AWD-LSTM language-model epoch (LMDataLoader + Learner)",
            "s",
            float(m.group(1)),
            float(m.group(2)),
            None,
            False,
            "hand-written loop",
        )
    ]


def text_tokenize(log: str) -> list[Row]:
    def rate(name: str) -> float | None:
        return figure(log, re.escape(name) + r"(?=\s+[\d,.]+\s+docs/s)")

    fastai = rate("fastai SpacyTokenizer")
    return [
        Row(
            "tokenize_texts, ~200-word docs, fastai's default rules, 2 processes, WordTokenizer (fastai: spaCy)",
            "docs/s",
            must(rate("tiers WordTokenizer"), "tiers WordTokenizer"),
            None,
            fastai,
            True,
        ),
        Row(
            "the same with HFTokenizer (a Hugging Face `tokenizers` BPE)",
            "docs/s",
            must(rate("tiers HFTokenizer"), "tiers HFTokenizer"),
            None,
            fastai,
            True,
        ),
    ]


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]
    parse: Callable[[str], list[Row]]

    @property
    def command(self) -> str:
        return " ".join(("python", f"tools/bench/{self.name}.py", *self.args))


BENCHES = [
    Bench("optim_step", ("--repeats", "3", "--steps", "4"), optim_step),
    Bench("loop_overhead", ("--repeats", "3"), loop_overhead),
    Bench("dataloader", ("--repeats", "3", "--n-images", "500"), dataloader),
    Bench("vision_loader", ("--n", "2000", "--repeats", "5"), vision_loader),
    Bench("batch_augment", ("--repeats", "3", "--bs", "32"), batch_augment),
    Bench("padded_loader", ("--repeats", "3", "--n", "5000"), padded_loader),
    Bench("transform_overhead", ("--repeats", "3", "--number", "20000"), transform_overhead),
    Bench("typedtensor_overhead", ("--repeats", "3", "--number", "2000"), typedtensor_overhead),
    Bench("tabular", ("--rows", "20000", "--repeats", "2"), tabular),
    Bench("text", ("--docs", "5000", "--lm-docs", "400", "--repeats", "5"), text),
    Bench("text_tokenize", ("--docs", "20000", "--repeats", "5", "--skip", "memory"), text_tokenize),
]


def run(bench: Bench, timeout: float) -> None:
    """Run one bench and keep its output, with how it ran, in docs/bench/<name>.txt."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    cmd = [sys.executable, str(HERE / f"{bench.name}.py"), *bench.args]
    print(f"=== {bench.command}", flush=True)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        out, status = res.stdout + res.stderr[-2000:] * (res.returncode != 0), f"exit {res.returncode}"
    except subprocess.TimeoutExpired as e:
        out, status = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timed out"
    print(out, flush=True)
    header = [
        f"# command: {bench.command}",
        f"# date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; python: {sys.executable}",
        f"# {os.cpu_count()} CPU cores; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; "
        f"{time.perf_counter() - start:.0f} s; {status}",
    ]
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"{bench.name}.txt").write_text("\n".join(header) + "\n\n" + out)


def speed_cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x" if value >= 0.1 else f"{value:.3f}x"


def cell(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def table() -> str:
    """The README block, from the logs in docs/bench/."""
    lines = [
        "| case | tiers | plain PyTorch (what) | speed vs it | fastai | speed vs fastai | command (`tools/bench/`) |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    loads, cores = [], set()
    for bench in BENCHES:
        log_file = LOGS / f"{bench.name}.txt"
        args = " ".join((f"{bench.name}.py", *bench.args))
        if not log_file.exists():  # never run here (or interrupted before its log was written): say so
            lines.append(f"| {bench.name}: not run | - | - | - | - | - | `{args}` |")
            continue
        log = log_file.read_text()
        if (m := re.search(r"load average ([\d.]+) before, ([\d.]+) after", log)) is not None:
            loads += [float(m.group(1)), float(m.group(2))]
        cores.update(re.findall(r"^# (\d+) CPU cores", log, re.MULTILINE))
        for r in bench.parse(log):
            torch_cell = "-" if r.torch is None else f"{cell(r.torch, r.unit)} ({r.torch_label})"
            lines.append(
                f"| {r.case} | {cell(r.tiers, r.unit)} | {torch_cell} | {speed_cell(r.speed(r.torch))} "
                f"| {cell(r.fastai, r.unit)} | {speed_cell(r.speed(r.fastai))} | `{args}` |"
            )
    core_note = "/".join(sorted(cores)) or "?"
    load_note = f"load average {min(loads):.1f} to {max(loads):.1f}" if loads else "load not recorded"
    return "\n".join(
        [
            f"Generated by `python tools/bench/report.py` from the logs in `docs/bench/` ({core_note} CPU "
            f"cores shared with other jobs, {load_note}; settings reduced to fit, as each command shows). "
            "Absolute figures move with the load; the ratios are measured side by side in one process.",
            "",
            *lines,
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated bench names to run (the others' logs are kept)")
    parser.add_argument("--from-logs", action="store_true", help="run nothing: rebuild the table from docs/bench/")
    parser.add_argument("--print", action="store_true", help="print the table; leave the README alone")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per bench")
    args = parser.parse_args(argv)
    names = {b.name for b in BENCHES}
    only = set(args.only.split(",")) if args.only else names
    if unknown := only - names:
        parser.error(f"unknown bench(es) {sorted(unknown)}; known: {sorted(names)}")
    if not args.from_logs:
        for bench in BENCHES:
            if bench.name in only:
                run(bench, args.timeout)
    block = table()
    if args.print:
        print(block)
    else:
        print(f"bench report: README.md {'updated' if write_block('performance', block) else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
