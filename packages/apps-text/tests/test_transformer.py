"""The Transformer architecture: shapes, causality, padding invariance, training, encoder transfer, export."""

import subprocess
import sys

import pandas as pd
import pytest
import torch

from apps_text import (
    LMLearner,
    TextDataLoaders,
    TextLearner,
    Transformer,
    get_language_model,
    get_text_classifier,
    language_model_learner,
    sinusoidal_positions,
    text_classifier_learner,
    tfmer_clas_split,
    tfmer_lm_split,
    tfmer_small_config,
)
from trainloop_callbacks import load_learner
from trainloop_callbacks.inference.export import build_module, describe_module


def _df(n=48):
    texts = [
        ("the cat sat on the mat and purred " * (1 + i % 3) if i % 2 else "stocks fell as the market closed lower ")
        + f"item {i % 5}."
        for i in range(n)
    ]
    labels = ["cat" if i % 2 else "market" for i in range(n)]
    return pd.DataFrame({"text": texts, "label": labels, "is_valid": [i >= n - 12 for i in range(n)]})


def test_sinusoidal_positions_match_the_formula():
    enc = sinusoidal_positions(5, 6)
    pos, i = 3, 2  # feature pair 2: sin at 4, cos at 5
    angle = pos / 10000 ** (2 * i / 6)
    assert torch.allclose(enc[pos, 4], torch.tensor(angle).sin())
    assert torch.allclose(enc[pos, 5], torch.tensor(angle).cos())


def test_language_model_shapes_tied_and_split():
    m = get_language_model(Transformer, 40, tfmer_small_config).eval()
    x = torch.randint(2, 40, (2, 7))
    logits, raw, _ = m(x)
    assert logits.shape == (2, 7, 40) and raw.shape == (2, 7, 64)
    assert m[1].decoder.weight is m[0].encoder.weight  # tied
    groups = tfmer_lm_split(m)
    assert len(groups) == 3 and sum(len(g) for g in groups) == len(list(m.parameters()))


def test_language_model_is_causal():
    torch.manual_seed(0)
    m = get_language_model(Transformer, 40, tfmer_small_config).eval()
    x = torch.randint(2, 40, (2, 9))
    y = x.clone()
    y[:, 5] = (x[:, 5] + 1 - 2) % 38 + 2  # another (non-padding) token at position 5
    a, b = m(x)[0], m(y)[0]
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)  # outputs before 5 never see it
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_classifier_is_invariant_to_padding_and_splits_for_unfreezing():
    torch.manual_seed(0)
    m = get_text_classifier(Transformer, 40, 3, seq_len=4, config=tfmer_small_config).eval()
    assert not m[0].module.causal  # the classifier reads the whole chunk (fastai v1's mask=False)
    x = torch.randint(2, 40, (3, 10))
    x[1, :4] = 1  # pad_input_chunk: whole chunks of padding first ...
    x[2, :4] = 1
    x[2, 9] = 1  # ... the rest after the text
    logits = m(x)[0]
    assert logits.shape == (3, 3)
    assert torch.allclose(m(x[2:, 4:9])[0], logits[2:], atol=1e-5)  # the text alone: same prediction
    groups = tfmer_clas_split(m)
    assert len(groups) == 4 and sum(len(g) for g in groups) == len(list(m.parameters()))


def test_model_recipe_round_trip():
    m = get_language_model(Transformer, 30, tfmer_small_config).eval()
    again = build_module(describe_module(m))
    again.load_state_dict(m.state_dict())
    x = torch.randint(2, 30, (2, 5))
    assert torch.allclose(again.eval()(x)[0], m(x)[0])


@pytest.mark.slow
def test_transformer_learners_train_transfer_and_export(tmp_path, one_thread):
    torch.manual_seed(0)
    df = _df()
    dls_lm = TextDataLoaders.from_df(
        df, text_col="text", is_lm=True, valid_col="is_valid", bs=4, seq_len=12, min_freq=1
    )
    lm = language_model_learner(dls_lm, Transformer, config=tfmer_small_config, pretrained=False, path=tmp_path)
    assert isinstance(lm, LMLearner)
    with lm.no_bar():
        before = lm.validate()[0]
        lm.fit_one_cycle(3, 3e-3)
        after = lm.validate()[0]
    assert after < before - 0.5, (before, after)
    lm.save_encoder("enc")
    again = load_learner(lm.export("lm.pth"))
    assert lm.predict("the cat", n_words=3, top_k=1) == again.predict("the cat", n_words=3, top_k=1)

    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_col="is_valid", bs=4, seq_len=12,
                                  text_vocab=dls_lm.text_vocab)  # fmt: skip
    learn = text_classifier_learner(dls, Transformer, seq_len=12, config=tfmer_small_config, pretrained=False,
                                    path=tmp_path).load_encoder("enc")  # fmt: skip
    assert isinstance(learn, TextLearner)
    enc_lm, enc_clas = lm.model[0].state_dict(), learn.model[0].module.state_dict()
    assert all(torch.equal(enc_lm[k], enc_clas[k]) for k in enc_lm)

    def trainable():  # per group; LayerNorms stay trainable when frozen (train_bn, as fastai's norm layers)
        return [any(p.requires_grad for p in g if p.ndim > 1) for g in learn.splitter(learn.model)]

    assert trainable() == [False, False, False, True]  # load_encoder froze all but the head
    learn.freeze_to(-2)
    assert trainable() == [False, False, True, True]  # gradual unfreezing: the last block joins the head
    learn.unfreeze()
    with learn.no_bar():
        before = learn.validate()[0]
        learn.fit_one_cycle(3, 1e-2)
        after = learn.validate()[0]
    assert after < before, (before, after)

    # export, then predict from a raw string in a fresh process
    file = learn.export(tmp_path / "clas.pth")
    expected = learn.predict("the cat sat on the mat")
    code = (
        "import sys; from trainloop_callbacks import load_learner; learn = load_learner(sys.argv[1]); "
        "label, idx, probs = learn.predict('the cat sat on the mat'); "
        "print(type(learn.model[0].module).__name__, label, ' '.join(f'{p:.5f}' for p in probs.tolist()))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(file)], capture_output=True, text=True, check=True).stdout
    name, label, *probs = out.split()
    assert name == "Transformer" and label == expected[0]
    assert torch.allclose(torch.tensor([float(p) for p in probs]), expected[2].float(), atol=1e-4)
