"""GPU check for lab 05: the kit's CuTe DSL tcgen05 GEMMs (dense BF16 and NVFP4) on a datacenter Blackwell GPU.

    python benchmarks/gpu_check_cute.py            # ~25 s on a B200; elsewhere "skipped: needs ...", exit 0
    python benchmarks/gpu_check_cute.py --sweep    # also try other tile widths / pipeline depths at 8192^3
    python benchmarks/gpu_check_cute.py --dry-run  # any machine: the rows with FAKE numbers

1. Correctness: `bwkit.cute_gemm.gemm_tcgen05` (bf16 and fp16) against torch at small and odd-multiple shapes,
   and `gemm_nvfp4` against an FP32 matmul of the same FP4 values and scales (from `bwkit.formats`).
2. Speed: the kit's dense kernel vs cuBLAS (`torch.matmul(a, b.t())`) in bf16 at 8192^3, both timed in this run
   with CUDA events (bwkit.bench.time_fn: warm-up, L2 flushed, median). Target (issue 6): >= 0.9x cuBLAS.
Rows print as they finish, JSON (results/gpu_check/gpu_check_cute.json) is rewritten after each; no new row once
the budget (--budget, env BWKIT_CHECK_BUDGET_S, default 25 s) is spent: the three compiles (dense bf16, fp16,
NVFP4) come first, then one shape per dtype, then the timing, then the other shapes.
Exit status: 1 when a correctness check fails (or, with --strict, when the speed target is missed); else 0.
Needs nvidia-cutlass-dsl (not on every GPU image: then "skipped: needs nvidia-cutlass-dsl").
"""

from __future__ import annotations

import importlib.util
import sys

from gpu_check_util import DENSE_TOL, Check, check_dense, check_nvfp4

TARGET = 0.9
CHECK_SHAPES = [(128, 256, 64), (256, 512, 192), (1024, 768, 4096), (384, 1280, 320)]
NVFP4_SHAPES = [(128, 128, 256), (256, 384, 512), (1024, 1024, 2048)]
COLUMNS = ["kernel", "dtype", "shape", "rel err", "tol", "ok", "TFLOP/s", "x cuBLAS"]


def _gpu_reason() -> str | None:
    """None when this machine can run sm_100a kernels, else why not."""
    from bwkit.kit.runtime import gpu_missing

    return gpu_missing((10,), "the kernels use tcgen05/TMEM, which only datacenter Blackwell (sm_100a: B200, GB200) "
                              "has. On Hopper, lab 05 compiles them for sm_100a and reads the PTX.")


def _check_dense(chk: Check, cg, shapes) -> bool:
    return check_dense(chk, cg.gemm_tcgen05, shapes, kernel="dense tcgen05")


def _check_nvfp4(chk: Check, cg, shapes) -> bool:
    return check_nvfp4(chk, cg.gemm_nvfp4, shapes, DENSE_TOL["bf16"], kernel="nvfp4 (vs FP32 of the same FP4 values)",
                       dtype="nvfp4")


def time_dense(chk: Check, cg, bench, sweep: bool) -> float | None:
    """Time cuBLAS and the kit's kernel at 8192^3 (bf16); return the best ratio kit / cuBLAS."""
    import torch

    M = N = K = 8192
    a, b, cublas = bench.cublas_baseline(M, N, K, torch.bfloat16, name="cuBLAS torch.matmul(a, b.t())", warmup=3,
                                         reps=10)
    chk.row(kernel="cuBLAS torch.matmul(a, b.t())", dtype="bf16", shape="8192^3",
            **{"TFLOP/s": cublas.tflops, "x cuBLAS": 1.0})
    configs = [cg.GemmConfig()]
    if sweep:
        configs += [cg.GemmConfig(TILE_N=256, STAGES=3), cg.GemmConfig(TILE_N=128, STAGES=4),
                    cg.GemmConfig(TILE_N=128, STAGES=6), cg.GemmConfig(TILE_N=256, EPI_N=64)]
    best = None
    ref = torch.matmul(a, b.t()).float()
    for cfg in configs:
        if chk.spent(4):
            chk.say(f"[budget spent: {cfg} not timed]")
            continue
        out = cg.gemm_tcgen05(a, b, cfg)
        rel = bench.relative_error(out, ref)
        r = bench.gemm_result(f"kit tcgen05 {cfg.TILE_M}x{cfg.TILE_N}x{cfg.TILE_K} s{cfg.STAGES}", M, N, K,
                              bench.time_fn(lambda cfg=cfg: cg.gemm_tcgen05(a, b, cfg), warmup=3, reps=10),
                              precision="bf16")
        ratio = r.tflops / cublas.tflops
        best = max(best or 0.0, ratio)
        chk.row(kernel=r.name, dtype="bf16", shape="8192^3", **{"rel err": f"{rel:.1e}", "TFLOP/s": r.tflops,
                                                               "x cuBLAS": ratio})
    if best is not None:
        verdict = "✅ meets" if best >= TARGET else "❌ misses"
        chk.say(f"{verdict} the target: best kit kernel {best:.3f}x cuBLAS bf16 at 8192^3 (target >= {TARGET}x)")
    return best


def _args(p) -> None:
    p.add_argument("--sweep", action="store_true", help="also time other tile/stage configurations")
    p.add_argument("--strict", action="store_true", help="exit 1 when the speed target is missed")


def main(argv: list[str] | None = None) -> int:
    chk = Check("gpu_check_cute", __doc__.splitlines()[0], default_budget_s=25, argv=argv, add_args=_args)
    if chk.dry:
        chk.table(COLUMNS, "CuTe DSL GEMMs (DRY RUN: FAKE numbers)")
        for M, N, K in CHECK_SHAPES[:2]:
            chk.row(kernel="dense tcgen05", dtype="bf16", shape=f"{M}x{N}x{K}", **{"rel err": 0.0, "tol": "8e-3"})
        chk.row(kernel="kit tcgen05 128x256x64 s4", dtype="bf16", shape="8192^3", **{"TFLOP/s": 2000.0,
                                                                                      "x cuBLAS": 1.0})
        return chk.done()
    if importlib.util.find_spec("cutlass") is None:
        return chk.skipped("nvidia-cutlass-dsl (the CuTe DSL is not installed here; lab 05 compiles on any machine "
                           "that has it)")
    why = _gpu_reason()
    if why:
        return chk.skipped(f"datacenter Blackwell (sm_100a): {why}")
    import bwkit

    bwkit.setup(quiet=True)
    import torch

    from bwkit import bench
    from bwkit import cute_gemm as cg

    torch.manual_seed(0)
    chk.say(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    chk.table(COLUMNS, "CuTe DSL GEMMs: correctness, then bf16 8192^3 vs cuBLAS")
    ok = _check_dense(chk, cg, CHECK_SHAPES[:1]) & _check_nvfp4(chk, cg, NVFP4_SHAPES[:1])
    ratio = time_dense(chk, cg, bench, chk.args.sweep)
    ok &= _check_dense(chk, cg, CHECK_SHAPES[1:]) & _check_nvfp4(chk, cg, NVFP4_SHAPES[1:])
    if not ok:
        chk.say("❌ a correctness check failed")
        return chk.done(1)
    return chk.done(1 if (chk.args.strict and (ratio or 0) < TARGET) else 0)


if __name__ == "__main__":
    sys.exit(main())
