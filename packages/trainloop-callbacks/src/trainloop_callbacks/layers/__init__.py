"""Layers shared by the application packages (fastai's `layers`), each exportable as data through its `config`."""

from trainloop_callbacks.layers.activation import ACTIVATIONS, SigmoidRange, sigmoid_range
from trainloop_callbacks.layers.attention import SelfAttention, SimpleSelfAttention
from trainloop_callbacks.layers.conv import ConvLayer, init_linear
from trainloop_callbacks.layers.embedding import Embedding, emb_sz_rule, trunc_normal_
from trainloop_callbacks.layers.linear import LinBnDrop
from trainloop_callbacks.layers.norm import BatchNorm, InstanceNorm, NormType
from trainloop_callbacks.layers.pooling import AdaptiveConcatPool2d, Flatten
from trainloop_callbacks.layers.resblock import ResBlock, SEModule
from trainloop_callbacks.layers.upsample import PixelShuffle_ICNR, icnr_init

__all__ = [
    "ACTIVATIONS",
    "NormType",
    "BatchNorm",
    "InstanceNorm",
    "LinBnDrop",
    "SigmoidRange",
    "sigmoid_range",
    "Embedding",
    "trunc_normal_",
    "emb_sz_rule",
    "AdaptiveConcatPool2d",
    "Flatten",
    "init_linear",
    "ConvLayer",
    "SelfAttention",
    "SimpleSelfAttention",
    "PixelShuffle_ICNR",
    "icnr_init",
    "ResBlock",
    "SEModule",
]
