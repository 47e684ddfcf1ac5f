"""Transformer constructs of the DSL and the checks a transformer spec must pass when built.

The constructors return plain spec dicts (or a ``TransformerSpec`` node for the whole model) in
the architecture schema of ``docs/interfaces.md`` §1, so any spec written with them resolves to
dicts that ``build``, ``trace`` and the cost models read directly.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator
from typing import Any

from space._dsl import choice
from space._dsl import derived
from space._dsl import repeat
from space._errors import SpaceError
from space._nodes import Choice
from space._nodes import Const
from space._nodes import Derived
from space._nodes import Group
from space._nodes import Integer
from space._nodes import Node
from space._nodes import Repeat
from space._nodes import Seq
from space._nodes import compile_spec
from space.mixers import MIXERS

TASKS = ("classify", "lm")
ACTIVATIONS = ("gelu", "relu", "quad", "swiglu")
NORMS = ("layernorm", "rmsnorm")
_MAX_ENUMERATED = 4096


def tokens(vocab: Any, seq_len: Any) -> dict[str, Any]:
    """Token input: ``vocab`` ids, sequences of ``seq_len``."""
    return {"type": "tokens", "vocab": vocab, "seq_len": seq_len}


def patches(image_size: Any, patch: Any, channels: Any = 3, *, crop: bool = False
            ) -> dict[str, Any]:
    """Image input cut into ``patch``×``patch`` patches (patch size may be a decision).

    The patch size must divide the image size unless ``crop=True``, which keeps
    ``(image_size // patch) ** 2`` patches and drops the border (MCUFormer at 240 px).
    """
    spec = {"type": "image", "image_size": image_size, "channels": channels, "patch": patch}
    if crop:
        spec["crop"] = True
    return spec


def _split_width(width: int, heads: int) -> int:
    return width // heads


def mixer(type: Any, **params: Any) -> dict[str, Any] | Choice:
    """A token mixer of ``type`` (see ``space.MIXERS``) with its parameters.

    Attention-like mixers take ``heads``; their ``head_dim`` defaults to ``width // heads``.
    A choice of type names, ``mixer(choice("softmax", "relu"), heads=4)``, is a choice of
    mixers that share the other parameters.
    """
    if isinstance(type, Choice) and all(
        isinstance(o, Const) and isinstance(o.value, str) for o in type.options
    ):
        return choice(*(mixer(o.value, **params) for o in type.options))  # type: ignore[return-value]
    spec: dict[str, Any] = {"type": type, **params}
    info = MIXERS.get(type) if isinstance(type, str) else None
    if info is not None and info.attention_like and "head_dim" not in params:
        spec["head_dim"] = derived(_split_width, "width", "heads", label="width // heads")
    return spec


def head(type: Any, head_dim: Any = None, **params: Any) -> dict[str, Any]:
    """One head of a heterogeneous ``heads`` mixer; ``type`` may be a choice (per-head search).

    Without ``head_dim``, ``heads`` splits the layer width evenly between its heads.
    """
    spec: dict[str, Any] = {"type": type, **params}
    if head_dim is not None:
        spec["head_dim"] = head_dim
    return spec


def heads(spec: Any, count: Any = None, *, shared: bool = False) -> dict[str, Any]:
    """A mixer whose heads each pick their own op (as in MPCViT and FlexiBERT 2.0).

    Args:
        spec: a list of ``head(...)`` specs, or one head spec repeated ``count`` times.
        count: number of heads (int or decision) when ``spec`` is a single head spec.
        shared: every head takes the same draw (a homogeneous layer of that op).
    """
    if isinstance(spec, list | tuple):
        n = len(spec)
        even = derived(lambda width: width // n, "width", label=f"width // {n}")
        return {"type": "heads", "heads": [_with_head_dim(s, even) for s in spec]}
    if count is None:
        raise SpaceError(
            "heads(spec) with a single head spec needs count=; got none. "
            "Pass count=4 (or a choice), or a list of head(...) specs."
        )
    even = derived(_split_width, "width", "@depth", label="width // heads")
    return {"type": "heads", "heads": repeat(_with_head_dim(spec, even), count, shared=shared)}


def _with_head_dim(spec: Any, default: Derived) -> Any:
    if isinstance(spec, dict):
        return spec if "head_dim" in spec else {**spec, "head_dim": default}
    node = compile_spec(spec)
    if isinstance(node, Group):
        if "head_dim" not in node.fields:
            node = Group({**node.fields, "head_dim": default})
        return node
    if isinstance(node, Choice):
        return Choice([_with_head_dim(option, default) for option in node.options])
    return node


def layer(
    width: Any,
    mixer: Any,
    ffn: Any = (),
    *,
    activation: Any = "gelu",
    norm: Any = "layernorm",
    rank_ratio: Any = None,
) -> dict[str, Any]:
    """One pre-norm transformer layer: ``x + mixer(norm(x))`` then ``x + ffn(norm(x))``.

    Args:
        width: the layer's hidden width d; layers of different widths are joined by projections.
        mixer: a ``mixer(...)``/``heads(...)`` spec or a choice of them.
        ffn: hidden widths of the feed-forward stack (a list, or ``repeat(choice(...), depth)``).
        activation: gelu, relu, quad (MPC-friendly) or swiglu.
        norm: layernorm or rmsnorm.
        rank_ratio: ρ of MCUFormer's low-rank factorised linears, or None for dense linears.
    """
    return {"width": width, "mixer": mixer, "ffn": ffn, "activation": activation,
            "norm": norm, "rank_ratio": rank_ratio}


def transformer(
    layers: Any,
    *,
    input: dict[str, Any],
    task: str = "classify",
    num_classes: Any = None,
    pool: Any = "cls",
    causal: bool | None = None,
    **extra: Any,
) -> TransformerSpec:
    """A whole transformer: input, a stack of layers and a head.

    Args:
        layers: ``repeat(layer(...), depth)`` or a list of ``layer(...)`` specs.
        input: ``tokens(...)`` or ``patches(...)``.
        task: ``"classify"`` (needs ``num_classes``) or ``"lm"`` (causal language model).
        pool: ``"cls"`` or ``"mean"`` pooling for classification.
        causal: defaults to True for ``lm`` and False otherwise.
        **extra: further named decisions, resolved before the layers so that layer specs can
            ``ref`` them (e.g. one embedding width or rank ratio shared by every layer).
    """
    spec: dict[str, Any] = {"family": "transformer", "task": task,
                            "causal": task == "lm" if causal is None else causal,
                            "input": input}
    if task != "lm":
        spec["num_classes"] = num_classes
        spec["pool"] = pool
    spec.update(extra)
    spec["layers"] = layers
    return TransformerSpec(compile_spec(spec).fields)  # type: ignore[attr-defined]


def _possible(node: Node, env: dict[str, list[Any]]) -> list[Any] | None:
    """Every value a node can take, when that is small and knowable without resolving."""
    if isinstance(node, Const):
        return [node.value]
    if isinstance(node, Choice):
        values: list[Any] = []
        for option in node.options:
            sub = _possible(option, env)
            if sub is None:
                return None
            values.extend(sub)
        return values
    if isinstance(node, Integer) and node.count() <= _MAX_ENUMERATED:
        return list(node.values())
    if isinstance(node, Derived) and all(name in env for name in node.needs):
        combos = itertools.product(*(env[name] for name in node.needs))
        try:
            return [node.fn(*combo) for combo in combos]
        except (ArithmeticError, TypeError, ValueError):
            return None
    if isinstance(node, Seq):
        parts = [_possible(item, env) for item in node.items]
        if any(part is None for part in parts) or len(parts) > 4:
            return None
        return [list(combo) for combo in itertools.product(*parts)]  # type: ignore[arg-type]
    return None


def _fail(path: str, rule: str, value: Any, fix: str) -> SpaceError:
    return SpaceError(f"{path} {rule}; got {value!r}. {fix}")


def _shown(node: Node) -> Any:
    """What a spec node holds, for a message: its value(s) when knowable, else its form."""
    values = _possible(node, {})
    if values is not None:
        return values[0] if len(values) == 1 else values
    if isinstance(node, Group):
        return {name: _shown(field) for name, field in node.fields.items()}
    return f"<{type(node).__name__.lower()}>"


def _listing(names: list[str]) -> str:
    if not names:
        return "no parameters"
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def _options(node: Node) -> Iterator[Node]:
    if isinstance(node, Choice):
        for option in node.options:
            yield from _options(option)
    else:
        yield node


def _divisors(n: int) -> str:
    ds = [str(d) for d in range(1, n + 1) if n % d == 0]
    return ", ".join(ds[:-1]) + f" or {ds[-1]}" if len(ds) > 1 else ds[0]


class TransformerSpec(Group):
    """The spec of a whole transformer; ``check`` enforces the model's rules."""

    def check(self, path: str) -> None:
        super().check(path)
        prefix = f"{path}." if path else ""
        env = {name: _possible(node, {}) for name, node in self.fields.items()
               if name != "layers"}
        env = {name: values for name, values in env.items() if values is not None}
        task = env.get("task", [None])[0]
        if task not in TASKS:
            raise _fail(f"{prefix}task", "must be one of " + ", ".join(TASKS), task,
                        "Use task='classify' or task='lm'.")
        causal_values = env.get("causal", [False])
        lengths = self._check_input(prefix, task)
        if task == "classify":
            classes = env.get("num_classes", [])
            if not classes or any(not isinstance(c, int) or c < 2 for c in classes):
                raise _fail(f"{prefix}num_classes", "must be an int >= 2 for classification",
                            classes[0] if classes else None, "Pass num_classes=10.")
        for layer_path, spec in self._layer_specs(self.fields["layers"], f"{prefix}layers"):
            self._check_layer(layer_path, spec, env, True in causal_values, lengths)

    def _check_input(self, prefix: str, task: str) -> list[int]:
        node = self.fields["input"]
        if not isinstance(node, Group) or not isinstance(node.fields.get("type"), Const):
            raise _fail(f"{prefix}input", "must be tokens(...) or patches(...)", _shown(node),
                        "Pass input=tokens(vocab, seq_len) or input=patches(size, patch).")
        fields = {name: _possible(n, {}) for name, n in node.fields.items()}
        kind = fields["type"][0]  # type: ignore[index]
        if kind == "tokens":
            for name in ("vocab", "seq_len"):
                values = fields.get(name)
                if not values or any(not isinstance(v, int) or v < 1 for v in values):
                    raise _fail(f"{prefix}input.{name}", "must be a positive int",
                                values[0] if values else None, f"Pass {name}=128.")
            return fields["seq_len"]  # type: ignore[return-value]
        if kind != "image":
            raise _fail(f"{prefix}input.type", "must be 'tokens' or 'image'", kind,
                        "Use tokens(...) or patches(...).")
        if task == "lm":
            raise _fail(f"{prefix}task", "'lm' needs token input", "image",
                        "Use input=tokens(vocab, seq_len) for language modelling.")
        sizes, patches_ = fields.get("image_size") or [], fields.get("patch") or []
        crop = fields.get("crop") == [True]
        lengths = []
        for size, patch in itertools.product(sizes, patches_):
            if not isinstance(patch, int) or not 1 <= patch <= size or (size % patch and not crop):
                raise _fail(f"{prefix}input.patch", f"must divide the image size {size}",
                            patch, f"Use one of {_divisors(size)}, or patches(..., crop=True) "
                            "to drop the border.")
            lengths.append((size // patch) ** 2 + 1)
        return lengths

    def _layer_specs(self, node: Node, path: str) -> Iterator[tuple[str, Group]]:
        if isinstance(node, Repeat):
            yield from self._layer_specs(node.body, f"{path}[*]")
        elif isinstance(node, Seq):
            for i, item in enumerate(node.items):
                yield from self._layer_specs(item, f"{path}[{i}]")
        elif isinstance(node, Choice):
            for option in node.options:
                yield from self._layer_specs(option, path)
        elif isinstance(node, Group) and "mixer" in node.fields and "width" in node.fields:
            yield path, node
        else:
            raise _fail(path, "must be a layer(...) spec, a list of them or a repeat of one",
                        type(node).__name__, "Use layers=repeat(layer(...), depth=...).")

    def _check_layer(self, path: str, spec: Group, env: dict[str, list[Any]], causal: bool,
                     lengths: list[int]) -> None:
        widths = _possible(spec.fields["width"], env) or []
        for width in widths:
            if not isinstance(width, int) or isinstance(width, bool) or width < 1:
                raise _fail(f"{path}.width", "must be a positive int", width,
                            "Use a width such as 128 or choice(128, 256).")
        for name, allowed in (("activation", ACTIVATIONS), ("norm", NORMS)):
            for value in _possible(spec.fields[name], env) or []:
                if value not in allowed:
                    raise _fail(f"{path}.{name}", "must be one of " + ", ".join(allowed),
                                value, f"Use {name}={allowed[0]!r}.")
        for ratio in _possible(spec.fields["rank_ratio"], env) or []:
            if ratio is not None and not (isinstance(ratio, float) and 0 < ratio <= 1):
                raise _fail(f"{path}.rank_ratio", "must be None or a float in (0, 1]", ratio,
                            "Use rank_ratio=choice(0.4, 0.5, ...).")
        for ffn in _possible(spec.fields["ffn"], env) or []:
            for hidden in ffn if isinstance(ffn, list) else [ffn]:
                if not isinstance(hidden, int) or hidden < 1:
                    raise _fail(f"{path}.ffn", "hidden widths must be positive ints", hidden,
                                "Use ffn=[512] or ffn=repeat(choice(512, 1024), 2).")
        for option in _options(spec.fields["mixer"]):
            self._check_mixer(f"{path}.mixer", option, widths, causal, lengths)

    def _check_mixer(self, path: str, node: Node, widths: list[int], causal: bool,
                     lengths: list[int], head_of: int | None = None) -> None:
        if not isinstance(node, Group) or not isinstance(node.fields.get("type"), Const | Choice):
            raise _fail(path, "must be a mixer(...) or heads(...) spec", type(node).__name__,
                        "Use mixer('softmax', heads=4).")
        for kind in _possible(node.fields["type"], {}) or []:
            if kind == "heads" and head_of is None:
                self._check_heads(path, node, widths, causal, lengths)
                continue
            info = MIXERS.get(kind)
            if info is None:
                raise _fail(f"{path}.type", "must be a registered mixer", kind,
                            f"Use one of {sorted(MIXERS)} or register it with register_mixer.")
            if head_of is not None and not info.head_capable:
                raise _fail(f"{path}.type", "must be a head-capable mixer inside heads(...)",
                            kind, "Use one of "
                            f"{sorted(n for n, i in MIXERS.items() if i.head_capable)}.")
            if causal and not info.causal:
                raise _fail(f"{path}.type", "must be causal-capable in a causal (lm) model",
                            kind, "Use one of "
                            f"{sorted(n for n, i in MIXERS.items() if i.causal)}.")
            self._check_params(path, node, kind, widths, lengths, head_of)

    def _check_params(self, path: str, node: Group, kind: str, widths: list[int],
                      lengths: list[int], head_of: int | None) -> None:
        fields = node.fields
        self._check_declared(path, node, kind, head_of)
        heads_values = _possible(fields["heads"], {}) if "heads" in fields else None
        if head_of is None and MIXERS[kind].attention_like:
            for h in heads_values or []:
                if not isinstance(h, int) or isinstance(h, bool) or h < 1:
                    raise _fail(f"{path}.heads", "must be a positive int", h, "Use heads=4.")
            if isinstance(fields.get("head_dim"), Derived):
                for width, h in itertools.product(widths, heads_values or []):
                    if width % h:
                        raise _fail(f"{path}.heads", f"must divide the layer width {width}", h,
                                    f"Use {_divisors(width)}.")
        if isinstance(fields.get("head_dim"), Derived) and head_of is not None:
            for width in widths:
                if width % head_of:
                    raise _fail(f"{path[: path.rfind('.heads')]}.heads",
                                f"(the number of heads) must divide the layer width {width}",
                                head_of, f"Use {_divisors(width)}.")
        # Window w < L and Linformer rank r <= L (mixers.md, checks when the space is built).
        for name, relation in (("window", "below"), ("rank", "at most")):
            values = _possible(fields[name], {}) if name in fields else None
            for value, length in itertools.product(values or [], lengths):
                too_big = value >= length if name == "window" else value > length
                if too_big:
                    raise _fail(f"{path}.{name}",
                                f"must be a positive int {relation} the sequence length {length}",
                                value, f"Use {name}={max(1, length // 4)}.")

    @staticmethod
    def _check_declared(path: str, node: Group, kind: str, head_of: int | None) -> None:
        """Every parameter the mixer type declares is there with a value it allows, and no
        other (``mixer("conv", heads=2)``, ``head("conv")`` without ``kernel``)."""
        info = MIXERS[kind]
        where = f"head {kind!r}" if head_of is not None else f"mixer {kind!r}"
        structural = ["head_dim"] if head_of is not None else (
            ["heads", "head_dim"] if info.attention_like else [])
        takes = [*structural, *info.params]
        for name, field in node.fields.items():
            if name != "type" and name not in takes:
                close = difflib.get_close_matches(name, takes, n=1)
                fix = (f"did you mean {close[0]}?" if close else f"drop {name}" + (
                    " (heads belong to attention mixers such as 'softmax', or to heads([...]))"
                    if name == "heads" else "") + ".")
                raise _fail(f"{path}.{name}", f"is not a parameter of {where}", _shown(field),
                            f"It takes {_listing(takes)}; {fix}")
        if head_of is None and info.attention_like and "heads" not in node.fields:
            raise SpaceError(
                f"{path}.heads is required by {where} (a positive int that divides the width); "
                f"got none. Pass mixer({kind!r}, heads=4, ...)."
            )
        for name, param in info.params.items():
            if name not in node.fields:
                if param.required:
                    call = "head" if head_of is not None else "mixer"
                    raise SpaceError(
                        f"{path}.{name} is required by {where} ({param.describe()}); got none. "
                        f"Pass {call}({kind!r}, ..., {name}={param.sample_value()!r})."
                    )
                continue
            for value in _possible(node.fields[name], {}) or []:
                if not param.accepts(value):
                    raise _fail(f"{path}.{name}", f"of {where} must be {param.describe()}",
                                value, f"Use {name}={param.sample_value()!r}.")

    def _check_heads(self, path: str, node: Group, widths: list[int], causal: bool,
                     lengths: list[int]) -> None:
        inner = node.fields.get("heads")
        if isinstance(inner, Repeat):
            counts = inner.depths()
            for count in counts:
                for option in _options(inner.body):
                    self._check_mixer(f"{path}.heads[*]", option, widths, causal, lengths, count)
        elif isinstance(inner, Seq):
            for i, item in enumerate(inner.items):
                for option in _options(item):
                    self._check_mixer(f"{path}.heads[{i}]", option, widths, causal, lengths,
                                      len(inner.items))
        else:
            raise _fail(f"{path}.heads", "must be a list of head specs or a repeat",
                        _shown(inner) if inner is not None else None,
                        "Use heads([head('relu'), head('scale')]) or heads(head(...), count=4).")
