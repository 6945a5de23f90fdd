"""GPU check for lab 05: the kit's CuTe DSL tcgen05 GEMMs (dense BF16 and NVFP4) on a datacenter Blackwell GPU.

    python benchmarks/gpu_check_cute.py            # a few minutes on a B200; on anything else prints why, exits 0
    python benchmarks/gpu_check_cute.py --sweep    # also try other tile widths / pipeline depths at 8192^3

1. Correctness: `bwkit.cute_gemm.gemm_tcgen05` (bf16 and fp16) against torch at small and odd-multiple shapes,
   and `gemm_nvfp4` against an FP32 matmul of the same FP4 values and scales (from `bwkit.formats`).
2. Speed: the kit's dense kernel vs cuBLAS (`torch.matmul(a, b.t())`) in bf16 at 8192^3, both timed in this run
   with CUDA events (bwkit.bench.time_fn: warm-up, L2 flushed, median). Target (issue 6): >= 0.9x cuBLAS.
Exit status: 1 when a correctness check fails (or, with --strict, when the speed target is missed); else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

TARGET = 0.9
CHECK_SHAPES = [(128, 256, 64), (256, 512, 192), (1024, 768, 4096), (384, 1280, 320)]
NVFP4_SHAPES = [(128, 128, 256), (256, 384, 512), (1024, 1024, 2048)]


def _gpu_reason() -> str | None:
    """None when this machine can run sm_100a kernels, else why not."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible"
    major, minor = torch.cuda.get_device_capability(0)
    if major != 10:
        name = torch.cuda.get_device_name(0)
        return (f"{name} is sm_{major}{minor}; the kernels use tcgen05/TMEM, which only datacenter Blackwell "
                f"(sm_100a: B200, GB200) has. On Hopper, lab 05 compiles them for sm_100a and reads the PTX.")
    return None


def check_dense(cg) -> bool:
    import torch

    ok = True
    for dtype in (torch.bfloat16, torch.float16):
        for M, N, K in CHECK_SHAPES:
            a = torch.randn(M, K, device="cuda", dtype=dtype)
            b = torch.randn(N, K, device="cuda", dtype=dtype)
            ref = a.float() @ b.float().t()
            out = cg.gemm_tcgen05(a, b).float()
            torch.cuda.synchronize()
            rel = float(((out - ref).norm() / ref.norm()).item())
            tol = 8e-3 if dtype == torch.bfloat16 else 1e-3        # output rounding of bf16 / fp16
            good = rel < tol and bool(torch.isfinite(out).all())
            ok &= good
            print(f"{'✅' if good else '❌'} dense {str(dtype)[6:]} {M}x{N}x{K}: rel. error {rel:.2e} (tol {tol:g})")
    return ok


def check_nvfp4(cg) -> bool:
    import torch

    from bwkit import formats as F

    ok = True
    for M, N, K in NVFP4_SHAPES:
        x = torch.randn(M, K)
        w = torch.randn(N, K)
        qa, qb = F.quantize(x, "nvfp4"), F.quantize(w, "nvfp4")
        # reference: the FP4 values times their block scales, in FP32 (the tensor scales are applied outside)
        ea = (qa.element_values().view(M, K // 16, 16) * qa.scale_values().unsqueeze(-1)).view(M, K)
        eb = (qb.element_values().view(N, K // 16, 16) * qb.scale_values().unsqueeze(-1)).view(N, K)
        ref = ea @ eb.t()
        args = [F.pack_fp4(qa.codes), F.pack_fp4(qb.codes), F.to_blocked_scales(qa.scales),
                F.to_blocked_scales(qb.scales)]
        out = cg.gemm_nvfp4(*[t.contiguous().cuda() for t in args], M, N, K).float().cpu()
        rel = float(((out - ref).norm() / ref.norm()).item())
        good = rel < 8e-3 and bool(torch.isfinite(out).all())
        ok &= good
        print(f"{'✅' if good else '❌'} nvfp4 {M}x{N}x{K}: rel. error {rel:.2e} vs FP32 of the same FP4 values "
              f"(tol 8e-3, bf16 output)")
    return ok


def time_dense(cg, bench, sweep: bool) -> float:
    """Time cuBLAS and the kit's kernel at 8192^3 (bf16); return the best ratio kit / cuBLAS."""
    import torch

    M = N = K = 8192
    a = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(N, K, device="cuda", dtype=torch.bfloat16)
    cublas = bench.gemm_result("cuBLAS torch.matmul(a, b.t())", M, N, K,
                               bench.time_fn(lambda: torch.matmul(a, b.t())), precision="bf16")
    print(cublas.summary())
    configs = [cg.GemmConfig()]
    if sweep:
        configs += [cg.GemmConfig(TILE_N=256, STAGES=3), cg.GemmConfig(TILE_N=128, STAGES=4),
                    cg.GemmConfig(TILE_N=128, STAGES=6), cg.GemmConfig(TILE_N=256, EPI_N=64)]
    best = 0.0
    for cfg in configs:
        out = cg.gemm_tcgen05(a, b, cfg)
        ref = torch.matmul(a, b.t())
        rel = float(((out.float() - ref.float()).norm() / ref.float().norm()).item())
        r = bench.gemm_result(f"kit tcgen05 {cfg.TILE_M}x{cfg.TILE_N}x{cfg.TILE_K} s{cfg.STAGES}", M, N, K,
                              bench.time_fn(lambda cfg=cfg: cg.gemm_tcgen05(a, b, cfg)), precision="bf16")
        ratio = r.tflops / cublas.tflops
        best = max(best, ratio)
        print(f"{r.summary()}  -> {ratio:.3f}x cuBLAS (rel. diff vs cuBLAS {rel:.1e})")
    verdict = "✅ meets" if best >= TARGET else "❌ misses"
    print(f"{verdict} the target: best kit kernel {best:.3f}x cuBLAS bf16 at 8192^3 (target >= {TARGET}x)")
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweep", action="store_true", help="also time other tile/stage configurations")
    p.add_argument("--strict", action="store_true", help="exit 1 when the speed target is missed")
    args = p.parse_args()
    why = _gpu_reason()
    if why:
        print(f"gpu_check_cute: skipped: {why}")
        return 0
    import bwkit

    bwkit.setup(quiet=True)
    import torch

    from bwkit import bench
    from bwkit import cute_gemm as cg

    torch.manual_seed(0)
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    ok = check_dense(cg)
    ok &= check_nvfp4(cg)
    ratio = time_dense(cg, bench, args.sweep)
    if not ok:
        print("❌ a correctness check failed")
        return 1
    return 1 if (args.strict and ratio < TARGET) else 0


if __name__ == "__main__":
    sys.exit(main())
