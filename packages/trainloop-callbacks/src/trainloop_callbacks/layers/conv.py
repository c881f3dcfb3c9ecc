"""`ConvLayer`: convolution, normalization and activation with fastai's initialisation."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from trainloop_callbacks.layers.activation import KAIMING_ACTIVATIONS, activation_class, activation_name
from trainloop_callbacks.layers.norm import BatchNorm, InstanceNorm, NormType, _check_ndim, norm_type_of

__all__ = ["ConvLayer", "init_linear"]

_CONV_KWARGS = ("dilation", "groups", "padding_mode", "output_padding")


def init_linear(
    m: nn.Module, act_cls: type[nn.Module] | None = None, init: str | None = "auto", bias_std: float | None = 0.01
) -> None:
    """Initialise a linear or conv layer as fastai's `init_linear`: bias ~ N(0, `bias_std`) (zero if
    `bias_std == 0`, untouched if None); with `init="auto"`, weights by `kaiming_uniform_` when the activation
    that follows is ReLU, ReLU6 or LeakyReLU, torch's default init otherwise; `init=None` keeps torch's init."""
    if init not in ("auto", None):
        raise ValueError(f"init must be 'auto' or None, got {init!r}")
    bias = getattr(m, "bias", None)
    if bias is not None and bias_std is not None:
        if bias_std != 0:
            nn.init.normal_(bias, 0.0, bias_std)
        else:
            nn.init.zeros_(bias)
    if init == "auto" and act_cls is not None and issubclass(act_cls, KAIMING_ACTIVATIONS):
        weight = m.weight
        if not isinstance(weight, Tensor):
            raise TypeError(f"init_linear: {type(m).__name__}.weight is not a tensor")
        nn.init.kaiming_uniform_(weight)


def _conv_class(ndim: int, transpose: bool) -> type[nn.Module]:
    if transpose:
        return (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[_check_ndim(ndim) - 1]
    return (nn.Conv1d, nn.Conv2d, nn.Conv3d)[_check_ndim(ndim) - 1]


class ConvLayer(nn.Sequential):
    """Convolution (transposed with `transpose`, `ndim` 1 to 3) followed by an activation and a normalization
    (`bn_1st`: norm before activation), as fastai's `ConvLayer`.

    `norm_type`: `Batch`, `BatchZero` (gamma 0), `Instance`, `InstanceZero`, `Weight` (weight norm on the conv),
    `Spectral` (spectral norm on the conv) or None. The conv has a bias only without batch/instance norm (unless
    `bias` says otherwise). Padding defaults to `(ks - 1) // 2` (0 when transposed). Weights follow `init_linear`.
    Extra keyword arguments (`dilation`, `groups`, `padding_mode`, `output_padding`) go to the convolution.
    Differs from fastai: no `xtra` module and `init` is "auto" or None (the layer is rebuilt from plain data)."""

    config_safe = True

    def __init__(
        self,
        ni: int,
        nf: int,
        ks: int = 3,
        stride: int = 1,
        padding: int | None = None,
        bias: bool | None = None,
        ndim: int = 2,
        norm_type: NormType | str | None = NormType.Batch,
        bn_1st: bool = True,
        act_cls: type[nn.Module] | str | None = nn.ReLU,
        transpose: bool = False,
        init: str | None = "auto",
        bias_std: float | None = 0.01,
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - set(_CONV_KWARGS)
        if unknown:
            raise TypeError(f"ConvLayer: unexpected keyword arguments {sorted(unknown)} (accepted: {_CONV_KWARGS})")
        nt = norm_type_of(norm_type)
        if padding is None:
            padding = (ks - 1) // 2 if not transpose else 0
        bn = nt in (NormType.Batch, NormType.BatchZero)
        inn = nt in (NormType.Instance, NormType.InstanceZero)
        if bias is None:
            bias = not (bn or inn)
        act = activation_class(act_cls)
        conv = _conv_class(ndim, transpose)(ni, nf, kernel_size=ks, bias=bias, stride=stride, padding=padding, **kwargs)
        init_linear(conv, act, init=init, bias_std=bias_std)
        if nt is NormType.Weight:
            conv = weight_norm(conv)
        elif nt is NormType.Spectral:
            conv = spectral_norm(conv)
        act_bn: list[nn.Module] = [] if act is None else [act()]
        if bn and nt is not None:
            act_bn.append(BatchNorm(nf, norm_type=nt, ndim=ndim))
        if inn and nt is not None:
            act_bn.append(InstanceNorm(nf, norm_type=nt, ndim=ndim))
        if bn_1st:
            act_bn.reverse()
        super().__init__(conv, *act_bn)
        self.config = {
            "ni": ni,
            "nf": nf,
            "ks": ks,
            "stride": stride,
            "padding": padding,
            "bias": bias,
            "ndim": ndim,
            "norm_type": None if nt is None else nt.value,
            "bn_1st": bn_1st,
            "act_cls": activation_name(act_cls),
            "transpose": transpose,
            "init": init,
            "bias_std": bias_std,
            **kwargs,
        }
