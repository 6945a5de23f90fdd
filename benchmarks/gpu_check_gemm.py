"""GPU check for lab 03: the Triton GEMM ladder vs cuBLAS in bf16 at 8192^3 and M=K=16384, N=17290.

    python benchmarks/gpu_check_gemm.py            # < 5 minutes on an H100/H200/B200; exits 0 without a GPU

Prints the versions, then one table (kernel, shape, TFLOP/s, x cuBLAS, % peak, relative error vs cuBLAS).
Every number is measured in this run with CUDA events (bwkit.bench.time_fn: warm-up, L2 flushed, median);
cuBLAS is `torch.matmul` on the same operands. B is `w.t()` of an (N, K) weight (the nn.Linear layout).
Speed target (issue 5): the best Triton step >= 0.9x cuBLAS at 8192^3. Uses only torch and triton.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

SHAPES = [(8192, 8192, 8192), (16384, 17290, 16384)]       # (M, N, K)
STEPS = ("grouped", "autotuned", "persistent_tma", "ws")
BUDGET_S = float(os.environ.get("BWKIT_GEMM_BUDGET_S", "270"))  # stop starting new kernels after this


def _kernels(a, b, gemm) -> dict:
    """name -> zero-argument callable, cuBLAS first."""
    import torch

    ks = {"cuBLAS (torch.matmul)": lambda: torch.matmul(a, b),
          "grouped (128x128x64)": lambda: gemm.matmul_grouped(a, b, BLOCK_M=128, BLOCK_N=128, BLOCK_K=64,
                                                              GROUP_M=8, num_warps=8, num_stages=3)}
    for s in STEPS[1:]:
        ks[s] = lambda s=s: gemm.ladder_step(s).wrapper(a, b)
    return ks


def _run_shape(M: int, N: int, K: int, t_start: float, bench, gemm) -> list[tuple]:
    """Check and time every kernel at one shape; rows (kernel, shape, TFLOP/s, x cuBLAS, % peak, err, wall s)."""
    import torch

    a = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(N, K, device="cuda", dtype=torch.bfloat16)
    b = w.t()
    ref = torch.matmul(a, b).float()
    rows, cublas = [], None
    for name, fn in _kernels(a, b, gemm).items():
        if time.perf_counter() - t_start > BUDGET_S:
            print(f"[time budget of {BUDGET_S} s spent: {name} at {M}x{N}x{K} skipped]")
            continue
        t0 = time.perf_counter()
        try:
            out = fn()                       # first call compiles (and autotunes)
            torch.cuda.synchronize()
            err = float(((out.float() - ref).norm() / ref.norm()).item())
            t = bench.time_fn(fn, warmup=5, reps=20)
        except Exception as e:               # report and go on: one broken step must not hide the others
            print(f"{name} at {M}x{N}x{K} failed: {type(e).__name__}: {str(e)[:300]}")
            continue
        r = bench.gemm_result(name, M, N, K, t, precision="bf16")
        if cublas is None:
            cublas = r.tflops
        rows.append((name, f"{M}x{N}x{K}", r.tflops, r.tflops / cublas, r.pct_peak, err,
                     time.perf_counter() - t0))
    return rows


def main() -> int:
    import torch
    import triton

    print(f"torch {torch.__version__}, triton {triton.__version__}, CUDA runtime {torch.version.cuda}")
    if not torch.cuda.is_available():
        print("No CUDA GPU here: nothing to time. Run this script on an H100/H200/B200 (exit 0).")
        return 0
    import bwkit

    rt = bwkit.setup(quiet=True)
    print(rt.describe())
    if not rt.can_time:
        print("The Triton interpreter is forced (TRITON_INTERPRET set): unset it to time kernels (exit 0).")
        return 0
    from bwkit import bench, gemm

    t_start = time.perf_counter()
    rows = []
    for M, N, K in SHAPES:
        rows += _run_shape(M, N, K, t_start, bench, gemm)
        torch.cuda.empty_cache()
    print()
    print(f"bf16 GEMM on {torch.cuda.get_device_name(0)} (CUDA events, median of 20, L2 flushed)")
    print(f"{'kernel':<24} {'shape':<18} {'TFLOP/s':>8} {'x cuBLAS':>9} {'% peak':>7} {'rel err':>8} {'wall s':>7}")
    for name, shape, tf, x, pct, err, wall in rows:
        p = f"{pct:.0f}%" if pct is not None else "n/a"
        print(f"{name:<24} {shape:<18} {tf:>8.1f} {x:>9.2f} {p:>7} {err:>8.1e} {wall:>7.1f}")
    best = max((x for name, shape, _, x, *_ in rows if shape == "8192x8192x8192" and "cuBLAS" not in name),
               default=None)
    if best is not None:
        verdict = "meets" if best >= 0.9 else "misses"
        print(f"\nbest Triton step at 8192^3: {best:.2f}x cuBLAS ({verdict} the 0.9x target)")
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
