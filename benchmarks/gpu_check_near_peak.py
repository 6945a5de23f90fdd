"""Lab 06 on a GPU: measured % of peak next to bwkit.efficiency's prediction, row by row, saved for the instructor.

    python benchmarks/gpu_check_near_peak.py                 # ~40 s on an H200 / B200
    python benchmarks/gpu_check_near_peak.py --reps 10 --kernels cublas,triton
    python benchmarks/gpu_check_near_peak.py --dry-run       # any machine: the CPU path, rows marked FAKE

Times bf16 GEMMs C = A @ W.T (A: M x K, W: N x K, the nn.Linear layout) with cuBLAS (torch.matmul), the kit's
Triton kernel (the last rung of bwkit.gemm.LADDER, fixed 128x256x64 tiles) and the kit's CuTe DSL tcgen05 kernel
(bwkit.cute_gemm; needs nvidia-cutlass-dsl and sm_100a, otherwise its rows say why) at bwkit.efficiency's
TABLE_SHAPES: a calibration shape (8192^3, which fits the model's one free parameter, `sustained`, per kernel),
the seed's 16384x17290x16384, CUTLASS's 16384x17920x16384 and 8192x768x8192 (a half-empty last wave).
Timing: bwkit.bench.time_fn (CUDA events, warm-up, L2 flushed before each rep, median of --reps).

Each row prints when it is measured (kernel, shape, measured TFLOP/s, % of the dense datasheet peak, predicted %
of peak, error in points) and the JSON (results/gpu_check/gpu_check_near_peak.json) is rewritten; no new row starts
once the budget (--budget, env BWKIT_CHECK_BUDGET_S, default 40 s) is spent. Target of lab 06: |error| <= 5
points on every non-calibration row of the kit's kernels. Needs only torch and triton (no cutlass).
"""

from __future__ import annotations

import argparse
import sys

from gpu_check_util import Check, parse_shapes

COLUMNS = ["kernel", "shape", "TFLOP/s", "% peak", "predicted %", "error pts", "status"]


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shapes", type=parse_shapes, default=None, help="comma-separated MxNxK; the first calibrates the "
                   "model (default bwkit.efficiency.TABLE_SHAPES)")
    p.add_argument("--kernels", default="cublas,triton,cute", help="subset of cublas,triton,cute")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions per row (median reported)")
    p.add_argument("--warmup", type=int, default=5)


def _row(chk: Check, r, fake: bool) -> None:
    """One result of `efficiency.measure_table` as a table row."""
    if isinstance(r, dict):            # a kernel that could not run: its status says why
        s = r["shape"]
        chk.row(fake=False, kernel=r["name"], shape=f"{s['M']}x{s['N']}x{s['K']}", status=r["extra"]["status"])
        return
    ex, s = r.extra, r.shape
    chk.row(fake=fake, kernel=r.name, shape=f"{s['M']}x{s['N']}x{s['K']}", **{
        "TFLOP/s": r.tflops, "% peak": r.pct_peak, "predicted %": ex.get("predicted_pct"),
        "error pts": ex.get("error_points"), "status": ("calibration " if ex.get("calibration") else
                                                         "above model, uncalibrated " if ex.get("above_model") else
                                                         "") + str(ex.get("status", ""))})


def measure(chk: Check, eff, shapes, kernels, warmup: int, reps: int, dry_spec: str | None) -> list:
    """`efficiency.measure_table`, with each row printed when it is done and no new row once the budget is spent.

    measure_table walks its (shape, kernel) jobs through `efficiency._progress` (its progress-bar hook) and builds
    each timed row with `bench.gemm_result`; wrapping both lets this script print a row as soon as it is complete
    and stop starting jobs when the budget is spent, without repeating the model's calibration logic.
    """
    from bwkit import bench

    made, shown = [], [0]
    orig_result, orig_progress = bench.gemm_result, eff._progress

    def result(*a, **kw):
        r = orig_result(*a, **kw)
        made.append(r)
        return r

    def progress(items, desc, enabled):
        for job in items:
            if chk.spent(8):
                chk.say(f"[budget: {chk.left():.0f} s left, {job[1]} at {'x'.join(map(str, job[0]))} and the rest "
                        "not started]")
                break
            yield job
            while shown[0] < len(made):                    # the previous job's row is complete now
                _row(chk, made[shown[0]], dry_spec is not None)
                shown[0] += 1

    bench.gemm_result, eff._progress = result, progress
    try:
        rows = eff.measure_table(shapes, kernels, warmup=warmup, reps=reps, progress=True, dry_run_spec=dry_spec)
    finally:
        bench.gemm_result, eff._progress = orig_result, orig_progress
    for r in made[shown[0]:]:
        _row(chk, r, dry_spec is not None)
    for r in rows:
        if isinstance(r, dict):
            _row(chk, r, False)
    return rows


def main(argv: list[str] | None = None) -> int:
    chk = Check("gpu_check_near_peak", __doc__.splitlines()[0], default_budget_s=40, argv=argv, add_args=_args)
    try:
        import bwkit
        from bwkit import efficiency as eff
    except ImportError as e:
        return chk.skipped(f"torch and bwkit ({e})")
    a = chk.args
    kernels = [k.strip() for k in a.kernels.split(",") if k.strip()]
    bad = [k for k in kernels if k not in eff.KERNELS]
    if bad:
        print(f"unknown kernel(s) {bad}; choose from {', '.join(eff.KERNELS)}", file=sys.stderr)
        return 2
    rt = bwkit.setup(quiet=True)
    if chk.dry:
        chk.table(COLUMNS, "DRY RUN on the CPU path (Triton interpreter): tiny shapes, host-clock CPU timings: FAKE "
                  "as GPU data")
        measure(chk, eff, [(256, 256, 64), (128, 200, 64)], kernels, 0, 1, "B200")
        return chk.done()
    if not rt.has_gpu:
        return chk.skipped("a CUDA GPU (the model itself needs none: see lab 06)")
    import torch
    import triton

    from bwkit import hw

    chk.say(f"torch {torch.__version__} (CUDA {torch.version.cuda}), triton {triton.__version__}; {rt.describe()}")
    spec = hw.spec_for_device(rt.gpu_name, rt.memory_gib, rt.sm_count)
    if spec is None:
        return chk.skipped(f"a GPU in bwkit.hw.SPECS ({rt.gpu_name} has no datasheet peak to compare with)")
    chk.say(f"peak used for % of peak: {spec.name} bf16 {spec.peak_tflops['bf16']:,.0f} TFLOP/s dense "
            f"({spec.sources['peak_tflops']}); model SMs = {rt.sm_count}")
    chk.table(COLUMNS, f"near-peak table on {rt.gpu_name} (first shape calibrates `sustained`)")
    rows = measure(chk, eff, a.shapes or list(eff.TABLE_SHAPES), kernels, a.warmup, a.reps, None)
    errs = [r.extra["error_points"] for r in rows if hasattr(r, "extra") and r.extra.get("error_points") is not None
            and not r.extra.get("calibration") and r.extra.get("kernel") in ("triton", "cute")]
    if errs:
        ok = sum(abs(e) <= 5 for e in errs)
        chk.say(f"kit kernels, non-calibration rows: {ok} of {len(errs)} within 5 points of the model (largest "
                f"|error| {max(abs(e) for e in errs):.1f} points)")
    else:
        chk.say("no non-calibration row of the kit's kernels was measured: the 5-point target is not checked")
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
