"""Pretrained language-model weights from local files, checksum verified, matched to a new vocabulary.

Nothing is downloaded. A pretrained model is three files: the weights (torch's weights-only format), the vocab (a
JSON list of tokens: data, not a pickle as fastai's `.pkl`) and, beside the weights, `<weights>.sha256.json` with
the sha256 of both, written by `save_pretrained`. `read_pretrained` refuses a file whose checksum differs, and
`match_embeds` (fastai's) maps the weights onto the vocab of the data at hand: rows of tokens the pretrained vocab
knows are copied by token, rows of new tokens get the mean embedding (and the mean decoder bias).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from datablock import file_sha256, tiers_home

__all__ = [
    "save_pretrained",
    "read_pretrained",
    "match_embeds",
    "checksum_file",
    "pretrained_dir",
    "PRETRAINED_WEIGHTS",
    "PRETRAINED_VOCAB",
]

PRETRAINED_WEIGHTS, PRETRAINED_VOCAB = "lm.pth", "vocab.json"
"""The file names looked for in `pretrained_dir(arch)` when `pretrained=True` is given without file names."""

_EMB, _EMB_DP, _DEC_W, _DEC_B = "0.encoder.weight", "0.encoder_dp.emb.weight", "1.decoder.weight", "1.decoder.bias"


def checksum_file(weights: str | Path) -> Path:
    """Where the checksums of `weights` are recorded: `<weights>.sha256.json` beside it."""
    w = Path(weights)
    return w.with_name(w.name + ".sha256.json")


def pretrained_dir(arch: Any) -> Path:
    """Where `pretrained=True` looks for an architecture's weights and vocab without `pretrained_fnames`:
    `tiers_home()/models/<arch name>/` (`$TIERS_HOME`, default `~/.tiers`)."""
    name = arch if isinstance(arch, str) else getattr(arch, "__name__", str(arch))
    return tiers_home() / "models" / name


def save_pretrained(
    model: nn.Module | dict[str, Tensor], vocab: Sequence[str], weights: str | Path, vocab_file: str | Path
) -> tuple[Path, Path]:
    """Write a language model's weights (its `state_dict`), its vocab (JSON) and their sha256 (beside the weights),
    in the form `read_pretrained` and `pretrained_fnames=` read. Returns `(weights, vocab_file)`."""
    w, v = Path(weights), Path(vocab_file)
    if not all(isinstance(t, str) for t in vocab):
        raise TypeError("save_pretrained: the vocab must be a list of str (tokens)")
    state = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    w.parent.mkdir(parents=True, exist_ok=True)
    v.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: t.detach().cpu() for k, t in state.items()}, w)
    v.write_text(json.dumps(list(vocab)), encoding="utf-8")
    record = {"weights": w.name, "sha256": file_sha256(w), "vocab": v.name, "vocab_sha256": file_sha256(v)}
    checksum_file(w).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return w, v


def _check(file: Path, expected: Any, record: Path) -> None:
    if not isinstance(expected, str):
        raise ValueError(f"{record}: no sha256 recorded for {file.name} (write the files with save_pretrained)")
    actual = file_sha256(file)
    if actual != expected.lower():
        raise ValueError(
            f"pretrained file {file}: sha256 {actual} differs from {expected} recorded in {record}; the file is "
            "corrupt or was changed (write it again with save_pretrained)"
        )


def read_pretrained(weights: str | Path, vocab_file: str | Path) -> tuple[dict[str, Tensor], list[str]]:
    """The weights (a state dict, read weights-only) and the vocab of a pretrained model, after checking both
    against the sha256 recorded in `<weights>.sha256.json`."""
    w, v = Path(weights), Path(vocab_file)
    for f in (w, v):
        if not f.is_file():
            raise FileNotFoundError(f"pretrained file not found: {f}")
    record = checksum_file(w)
    if not record.is_file():
        raise FileNotFoundError(
            f"no checksum for the pretrained weights {w}: expected {record} (written by save_pretrained)"
        )
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{record} is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{record}: expected a JSON object with 'sha256' and 'vocab_sha256'")
    _check(w, meta.get("sha256"), record)
    _check(v, meta.get("vocab_sha256"), record)
    state = torch.load(w, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a checkpoint of `Learner.save` (fastai's files too)
    if not isinstance(state, dict) or not all(isinstance(t, Tensor) for t in state.values()):
        raise ValueError(f"pretrained weights {w}: expected a state dict (names to tensors)")
    vocab = json.loads(v.read_text(encoding="utf-8"))
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ValueError(f"pretrained vocab {v}: expected a JSON list of tokens (str)")
    return state, vocab


def match_embeds(old_wgts: dict[str, Tensor], old_vocab: Sequence[str], new_vocab: Sequence[str]) -> dict[str, Tensor]:
    """A language model's weights for `new_vocab` (fastai's `match_embeds`): embedding rows (and decoder rows and
    bias) of the tokens of `old_vocab` copied by token, those of new tokens set to the mean over the old rows.

    The decoder's rows come from the decoder's own weights: fastai copies the embedding's into it, which is the same
    for tied weights and silently replaces an untied decoder (a model trained with `tie_weights=False`)."""
    if _EMB not in old_wgts:
        raise KeyError(f"match_embeds: the weights have no {_EMB!r} (a language model's embedding)")
    wgts = old_wgts[_EMB]
    if wgts.shape[0] != len(old_vocab):
        raise ValueError(f"match_embeds: {wgts.shape[0]} embedding rows for a vocab of {len(old_vocab)} tokens")
    o2i = {w: i for i, w in enumerate(old_vocab)}
    idx = torch.tensor([o2i.get(w, -1) for w in new_vocab], dtype=torch.long)
    known = idx >= 0

    def rows(old: Tensor) -> Tensor:  # known tokens' rows by token, new tokens' the mean row
        if old.shape[0] != len(old_vocab):
            raise ValueError(f"match_embeds: {old.shape[0]} decoder rows for a vocab of {len(old_vocab)} tokens")
        new = old.mean(0).expand(len(new_vocab), *old.shape[1:]).clone()
        new[known] = old[idx[known]]
        return new

    new_wgts = rows(wgts)
    out = dict(old_wgts)
    out[_EMB] = new_wgts
    if _EMB_DP in out:
        out[_EMB_DP] = new_wgts.clone()
    if _DEC_W in out:  # its own rows: the same as the embedding's when tied, not when trained with tie_weights=False
        out[_DEC_W] = rows(old_wgts[_DEC_W])
    if _DEC_B in out:
        out[_DEC_B] = rows(old_wgts[_DEC_B])
    return out
