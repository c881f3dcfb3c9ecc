"""Acceptance: the ULMFiT flow end to end on the shipped corpus (standard-library docstrings labelled by package)."""

import itertools
import math
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest
import torch

from apps_text import (
    AWD_LSTM,
    LMLearner,
    TextDataLoaders,
    TextLearner,
    awd_lstm_small_config,
    language_model_learner,
    stdlib_corpus,
    text_classifier_learner,
)
from trainloop_callbacks.metrics import Perplexity, accuracy


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return stdlib_corpus(tmp_path_factory.mktemp("corpus") / "stdlib_docs")


def _stream(dl):
    """The token ids of a loader's documents, concatenated in order (what the LM's streams are cut from)."""
    return torch.cat([dl.docs[i][0].as_subclass(torch.Tensor) for i in range(len(dl.docs))])


def bigram_perplexity(train: torch.Tensor, valid: torch.Tensor, vocab_sz: int) -> float:
    """Add-one smoothed bigram model fitted on `train`, perplexity on `valid`."""
    pairs = Counter(zip(train[:-1].tolist(), train[1:].tolist(), strict=True))
    firsts = Counter(train[:-1].tolist())
    nll = 0.0
    v = valid.tolist()
    for a, b in itertools.pairwise(v):
        nll -= math.log((pairs[(a, b)] + 1) / (firsts[a] + vocab_sz))
    return math.exp(nll / (len(v) - 1))


def _clas(dls, seed, path):
    torch.manual_seed(seed)
    return text_classifier_learner(
        dls, AWD_LSTM, seq_len=32, config=awd_lstm_small_config, pretrained=False, metrics=accuracy, path=path
    )


@pytest.mark.slow
def test_ulmfit_flow_end_to_end_lm_beats_bigram(corpus, tmp_path, one_thread):
    df = pd.read_csv(corpus / "texts.csv")
    torch.manual_seed(0)
    # 1. the language model on every text (unlabelled, as ULMFiT), validated on the held-out docstrings
    dls_lm = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", bs=32, seq_len=32)
    lm = language_model_learner(dls_lm, AWD_LSTM, config=awd_lstm_small_config, pretrained=False, path=tmp_path,
                                metrics=[accuracy, Perplexity()])  # fmt: skip
    assert isinstance(lm, LMLearner)
    with lm.no_bar():
        lm.fit_one_cycle(8, 1e-2)
    lm_ppl = math.exp(lm.validate()[0])
    vocab = dls_lm.text_vocab
    bigram = bigram_perplexity(_stream(dls_lm.train), _stream(dls_lm.valid), len(vocab))
    assert lm_ppl < bigram, (lm_ppl, bigram)
    lm.save_encoder("enc")

    # 2. the classifier on few labels (30% of the training docstrings), from the fine-tuned encoder.
    # Not asserted here: that it beats the same classifier from scratch. That comparison (with a general-domain stage
    # on 1.9 MB of Python's own text, 3 seeds, 60 labels) is tests/test_ulmfit_transfer.py (-m acceptance), where it
    # does not hold at this scale (strict xfail, figures there). The transfer itself is checked exactly in
    # test_learner.py.
    train = df[~df.is_valid].sample(frac=0.3, random_state=0)
    small = pd.concat([train, df[df.is_valid]])
    dls = TextDataLoaders.from_df(small, text_col="text", label_col="label", valid_col="is_valid", text_vocab=vocab,
                                  bs=16, seq_len=32)  # fmt: skip
    ft = _clas(dls, 0, tmp_path).load_encoder("enc")  # frozen: the head trains on the LM's features
    assert isinstance(ft, TextLearner)
    with ft.no_bar():
        ft.fit_one_cycle(1, 2e-2)
    print(f"fine-tuned classifier (loss, accuracy) {ft.validate()}; LM perplexity {lm_ppl:.1f} vs bigram {bigram:.1f}")

    # 3. export without pickle; predict from a raw string in a fresh process
    file = ft.export(tmp_path / "clas.pth")
    code = (
        "import sys; from trainloop_callbacks import load_learner; "
        "learn = load_learner(sys.argv[1]); "
        "label, idx, probs = learn.predict('Return a new event loop and schedule the coroutine on it.'); "
        "print(type(learn).__name__, label, round(float(probs.sum()), 4))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(file)], capture_output=True, text=True, check=True).stdout
    name, label, total = out.split()
    assert name == "TextLearner" and label in ("asyncio", "email") and float(total) == 1.0
