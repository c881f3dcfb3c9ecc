"""Acceptance (`-m acceptance`): ULMFiT's three stages on the text that ships with Python, against scratch training.

1. A general-domain language model on `stdlib_text_corpus()` (every standard-library docstring outside the labelled
   packages + the Python reference's topics, about 1.9 MB), one epoch of the small AWD-LSTM, saved with
   `save_pretrained`. 2. Per seed, a language model on the labelled task's training texts (all of them, unlabelled;
   the held-out texts are never seen) from those weights (fastai's vocab matching), against the same model from
   scratch for the same number of epochs. 3. Per seed, a classifier on 60 labelled docstrings (30 per package) from
   the fine-tuned encoder with gradual unfreezing and fastai's discriminative rates (`slice(lr / 2.6**4, lr)`),
   against the same classifier from scratch for the same number of epochs (16 each, same batches), scored by
   accuracy on the held-out docstrings.

Measured (2026-12-04, shared 2-core machine, one torch thread; `pytest -m acceptance -s` prints them): stage 1 reaches
perplexity 219 on held-out general text; stage 2 holds on each seed: target perplexity 83.2 / 83.5 / 83.2 from the
general weights vs 125.7 / 120.5 / 119.5 from scratch. Stage 3 does NOT hold at this scale (issue 17 stays open on
it): fine-tuned 0.73 / 0.55 / 0.70 held-out accuracy on seeds 0-2 vs 0.77 / 0.93 / 0.93 from scratch (2026-12-05,
after the `SentenceEncoder` fix; 0.77 / 0.57 / 0.68 vs 0.90 / 0.93 / 0.92 before it). CPU: 80 s (corpus parse +
general LM), 24 s (6 target LMs), 22 s (6 classifiers); 3 min 47 s wall at load 10. Variants tried outside the test
(same seeds, 60 labels, before the fix): ULMFiT's rates over 8 epochs 0.70 / 0.62 / 0.72 vs
0.82 / 0.78 / 0.68; the scratch rate (1e-2, all layers) after 2 head epochs 0.80 / 0.67 / 0.68 vs 0.90 / 0.93 /
0.92; AR/TAR off 0.77 / 0.67 / 0.67 vs 0.62 / 0.95 / 0.93; drop_mult 0.1 0.72 / 0.72 / 0.72 vs 0.90 / 0.95 / 0.82.
A linear probe on the frozen pooled features shows why: with every training label (340) the fine-tuned LM's
features beat a random encoder's (0.87 vs 0.78 held-out accuracy), but with 60 labels they do not (0.70 / 0.63 /
0.55 vs 0.68 / 0.65 / 0.63), while a classifier trained end to end picks the packages' keywords from 60 texts.
Which part of the encoder hurts (2026-12-05, scratch rate 1e-2 on all layers for 16 epochs, final validation loss,
seed 0 before the fix / seed 1 after it): random encoder 0.32 / 0.28; fine-tuned encoder 0.45 / 0.42; its LSTMs
with a random embedding 0.28 / 0.28; its embedding with random LSTMs 0.27 / 0.41. The LM-trained (decoder-tied,
64-wide) embedding is what costs (the LSTMs alone do as well as random ones): the packages' own words are new to
the general vocab (115 of 928 target tokens, `asyncio`, `payload`, ... start at the mean embedding) and five
epochs of LM fine-tuning leave them close together, while a random embedding gives every keyword its own direction.
A 2 MB corpus and one epoch of a 64-unit LSTM (what 2 CPU cores allow in the issue's 6 minutes) do not give the
language knowledge ULMFiT transfers (fastai's WikiText-103 model: 100M tokens).
Searched further (2026-12-05, scripts outside the test, same seeds and stages; held-out accuracy fine-tuned vs
scratch on seeds 0 / 1 / 2, scratch 0.77 / 0.93 / 0.93 unless given):
- the general vocab at min_freq 1 (104 new target tokens instead of 115): 0.63 / 0.63 / 0.72;
- new tokens' rows random (the scale of the others) instead of fastai's mean: 0.65 / 0.55 / 0.67;
- a language model twice as wide (emb 128, hidden 256) and two general epochs (target perplexity 40 instead of 83):
  0.80 / 0.75 / 0.75 vs 0.93 / 0.72 / 0.88; the same untied (`tie_weights=False`, perplexity 35): 0.83 / 0.82 / 0.75;
  the wider encoder trained like scratch (every layer at 1e-2): 0.85 / 0.87 / 0.80;
- the untied small model (perplexity 67): 0.68 / 0.68 / 0.70; the scratch recipe on the small encoder: 0.90 / 0.73 /
  0.75; 4 or 8 epochs instead of 16: no seed-wise gain either;
- 20 labels (wider model): 0.68 / 0.45 / 0.70 vs 0.82 / 0.50 / 0.48; all 320 training labels (seed 0): 0.90 vs 0.98;
- the language model fine-tuned on every text, held-out ones included (transductive, as fastai's IMDb example):
  0.70 / 0.72 / 0.63 vs 0.97 / 0.88 / 0.90 (small), 0.70 / 0.82 / 0.72 vs 0.45 / 0.93 / 0.92 (wider);
- another task with more target text and weaker keywords, `tkinter` vs `idlelib` (608 training texts, 183 held
  out; bag of words 0.79-0.86 at 60 labels): 0.73 / 0.63 / 0.57 vs 0.78 / 0.74 / 0.72 (small), 0.67 / 0.55 / 0.67
  vs 0.66 / 0.72 / 0.74 (wider); six packages at 10 labels each: unstable both ways (0.12-0.51).
A logistic regression on the pooled features (60 labels, 5 draws) says why: the fine-tuned language model's
features separate the packages at 0.62-0.77 (small) / 0.75-0.87 (wider), a random encoder's at 0.60-0.82, a bag of
words at 0.90-0.97; trained end to end, a randomly initialised embedding learns the packages' keywords (the
LM-trained one gives function words norms of 2-3.4 and keywords 0.7-1.6, and the keywords' directions overlap:
mean |cos| 0.33 vs 0.13 at random). Padding is not the cause (features of unpadded texts probe the same). The
transfer needs a language model whose features carry the topic: fastai's is trained on WikiText-103 (100M tokens);
none can be downloaded here and 2 CPU cores do not train one.
The strict xfail below keeps the claim asserted: it fails (XPASS) the day it holds, so the marker goes.
"""

import math
import time

import pandas as pd
import pytest
import torch

from apps_text import (
    AWD_LSTM,
    STDLIB_LABELS,
    TextDataLoaders,
    awd_lstm_small_config,
    language_model_learner,
    save_pretrained,
    stdlib_corpus,
    stdlib_text_corpus,
    text_classifier_learner,
)
from trainloop_callbacks.metrics import accuracy

pytestmark = [pytest.mark.slow, pytest.mark.acceptance]  # slow: left out of the per-package isolated runs too

SEEDS = (0, 1, 2)
N_LABELLED = 60  # per seed, half per package: few labels, where ULMFiT is meant to help
SEQ = 48


def _cpu() -> float:
    return time.process_time()


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small CPU LSTMs gain nothing from more threads (see conftest.one_thread)
    try:
        yield _run_stages(tmp_path_factory.mktemp("ulmfit"))
    finally:
        torch.set_num_threads(n_threads)


def _run_stages(tmp):
    t0 = _cpu()
    # stage 1: the general-domain LM, never shown the labelled packages
    general = pd.read_csv(stdlib_text_corpus(tmp / "stdlib_text", exclude=STDLIB_LABELS) / "texts.csv")
    assert general.text.str.len().sum() > 1_500_000 and not general.name.str.startswith(STDLIB_LABELS).any()
    torch.manual_seed(0)
    dls_gen = TextDataLoaders.from_df(general, text_col="text", is_lm=True, valid_col="is_valid", bs=64, seq_len=SEQ,
                                      max_vocab=8000)  # fmt: skip
    lm = language_model_learner(dls_gen, AWD_LSTM, config=awd_lstm_small_config, pretrained=False, path=tmp)
    with lm.no_bar():
        lm.fit_one_cycle(1, 1e-2)
    general_ppl = math.exp(lm.validate()[0])
    files = save_pretrained(lm.model, dls_gen.text_vocab, tmp / "general.pth", tmp / "general.json")
    t1 = _cpu()

    # stage 2: LMs on the target's training texts (unlabelled), from the general weights and from scratch
    df = pd.read_csv(stdlib_corpus(tmp / "stdlib_docs") / "texts.csv")
    train = df[~df.is_valid]
    lm_df = train.assign(is_valid=[i % 10 == 0 for i in range(len(train))])  # the LMs' own held-out tenth
    dls_lm = TextDataLoaders.from_df(lm_df, text_col="text", is_lm=True, valid_col="is_valid", bs=32, seq_len=SEQ)
    lm_ppl = {}
    for seed in SEEDS:
        for kind in ("pretrained", "scratch"):
            torch.manual_seed(seed)
            learn = language_model_learner(dls_lm, AWD_LSTM, config=awd_lstm_small_config, path=tmp,
                                           pretrained=kind == "pretrained",
                                           pretrained_fnames=files if kind == "pretrained" else None)  # fmt: skip
            with learn.no_bar():
                if kind == "pretrained":  # fastai's LM fine-tuning: the new embeddings first, then everything
                    learn.fit_one_cycle(1, 2e-2)
                    learn.unfreeze()
                    learn.fit_one_cycle(4, 1e-2)
                else:
                    learn.fit_one_cycle(5, 1e-2)  # the same 5 epochs
            lm_ppl[seed, kind] = math.exp(learn.validate()[0])
            learn.save_encoder(f"enc_{kind}_{seed}")
    t2 = _cpu()

    # stage 3: classifiers on 60 labels, from the fine-tuned encoder and from scratch, same epochs and batches
    acc = {}
    for seed in SEEDS:
        per_label = [train[train.label == lab].sample(N_LABELLED // 2, random_state=seed) for lab in STDLIB_LABELS]
        small = pd.concat([*per_label, df[df.is_valid]])
        dls = TextDataLoaders.from_df(small, text_col="text", label_col="label", valid_col="is_valid",
                                      text_vocab=dls_lm.text_vocab, bs=16, seq_len=SEQ)  # fmt: skip
        for kind in ("fine-tuned", "scratch"):
            torch.manual_seed(seed)
            clas = text_classifier_learner(dls, AWD_LSTM, seq_len=SEQ, config=awd_lstm_small_config, pretrained=False,
                                           metrics=accuracy, path=tmp)  # fmt: skip
            with clas.no_bar():
                if kind == "fine-tuned":  # ULMFiT: gradual unfreezing, discriminative rates, 4 stages of 4 epochs
                    clas.load_encoder(f"enc_pretrained_{seed}")  # frozen but for the head
                    lr = 2e-2
                    clas.fit_one_cycle(4, lr)
                    clas.freeze_to(-2)
                    clas.fit_one_cycle(4, slice(lr / 2 / 2.6**4, lr / 2))
                    clas.freeze_to(-3)
                    clas.fit_one_cycle(4, slice(lr / 4 / 2.6**4, lr / 4))
                    clas.unfreeze()
                    clas.fit_one_cycle(4, slice(lr / 20 / 2.6**4, lr / 20))
                else:
                    clas.fit_one_cycle(16, 1e-2)  # the same 16 epochs, every layer
            acc[seed, kind] = clas.validate()[1]
    t3 = _cpu()
    cpu = {"general LM": t1 - t0, "target LMs": t2 - t1, "classifiers": t3 - t2}
    print(f"general LM perplexity {general_ppl:.1f}; target LM perplexity {lm_ppl}; accuracy {acc}; CPU s {cpu}")
    return {"general_ppl": general_ppl, "lm_ppl": lm_ppl, "acc": acc, "cpu": cpu}


def test_pretraining_on_python_text_lowers_the_target_lm_perplexity(stages):
    ppl = stages["lm_ppl"]
    for seed in SEEDS:
        assert ppl[seed, "pretrained"] < ppl[seed, "scratch"], (seed, ppl)


@pytest.mark.xfail(strict=True, reason="does not hold at this scale: figures in the module docstring (issue 17)")
def test_fine_tuned_classifier_beats_scratch_on_each_seed(stages):
    acc = stages["acc"]
    for seed in SEEDS:
        assert acc[seed, "fine-tuned"] > acc[seed, "scratch"], (seed, acc)
