"""``nas calibrate --device DEVICE`` and ``nas predict ARCH.json --device DEVICE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nas._cli._parser import positive_int
from nas._errors import UserError


def register(sub: Any) -> None:
    from nas._cli import add_common

    cal = sub.add_parser(
        "calibrate",
        help="fit and store a device's latency model",
        description="Fit the per-op latency model on the device's stored kernel profiles "
        "(`nas profile` first), measure the real forward latency of random architectures from "
        "two transformer spaces, fit the residual terms on most of them, report the error on "
        "the rest, and store the model with that validation error.",
    )
    cal.add_argument("--device", required=True,
                     help="cpu, cuda or onnxruntime-cpu (fitted on the cpu profiles)")
    cal.add_argument("--archs", type=positive_int, default=24,
                     help="measured architectures (default 24; a quarter validates)")
    cal.add_argument("--repeats", type=positive_int, default=15,
                     help="timed runs per measurement")
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument("--quiet", action="store_true", help="no progress line")
    add_common(cal)
    cal.set_defaults(handler=_calibrate)

    pred = sub.add_parser(
        "predict",
        help="predict an architecture's cost on a device",
        description="Print latency_ms, params and flops of the architecture in ARCH.json (a "
        "`nas export` file, an architecture dict, or a list of them) on DEVICE; MCU boards add "
        "sram_kb and flash_kb, the mpc-* networks add mpc_ms, mpc_rounds and mpc_mb.",
    )
    pred.add_argument("arch", metavar="ARCH.json", help="architecture JSON file")
    pred.add_argument("--device", required=True,
                      help="cpu, cuda, stm32f427, stm32f746, stm32h743, mpc-lan, mpc-wan, "
                      "mpc-crypten-lan or mpc-crypten-wan")
    pred.add_argument("--batch-size", type=positive_int, default=1)
    add_common(pred)
    pred.set_defaults(handler=_predict)


def _read_archs(path: str) -> tuple[list[dict], bool]:
    """Architecture dicts from a file, and whether it held a single one."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise UserError(f"ARCH.json must be an existing file; got {path!r}.") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    single = isinstance(data, dict)
    items = [data] if single else data
    archs = []
    for item in items:
        # A `nas export` / trial dict carries the architecture under "arch".
        arch = item.get("arch", item) if isinstance(item, dict) else None
        if not isinstance(arch, dict) or arch.get("family") != "transformer":
            raise UserError(
                f"{path} must hold a transformer architecture dict (with 'family': "
                "'transformer'), a `nas export` file, or a list of them."
            )
        archs.append(arch)
    return archs, single


def _predict(args: argparse.Namespace) -> int:
    import storage
    from nas._cli import storage_url

    archs, single = _read_archs(args.arch)
    url = storage_url(args)
    path = storage.sqlite_file(url)
    if args.device in ("cpu", "cuda") and path is not None and not path.is_file():
        # Reading a latency model must not leave an empty database behind.
        raise UserError(
            f"No calibrated latency model for {args.device}: the database {str(path)!r} does "
            f"not exist. Run: nas profile --device {args.device}, then nas calibrate --device "
            f"{args.device} (add --storage {storage.safe_url(url)})"
        )
    import evaluators

    if args.device not in evaluators.DEVICES:
        raise UserError(
            f"--device must be one of {list(evaluators.DEVICES)}; got {args.device!r}."
        )
    results = evaluators.predict(archs, device=args.device, storage=url,
                                 batch_size=args.batch_size)
    if args.json:
        print(json.dumps(results[0] if single else results))
        return 0
    for i, metrics in enumerate(results):
        prefix = "" if single else f"[{i}] "
        print(prefix + "  ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()))
    return 0


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:.4g}"


def _calibrate(args: argparse.Namespace) -> int:
    from nas._cli import storage_url

    if args.device not in ("cpu", "cuda", "onnxruntime-cpu"):
        raise UserError(
            f"--device must be cpu, cuda or onnxruntime-cpu for calibrate (MCU and MPC costs "
            f"are analytic); got {args.device!r}."
        )
    import evaluators

    show = not args.quiet and not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        print(f"\rmeasuring {args.device}: {done}/{total}", end="", file=sys.stderr, flush=True)

    result = evaluators.calibrate(args.device, storage_url(args), n_archs=args.archs,
                                  repeats=args.repeats, seed=args.seed,
                                  progress=progress if show else None)
    if show:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return 0
    v = result["validation"]
    print(f"stored latency model v{result['version']} for {args.device}: fitted on "
          f"{v['n_fit']} architectures, validated on {v['n_validation']} "
          f"(batch sizes {v['batch_sizes']}): MAPE {v.get('mape', float('nan')):.1f}%, "
          f"{v.get('within_10', float('nan')):.0f}% within ±10%, "
          f"Spearman {v.get('spearman', float('nan')):.3f}")
    return 0
