"""`PadInput`: a `before_batch` step that pads the variable-length elements of a batch's samples (text).

As fastai's `pad_input` (and, with `seq_len`, `pad_input_chunk`): every padded element of a batch gets the
length of the longest one, filled with `pad_idx`, at the end (or the start with `pad_first`); types and
metadata are kept (a `TensorText` stays one). It is a `Transform` with plain arguments, so `to_config`
records it and `from_config` rebuilds it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from datablock.collate import _plain, retype
from dispatch_transforms import DisplayedTransform

__all__ = ["PadInput"]

# torch >= 2.6 pads on the left in C++ too; older versions take the mask path
_LEFT_PADDING = "padding_side" in inspect.signature(pad_sequence).parameters


def _left(pad_first: bool) -> dict[str, str]:
    return {"padding_side": "left"} if pad_first else {}


class PadInput(DisplayedTransform):
    """Pad elements `pad_fields` of a list of samples to one length with `pad_idx` (give it as `before_batch`).

    - `pad_first`: padding before the tokens (fastai's default for classifiers) instead of after;
    - `backwards`: padding on the other side, then each element reversed (for backwards language models);
    - `seq_len`: pad in whole chunks of `seq_len` on the `pad_first` side and the remainder on the other
      (fastai's `pad_input_chunk`), so an RNN reading chunk by chunk meets padding-only chunks first.

    Elements are 1-d (or more: the first axis is padded) tensors; lists of numbers are made tensors.
    """

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)
    retain = False  # the padded batch as a plain list of samples

    def __init__(
        self,
        pad_idx: int = 1,
        pad_fields: int | Sequence[int] = 0,
        pad_first: bool = False,
        backwards: bool = False,
        seq_len: int | None = None,
    ) -> None:
        super().__init__()
        if seq_len is not None and seq_len < 1:
            raise ValueError(f"PadInput: seq_len must be a positive int or None, got {seq_len}")
        self.pad_idx, self.pad_first, self.backwards, self.seq_len = pad_idx, pad_first, backwards, seq_len
        self.pad_fields = pad_fields if isinstance(pad_fields, int) else list(pad_fields)

    def _offsets(self, lens: torch.Tensor, max_len: int, pad_first: bool) -> torch.Tensor:
        """Where each element starts in its row of `max_len`."""
        if not pad_first:
            return torch.zeros_like(lens)
        pad = max_len - lens
        return pad if self.seq_len is None else torch.div(pad, self.seq_len, rounding_mode="floor") * self.seq_len

    def _pad(self, xs: list[Any], field: int) -> list[Any]:
        xs = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x) for x in xs]
        first = xs[0]
        if first.ndim == 0:
            raise ValueError(f"PadInput: element {field} of the samples is a scalar; only sequences can be padded")
        plains = [_plain(x) for x in xs]
        n, rest = len(plains), first.shape[1:]
        pad_first = self.pad_first != self.backwards
        if not pad_first or (self.seq_len is None and _LEFT_PADDING):
            # one C++ call (tools/bench/padded_loader.py); the mask below does the chunked layout
            out = pad_sequence(plains, batch_first=True, padding_value=self.pad_idx, **_left(pad_first))
        else:
            lens = torch.tensor([p.shape[0] for p in plains])
            max_len = int(lens.max())
            out = torch.full((n, max_len, *rest), self.pad_idx, dtype=first.dtype, device=first.device)
            # the cells each item fills, all at once (one index_put instead of a Python loop of slice copies)
            start = self._offsets(lens, max_len, pad_first)[:, None]
            cells = torch.arange(max_len)[None, :]
            out[((cells >= start) & (cells < start + lens[:, None])).to(out.device)] = torch.cat(plains)
        if self.backwards:
            out = out.flip(1)
        rows = out.unbind(0)
        if type(first) is torch.Tensor:
            return list(rows)
        return [retype(r, x) for r, x in zip(rows, xs, strict=True)]

    def encodes(self, samples: list) -> list:
        if not samples:
            return samples
        fields = [self.pad_fields] if isinstance(self.pad_fields, int) else self.pad_fields
        if not isinstance(samples[0], tuple):  # samples of one element: that element is field 0
            if fields != [0]:
                raise ValueError(f"PadInput: samples have one element, but pad_fields={self.pad_fields}")
            return self._pad(list(samples), 0)
        cols: list[Sequence[Any]] = list(zip(*samples, strict=True))
        for f in fields:
            if not -len(cols) <= f < len(cols):
                raise IndexError(f"PadInput: pad field {f} is outside the samples' {len(cols)} elements")
            cols[f] = self._pad(list(cols[f]), f)
        return list(zip(*cols, strict=True))
