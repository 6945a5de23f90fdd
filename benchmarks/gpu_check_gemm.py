"""GPU check for labs 03 and 04: the Triton GEMM ladder vs cuBLAS (bf16, fp16, fp32 at 8192^3; bf16 at the seed's
16384 x 17290 x 16384) and, on datacenter Blackwell, the block-scaled NVFP4 GEMM vs cuBLASLt.

    python benchmarks/gpu_check_gemm.py              # ~85 s on an H200 / B200; without a GPU: skipped, exit 0
    python benchmarks/gpu_check_gemm.py --dry-run    # any machine: the rows with FAKE timings, JSON in a temp dir

Rows print as they finish and the JSON (results/gpu_check/gpu_check_gemm.json) is rewritten after each one, so a
timeout loses nothing done. The most telling rows come first (bf16 8192^3: cuBLAS and the autotuned steps), then
the seed shape (the tuned winners' configs), fp16, fp32 (TF32 on both sides) with the plan's first config, then
NVFP4. No new row starts once the budget (--budget, env BWKIT_CHECK_BUDGET_S, default 85 s) is spent. Timing:
CUDA events, L2 flushed, only the GPU work in the timed region (`gpu_check_util.time_kernel`); the first call of
each kernel (compile, autotune) is outside it. B is `w.t()` of an (N, K) weight (nn.Linear). Speed target (issue 5):
the best Triton step >= 0.9x cuBLAS at 8192^3 bf16. Imports torch, triton and bwkit (lib/) only.
"""

from __future__ import annotations

import sys

from gpu_check_util import Check, not_native, time_kernel

SQUARE, SEED = (8192, 8192, 8192), (16384, 17290, 16384)
TUNED = ("ws", "persistent_tma", "autotuned")
COLUMNS = ["kernel", "dtype", "shape", "config", "ms", "TFLOP/s", "x cuBLAS", "% peak", "rel err", "wall s"]


def plan_rows() -> list[tuple[str, str, tuple[int, int, int], str]]:
    """(kernel, dtype, shape, how) in the order they run; how: 'tune' (autotuner), 'plan' (the plan's first
    config), 'winner' (the tuned bf16 8192^3 winner), 'fixed' (cuBLAS / grouped)."""
    rows = [("cuBLAS", "bf16", SQUARE, "fixed")] + [(s, "bf16", SQUARE, "tune") for s in TUNED]
    rows += [("grouped", "bf16", SQUARE, "plan"), ("cuBLAS", "bf16", SEED, "fixed")]
    rows += [(s, "bf16", SEED, "winner") for s in ("ws", "persistent_tma")]
    for dt in ("fp16", "fp32"):
        rows += [("cuBLAS", dt, SQUARE, "fixed")] + [(s, dt, SQUARE, "plan") for s in ("ws", "persistent_tma",
                                                                                      "grouped")]
    return rows


def _shape(s) -> str:
    return "x".join(map(str, s))


def dry_run(chk: Check) -> int:
    from bwkit import gemm

    for t in ("sm_90a", "sm_100a"):                        # the plans the real run reads exist for both GPUs
        for dt in ("bf16", "fp16", "fp32"):
            for s in (*TUNED, "grouped"):
                assert gemm.launch_configs(s, dt, t)
    chk.table(COLUMNS, "ladder vs cuBLAS (DRY RUN: FAKE timings)")
    for kernel, dt, shape, how in plan_rows():
        if chk.spent():
            chk.say(f"[budget spent: {kernel} {dt} {_shape(shape)} not started]")
            continue
        M, N, K = shape
        ms = 1.0 if kernel == "cuBLAS" else 1.1
        chk.row(kernel=kernel, dtype=dt, shape=_shape(shape), config=how, ms=ms, **{
            "TFLOP/s": 2 * M * N * K / ms / 1e9, "x cuBLAS": 1.0 / (ms / 1.0), "% peak": None, "rel err": 0.0,
            "wall s": 0.0})
    chk.table(COLUMNS, "NVFP4 (DRY RUN: FAKE timings; real run: datacenter Blackwell only)")
    for name in ("bf16 torch.matmul", "nvfp4 triton (tl.dot_scaled)", "nvfp4 cuBLASLt (_scaled_mm)"):
        chk.row(kernel=name, dtype="fp4", shape=_shape(SQUARE), config="fixed", ms=0.5, **{"TFLOP/s": 2200.0})
    return chk.done()


def _operands(dt, shape, torch):
    M, N, K = shape
    a = torch.randn(M, K, device="cuda").to(dt)
    w = torch.randn(N, K, device="cuda").to(dt)
    return a, w.t()


def _call(kernel: str, how: str, a, b, gemm, winners: dict, torch):
    """A zero-argument function computing a @ b with `kernel` ('cuBLAS' or a ladder step) and its config text."""
    if kernel == "cuBLAS":
        return (lambda: torch.matmul(a, b)), "-"
    step = gemm.ladder_step(kernel)
    target = gemm.plan_target(tuple(torch.cuda.get_device_capability()))
    if how == "tune":
        return (lambda: step.wrapper(a, b)), "autotuned"
    if how == "winner" and kernel in winners:
        cfg = winners[kernel]
    else:
        c = gemm.launch_configs(kernel, a.dtype, target)[0]
        cfg = {**c.kwargs, "num_warps": c.num_warps, "num_stages": c.num_stages}
    text = f"{cfg['BLOCK_M']}x{cfg['BLOCK_N']}x{cfg['BLOCK_K']} s{cfg['num_stages']} w{cfg['num_warps']}"
    if kernel == "grouped":
        return (lambda: gemm.matmul_grouped(a, b, **cfg)), text
    return (lambda: step.wrapper(a, b, config=cfg)), text


def _winner(step: str, dt, gemm, torch) -> dict | None:
    """The config the autotuner chose for `step` (bf16, this GPU), as a wrapper `config`."""
    target = gemm.plan_target(tuple(torch.cuda.get_device_capability()))
    tuned = gemm._TUNED.get((step, dt, target))
    best = getattr(tuned, "best_config", None)
    return None if best is None else {**best.kwargs, "num_warps": best.num_warps, "num_stages": best.num_stages}


def _pct(r, spec, precision: str) -> float | None:
    """`r`'s TFLOP/s as a % of `spec`'s dense peak at `precision`; None without a spec or such a peak."""
    from bwkit import bench

    return bench.percent_of_peak(r.tflops, spec.name, precision) if spec and precision in spec.peak_tflops else None


def run_ladder(chk: Check, spec, torch, gemm) -> float | None:
    """Every row of `plan_rows`, within the budget; returns the best Triton x cuBLAS at 8192^3 bf16."""
    import time

    from bwkit import bench
    from bwkit.gemm_bench import PEAK_PRECISION

    dts = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    torch.backends.cuda.matmul.allow_tf32 = True       # cuBLAS fp32 in TF32, like tl.dot's default
    chk.table(COLUMNS, f"ladder vs cuBLAS on {torch.cuda.get_device_name(0)} (B = w.t(); fp32 = TF32 on both sides)")
    cublas, winners, best = {}, {}, None
    ops_key, ops = None, None
    for kernel, dt, shape, how in plan_rows():
        need = 25 if how == "tune" else 6
        if chk.spent(need):
            chk.say(f"[budget: {chk.left():.0f} s left, {kernel} {dt} {_shape(shape)} ({how}) not started]")
            continue
        t0 = time.perf_counter()
        if ops_key != (dt, shape):
            ops, ops_key = None, None
            torch.cuda.empty_cache()
            ops, ops_key = _operands(dts[dt], shape, torch), (dt, shape)
            ref = torch.matmul(*ops).float()
        a, b = ops
        try:
            fn, cfg = _call(kernel, how, a, b, gemm, winners, torch)
            out = fn()                                  # compile / autotune: outside the timed region
            torch.cuda.synchronize()
            err = bench.relative_error(out, ref)
            del out
            t = time_kernel(fn)
        except Exception as e:  # noqa: BLE001 - one broken step must not hide the others
            chk.say(f"{kernel} {dt} {_shape(shape)}: failed: {type(e).__name__}: {str(e)[:300]}")
            continue
        if how == "tune":
            winners[kernel] = _winner(kernel, dts[dt], gemm, torch)
            w = winners[kernel]
            cfg = "-" if w is None else f"tuned {w['BLOCK_M']}x{w['BLOCK_N']}x{w['BLOCK_K']} s{w['num_stages']} " \
                                        f"w{w['num_warps']}"
        r = bench.gemm_result(kernel, *shape, t, precision=PEAK_PRECISION[dt])
        if kernel == "cuBLAS":
            cublas[(dt, shape)] = r.tflops
        x = r.tflops / cublas[(dt, shape)] if (dt, shape) in cublas else None
        if kernel != "cuBLAS" and dt == "bf16" and shape == SQUARE and x is not None:
            best = max(best or 0.0, x)
        chk.row(kernel=kernel, dtype=dt, shape=_shape(shape), config=cfg, ms=t.median_ms, **{
            "TFLOP/s": r.tflops, "x cuBLAS": x, "% peak": _pct(r, spec, r.precision), "rel err": f"{err:.1e}",
            "wall s": time.perf_counter() - t0})
    del ops
    torch.cuda.empty_cache()
    return best


def run_nvfp4(chk: Check, rt, torch) -> None:
    """NVFP4 at 8192^3 on datacenter Blackwell: bf16 cuBLAS, the Triton dot_scaled kernel, cuBLASLt _scaled_mm."""
    if not rt.is_blackwell_dc:
        chk.say(f"NVFP4 rows: skipped: needs datacenter Blackwell (sm_100a/sm_103a); this GPU is {rt.arch}")
        return
    if chk.spent(15):
        chk.say("[budget spent: NVFP4 rows not started]")
        return
    from bwkit import bench, gemm_bench

    n = SQUARE[0]
    fns, missing = gemm_bench.nvfp4_contenders(n)
    if missing:
        chk.say(f"nvfp4 cuBLASLt (_scaled_mm): skipped: {missing}")
    from bwkit import hw

    spec = hw.spec_for_device(rt.gpu_name, rt.memory_gib, rt.sm_count)
    chk.table(COLUMNS, "NVFP4 GEMM at 8192^3 (datacenter Blackwell)")
    for name, (fn, prec) in fns.items():
        if chk.spent(5):
            chk.say(f"[budget spent: {name} not started]")
            continue
        try:
            fn()
            torch.cuda.synchronize()
            t = time_kernel(fn)
        except Exception as e:  # noqa: BLE001
            chk.say(f"{name}: failed: {type(e).__name__}: {str(e)[:300]}")
            continue
        r = bench.gemm_result(name, n, n, n, t, precision=prec)
        chk.row(kernel=name, dtype=prec, shape=_shape(SQUARE), config="-", ms=t.median_ms,
                **{"TFLOP/s": r.tflops, "% peak": _pct(r, spec, prec)})


def main(argv: list[str] | None = None) -> int:
    chk = Check("gpu_check_gemm", __doc__.splitlines()[0], default_budget_s=85, argv=argv)
    if chk.dry:
        return dry_run(chk)
    try:
        import torch
    except ImportError as e:
        return chk.skipped(f"torch and triton ({e})")
    if not torch.cuda.is_available():
        return chk.skipped("a CUDA GPU (none is visible)")
    import bwkit

    rt = bwkit.setup(quiet=True)          # before `import triton`: it may switch the interpreter on
    try:
        import triton
    except ImportError as e:
        return chk.skipped(f"torch and triton ({e})")
    chk.say(f"torch {torch.__version__}, triton {triton.__version__}, CUDA runtime {torch.version.cuda}")
    chk.say(rt.describe())
    if not rt.can_time:
        return chk.skipped(not_native(rt))
    from bwkit import gemm, hw

    try:
        gemm.plan_target(rt.arch)
    except ValueError as e:
        return chk.skipped(f"a GPU with a kernel plan: {e}")
    spec = hw.spec_for_device(rt.gpu_name, rt.memory_gib, rt.sm_count)
    chk.meta.update(gpu=rt.gpu_name, arch=rt.arch, spec=spec.name if spec else None)
    best = run_ladder(chk, spec, torch, gemm)
    run_nvfp4(chk, rt, torch)
    if best is not None:
        chk.say(f"best Triton step at 8192^3 bf16: {best:.2f}x cuBLAS ({'meets' if best >= 0.9 else 'misses'} the "
                "0.9x target)")
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
