"""Measure the fixed cost of one dependent decode-like kernel on this GPU (lab 08's `kernel_s`).

    PYTHONPATH=lib python benchmarks/gpu_check_kernel_cost.py          # ~10 s on an H200 / B200
    python benchmarks/gpu_check_kernel_cost.py --dry-run               # any machine: FAKE rows, JSON in a temp dir

Lab 08's model charges every dependent kernel of a decode step a fixed cost beyond its ideal bandwidth time
(launch, ramp-up, tail), derived from published figures (6.5 us from an H100 measurement for Hopper, 8.3 us from
TensorRT-LLM's B200 batch-1 run for Blackwell). This measures it directly: a chain of
64 dependent batch-1 GEMVs, each reading its own bf16 weight matrix (so nothing is served from L2), captured in a
CUDA graph and replayed; per kernel, the time beyond `bytes / copy bandwidth` (copy bandwidth measured in the same
run) is the fixed cost. Prints each row as it is measured and rewrites results/gpu_check/gpu_check_kernel_cost.json
after each (also the older results/kernel_cost_<gpu>.json); no new row once the budget (--budget, env
BWKIT_CHECK_BUDGET_S, default 15 s) is spent. Without a GPU: "skipped: needs a CUDA GPU", exit 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gpu_check_util import Check

COLUMNS = ["weights/kernel MB", "us/kernel", "ideal us", "fixed us"]

CHAIN = 64
SIZES_MB = (8, 32, 64)


def _copy_bandwidth() -> float:
    """Device-to-device copy bandwidth in bytes/s (read + write), 1 GiB buffers, CUDA events."""
    import torch

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
    import torch

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


def _model_us() -> str:
    """The model's per-kernel costs, read from bwkit so that this script and lab 08 cannot disagree."""
    from bwkit import perfmodel

    return f"{perfmodel.Factors().kernel_s * 1e6:.1f} us Hopper, {perfmodel.KERNEL_S_B200 * 1e6:.2f} us B200"


def main(argv: list[str] | None = None) -> int:
    """Run the measurement (GPU only), one row per weight size."""
    chk = Check("gpu_check_kernel_cost", __doc__.splitlines()[0], default_budget_s=15, argv=argv)
    if chk.dry:
        chk.table(COLUMNS, f"dependent bf16 GEMV chain (DRY RUN: FAKE); lab 08 uses {_model_us()}")
        for mb in SIZES_MB:
            chk.row(**{"weights/kernel MB": mb, "us/kernel": 10.0, "ideal us": 2.0, "fixed us": 8.0})
        return chk.done()
    try:
        import torch
    except ImportError as e:
        return chk.skipped(f"torch ({e})")
    if not torch.cuda.is_available():
        return chk.skipped(f"a CUDA GPU (lab 08 keeps its derived figures: {_model_us()})")
    name = torch.cuda.get_device_name(0)
    chk.say(f"{name} | torch {torch.__version__} | CUDA {torch.version.cuda}")
    bw = _copy_bandwidth()
    chk.say(f"device copy bandwidth (measured): {bw / 1e12:.2f} TB/s")
    chk.table(COLUMNS, "dependent bf16 GEMV chain in a CUDA graph (measured)")
    rows = []
    for mb in SIZES_MB:
        if chk.spent(3):
            chk.say(f"[budget spent: {mb} MB not started]")
            continue
        n_dim = int((mb * 2**20 / 2) ** 0.5)
        t = _chain_time(n_dim)
        ideal = n_dim * n_dim * 2 / bw
        rows.append({"weights_mb": mb, "n": n_dim, "s_per_kernel": t, "ideal_s": ideal, "fixed_s": t - ideal})
        chk.row(**{"weights/kernel MB": mb, "us/kernel": t * 1e6, "ideal us": ideal * 1e6,
                   "fixed us": (t - ideal) * 1e6})
    chk.say(f"lab 08 uses {_model_us()} per kernel (derived from an H100 measurement and from TensorRT-LLM blog 1's "
            "B200 run); compare with the 'fixed us' column")
    from bwkit import bench

    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_cost_{name.replace(' ', '_')}.json"
    bench.save_json([{"name": "dependent bf16 GEMV chain (CUDA graph)", "copy_bw_Bps": bw, "rows": rows}], out)
    chk.say(f"saved {out}")
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
