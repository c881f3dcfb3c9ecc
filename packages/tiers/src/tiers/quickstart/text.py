"""Quickstart recipe: ULMFiT on the corpus that ships with apps-text (docstrings of two standard-library packages,
`asyncio` and `email`, labelled by their package): a small AWD-LSTM language model first, then a classifier on its
fine-tuned encoder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from apps_text import (
    AWD_LSTM,
    TextDataLoaders,
    awd_lstm_small_config,
    language_model_learner,
    stdlib_corpus,
    text_classifier_learner,
)
from tiers.quickstart.common import Quickstart, QuickstartResult, epoch_log, save_picture
from trainloop_callbacks import ClassificationInterpretation
from trainloop_callbacks.metrics import Perplexity, accuracy

__all__ = ["QUICKSTART", "train"]

# apps-text's acceptance settings (its test_ulmfit.py: the fine-tuned classifier beats one from scratch)
CONFIG = {**awd_lstm_small_config, "emb_sz": 96, "n_hid": 192}
BS, SEQ_LEN = 32, 36
EXAMPLES = ["Return a new event loop and schedule the coroutine on it.", "Parse the message headers of this email."]


def train(out: Path, epochs: int, device: torch.device) -> QuickstartResult:
    """Language model for `epochs`, then the classifier: its head for one epoch, all of it for `epochs`."""
    path = stdlib_corpus()
    df = pd.read_csv(path / "texts.csv")
    torch.manual_seed(0)
    dls_lm = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", bs=BS, seq_len=SEQ_LEN)
    lm = language_model_learner(
        dls_lm, AWD_LSTM, config=CONFIG, pretrained=False, metrics=[accuracy, Perplexity()], path=out
    )
    lm.model.to(device)
    print("1. the language model: predict the next word of the docstrings")
    lm.fit_one_cycle(epochs, 1e-2)
    lm.save_encoder("encoder")
    dls = TextDataLoaders.from_df(
        df, text_col="text", label_col="label", valid_col="is_valid", bs=BS, seq_len=SEQ_LEN,
        text_vocab=dls_lm.text_vocab,
    )  # fmt: skip
    files = {"show_batch": save_picture(dls.show_batch(max_n=8), out / "show_batch.png", "a training batch")}
    learn = text_classifier_learner(
        dls, AWD_LSTM, seq_len=SEQ_LEN, config=CONFIG, pretrained=False, metrics=accuracy, drop_mult=0.5, path=out
    ).load_encoder("encoder")
    learn.model.to(device)
    print("2. the classifier on the fine-tuned encoder: its head first, then all of it")
    learn.fit_one_cycle(1, 2e-2)
    learn.unfreeze()
    learn.fit_one_cycle(epochs, 5e-3)
    # a table of validation texts, their label and the prediction (the loaders' own picture shows only labels)
    valid = df[df["is_valid"]].head(8)
    results = pd.DataFrame(
        [(t, y, learn.predict(t)[0]) for t, y in zip(valid["text"], valid["label"], strict=True)],
        columns=["text", "label", "prediction"],
    )
    files["show_results"] = save_picture(results, out / "show_results.png", "validation texts: label / prediction")
    files["confusion_matrix"] = out / "confusion_matrix.png"
    # without the inputs: from_learner gathers them, and texts padded per batch do not concatenate across batches
    preds, targs, decoded, losses = learn.get_preds(dl=dls.valid, with_loss=True, with_decoded=True)
    interp = ClassificationInterpretation(learn, dls.valid, None, preds, targs, decoded, losses)
    interp.plot_confusion_matrix(files["confusion_matrix"])
    model = learn.export(out / "model.pth")
    log = epoch_log(learn)
    return QuickstartResult(
        app="text",
        metric="accuracy",
        value=float(log[-1]["accuracy"] or 0.0),
        goal=None,
        epochs=log,
        files=files,
        model=model,
        predict_inputs=EXAMPLES,
        extra={"language_model_perplexity": float(epoch_log(lm)[-1].get("perplexity") or float("nan"))},
    )


QUICKSTART = Quickstart(
    app="text",
    what="ULMFiT (a small AWD-LSTM language model, then a classifier) on the shipped standard-library docstrings",
    default_epochs=3,
    recipe=train,
)
