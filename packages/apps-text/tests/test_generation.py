"""Generation: beam search against brute-force enumeration, on a model of known transitions and on an AWD-LSTM."""

import itertools

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from apps_text import (
    AWD_LSTM,
    UNK,
    LMLearner,
    TextDataLoaders,
    Transformer,
    awd_lstm_small_config,
    language_model_learner,
    tfmer_small_config,
)


@pytest.fixture(scope="module")
def dls_lm():
    texts = [f"a b c d e {'f' if i % 2 else 'g'} h." for i in range(24)]
    df = pd.DataFrame({"text": texts, "is_valid": [i >= 20 for i in range(24)]})
    return TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", bs=2, seq_len=5, min_freq=1)


class Bigram(nn.Module):
    """Next-token logits that depend on the last token only: row `t` of `table`."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table)

    def reset(self) -> None:
        pass

    def forward(self, x):
        return (self.table[x],)


def _no_unk(logits, vocab):
    logits = logits.clone()
    logits[..., vocab.index(UNK)] = -float("inf")
    return F.log_softmax(logits, dim=-1)


def _brute_force(logp_of, context, vocab, n_words):
    """The most likely continuation by scoring every sequence of `n_words` tokens (none is xxunk)."""
    allowed = [i for i, t in enumerate(vocab) if t != UNK]
    memo = {}

    def cached(prefix):
        if prefix not in memo:
            memo[prefix] = logp_of(context + list(prefix))
        return memo[prefix]

    best, best_score = None, -float("inf")
    for seq in itertools.product(allowed, repeat=n_words):
        score = sum(float(cached(seq[:k])[seq[k]]) for k in range(n_words))
        if score > best_score:
            best, best_score = list(seq), score
    return best


def test_beam_search_finds_the_most_likely_sequence_of_known_transitions(dls_lm):
    vocab = dls_lm.text_vocab
    v = len(vocab)
    g = torch.Generator().manual_seed(0)
    table = torch.randn(v, v, generator=g)
    ctx_ids = dls_lm.valid.docs.new(["a b"], split_idx=1, with_labels=False)[0][0].tolist()
    last = ctx_ids[-1]
    # a trap for greedy decoding: the most likely next token (x) leads to a flat distribution, the second (y) to a
    # near-certain successor, so the best pair starts with y
    x, y, z = (vocab.index(t) for t in ("c", "d", "e"))
    table[last] = -5.0
    table[last, x], table[last, y] = 3.0, 2.6
    table[x] = 0.1 * torch.randn(v, generator=g)  # nearly flat (no ties: greedy is well defined)
    table[y] = -5.0
    table[y, z] = 8.0
    lm = LMLearner(dls_lm, Bigram(table))
    logp = _no_unk(table, vocab)

    def logp_of(seq):
        return logp[seq[-1]]

    keep = lambda toks: toks  # noqa: E731  # the decoder: tokens as they are
    for n_words in (1, 2, 3):
        expected = _brute_force(logp_of, ctx_ids, vocab, n_words)
        found = lm.beam_search("a b", n_words=n_words, top_k=v, beam_sz=v ** max(n_words - 1, 1), decoder=keep)
        assert found[len(ctx_ids) :] == [vocab[i] for i in expected]
    assert found[len(ctx_ids) : len(ctx_ids) + 2] == ["d", "e"]
    greedy = lm.beam_search("a b", n_words=2, top_k=1, beam_sz=1, decoder=keep)
    assert greedy[len(ctx_ids) :][0] == "c"  # beam_sz=1 is greedy: it falls into the trap
    assert greedy == lm.predict("a b", n_words=2, top_k=1, decoder=keep)
    # fastai's final draw among the kept beams: at a low temperature it is the most likely one
    drawn = lm.beam_search("a b", n_words=2, top_k=v, beam_sz=v, sample=True, temperature=1e-3, decoder=keep)
    assert drawn == found[: len(ctx_ids) + 2]


@pytest.mark.parametrize(
    "arch, config, n_words", [(AWD_LSTM, awd_lstm_small_config, 3), (Transformer, tfmer_small_config, 2)]
)
def test_beam_search_on_a_real_model_matches_enumeration(dls_lm, arch, config, n_words, one_thread):
    """The AWD-LSTM reads only new tokens and follows its beams' hidden states (`select_hidden`); the expectation
    scores each sequence by a fresh pass over it whole."""
    torch.manual_seed(0)
    lm = language_model_learner(dls_lm, arch, config=config, pretrained=False)
    vocab = dls_lm.text_vocab
    model = lm.model.eval()

    def logp_of(seq):
        model.reset()
        with torch.no_grad():
            return _no_unk(model(torch.tensor([seq]))[0][0, -1], vocab)

    ctx_ids = dls_lm.valid.docs.new(["a b c"], split_idx=1, with_labels=False)[0][0].tolist()
    expected = _brute_force(logp_of, ctx_ids, vocab, n_words)  # step 3 reorders the beams (and hidden states) of 2
    v = len(vocab)
    found = lm.beam_search("a b c", n_words=n_words, top_k=v, beam_sz=v ** (n_words - 1), decoder=lambda t: t)
    assert found[len(ctx_ids) :] == [vocab[i] for i in expected]


def test_beam_search_refuses_bad_arguments(dls_lm):
    lm = language_model_learner(dls_lm, AWD_LSTM, config=awd_lstm_small_config, pretrained=False)
    with pytest.raises(ValueError, match="beam_sz"):
        lm.beam_search("a", n_words=2, beam_sz=0)
