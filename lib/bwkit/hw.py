"""Hardware spec table and roofline helpers. Taught in lab 00.

Every figure is dense (no 2:4 sparsity), per GPU, and carries its source in `GPUSpec.sources`. Vendors publish
many Tensor Core figures "with sparsity"; the dense figure is half of it, and the table says so where that is
how it was derived.

    >>> from bwkit import hw
    >>> hw.ridge_point("B200", "fp8")      # FLOP per byte at which B200 stops being bandwidth-bound
    562.5
"""

from __future__ import annotations

import math
import numbers
import os
import platform
import time
from dataclasses import dataclass, field

from bwkit.kit.args import as_names, check_number

__all__ = [
    "GPUSpec", "PRECISIONS", "SPECS", "get_spec", "list_gpus", "cpu_spec", "peak_flops", "spec_for_device",
    "ridge_point", "attainable_flops", "gemm_intensity", "plot_roofline",
]

PRECISIONS = ("fp4", "fp8", "bf16", "tf32")

_SRC_B200_PEAKS = ("NVIDIA Blackwell datasheet, HGX B200 column, per GPU with sparsity (18 PFLOP/s FP4, 9 FP8, "
                   "4.5 FP16/BF16, 2.2 TF32) halved for dense; TF32 taken as BF16 / 2 = 1,125 (the sheet rounds "
                   "2.25 to 2.2)")
_SRC_DGX_B200 = ("NVIDIA DGX B200 datasheet (8 GPUs: 72 PFLOP/s FP8 and 144 PFLOP/s FP4 with sparsity, "
                 "1,440 GB HBM3e, 64 TB/s) divided by 8")
_SRC_GB200 = ("NVIDIA GB200 NVL72 datasheet (72 GPUs: 1,440 PFLOP/s FP4, 720 FP8, 360 BF16, 180 TF32 with sparsity; "
              "13.4 TB HBM3e, 576 TB/s) divided by 72 and halved for dense")
_SRC_H100 = "NVIDIA H100 Tensor Core GPU datasheet, SXM5 column (dense = sparse figure / 2)"
_SRC_H100_PCIE = ("NVIDIA H100 Tensor Core GPU datasheet, PCIe column (80 GB HBM2e, 2.0 TB/s; dense = sparse figure "
                  "/ 2: 3,026 FP8, 1,513 BF16, 756 TF32 TFLOP/s with sparsity; NVLink bridge 600 GB/s)")
_SRC_HOPPER_WP_PCIE = "NVIDIA Hopper architecture whitepaper (H100 PCIe: 114 SMs; 228 KB shared memory per SM)"
_SRC_H200 = "NVIDIA H200 Tensor Core GPU datasheet, SXM column (dense = sparse figure / 2)"
_SRC_5090 = ("NVIDIA GeForce RTX 5090 product page (3,352 AI TOPS = FP4 with sparsity; 838 FP16 TFLOP/s with "
             "sparsity) halved for dense; FP8 (2x FP16) and TF32 (FP16 / 4) derived by the Tensor Core rate "
             "ratios, not read from the page. An UPPER BOUND for BF16/FP16 GEMMs with FP32 accumulation: GeForce parts "
             "have run FP32-accumulate Tensor Core math at half the FP16-accumulate rate, and the RTX Blackwell "
             "whitepaper's FP32-accumulate row is the figure to use once confirmed")
_SRC_SMEM = ("CUDA C++ Programming Guide, compute capabilities table (9.0 and 10.0: 228 KB shared memory per SM, "
             "227 KB per thread block)")
_SRC_B200_SMS = ("148 SMs: 'How to Scale Your Model' (jax-ml scaling book), chapter 'How to Think About GPUs', and "
                 "Chips and Cheese, 'Nvidia's B200: Keeping the CUDA Juggernaut Rolling' (74 enabled SMs on each "
                 "of two dies); NVIDIA's B200 datasheet gives no SM count. The primary check is a device query on a "
                 "B200 (multi_processor_count), which benchmarks/gpu_check.py prints")
_SRC_PTX_TMEM = "PTX ISA, tcgen05 Tensor Memory: 128 lanes x 512 columns x 32 bit per SM"
_SRC_HOPPER_WP = "NVIDIA Hopper architecture whitepaper (132 SMs on H100 SXM5, 228 KB shared memory per SM)"
_SRC_H200_SMS = ("H200 is H100 SXM5's GH100 configuration with more HBM (NVIDIA H200 datasheet); SM count and shared "
                 "memory from the Hopper architecture whitepaper (132 SMs on H100 SXM5, 228 KB per SM)")
_SRC_RTX_WP = "NVIDIA RTX Blackwell GPU architecture whitepaper (GB202: 170 SMs on RTX 5090, 128 KB L1/SMEM per SM)"


@dataclass(frozen=True)
class GPUSpec:
    """Published, dense, per-GPU figures of one accelerator; `sources` says where each came from."""

    name: str
    arch: str                      # "sm_100a", "sm_90a", "sm_120", "cpu"
    peak_tflops: dict[str, float]  # precision -> dense TFLOP/s (missing = not supported)
    hbm_gb: float                  # memory capacity, GB (10^9 bytes)
    hbm_tbps: float                # memory bandwidth, TB/s (10^12 bytes/s)
    sms: int
    smem_kb_per_sm: float
    tmem_kb_per_sm: float          # 0 where there is no Tensor Memory
    nvlink_tbps: float | None = None   # bidirectional per GPU
    sources: dict[str, str] = field(default_factory=dict)

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s (not TFLOP/s) for `precision`; raises if this GPU has no such Tensor Core mode."""
        _check_precision(precision)
        if precision not in self.peak_tflops:
            have = ", ".join(self.peak_tflops) or "none"
            raise ValueError(f"{self.name} has no {precision} Tensor Core peak (it has: {have})")
        return self.peak_tflops[precision] * 1e12

    @property
    def bandwidth(self) -> float:
        """Memory bandwidth in bytes/s."""
        return self.hbm_tbps * 1e12


SPECS: dict[str, GPUSpec] = {
    s.name: s
    for s in [
        GPUSpec("B200", "sm_100a", {"fp4": 9000, "fp8": 4500, "bf16": 2250, "tf32": 1125}, 180, 8.0, 148, 228, 256,
                1.8, {"peak_tflops": _SRC_B200_PEAKS, "hbm": _SRC_DGX_B200, "sms": _SRC_B200_SMS,
                      "smem": _SRC_SMEM, "tmem": _SRC_PTX_TMEM, "nvlink": "NVIDIA NVLink 5 (1.8 TB/s per GPU)"}),
        GPUSpec("GB200", "sm_100a", {"fp4": 10000, "fp8": 5000, "bf16": 2500, "tf32": 1250}, 186, 8.0, 148, 228, 256,
                1.8, {"peak_tflops": _SRC_GB200, "hbm": _SRC_GB200,
                      "sms": "assumed equal to B200 (same Blackwell die; NVIDIA publishes no GB200 SM count)",
                      "smem": _SRC_SMEM, "tmem": _SRC_PTX_TMEM, "nvlink": "NVIDIA NVLink 5 (1.8 TB/s per GPU)"}),
        GPUSpec("H100 SXM", "sm_90a", {"fp8": 1979, "bf16": 989, "tf32": 494.5}, 80, 3.35, 132, 228, 0, 0.9,
                {"peak_tflops": _SRC_H100, "hbm": _SRC_H100, "sms": _SRC_HOPPER_WP, "smem": _SRC_HOPPER_WP,
                 "tmem": "Hopper has no Tensor Memory", "nvlink": _SRC_H100}),
        GPUSpec("H100 PCIe", "sm_90a", {"fp8": 1513, "bf16": 756.5, "tf32": 378}, 80, 2.0, 114, 228, 0, 0.6,
                {"peak_tflops": _SRC_H100_PCIE, "hbm": _SRC_H100_PCIE, "sms": _SRC_HOPPER_WP_PCIE,
                 "smem": _SRC_HOPPER_WP_PCIE, "tmem": "Hopper has no Tensor Memory", "nvlink": _SRC_H100_PCIE}),
        GPUSpec("H200", "sm_90a", {"fp8": 1979, "bf16": 989, "tf32": 494.5}, 141, 4.8, 132, 228, 0, 0.9,
                {"peak_tflops": _SRC_H200, "hbm": _SRC_H200, "sms": _SRC_H200_SMS, "smem": _SRC_H200_SMS,
                 "tmem": "Hopper has no Tensor Memory", "nvlink": _SRC_H200}),
        GPUSpec("RTX 5090", "sm_120", {"fp4": 1676, "fp8": 838, "bf16": 419, "tf32": 105}, 32, 1.792, 170, 128, 0,
                None, {"peak_tflops": _SRC_5090, "hbm": _SRC_5090 + " (32 GB GDDR7, 1,792 GB/s)",
                       "sms": _SRC_RTX_WP, "smem": _SRC_RTX_WP,
                       "tmem": "consumer Blackwell (sm_120) has no Tensor Memory (PTX ISA: tcgen05 needs sm_100a)"}),
    ]
}

_ALIASES = {"h100": "H100 SXM", "h100-sxm": "H100 SXM", "h100 sxm": "H100 SXM", "h100 pcie": "H100 PCIe",
            "h100-pcie": "H100 PCIe", "rtx5090": "RTX 5090",
            "rtx 5090": "RTX 5090", "5090": "RTX 5090", "b200": "B200", "gb200": "GB200", "h200": "H200"}


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")


def list_gpus() -> list[str]:
    """Names of the GPUs in the spec table."""
    return list(SPECS)


def get_spec(gpu: str | GPUSpec) -> GPUSpec:
    """Look up a GPU by name ('B200', 'h100', 'RTX 5090', ...) or 'cpu' for this machine's measured CPU."""
    if isinstance(gpu, GPUSpec):
        return gpu
    if not isinstance(gpu, str):
        raise TypeError(f"get_spec takes a GPU name (str), got {type(gpu).__name__}")
    if gpu.lower() in ("cpu", "this cpu"):
        return cpu_spec()
    key = gpu if gpu in SPECS else _ALIASES.get(gpu.lower().strip())
    if key is None:
        raise ValueError(f"unknown GPU {gpu!r}; known: {', '.join(SPECS)} (or 'cpu')")
    return SPECS[key]


def spec_for_device(name: str, memory_gib: float | None = None, sm_count: int | None = None) -> GPUSpec | None:
    """The `SPECS` entry of a CUDA device from what torch reports (`get_device_properties`): its name, memory in
    GiB and SM count; None for a GPU the table does not have.

    H100 SXM and H100 PCIe share the name prefix and the 80 GB: the PCIe card has 114 SMs (Hopper whitepaper) and
    torch names it 'NVIDIA H100 PCIe' ('NVIDIA H100 80GB HBM3' is the SXM part); the SM count decides when given.
    An H100 NVL (94 GB) has no entry (None). B200 / GB200 / H200 / RTX 5090 by name.
    """
    if not isinstance(name, str):
        raise TypeError(f"spec_for_device takes the device name (str), got {type(name).__name__}")
    n = name.upper()
    if "H100" in n:
        if "NVL" in n or (memory_gib is not None and memory_gib > 85):
            return None
        pcie = "PCIE" in n if sm_count is None else sm_count == SPECS["H100 PCIe"].sms
        return SPECS["H100 PCIe" if pcie else "H100 SXM"]
    for key in ("GB200", "B200", "H200", "RTX 5090"):
        if key in n:
            return SPECS[key]
    return None


_CPU_CACHE: dict[str, GPUSpec] = {}


def cpu_spec(measure: bool = True) -> GPUSpec:
    """'This CPU' as a spec: fp32 matmul FLOP/s and copy bandwidth *measured here* with torch (CPU timings).

    The fp32 figure is stored under 'tf32' so the roofline helpers apply; `measure=False` returns zeros.
    """
    if "cpu" in _CPU_CACHE and measure:
        return _CPU_CACHE["cpu"]
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flops = bw = 0.0
    if measure:
        import torch

        a = torch.randn(1024, 1024)
        b = torch.randn(1024, 1024)
        torch.mm(a, b)
        t0 = time.perf_counter()
        reps = 5
        for _ in range(reps):
            torch.mm(a, b)
        flops = 2 * 1024**3 * reps / (time.perf_counter() - t0)
        x = torch.empty(64 * 2**20 // 4)
        y = torch.empty_like(x)
        y.copy_(x)
        t0 = time.perf_counter()
        for _ in range(reps):
            y.copy_(x)
        bw = 2 * x.numel() * 4 * reps / (time.perf_counter() - t0)
    src = (f"measured here with torch {'' if measure else '(not measured) '}on the CPU: 1024^3 fp32 matmul, "
           "copies of a 64 MiB buffer")
    spec = GPUSpec(f"CPU: {name} ({os.cpu_count()} cores)", "cpu", {"tf32": flops / 1e12}, 0, bw / 1e12,
                   os.cpu_count() or 1, 0, 0, None, {"peak_tflops": src, "hbm": src})
    if measure:
        _CPU_CACHE["cpu"] = spec
    return spec


def peak_flops(gpu: str | GPUSpec, precision: str) -> float:
    """Dense peak FLOP/s of `gpu` at `precision` ('fp4', 'fp8', 'bf16', 'tf32')."""
    return get_spec(gpu).peak(precision)


def ridge_point(gpu: str | GPUSpec, precision: str) -> float:
    """Arithmetic intensity (FLOP/byte) where the roofline turns from bandwidth- to compute-bound."""
    s = get_spec(gpu)
    return s.peak(precision) / s.bandwidth


def attainable_flops(gpu: str | GPUSpec, precision: str, intensity: float) -> float:
    """Roofline: min(peak, bandwidth x intensity) in FLOP/s for an `intensity` in FLOP/byte."""
    if isinstance(intensity, bool) or not isinstance(intensity, numbers.Real) or not 0 < intensity < math.inf:
        extra = " (a number typed as text: drop the quotes)" if isinstance(intensity, str) else ""
        raise ValueError(f"intensity must be a positive number of FLOP/byte, got {intensity!r}{extra}")
    s = get_spec(gpu)
    return min(s.peak(precision), s.bandwidth * intensity)


def gemm_intensity(M: int, N: int, K: int, a_bytes: float = 2, b_bytes: float | None = None,
                   c_bytes: float = 2) -> float:
    """FLOP/byte of C[M,N] = A[M,K] @ B[K,N] when each matrix crosses HBM once (bytes per element given: positive
    numbers, 0.5 for FP4)."""
    for nm, v in (("M", M), ("N", N), ("K", K)):
        check_number(f"gemm_intensity: {nm}", v)          # True is not a size
    b_bytes = a_bytes if b_bytes is None else b_bytes
    for nm, v in (("a_bytes", a_bytes), ("b_bytes", b_bytes), ("c_bytes", c_bytes)):
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not (0 < v < math.inf):
            raise ValueError(f"gemm_intensity: {nm} (bytes per element) must be a positive number, got {v!r}")
    return 2 * M * N * K / (M * K * a_bytes + K * N * b_bytes + M * N * c_bytes)


def _points(points) -> list[tuple[str, float]]:
    """`plot_roofline`'s markers as a list of (label, intensity): one pair is a list of one; ValueError naming
    a point that is not (str, positive finite number)."""
    if isinstance(points, (tuple, list)) and len(points) == 2 and isinstance(points[0], str) \
            and isinstance(points[1], numbers.Real):
        points = [points]                                         # one ('mine', 100)
    if isinstance(points, str) or not hasattr(points, "__iter__"):
        raise ValueError(f"plot_roofline: points must be (label, intensity) pairs, got {points!r}")
    out = list(points)
    for pt in out:
        if (isinstance(pt, str) or not isinstance(pt, (tuple, list)) or len(pt) != 2
                or isinstance(pt[1], bool) or not isinstance(pt[1], numbers.Real) or not 0 < pt[1] < math.inf):
            raise ValueError(f"plot_roofline: each point must be (label, intensity) with a positive finite "
                             f"intensity in FLOP/byte (the axis is logarithmic), got {pt!r}")
    return out


def plot_roofline(gpus=("B200", "H200", "H100 SXM"), precisions=("fp4", "fp8", "bf16"), points=(), ax=None,
                  title: str | None = None):
    """Log-log roofline of each GPU x precision; `points` are (label, intensity) markers (one pair or several;
    intensities positive, in FLOP/byte, for the log axis). Returns the figure.

    `gpus` and `precisions` take one name or several; a precision none of the GPUs has raises ValueError."""
    import matplotlib.pyplot as plt
    import numpy as np

    points = _points(points)

    gpus = [get_spec(g) for g in ((gpus,) if isinstance(gpus, GPUSpec) else as_names("gpus", gpus))]
    precisions = as_names("precisions", precisions)
    for p in precisions:
        if not any(p in s.peak_tflops for s in gpus):
            raise ValueError(f"plot_roofline: no GPU of {[s.name for s in gpus]} has a {p!r} peak; "
                             f"precisions: {', '.join(PRECISIONS)}")

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 5))
    else:
        fig = ax.figure
    xs = np.logspace(-1, 4, 300)
    styles = {"fp4": "-", "fp8": "--", "bf16": ":", "tf32": "-."}
    for i, s in enumerate(gpus):
        color = f"C{i}"
        for p in precisions:
            if p not in s.peak_tflops:
                continue
            ys = np.minimum(s.peak(p), s.bandwidth * xs) / 1e12
            ax.plot(xs, ys, styles.get(p, "-"), color=color, label=f"{s.name} {p}")
    for label, x in points:
        ax.axvline(x, color="gray", lw=0.8, alpha=0.6)
        ax.annotate(label, (x, ax.get_ylim()[0] if ax.get_ylim()[0] > 0 else 1), rotation=90, fontsize=9,
                    va="bottom", ha="right", color="dimgray")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("attainable TFLOP/s (dense)")
    ax.set_title(title or "Roofline (published dense peaks and HBM bandwidth; see bwkit.hw sources)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9, ncol=2)
    return fig
