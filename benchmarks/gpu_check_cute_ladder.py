"""GPU check for lab 10: every rung of the kit's CuTe DSL ladder on a datacenter Blackwell GPU (B200).

    python benchmarks/gpu_check_cute_ladder.py             # ~45 s on a B200 (gpu_check.py's share); else skipped
    python benchmarks/gpu_check_cute_ladder.py --dry-run   # any machine: the table with FAKE timings, marked FAKE
    python benchmarks/gpu_check_cute_ladder.py --shape 16384x17920x16384 --reps 10

1. Correctness: each rung (`bwkit.cute_ladder`: 1 lab 05's kernel, 2 2-CTA + multicast, 3 persistent (static and
   cluster launch control), 4 double-buffered TMEM accumulator, 5 TMA-store epilogue) against an FP32 torch
   matmul at small shapes, and the NVFP4 kernel on rung 5's schedule against FP32 of the same FP4 values.
2. Speed: each rung and cuBLAS (`torch.matmul(a, b.t())`, bf16) at --shape, timed in this run with CUDA events
   (`bwkit.bench.time_fn`: warm-up, L2 flushed, median), next to `bwkit.ladder_model`'s prediction. NVFP4 is
   compared with lab 05's NVFP4 kernel. Target (lab 10): the best rung >= 0.95x cuBLAS at 8192^3.
Rows print as they finish and the JSON (results/gpu_check/gpu_check_cute_ladder.json) is rewritten after each; no
new rung starts once the budget (--budget, env BWKIT_CHECK_BUDGET_S, default 45 s; its author estimated 150 s) is
spent. To fit, each rung is checked at the first of `ladder_bench.CHECK_SHAPES` only (gpu_check.py also passes
--reps 10). Needs nvidia-cutlass-dsl (not on every GPU image: then "skipped: needs nvidia-cutlass-dsl").
Exit status: 1 when a correctness check fails (or, with --strict, when the target is missed); else 0.
"""

from __future__ import annotations

import importlib.util
import sys

from gpu_check_util import DENSE_TOL, Check, parse_shape

TOL = DENSE_TOL["bf16"]        # bf16 output rounding (relative Frobenius error)
COLUMNS = ["rung", "what", "shape", "rel err", "ms", "TFLOP/s", "% peak", "x baseline", "model %", "note"]


def _args(p) -> None:
    p.add_argument("--shape", type=parse_shape, default=(8192, 8192, 8192), help="MxNxK of the timed GEMM")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions (median reported)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--no-nvfp4", action="store_true", help="skip the NVFP4 kernel")
    p.add_argument("--strict", action="store_true", help="exit 1 when the speed target is missed")


def _row(chk: Check, r, fake: bool) -> None:
    chk.row(fake=fake, rung=r.rung, what=r.name, shape="x".join(map(str, r.shape)),
            **{"rel err": None if r.rel_err is None else f"{r.rel_err:.1e}", "ms": r.ms, "TFLOP/s": r.tflops,
               "% peak": r.pct_peak, "x baseline": r.vs_baseline, "model %": r.model_pct, "note": r.note})


def measure(chk: Check, lb, shape, reps: int, warmup: int, nvfp4: bool) -> list:
    """`ladder_bench.iter_ladder`: each row printed when done, none started past the budget, each rung checked at
    the first of `CHECK_SHAPES` only."""
    from dataclasses import replace

    def should_start(what) -> bool:
        if what == "nvfp4":
            return not chk.spent(8)
        if chk.spent(6):
            chk.say(f"[budget: {chk.left():.0f} s left, rung {what.number} not started]")
            return False
        return True

    rows = []
    for r in lb.iter_ladder(shape, reps, warmup, nvfp4, check_shapes=lb.CHECK_SHAPES[:1], should_start=should_start):
        if r.rung != "nvfp4" and r.note.startswith("did not run"):
            r = replace(r, note=r.note[:300])               # a rung's error message, cut to fit the table
        rows.append(r)
        _row(chk, r, False)
    return rows


def main(argv: list[str] | None = None) -> int:
    chk = Check("gpu_check_cute_ladder", __doc__.splitlines()[0], default_budget_s=45, argv=argv, add_args=_args)
    args = chk.args
    if importlib.util.find_spec("cutlass") is None:
        return chk.skipped("nvidia-cutlass-dsl (the CuTe DSL is not installed here; lab 10 compiles its rungs on any "
                           "machine that has it)")
    from bwkit import ladder_bench as lb

    if args.dry_run:
        chk.table(COLUMNS, "the CuTe ladder (DRY RUN: FAKE timings made from the model, not a measurement)")
        for r in lb.fake_ladder(args.shape):
            _row(chk, r, True)
        return chk.done()
    why = lb.gpu_reason()
    if why:
        return chk.skipped(f"datacenter Blackwell (sm_100a): {why}. On a CPU or a Hopper GPU, lab 10 compiles every "
                           "rung for sm_100a and reads the PTX/SASS instead (tests/test_cute_ladder.py)")
    import bwkit

    bwkit.setup(quiet=True)
    import torch

    chk.say(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    chk.table(COLUMNS, f"the CuTe ladder at {'x'.join(map(str, args.shape))} (bf16; rungs checked at "
              f"{'x'.join(map(str, lb.CHECK_SHAPES[0]))})")
    rows = measure(chk, lb, args.shape, args.reps, args.warmup, not args.no_nvfp4)
    bad = [r for r in rows if r.rung != "cuBLAS" and (r.rel_err is None or not r.rel_err < TOL)]
    for r in bad:
        chk.say(f"❌ rung {r.rung}: {r.note or f'relative error {r.rel_err:.2e} >= {TOL}'}")
    dense = [r.vs_baseline for r in rows if r.rung not in ("cuBLAS", "nvfp4") and r.vs_baseline is not None]
    best = max(dense, default=0.0)
    verdict = "✅ meets" if best >= lb.TARGET else "❌ misses"
    chk.say(f"{verdict} the target: best rung {best:.3f}x cuBLAS bf16 at {'x'.join(map(str, args.shape))} "
            f"(target >= {lb.TARGET}x)")
    if bad:
        return chk.done(1)
    return chk.done(1 if (args.strict and best < lb.TARGET) else 0)


if __name__ == "__main__":
    sys.exit(main())
