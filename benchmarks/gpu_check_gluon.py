"""GPU check for lab 09: the kit's Gluon GEMM ladder (`bwkit.gluon_gemm`) on a datacenter Blackwell GPU (B200).

    python benchmarks/gpu_check_gluon.py             # ~35 s on a B200 (gpu_check.py's share); elsewhere skipped
    python benchmarks/gpu_check_gluon.py --dry-run   # any machine: compiles every step, builds the TMA descriptors
                                                     # on CPU tensors and prints the plan; runs and times nothing

1. Correctness: steps sync / pipelined / ws (`gg.matmul`) in bf16 and fp16 against an FP32 torch matmul at small
   and ragged shapes (TMA zero-fills and clips the edges), and step nvfp4 (`gg.matmul_nvfp4`) against an FP32
   matmul of the same FP4 values and scales (`bwkit.formats`). On a Hopper GPU (sm_90a) the wgmma step instead.
2. Speed: step ws (Hopper: wgmma) and cuBLAS (`a @ b.t()`) in bf16 at 8192^3, both timed in this run with CUDA
   events (`bwkit.bench.time_fn`: warm-up, L2 flushed, median). Target (lab 09): ws >= 0.8x cuBLAS.
Rows print as they finish; JSON (results/gpu_check/gpu_check_gluon.json) is rewritten after each; no new row once
the budget (--budget, env BWKIT_CHECK_BUDGET_S, default 35 s; its author estimated 120 s for every shape) is spent:
the first shape of each dtype, the timing, NVFP4, then the other shapes. Needs the Gluon API that bwkit.gluon_gemm
is written for (triton 3.9); elsewhere "skipped: needs ...".
Exit status: 1 when a correctness check fails (or, with --strict, when the target is missed); else 0.
"""

from __future__ import annotations

import sys

from gpu_check_util import DENSE_TOL, Check, check_dense, check_nvfp4

TARGET = 0.8
CHECK_SHAPES = [(128, 256, 64), (256, 512, 192), (1024, 768, 4096), (200, 300, 136), (384, 1280, 320)]
NVFP4_SHAPES = [(128, 128, 256), (256, 384, 512), (1024, 1024, 2048)]
TIME_SHAPE = (8192, 8192, 8192)
COLUMNS = ["step", "dtype", "shape", "rel err", "tol", "ok", "TFLOP/s", "x cuBLAS"]


def gpu_reason() -> str | None:
    """None when this machine can run the ladder (sm_100a, or sm_90a for wgmma), else why not."""
    from bwkit.kit.runtime import gpu_missing

    return gpu_missing((9, 10), "the ladder needs tcgen05/TMEM (sm_100a: B200, GB200), its wgmma variant Hopper "
                                "(sm_90a)")


def dry_run(chk: Check, gg) -> int:
    """Compile every step and build each step's host descriptors on CPU tensors; nothing is launched or timed."""
    import torch

    chk.say("gpu_check_gluon: DRY RUN: compiling and building descriptors only; nothing runs, nothing is timed")
    kernels = {name: gg.compile_step(name) for name in gg.STEPS}
    chk.say(gg.facts_table(kernels))
    for name, step in gg.STEPS.items():
        c = step.config
        if name == "nvfp4":
            M, N, K = NVFP4_SHAPES[1]
            t = {"a_desc": torch.zeros(M, K // 2, dtype=torch.uint8),
                 "b_desc": torch.zeros(N, K // 2, dtype=torch.uint8),
                 "sfa_desc": torch.zeros(1, M // 128, K // 64, 2, 256, dtype=torch.float8_e4m3fn),
                 "sfb_desc": torch.zeros(1, N // 128, K // 64, 2, 256, dtype=torch.float8_e4m3fn),
                 "c_desc": torch.zeros(M, N, dtype=torch.bfloat16)}
        else:
            M, N, K = CHECK_SHAPES[1]
            t = {"a_desc": torch.zeros(M, K, dtype=torch.bfloat16),
                 "b_desc": torch.zeros(N, K, dtype=torch.bfloat16),
                 "c_desc": torch.zeros(M, N, dtype=torch.bfloat16)}
        descs = gg.make_descriptors(name, c, "bf16", t)
        blocks = ", ".join(f"{n}{list(d.block_shape)}" for n, d in descs.items())
        chk.say(f"{name:10s} {step.target}: descriptors for {M}x{N}x{K}: {blocks}")
    chk.table(COLUMNS, "the rows a real run prints (DRY RUN: FAKE numbers)")
    for step in ("sync", "pipelined", "ws"):
        chk.row(step=step, dtype="bf16", shape="x".join(map(str, CHECK_SHAPES[0])), **{"rel err": 0.0, "tol": "8e-3"})
    chk.row(step="ws", dtype="bf16", shape="x".join(map(str, TIME_SHAPE)), **{"TFLOP/s": 1800.0, "x cuBLAS": 0.9})
    return chk.done()


def _check_dense(chk: Check, gg, steps: tuple[str, ...], shapes) -> bool:
    """Every step in `steps` on the same operands per shape and dtype (gpu_check_util.check_dense)."""
    gemms = {step: (lambda a, b, step=step: gg.matmul(a, b, step=step)) for step in steps}
    return check_dense(chk, gemms, shapes, column="step")


def time_best(chk: Check, gg, bench, step: str) -> float | None:
    """Time `step` and cuBLAS at TIME_SHAPE in bf16; return kit / cuBLAS."""
    import torch

    if chk.spent(8):
        chk.say("[budget spent: the timing was not started]")
        return None
    M, N, K = TIME_SHAPE
    a, b, cublas = bench.cublas_baseline(M, N, K, torch.bfloat16, name="cuBLAS a @ b.t()", warmup=3, reps=10)
    kit = bench.gemm_result(f"Gluon {step}", M, N, K,
                            bench.time_fn(lambda: gg.matmul(a, b, step=step), warmup=3, reps=10), precision="bf16")
    ratio = kit.tflops / cublas.tflops
    shape = "x".join(map(str, TIME_SHAPE))
    chk.row(step="cuBLAS", dtype="bf16", shape=shape, **{"TFLOP/s": cublas.tflops, "x cuBLAS": 1.0})
    chk.row(step=step, dtype="bf16", shape=shape, **{"TFLOP/s": kit.tflops, "x cuBLAS": ratio})
    return ratio


def _args(p) -> None:
    p.add_argument("--strict", action="store_true", help="exit 1 when the speed target is missed")


def main(argv: list[str] | None = None) -> int:
    chk = Check("gpu_check_gluon", __doc__.splitlines()[0], default_budget_s=35, argv=argv, add_args=_args)
    if not chk.dry:
        why = gpu_reason()
        if why:
            return chk.skipped(f"sm_100a or sm_90a: {why}. On a CPU, lab 09 compiles every step for sm_100a / "
                               "sm_90a and reads the PTX/SASS instead (tests/test_gluon_gemm.py; --dry-run here)")
    import bwkit

    bwkit.setup(quiet=True)
    try:
        from bwkit import gluon_gemm as gg
    except Exception as e:  # noqa: BLE001 - an older triton without this Gluon API: say so, exit 0
        return chk.skipped(f"the Gluon API bwkit.gluon_gemm is written for (triton 3.9; import failed: "
                           f"{type(e).__name__}: {str(e)[:160]})")
    if chk.dry:
        return dry_run(chk, gg)
    import torch

    from bwkit import bench

    torch.manual_seed(0)
    blackwell = torch.cuda.get_device_capability(0)[0] == 10
    steps = ("sync", "pipelined", "ws") if blackwell else ("wgmma",)
    chk.say(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    chk.table(COLUMNS, "Gluon ladder: correctness, then bf16 8192^3 vs cuBLAS")
    ok = _check_dense(chk, gg, steps, CHECK_SHAPES[:1])
    ratio = time_best(chk, gg, bench, "ws" if blackwell else "wgmma")
    if blackwell:
        ok &= check_nvfp4(chk, gg.matmul_nvfp4, NVFP4_SHAPES[:2], DENSE_TOL["bf16"], step="nvfp4", dtype="nvfp4")
    ok &= _check_dense(chk, gg, steps, CHECK_SHAPES[1:])
    if blackwell and ratio is not None:
        verdict = "✅ meets" if ratio >= TARGET else "❌ misses"
        chk.say(f"{verdict} the target: Gluon ws {ratio:.3f}x cuBLAS bf16 at 8192^3 (target >= {TARGET}x)")
    if not ok:
        chk.say("❌ a correctness check failed")
        return chk.done(1)
    return chk.done(1 if (chk.args.strict and blackwell and (ratio or 0) < TARGET) else 0)


if __name__ == "__main__":
    sys.exit(main())
