"""``nas profile --device DEVICE``: measure the kernel primitives and store the records."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from nas._cli._parser import positive_int
from nas._errors import UserError


def register(sub: Any) -> None:
    from nas._cli import add_common

    parser = sub.add_parser(
        "profile",
        help="measure kernel latencies on a device and store them",
        description="Time every primitive the latency model is built from (linear, matmul, "
        "norms, activations, FFT/DCT, conv, scan, each attention kind) on DEVICE and store "
        "the records in the database. `nas calibrate` fits the latency model on them.",
    )
    parser.add_argument("--device", required=True, help="cpu or cuda")
    parser.add_argument("--quick", action="store_true",
                        help="the quick grid (420 shapes, under 3 minutes on 2 cores)")
    parser.add_argument("--ops", help="comma-separated op names to measure (default: all)")
    parser.add_argument("--threads", type=positive_int,
                        help="torch intra-op threads while measuring (default: 1 on cpu, "
                        "stable on a shared machine; calibrate measures models with the same)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    add_common(parser)
    parser.set_defaults(handler=_profile)


def _profile(args: argparse.Namespace) -> int:
    import storage
    from nas._cli import storage_url

    # A bad --storage fails now, not after minutes of measuring.
    storage.sqlite_file(storage_url(args))
    import kernels

    ops = [op.strip() for op in args.ops.split(",") if op.strip()] if args.ops else None
    show = not args.quiet and not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        print(f"\rprofiling {args.device}: {done}/{total}", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        records = kernels.profile(
            args.device, ops=ops, grid="quick" if args.quick else "full",
            threads=args.threads, progress=progress if show else None,
        )
    except (kernels.KernelError, kernels.KernelUnavailableError) as exc:
        raise UserError(str(exc)) from exc
    if show:
        print(file=sys.stderr)
    elapsed = time.perf_counter() - start
    stored = storage.connect(storage_url(args)).add_profiles(records)
    spread = statistics.median(r["spread"] for r in records) if records else float("nan")
    noisy = [r for r in records if r.get("noisy")]
    if args.json:
        print(json.dumps({"device": args.device, "records": stored, "median_spread": spread,
                          "noisy": [{"op": r["op"], "shape": r["shape"], "spread": r["spread"]}
                                    for r in noisy],
                          "seconds": round(elapsed, 1)}))
    else:
        clock = records[0]["clock"] if records else "-"
        print(f"stored {stored} profile records for {args.device} in {elapsed:.0f} s; "
              f"median spread (noise: lower quartile over the minimum − 1) {spread:.3f}, "
              f"timed by {clock} clock")
        if noisy:
            worst = max(noisy, key=lambda r: r["spread"])
            print(f"{len(noisy)} record(s) stayed noisy after re-measuring (spread above "
                  f"{kernels.NOISY}; worst {worst['op']} {worst['shape']} at "
                  f"{worst['spread']:.2f}): the machine was busy; profile again when it is "
                  "quieter, or check these ops' predictions")
    return 0
