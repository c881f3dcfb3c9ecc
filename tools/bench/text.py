"""apps-text: tokenization docs/s, and a language-model epoch through LMDataLoader + Learner vs a hand-written loop.

1. Tokenizing `--docs` generated documents (about 200 words each, seeded, with capitals, repeats and punctuation so
   that every default rule has work) with the default rules and the built-in `WordTokenizer`: serial and over 2
   processes (`tokenize_texts(n_workers=2)`), docs/s. (fastai's spaCy `Tokenizer` is not installed here, so the
   issue's ratio against it is not measured by this script.)
2. One epoch of a small AWD-LSTM language model over the same token stream: `LMDataLoader` + `LMLearner.fit`
   (progress bar off; no metrics) against a hand-written torch loop over the same (bs, seq_len) windows of the same
   stream tensor with the same model, optimizer (pluggable-optim Adam) and loss. Target: ratio <= 1.05.

Usage: python tools/bench/text.py [--docs 20000] [--lm-docs 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from apps_text import (
    AWD_LSTM,
    LMDataLoader,
    LMTensorText,
    awd_lstm_small_config,
    get_language_model,
    language_model_learner,
    tokenize_texts,
)
from datablock import DataLoaders
from pluggable_optim import Adam
from trainloop_callbacks import CrossEntropyLossFlat

WORDS = "the a model data loader text token word epoch batch stream train valid layer weight Python".split()


def make_docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        ws = [rng.choice(WORDS) for _ in range(200)]
        for i in range(0, 200, 17):
            ws[i] = ws[i].capitalize()
        ws[5] = "WOW!!!!"
        docs.append(" ".join(ws) + ". It's done, isn't it?")
    return docs


def bench_tokenize(n_docs: int, repeats: int) -> None:
    docs = make_docs(n_docs)
    for workers in (0, 2):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in tokenize_texts(docs, n_workers=workers, chunksize=512):
                pass
            times.append(time.perf_counter() - t)
        print(f"tokenize {n_docs} docs, n_workers={workers}: {n_docs / statistics.median(times):,.0f} docs/s")


def bench_lm(n_docs: int, repeats: int, bs: int = 32, seq_len: int = 32) -> None:
    torch.manual_seed(0)
    docs = [(LMTensorText(torch.randint(9, 500, (200,))),) for _ in range(n_docs)]
    vocab = [f"w{i}" for i in range(504)]
    dl = LMDataLoader(docs, bs=bs, seq_len=seq_len)
    dls = DataLoaders(dl, LMDataLoader(docs[:2], bs=bs, seq_len=seq_len))  # one validation batch
    dls.text_vocab = vocab  # what get_text_vocab reads first
    stream = torch.cat([d[0].as_subclass(torch.Tensor) for d in docs])
    n = (stream.numel() - 1) // bs
    rows = stream[: n * bs + 1]

    def hand_loop(model: torch.nn.Module) -> None:
        opt = Adam(model.parameters(), lr=1e-3)
        loss_func = CrossEntropyLossFlat()
        model.train()
        model.reset()
        xs = rows[:-1].view(bs, n)
        ys = rows[1:].view(bs, n)
        for i in range(0, n, seq_len):
            out = model(xs[:, i : i + seq_len])[0]
            loss = loss_func(out, ys[:, i : i + seq_len])
            loss.backward()
            opt.step()
            opt.zero_grad()

    # AR/TAR off: the hand loop has the same loss only. One untimed epoch of each first: one-off start-up costs
    # (first optimizer step, first functional_call) are not what an epoch costs.
    learn = language_model_learner(dls, AWD_LSTM, config=awd_lstm_small_config, pretrained=False, alpha=0, beta=0)
    model = get_language_model(AWD_LSTM, len(vocab), awd_lstm_small_config)
    t_learn, t_hand = [], []
    with learn.no_bar():
        learn.fit(1, 1e-3)
        hand_loop(model)
        for _ in range(repeats):
            t = time.perf_counter()
            learn.fit(1, 1e-3)
            t_learn.append(time.perf_counter() - t)
            t = time.perf_counter()
            hand_loop(model)
            t_hand.append(time.perf_counter() - t)
    a, b = statistics.median(t_learn), statistics.median(t_hand)
    print(f"LM epoch ({n_docs} docs x 200 tokens, bs={bs}, seq_len={seq_len}): Learner {a:.2f}s, hand loop {b:.2f}s, "
          f"ratio {a / b:.3f} (target <= 1.05; the Learner also validates one batch)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--lm-docs", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    bench_tokenize(args.docs, args.repeats)
    bench_lm(args.lm_docs, args.repeats)


if __name__ == "__main__":
    main()
