"""`TextClassificationInterpretation`: the texts a classifier gets most wrong, as a table (fastai's
`plot_top_losses` for text)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from apps_text.learner import get_text_vocab
from apps_text.rules import PAD
from trainloop_callbacks import ClassificationInterpretation

__all__ = ["TextClassificationInterpretation"]


class TextClassificationInterpretation(ClassificationInterpretation):
    """`ClassificationInterpretation` of a text classifier; `plot_top_losses` lists the worst texts."""

    def text_of(self, i: int) -> str:
        """Input `i` (dataset order) as its tokens, without the padding its batch added."""
        vocab = get_text_vocab(self.learn.dls)
        ids = self.inputs[i]
        ids = ids[0] if isinstance(ids, tuple) else ids
        return " ".join(vocab[t] for t in ids.as_subclass(torch.Tensor).tolist() if vocab[t] != PAD)

    def plot_top_losses(self, k: int = 9, largest: bool = True, max_chars: int | None = 200) -> Any:
        """The `k` texts with the largest (or smallest) losses as a pandas DataFrame with fastai's columns `input`,
        `target`, `predicted`, `probability` (of the prediction) and `loss`; texts cut at `max_chars`."""
        losses, idxs = self.top_losses(k, largest)
        vocab = self.vocab
        rows = []
        for loss, i in zip(losses.tolist(), idxs.tolist(), strict=True):
            pred, actual = int(self.decoded[i]), int(self.targs[i])
            text = self.text_of(i)
            rows.append(
                {
                    "input": text if max_chars is None else text[:max_chars],
                    "target": vocab[actual],
                    "predicted": vocab[pred],
                    "probability": float(self.preds[i][pred]),
                    "loss": loss,
                }
            )
        return pd.DataFrame(rows, columns=["input", "target", "predicted", "probability", "loss"])
