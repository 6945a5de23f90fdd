"""Lab 06 on a GPU: measured % of peak next to bwkit.efficiency's prediction, saved for the instructor.

    python benchmarks/gpu_check_near_peak.py                 # ~1-2 minutes on an H200 / B200
    python benchmarks/gpu_check_near_peak.py --reps 10 --kernels cublas,triton

Times bf16 GEMMs C = A @ W.T (A: M x K, W: N x K, the nn.Linear layout) with cuBLAS (torch.matmul), the kit's
Triton kernel (the last rung of bwkit.gemm.LADDER, fixed 128x256x64 tiles) and the kit's CuTe DSL tcgen05 kernel
(bwkit.cute_gemm; needs nvidia-cutlass-dsl and sm_100a, otherwise its rows say why) at bwkit.efficiency's
TABLE_SHAPES: a calibration shape (8192^3, which fits the model's one free parameter, `sustained`, per kernel),
the seed's 16384x17290x16384, CUTLASS's 16384x17920x16384 and 8192x768x8192 (a half-empty last wave).
Timing: bwkit.bench.time_fn (CUDA events, warm-up, L2 flushed before each rep, median of --reps).

Prints versions and one table (kernel, shape, measured TFLOP/s, % of the dense datasheet peak, predicted % of peak,
error in points) and writes results/near_peak_<gpu>_<time>.json with bwkit.bench.save_json (hardware and package
metadata included). Target of lab 06: |error| <= 5 points on every non-calibration row of the kit's kernels.
Needs only torch and triton (no cutlass). On a machine without a CUDA GPU it says so and exits 0.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import bwkit
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "lib"))
    import bwkit


def _shapes(text: str) -> list[tuple[int, int, int]]:
    out = []
    for s in text.split(","):
        m = re.fullmatch(r"\s*(\d+)x(\d+)x(\d+)\s*", s)
        if not m:
            raise argparse.ArgumentTypeError(f"shape {s!r} is not MxNxK (e.g. 8192x8192x8192)")
        out.append(tuple(int(v) for v in m.groups()))
    return out


def main(argv: list[str] | None = None) -> int:
    from bwkit import efficiency as eff

    default = ",".join("x".join(map(str, s)) for s in eff.TABLE_SHAPES)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", type=_shapes, default=_shapes(default),
                    help=f"comma-separated MxNxK; the first calibrates the model (default {default})")
    ap.add_argument("--kernels", default=",".join(eff.KERNELS), help="subset of cublas,triton,cute")
    ap.add_argument("--reps", type=int, default=20, help="timed repetitions per row (median reported)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "results", help="folder for the JSON file")
    ap.add_argument("--dry-run", action="store_true",
                    help="test this script on a CPU: tiny shapes, host-clock timings (not data), nothing saved")
    args = ap.parse_args(argv)
    kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
    bad = [k for k in kernels if k not in eff.KERNELS]
    if bad:
        ap.error(f"unknown kernel(s) {bad}; choose from {', '.join(eff.KERNELS)}")

    rt = bwkit.setup(quiet=True)
    if args.dry_run:
        print("DRY RUN on the CPU path: code path check only; CPU host-clock timings of tiny shapes, not data.")
        rows = eff.measure_table([(256, 256, 64), (128, 200, 64)], kernels, warmup=0, reps=1, progress=False,
                                 dry_run_spec="B200")
        print(eff.format_table(rows))
        print("dry run: nothing saved")
        return 0
    if not rt.has_gpu:
        print("No CUDA GPU here: nothing is measured (the model itself needs no GPU: see lab 06).")
        return 0
    import torch

    from bwkit import bench

    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"triton {triton_version}, bwkit {bwkit.__version__}")
    print(rt.describe())
    spec = bench.spec_for_device(rt.gpu_name)
    if spec is None:
        print(f"{rt.gpu_name} is not in bwkit.hw.SPECS: there is no datasheet peak to compare with; nothing run.")
        return 0
    print(f"peak used for % of peak: {spec.name} bf16 {spec.peak_tflops['bf16']:,.0f} TFLOP/s dense "
          f"({spec.sources['peak_tflops']}); model SMs = {rt.sm_count}")
    t0 = time.perf_counter()
    rows = eff.measure_table(args.shapes, kernels, warmup=args.warmup, reps=args.reps, progress=True)
    print()
    print(eff.format_table(rows))
    errs = [r.extra["error_points"] for r in rows if hasattr(r, "extra") and r.extra.get("error_points") is not None
            and not r.extra.get("calibration") and r.extra.get("kernel") in ("triton", "cute")]
    if errs:
        ok = sum(abs(e) <= 5 for e in errs)
        print(f"\nkit kernels, non-calibration rows: {ok} of {len(errs)} within 5 points of the model "
              f"(largest |error| {max(abs(e) for e in errs):.1f} points)")
    else:
        print("\nno non-calibration row of the kit's kernels was measured: the 5-point target is not checked")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", rt.gpu_name).strip("-").lower()
    path = bench.save_json(rows, args.out / f"near_peak_{slug}_{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json")
    print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
          f"({time.perf_counter() - t0:.0f} s of measurement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
