"""Search spaces: the DSL, ``Architecture`` values, transformer constructs and the model builder.

Example:
    >>> from space import Space, choice
    >>> sp = Space({"e0": choice("conv3x3", "skip", "none"), "lr": choice(1e-3, 1e-2)})
    >>> sp.size()
    6
"""

from __future__ import annotations

from space._arch import Architecture
from space._build import build
from space._count import call_macs
from space._count import call_output_numel
from space._count import count_macs
from space._count import count_params
from space._count import layer_costs
from space._count import macs_by_op
from space._dsl import Constraint
from space._dsl import choice
from space._dsl import derived
from space._dsl import integer
from space._dsl import real
from space._dsl import ref
from space._dsl import repeat
from space._errors import SpaceError
from space._space import Space
from space._trace import trace
from space._transformer import head
from space._transformer import heads
from space._transformer import layer
from space._transformer import mixer
from space._transformer import patches
from space._transformer import tokens
from space._transformer import transformer
from space.mixers import MIXERS
from space.mixers import BaseHead
from space.mixers import BaseMixer
from space.mixers import MixerContext
from space.mixers import MixerInfo
from space.mixers import MixerParam
from space.mixers import register_mixer

__all__ = [
    "MIXERS",
    "Architecture",
    "BaseHead",
    "BaseMixer",
    "Constraint",
    "MixerContext",
    "MixerInfo",
    "MixerParam",
    "Space",
    "SpaceError",
    "build",
    "call_macs",
    "call_output_numel",
    "choice",
    "count_macs",
    "count_params",
    "derived",
    "head",
    "heads",
    "integer",
    "layer",
    "layer_costs",
    "macs_by_op",
    "mixer",
    "patches",
    "real",
    "ref",
    "register_mixer",
    "repeat",
    "tokens",
    "trace",
    "transformer",
]
