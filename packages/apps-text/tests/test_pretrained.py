"""Pretrained weights from local files: checksums, fastai's vocab matching, the learners' `pretrained=` options."""

import json

import pandas as pd
import pytest
import torch

from apps_text import (
    AWD_LSTM,
    TextDataLoaders,
    Transformer,
    awd_lstm_small_config,
    checksum_file,
    get_language_model,
    language_model_learner,
    match_embeds,
    pretrained_dir,
    read_pretrained,
    save_pretrained,
    text_classifier_learner,
    tfmer_small_config,
)


def _dls(words, is_lm=True):
    texts = [f"{words[i % len(words)]} and {words[(i + 1) % len(words)]} again" for i in range(24)]
    labels, valid = [str(i % 2) for i in range(24)], [i >= 20 for i in range(24)]
    df = pd.DataFrame({"text": texts, "label": labels, "is_valid": valid})
    kw = {} if is_lm else {"label_col": "label"}
    return TextDataLoaders.from_df(df, text_col="text", is_lm=is_lm, valid_col="is_valid", bs=4, seq_len=6,
                                   min_freq=1, n_workers=0, **kw)  # fmt: skip


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A small 'pretrained' AWD-LSTM language model on one vocabulary, saved as weights + vocab + checksums."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("pretrained")
    dls = _dls(["cat", "dog", "bird", "fish"])
    vocab = dls.text_vocab
    model = get_language_model(AWD_LSTM, len(vocab), awd_lstm_small_config)
    with torch.no_grad():
        model[1].decoder.bias.normal_()  # a bias worth checking (it starts at zero)
    w, v = save_pretrained(model, vocab, folder / "lm.pth", folder / "lm.json")
    return w, v, model.state_dict(), vocab


def test_match_embeds_copies_known_tokens_and_averages_new_ones():
    emb = torch.arange(6.0).reshape(3, 2)
    old = {"0.encoder.weight": emb, "1.decoder.weight": emb.clone(), "1.decoder.bias": torch.tensor([1.0, 2.0, 6.0])}
    new = match_embeds(old, ["a", "b", "c"], ["c", "new", "a"])
    assert new["0.encoder.weight"].tolist() == [[4.0, 5.0], [2.0, 3.0], [0.0, 1.0]]  # "new" row = mean
    assert torch.equal(new["1.decoder.weight"], new["0.encoder.weight"])  # tied: the same rows
    assert new["1.decoder.bias"].tolist() == [6.0, 3.0, 1.0]


def test_match_embeds_matches_an_untied_decoder_from_its_own_rows():
    # fastai copies the embedding into the decoder, which replaces the weights of a model trained untied
    dec = -10 - torch.arange(6.0).reshape(3, 2)
    old = {"0.encoder.weight": torch.arange(6.0).reshape(3, 2), "1.decoder.weight": dec}
    new = match_embeds(old, ["a", "b", "c"], ["c", "new", "a"])
    assert new["1.decoder.weight"].tolist() == [[-14.0, -15.0], [-12.0, -13.0], [-10.0, -11.0]]
    assert new["0.encoder.weight"].tolist() == [[4.0, 5.0], [2.0, 3.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="decoder rows"):
        match_embeds({**old, "1.decoder.weight": torch.zeros(2, 2)}, ["a", "b", "c"], ["a"])


def test_language_model_learner_loads_matched_pretrained_weights(pretrained, tmp_path):
    w, v, state, old_vocab = pretrained
    dls = _dls(["cat", "dog", "horse", "cow"])  # two tokens in common, two new
    learn = language_model_learner(dls, AWD_LSTM, config=awd_lstm_small_config, pretrained_fnames=(w, v),
                                   path=tmp_path)  # fmt: skip
    new_vocab = dls.text_vocab
    emb, bias = learn.model[0].encoder.weight.detach(), learn.model[1].decoder.bias.detach()
    old_emb, old_bias = state["0.encoder.weight"], state["1.decoder.bias"]
    for i, tok in enumerate(new_vocab):
        if tok in old_vocab:
            j = old_vocab.index(tok)
            assert torch.equal(emb[i], old_emb[j]) and torch.equal(bias[i], old_bias[j]), tok
        else:
            assert torch.allclose(emb[i], old_emb.mean(0)) and torch.allclose(bias[i], old_bias.mean()), tok
    assert {"horse", "cow"} <= set(new_vocab) - set(old_vocab) and "cat" in old_vocab
    mine = learn.model.state_dict()
    rnn_keys = [k for k in state if ".rnns." in k]
    assert rnn_keys and all(torch.equal(mine[k], state[k]) for k in rnn_keys)
    groups = learn.splitter(learn.model)
    assert [any(p.requires_grad for p in g) for g in groups] == [False, False, True]  # frozen as fastai


def test_classifier_loads_the_pretrained_encoder(pretrained, tmp_path):
    w, v, state, _ = pretrained
    dls = _dls(["cat", "dog", "bird", "fish"], is_lm=False)
    learn = text_classifier_learner(dls, AWD_LSTM, seq_len=6, config=awd_lstm_small_config, pretrained_fnames=(w, v),
                                    path=tmp_path)  # fmt: skip
    enc = learn.model[0].module.state_dict()
    assert all(torch.equal(enc[k], state[f"0.{k}"]) for k in enc if ".rnns." in k)


def test_names_without_suffix_are_read_from_the_models_folder(pretrained, tmp_path):
    _, v, state, _ = pretrained
    models = tmp_path / "models"
    save_pretrained(state, json.loads(v.read_text()), models / "wt.pth", models / "wt.json")
    learn = language_model_learner(_dls(["cat", "dog"]), AWD_LSTM, config=awd_lstm_small_config,
                                   pretrained_fnames=("wt", "wt"), path=tmp_path)  # fmt: skip
    assert torch.equal(learn.model[0].rnns[0].module.weight_hh_l0.detach(), state["0.rnns.0.module.weight_hh_l0"])


def test_a_changed_file_is_refused_naming_it(pretrained, tmp_path):
    w, v, _, _ = pretrained
    bad_w, bad_v = tmp_path / "lm.pth", tmp_path / "lm.json"
    bad_w.write_bytes(w.read_bytes()[:-1] + bytes([w.read_bytes()[-1] ^ 1]))
    bad_v.write_bytes(v.read_bytes())
    checksum_file(bad_w).write_bytes(checksum_file(w).read_bytes())
    with pytest.raises(ValueError, match=r"lm\.pth: sha256 .* differs"):
        read_pretrained(bad_w, bad_v)
    bad_w.write_bytes(w.read_bytes())
    bad_v.write_text(v.read_text().replace("cat", "cow"))
    with pytest.raises(ValueError, match=r"lm\.json: sha256"):
        language_model_learner(_dls(["cat"]), AWD_LSTM, config=awd_lstm_small_config, pretrained_fnames=(bad_w, bad_v))
    checksum_file(bad_w).unlink()
    with pytest.raises(FileNotFoundError, match=r"lm\.pth\.sha256\.json"):
        read_pretrained(bad_w, bad_v)


def test_pretrained_without_files_says_where_to_put_them(pretrained, tmp_path, monkeypatch):
    monkeypatch.setenv("TIERS_HOME", str(tmp_path))
    dls = _dls(["cat", "dog"])
    folder = pretrained_dir(Transformer)
    assert folder == tmp_path / "models" / "Transformer"
    with pytest.raises(FileNotFoundError, match=r"models/Transformer/lm\.pth.*pretrained=False"):
        language_model_learner(dls, Transformer, config=tfmer_small_config)
    with pytest.raises(ValueError, match="pretrained=False"):
        language_model_learner(dls, AWD_LSTM, pretrained=False, pretrained_fnames=("a", "b"))
    _, _, state, vocab = pretrained
    save_pretrained(state, vocab, pretrained_dir(AWD_LSTM) / "lm.pth", pretrained_dir(AWD_LSTM) / "vocab.json")
    learn = language_model_learner(dls, AWD_LSTM, config=awd_lstm_small_config)  # found in the default folder
    assert torch.equal(learn.model[0].rnns[1].module.weight_ih_l0.detach(), state["0.rnns.1.module.weight_ih_l0"])


def test_weights_of_another_architecture_are_refused(pretrained, tmp_path):
    w, v, _, _ = pretrained
    with pytest.raises(ValueError, match="does not fit this model"):
        language_model_learner(_dls(["cat"]), Transformer, config=tfmer_small_config, pretrained_fnames=(w, v))
