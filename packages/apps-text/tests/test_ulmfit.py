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
from trainloop_callbacks import Perplexity, accuracy

LM_CONFIG = {**awd_lstm_small_config, "emb_sz": 96, "n_hid": 192}


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


def _clas(dls, seed):
    torch.manual_seed(seed)
    learn = text_classifier_learner(
        dls, AWD_LSTM, seq_len=36, config=LM_CONFIG, pretrained=False, metrics=accuracy, drop_mult=0.5
    )
    learn.progress.style = "text"
    return learn


@pytest.mark.slow
def test_ulmfit_flow_beats_bigram_and_scratch(corpus, tmp_path):
    df = pd.read_csv(corpus / "texts.csv")
    torch.manual_seed(0)
    dls_lm = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", bs=32, seq_len=36)
    lm = language_model_learner(dls_lm, AWD_LSTM, config=LM_CONFIG, pretrained=False, path=tmp_path,
                                metrics=[accuracy, Perplexity()])  # fmt: skip
    assert isinstance(lm, LMLearner)
    with lm.no_bar():
        lm.fit_one_cycle(6, 1e-2)
    lm_ppl = math.exp(lm.validate()[0])
    vocab = dls_lm.text_vocab
    bigram = bigram_perplexity(_stream(dls_lm.train), _stream(dls_lm.valid), len(vocab))
    assert lm_ppl < bigram, (lm_ppl, bigram)
    lm.save_encoder("enc")

    dls = TextDataLoaders.from_folder(corpus, valid="test", text_vocab=vocab, bs=32, seq_len=36)
    wins = 0
    for seed in range(3):
        ft = _clas(dls, seed)
        ft.path = tmp_path
        assert isinstance(ft, TextLearner)
        ft.load_encoder("enc")
        scratch = _clas(dls, seed)
        with ft.no_bar(), scratch.no_bar():
            ft.fit_one_cycle(1, 2e-2)
            ft.unfreeze()
            ft.fit_one_cycle(2, 5e-3)
            scratch.unfreeze()
            scratch.fit_one_cycle(3, 5e-3)
        acc_ft, acc_scratch = ft.validate()[1], scratch.validate()[1]
        print(f"seed {seed}: fine-tuned {acc_ft:.3f} scratch {acc_scratch:.3f}; LM {lm_ppl:.1f} bigram {bigram:.1f}")
        wins += acc_ft > acc_scratch
    assert wins == 3
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
