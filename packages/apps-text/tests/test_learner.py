import pandas as pd
import pytest
import torch

from apps_text import (
    AWD_LSTM,
    LMLearner,
    RNNCallback,
    RNNRegularizer,
    TextClassificationInterpretation,
    TextDataLoaders,
    awd_lstm_small_config,
    language_model_learner,
    text_classifier_learner,
)
from trainloop_callbacks import ClassificationInterpretation, load_learner


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


def test_text_classifier_interpretation_and_show_results(one_thread):
    """Padded texts of different lengths per batch: interpretation works, in dataset order, and show_results is a
    table of decoded texts, labels and predictions."""
    texts = [("good fine " * (1 + i % 6) if i % 2 else "bad poor " * (1 + i % 4)) + f"w{i % 3}" for i in range(40)]
    labels = ["pos" if i % 2 else "neg" for i in range(40)]
    df = pd.DataFrame({"text": texts, "label": labels, "is_valid": [i >= 28 for i in range(40)]})
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_col="is_valid", bs=4, seq_len=4,
                                  min_freq=1, n_workers=0)  # fmt: skip
    learn = text_classifier_learner(dls, AWD_LSTM, seq_len=4, config=awd_lstm_small_config, pretrained=False)
    with learn.no_bar():
        interp = TextClassificationInterpretation.from_learner(learn)
        table = learn.show_results(max_n=4)
    assert isinstance(interp, ClassificationInterpretation)
    valid = dls.valid_ds
    assert len(interp.inputs) == len(valid) == 12
    for i, x in enumerate(interp.inputs):  # dataset order (the loader reads them longest first)
        ids = valid[i][0].as_subclass(torch.Tensor)
        assert torch.equal(x[x != 1], ids), i  # the text's ids once its batch's padding is dropped
    assert [int(t) for t in interp.targs] == [int(valid[i][1]) for i in range(12)]
    expected = torch.nn.functional.cross_entropy(interp.preds.log(), interp.targs.long(), reduction="none")
    values, idx = interp.top_losses(3)
    assert torch.allclose(values, expected[idx], atol=1e-5)
    assert torch.allclose(values, expected.sort(descending=True)[0][:3], atol=1e-5)
    worst = interp.plot_top_losses(3)
    assert list(worst.columns) == ["input", "target", "predicted", "probability", "loss"]
    assert torch.allclose(torch.tensor(worst["loss"].tolist()), values)
    for (_, row), i in zip(worst.iterrows(), idx.tolist(), strict=True):
        assert row["input"] == " ".join(dls.text_vocab[t] for t in valid[i][0].tolist())
        assert row["target"] == dls.vocab[int(valid[i][1])] and row["predicted"] == dls.vocab[int(interp.decoded[i])]
    wrong = int((interp.decoded != interp.targs).sum())
    assert sum(c for *_, c in interp.most_confused()) == wrong
    assert list(table.columns) == ["x", "y", "y_pred"] and len(table) == 4
    assert table["x"].str.startswith("xxbos").all() and set(table["y_pred"]) <= {"neg", "pos"}


def test_language_model_show_results_decodes_next_tokens(dls_lm):
    lm = language_model_learner(dls_lm, AWD_LSTM, config=awd_lstm_small_config, pretrained=False)
    with lm.no_bar():
        table = lm.show_results(max_n=3)
    vocab = dls_lm.text_vocab
    assert list(table.columns) == ["x", "y", "y_pred"]
    for x, y in zip(table["x"], table["y"], strict=True):
        assert x.split()[1:] == y.split()[:-1] and all(t in vocab for t in y.split())  # y: x shifted by one
    assert all(len(p.split()) == len(y.split()) for p, y in zip(table["y_pred"], table["y"], strict=True))


def test_awd_lstm_load_encoder_transfers_the_lm_encoder(dls_lm, tmp_path, one_thread):
    """The classifier's encoder after `load_encoder` is the language model's (embedding and the raw, not dropped,
    LSTM weights), computes the same features, and only the head is left trainable (ULMFiT's first stage)."""
    torch.manual_seed(0)
    lm = language_model_learner(dls_lm, AWD_LSTM, config=awd_lstm_small_config, pretrained=False, path=tmp_path)
    with lm.no_bar():
        lm.fit(1, 1e-2)
    lm.save_encoder("enc")
    texts = [f"Text {i} is about {'cats' if i % 2 else 'dogs'}." for i in range(12)]
    df = pd.DataFrame({"text": texts, "label": ["a" if i % 2 else "b" for i in range(12)], "is_valid": [False] * 12})
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_col="is_valid", bs=4, seq_len=5,
                                  text_vocab=dls_lm.text_vocab)  # fmt: skip
    clas = text_classifier_learner(dls, AWD_LSTM, seq_len=5, config=awd_lstm_small_config, pretrained=False,
                                   path=tmp_path).load_encoder("enc")  # fmt: skip
    enc_lm, enc_clas = lm.model[0], clas.model[0].module
    sd_lm, sd_clas = enc_lm.state_dict(), enc_clas.state_dict()
    assert sorted(sd_lm) == sorted(sd_clas) and "rnns.0.module.weight_hh_l0" in sd_lm
    assert all(torch.equal(sd_lm[k], sd_clas[k]) for k in sd_lm)
    x = torch.randint(2, len(dls_lm.text_vocab), (3, 7))
    enc_lm.eval().reset()
    enc_clas.eval().reset()
    with torch.no_grad():
        assert torch.equal(enc_lm(x), enc_clas(x))  # the same features the language model learned
    groups = clas.splitter(clas.model)
    assert [any(p.requires_grad for p in g if p.ndim > 1) for g in groups] == [False, False, False, True]
