"""apps-text: tokenization throughput against fastai's spaCy `Tokenizer`, and peak memory on a large corpus.

1. Throughput: `--docs` generated documents (about 200 words each, seeded: a Zipf vocabulary, sentences with
   capitals, contractions, numbers, punctuation, some ALL CAPS words, character and word repetitions, HTML debris and
   paragraphs, so that every default rule has work), with fastai's default rules, over 2 processes:
   - tiers: `tokenize_texts(docs, n_workers=2)` with the built-in `WordTokenizer`;
   - tiers + Hugging Face `tokenizers`: the same with `HFTokenizer` (a BPE trained on the documents beforehand,
     outside the timing; `TOKENIZERS_PARALLELISM=false`, so it too uses the 2 processes only);
   - fastai: `fastai.text.core.parallel_tokenize(docs, tok=SpacyTokenizer(), n_workers=2)` (fastai's default
     tokenizer, spaCy, under the same rules).
   `--repeats` interleaved repeats in this process; medians. Target: tiers docs/s >= 10x fastai's.
2. Peak memory: tokenizing `--mem-docs` documents (generated lazily, tokens counted as `tokenize_folder` does, not
   kept) with 2 processes, in a fresh subprocess per repeat: the peak resident memory of that process while it
   tokenizes (its VmHWM, reset after the imports) minus its resident memory after the imports. Target: <= 200 MB.

Needs the bench environment (fastai, spaCy): `tools/dev run bench:python tools/bench/text_tokenize.py`.
Usage: python tools/bench/text_tokenize.py [--docs 20000] [--repeats 5] [--mem-docs 200000] [--mem-repeats 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # HF's own threads off: the 2 processes are the budget

SYLLABLES = "ka lo mi ne ru ta po sel dan ver tin gor la be chi mon pra st el an".split()
PUNCT = [",", ",", ",", ";", ":", " -", ""]
ENDS = [".", ".", ".", ".", "?", "!", "..."]
EXTRAS = ["don't", "it's", "I'm", "can't", "3.14", "1,000", "12:30", "well-known", "(see above)", "e.g.", "&amp;"]


def _vocabulary(n: int, rng: random.Random) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))))
    out = sorted(words)
    rng.shuffle(out)  # frequent words of every length, not the alphabet's first
    return out


def make_docs(n: int, seed: int = 0, n_words: int = 200) -> Iterator[str]:
    """`n` documents of about `n_words` words, generated lazily (seeded)."""
    rng = random.Random(seed)
    vocab = _vocabulary(3000, rng)
    weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf: a few frequent words, a long tail
    for _ in range(n):
        words = rng.choices(vocab, weights, k=n_words)
        out, i = [], 0
        while i < n_words:
            sent = words[i : i + rng.randint(6, 22)]
            i += len(sent)
            sent[0] = sent[0].capitalize()
            for j in range(1, len(sent)):
                r = rng.random()
                if r < 0.05:
                    sent[j] = sent[j].capitalize()  # a name
                elif r < 0.06:
                    sent[j] = sent[j].upper()  # emphasis
                elif r < 0.10:
                    sent[j] = rng.choice(EXTRAS)
                elif r < 0.16:
                    sent[j] += rng.choice(PUNCT)
            if rng.random() < 0.05:
                sent.append(" ".join([sent[-1]] * 4))  # a word repetition
            out.append(" ".join(sent) + (rng.choice(ENDS) if rng.random() > 0.05 else "!!!!"))
            if rng.random() < 0.1:
                out.append(rng.choice(("\n\n", "<br /><br />")))
        yield " ".join(out)


def _consume(toks: Iterator[list[str]]) -> int:
    return sum(len(t) for t in toks)


def bench_throughput(n_docs: int, repeats: int) -> None:
    from fastai.text.core import SpacyTokenizer as FastaiSpacy
    from fastai.text.core import parallel_tokenize

    from apps_text import HFTokenizer, default_rules, tokenize_texts

    docs = list(make_docs(n_docs))
    hf = HFTokenizer(vocab_sz=8000)
    hf.setup(docs, default_rules())  # trained outside the timing
    runs = {
        "tiers WordTokenizer": lambda: _consume(tokenize_texts(docs, n_workers=2, chunksize=512)),
        "tiers HFTokenizer": lambda: _consume(tokenize_texts(docs, tok=hf, n_workers=2, chunksize=512)),
        "fastai SpacyTokenizer": lambda: _consume(
            t for _, t in parallel_tokenize(docs, tok=FastaiSpacy(), n_workers=2)
        ),
    }
    load0 = os.getloadavg()[0]
    times: dict[str, list[float]] = {k: [] for k in runs}
    n_tokens = {}
    for _ in range(repeats):
        for name, run in runs.items():  # interleaved: each repeat runs every contender once
            t = time.perf_counter()
            n_tokens[name] = run()
            times[name].append(time.perf_counter() - t)
    rate = {k: n_docs / statistics.median(v) for k, v in times.items()}
    base = rate["fastai SpacyTokenizer"]
    load = os.getloadavg()[0]  # the machine is shared: the load says how much the figures are inflated
    print(f"tokenize {n_docs} docs (~200 words, default rules), 2 processes, median of {repeats} interleaved repeats "
          f"(load average {load0:.1f} before, {load:.1f} after):")  # fmt: skip
    for k, r in rate.items():
        print(f"  {k:22s} {r:9,.0f} docs/s  {r / base:5.1f}x fastai  ({n_tokens[k]:,} tokens)")
    met = rate["tiers WordTokenizer"] >= 10 * base
    print(f"  target: tiers WordTokenizer >= 10x fastai: {'met' if met else 'MISSED'}")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> None:
    """Reset this process's peak-RSS mark (VmHWM) to its current RSS (Linux), so the peak read next is this step's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_mb() -> float:
    """This process's own peak RSS (VmHWM of its address space). Not `ru_maxrss`: after `exec`, that also holds the
    peak of the image the process replaced, i.e. of the parent that forked it: this bench, after its throughput part
    (fastai, spaCy), peaks above the child, whose figure then read 214 MB with `--docs 2000` (685 MB with more) for a
    child that grows by under 15 MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("text_tokenize bench: no VmHWM in /proc/self/status (the memory part needs Linux)")


def memory_child(n_docs: int) -> None:
    """Run in a fresh process: tokenize `n_docs` lazily generated documents; print the peak RSS above the imports."""
    import resource

    from apps_text import tokenize_texts

    _reset_peak()
    after_imports = _rss_mb()
    counts: Counter[str] = Counter()
    lengths = []
    for toks in tokenize_texts(make_docs(n_docs, seed=1), n_workers=2, chunksize=256):
        counts.update(toks)
        lengths.append(len(toks))
    peak = _peak_mb()
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the workers (forked: no exec)
    print(f"{peak - after_imports:.1f} {child:.1f} {len(lengths)} {len(counts)}")


def bench_memory(n_docs: int, repeats: int) -> None:
    deltas, children = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n_docs)], capture_output=True, text=True, check=True
        ).stdout.split()
        deltas.append(float(out[0]))
        children.append(float(out[1]))
        assert int(out[2]) == n_docs
    d = statistics.median(deltas)
    print(f"peak memory tokenizing {n_docs} docs (2 processes), a subprocess per repeat, median of {repeats}: "
          f"{d:.1f} MB above the process after imports (each worker's peak RSS: {statistics.median(children):.0f} "
          f"MB); target <= 200 MB: {'met' if d <= 200 else 'MISSED'}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--mem-docs", type=int, default=200000)
    ap.add_argument("--mem-repeats", type=int, default=3)
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--skip", choices=["throughput", "memory"], default=None)
    args = ap.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    if args.skip != "throughput":
        bench_throughput(args.docs, args.repeats)
    if args.skip != "memory":
        bench_memory(args.mem_docs, args.mem_repeats)


if __name__ == "__main__":
    main()
