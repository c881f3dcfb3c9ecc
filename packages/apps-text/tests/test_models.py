import pytest
import torch
from torch import nn

from apps_text import (
    AWD_LSTM,
    EmbeddingDropout,
    RNNDropout,
    SequentialRNN,
    WeightDropout,
    awd_lstm_clas_split,
    awd_lstm_lm_split,
    awd_lstm_small_config,
    get_language_model,
    get_text_classifier,
    masked_concat_pool,
)
from trainloop_callbacks.inference.export import build_module, describe_module


def test_rnn_dropout_same_mask_over_time():
    dp = RNNDropout(0.5).train()
    out = dp(torch.ones(3, 7, 4))
    assert torch.equal(out, out[:, :1].expand_as(out)) and set(out.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(dp.eval()(torch.ones(2, 2, 2)), torch.ones(2, 2, 2))


def test_weight_dropout_drops_hidden_weights_only_in_training():
    lstm = nn.LSTM(4, 5, batch_first=True)
    wd = WeightDropout(lstm, 0.9)
    x = torch.randn(2, 3, 4)
    ref = lstm(x)[0]
    assert torch.allclose(wd.eval()(x)[0], ref)
    out = wd.train()(x)[0]
    assert not torch.allclose(out, ref)
    out.sum().backward()
    assert lstm.weight_hh_l0.grad is not None  # gradients reach the raw weight


def test_embedding_dropout_zeroes_whole_words():
    emb = nn.Embedding(10, 4)
    ed = EmbeddingDropout(emb, 0.5).train()
    torch.manual_seed(0)
    out = ed(torch.arange(10))
    zero = (out == 0).all(1)
    assert zero.any() and torch.allclose(out[~zero], 2 * emb.weight[~zero])


def test_awd_lstm_keeps_state_until_reset():
    m = AWD_LSTM(30, 8, 16, 2).eval()
    x = torch.randint(0, 30, (2, 5))
    a = m(x)
    b = m(x)
    assert a.shape == (2, 5, 8) and not torch.allclose(a, b)  # the hidden state carried over
    m.reset()
    assert torch.allclose(m(x), a)


def test_language_model_tied_and_exportable():
    m = get_language_model(AWD_LSTM, 40, awd_lstm_small_config).eval()
    assert m[1].decoder.weight is m[0].encoder.weight
    x = torch.randint(0, 40, (2, 6))
    out = m(x)[0]
    assert out.shape == (2, 6, 40) and len(awd_lstm_lm_split(m)) == 3
    again = build_module(describe_module(m))
    again.load_state_dict(m.state_dict())
    m.reset()
    again.eval().reset()
    assert isinstance(again, SequentialRNN) and torch.allclose(again(x)[0], m(x)[0])


def test_classifier_chunks_long_padded_batches():
    m = get_text_classifier(AWD_LSTM, 40, 3, seq_len=4, config=awd_lstm_small_config).eval()
    x = torch.randint(2, 40, (3, 10))
    x[1, :4] = 1  # padding chunk first (pad_input_chunk), shorter text
    x[2, :8] = 1
    logits = m(x)[0]
    assert logits.shape == (3, 3) and len(awd_lstm_clas_split(m)) == 4
    # the shortest text alone gives the same prediction (padding is masked out)
    alone = m(x[2:, 8:])[0]
    assert torch.allclose(alone, logits[2:], atol=1e-5)


def _pad_chunk(ids: list[int], pad_len: int, bptt: int) -> list[int]:
    """fastai's `pad_chunk` layout, written out: whole chunks of padding before the text, the rest after."""
    n = pad_len - len(ids)
    return [1] * (n // bptt * bptt) + ids + [1] * (n % bptt)


def test_classifier_runs_every_token_when_a_text_ends_before_the_last_chunk():
    # lengths 10, 7, 5 with bptt 4: the text of 7 ends in the second chunk (3 pads after it), the text of 5 starts at
    # the second chunk and reaches the last one; every row's prediction must equal that of its text alone
    torch.manual_seed(0)
    m = get_text_classifier(AWD_LSTM, 40, 3, seq_len=4, config=awd_lstm_small_config).eval()
    texts = [torch.randint(2, 40, (n,)).tolist() for n in (10, 7, 5)]
    x = torch.tensor([_pad_chunk(t, 10, 4) for t in texts])
    assert x[1, 8] == 1 and x[2, 8] != 1  # the layout that used to drop row 2's last token
    logits = m(x)[0]
    for i, t in enumerate(texts):
        alone = m(torch.tensor([t]))[0]
        assert torch.allclose(alone, logits[i : i + 1], atol=1e-5), i


def test_classifier_refuses_a_batch_not_sorted_longest_first():
    m = get_text_classifier(AWD_LSTM, 40, 3, seq_len=4, config=awd_lstm_small_config).eval()
    x = torch.tensor([_pad_chunk([5, 6, 7], 8, 4), _pad_chunk([5, 6, 7, 8, 9, 10, 11, 12], 8, 4)])
    with pytest.raises(ValueError, match="sorted by length"):
        m(x)


def test_masked_concat_pool_against_manual():
    out = torch.randn(2, 5, 3)
    mask = torch.tensor([[False] * 5, [True, True, False, False, False]])
    pooled = masked_concat_pool(out, mask, bptt=5)
    real = out[1, 2:]
    assert torch.allclose(pooled[1], torch.cat([real[-1], real.max(0)[0], real.mean(0)]))
