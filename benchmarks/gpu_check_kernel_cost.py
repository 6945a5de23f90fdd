"""Measure the fixed cost of one dependent decode-like kernel on this GPU (lab 08's `kernel_s`).

    PYTHONPATH=lib python benchmarks/gpu_check_kernel_cost.py

Lab 08's model charges every dependent kernel of a decode step a fixed cost beyond its ideal bandwidth time
(launch, ramp-up, tail), derived from published figures (6.5 us from an H100 measurement for Hopper, 8.3 us from
TensorRT-LLM's B200 batch-1 run for Blackwell). This measures it directly: a chain of
64 dependent batch-1 GEMVs, each reading its own bf16 weight matrix (so nothing is served from L2), captured in a
CUDA graph and replayed; per kernel, the time beyond `bytes / copy bandwidth` (copy bandwidth measured in the same
run) is the fixed cost. Prints one table and saves JSON to results/. Without a GPU: says so and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from bwkit import bench, perfmodel  # noqa: E402

# The model's per-kernel costs, read from bwkit so that this script and lab 08 cannot disagree.
MODEL_US = f"{perfmodel.Factors().kernel_s * 1e6:.1f} us Hopper, {perfmodel.KERNEL_S_B200 * 1e6:.2f} us B200"

CHAIN = 64
SIZES_MB = (8, 32, 64)


def _copy_bandwidth() -> float:
    """Device-to-device copy bandwidth in bytes/s (read + write), 1 GiB buffers, CUDA events."""
    x = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(10):
        y.copy_(x)
    e.record()
    torch.cuda.synchronize()
    return 2 * x.numel() * 10 / (s.elapsed_time(e) * 1e-3)


def _chain_time(n_dim: int) -> float:
    """Seconds per kernel of CHAIN dependent x @ W_i GEMVs (batch 1, bf16, n_dim x n_dim weights)."""
    ws = [torch.randn(n_dim, n_dim, device="cuda", dtype=torch.bfloat16) / n_dim**0.5 for _ in range(CHAIN)]
    x = torch.randn(1, n_dim, device="cuda", dtype=torch.bfloat16)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture, as torch asks
        for _ in range(2):
            y = x
            for w in ws:
                y = y @ w
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y = x
        for w in ws:
            y = y @ w
    for _ in range(3):
        g.replay()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 20
    s.record()
    for _ in range(reps):
        g.replay()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) * 1e-3 / (reps * CHAIN)


def main() -> int:
    """Run the measurement (GPU only) and print the table."""
    if not torch.cuda.is_available():
        print(f"gpu_check_kernel_cost: no CUDA GPU here; nothing measured (lab 08 keeps its derived figures: "
              f"{MODEL_US})")
        return 0
    name = torch.cuda.get_device_name(0)
    print(f"{name} | torch {torch.__version__} | CUDA {torch.version.cuda}")
    bw = _copy_bandwidth()
    print(f"device copy bandwidth (measured): {bw / 1e12:.2f} TB/s")
    print(f"{'weights/kernel':>15}{'us/kernel':>11}{'ideal us':>10}{'fixed us':>10}")
    rows = []
    for mb in SIZES_MB:
        n_dim = int((mb * 2**20 / 2) ** 0.5)
        t = _chain_time(n_dim)
        ideal = n_dim * n_dim * 2 / bw
        rows.append({"weights_mb": mb, "n": n_dim, "s_per_kernel": t, "ideal_s": ideal, "fixed_s": t - ideal})
        print(f"{mb:>12} MB{t * 1e6:>11.2f}{ideal * 1e6:>10.2f}{(t - ideal) * 1e6:>10.2f}")
    print(f"lab 08 uses {MODEL_US} per kernel (derived from an H100 measurement and from TensorRT-LLM blog 1's "
          f"B200 run); compare with the 'fixed us' column")

    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_cost_{name.replace(' ', '_')}.json"
    bench.save_json([{"name": "dependent bf16 GEMV chain (CUDA graph)", "copy_bw_Bps": bw, "rows": rows}], out)
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
