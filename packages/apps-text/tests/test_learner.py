import pandas as pd
import pytest
import torch

from apps_text import (
    AWD_LSTM,
    LMLearner,
    RNNCallback,
    RNNRegularizer,
    TextDataLoaders,
    awd_lstm_small_config,
    language_model_learner,
)
from trainloop_callbacks import load_learner


@pytest.fixture
def dls_lm():
    texts = [f"Text {i} is about cats and dogs, and {i % 3} birds." for i in range(40)]
    df = pd.DataFrame({"text": texts, "is_valid": [i >= 32 for i in range(40)]})
    return TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", bs=4, seq_len=5, min_freq=1)


def test_lm_learner_exports_without_pickle_and_generates(dls_lm, tmp_path, one_thread):
    lm = language_model_learner(dls_lm, AWD_LSTM, config=awd_lstm_small_config, pretrained=False, path=tmp_path)
    with lm.no_bar():
        lm.fit(1, 1e-2)
    again = load_learner(lm.export("lm.pth"))
    assert isinstance(again, LMLearner)
    g = torch.Generator().manual_seed(0)
    out = again.predict("Text 3 is", n_words=4, generator=g)
    assert out.startswith("Text 3 is") and len(out) > len("Text 3 is")  # 4 tokens (words, commas, xxmaj...)
    g2 = torch.Generator().manual_seed(0)
    assert lm.predict("Text 3 is", n_words=4, generator=g2) == out  # same weights, same vocab, same draw
    greedy = again.predict("Text 3 is", n_words=2, top_k=1)
    assert greedy == again.predict("Text 3 is", n_words=2, top_k=1)  # top_k=1: always the most likely token


def test_rnn_regularizer_adds_ar_and_tar(dls_lm):
    class Learn:  # the attributes RNNRegularizer reads, with known outputs
        training = True

    learn = Learn()
    rnn = RNNCallback()
    raw, out = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    learn.pred = (torch.zeros(2, 4, 5), raw, out)
    learn.cbs = [rnn]
    rnn.learn = learn
    rnn.after_pred()
    assert learn.pred.shape == (2, 4, 5)
    reg = RNNRegularizer(alpha=2.0, beta=1.0)
    reg.learn = learn
    learn.loss_grad = torch.tensor(1.0)
    reg.after_loss()
    expected = 1.0 + 2.0 * out.pow(2).mean() + (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
    assert torch.allclose(learn.loss_grad, expected)
