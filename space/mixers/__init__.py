"""Token mixers: one ``torch.nn.Module`` per type, registered with the metadata the DSL checks.

``MIXERS[name]`` is a ``MixerInfo`` (module class, head op, ``causal``, ``head_capable``,
``attention_like``, ``params``); ``register_mixer`` adds a new type. Each mixer class carries
its formula in its docstring and its analytic counts (``count_params``, ``trace``) beside it.
"""

from __future__ import annotations

from kernels.linear.naive import FEATURE_MAPS
from space.mixers._attention import LinearHead
from space.mixers._attention import QuadHead
from space.mixers._attention import ReluHead
from space.mixers._attention import ScaleHead
from space.mixers._attention import SoftmaxHead
from space.mixers._attention import WindowHead
from space.mixers._attention import WMAHead
from space.mixers._base import BaseHead
from space.mixers._base import BaseMixer
from space.mixers._base import Call
from space.mixers._base import LowRankLinear
from space.mixers._base import MixerContext
from space.mixers._conv import ConvHead
from space.mixers._conv import ConvMixer
from space.mixers._conv import DynConvMixer
from space.mixers._conv import PoolMixer
from space.mixers._heads import HeadsMixer
from space.mixers._lowrank import LowRankMixer
from space.mixers._registry import MIXERS
from space.mixers._registry import MixerInfo
from space.mixers._registry import MixerParam
from space.mixers._registry import mixer_info
from space.mixers._registry import register_mixer
from space.mixers._shsa import SHSAMixer
from space.mixers._spectral import DCTHead
from space.mixers._spectral import DCTMixer
from space.mixers._spectral import DFTHead
from space.mixers._spectral import DFTMixer
from space.mixers._ssm import SSMMixer

__all__ = [
    "MIXERS",
    "BaseHead",
    "BaseMixer",
    "Call",
    "LowRankLinear",
    "MixerContext",
    "MixerInfo",
    "MixerParam",
    "make_mixer",
    "mixer_info",
    "register_mixer",
]

_KERNEL = MixerParam(int, low=1, example=3)
for _name, _head, _params in [
    ("softmax", SoftmaxHead, {}),
    ("wma", WMAHead, {}),
    ("window", WindowHead, {"window": MixerParam(int, low=1, example=8)}),
    ("linear", LinearHead, {"feature_map": MixerParam(str, options=FEATURE_MAPS)}),
    ("relu", ReluHead, {}),
    ("scale", ScaleHead, {}),
    ("quad", QuadHead, {}),
]:
    register_mixer(_name, HeadsMixer, head=_head, causal=True, attention_like=True, params=_params)
register_mixer("lowrank", LowRankMixer, attention_like=True,
               params={"rank": MixerParam(int, low=1, example=16)})
register_mixer("dft", DFTMixer, head=DFTHead)
register_mixer("dct", DCTMixer, head=DCTHead)
register_mixer("conv", ConvMixer, head=ConvHead, causal=True, params={"kernel": _KERNEL})
register_mixer("dynconv", DynConvMixer, causal=True, params={"kernel": _KERNEL})
register_mixer("pool", PoolMixer, params={"pool_size": _KERNEL})
register_mixer("ssm", SSMMixer, causal=True,
               params={"state": MixerParam(int, low=1, example=16), "selective": MixerParam(bool)})
register_mixer("shsa", SHSAMixer, causal=True, params={
    "qk_dim": MixerParam(int, low=1, example=16),
    "partial": MixerParam(float, low=0, high=1, low_open=True, example=0.25)})
# Causal exactly when every head is: the DSL checks the heads one by one.
register_mixer("heads", HeadsMixer, causal=True, params={"heads": list})


def make_mixer(spec: dict, ctx: MixerContext) -> BaseMixer:
    """Build the mixer of an architecture's mixer dict ``spec`` in the layer ``ctx``."""
    return mixer_info(spec["type"]).module(spec, ctx)
