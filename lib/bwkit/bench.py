"""Benchmarking: CUDA-event timing with warm-up and L2 flush on a GPU, a host clock (labelled CPU) elsewhere.

    t = bench.time_fn(lambda: torch.matmul(a, b))
    r = bench.gemm_result("torch.matmul", M, N, K, t, precision="bf16")
    print(r.summary())                 # "<name> ... TFLOP/s (<pct>% of <GPU> bf16 peak) [cuda-events, median of 50]"
    bench.save_json([r], "results.json")   # with hardware and package metadata
    err = bench.relative_error(out, ref)   # ||out - ref|| / ||ref|| in float64, on out's device

Taught in lab 00 (step 5) and lab 06 (measurement method).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bwkit.kit.args import check_number

__all__ = ["Timing", "BenchResult", "time_fn", "gemm_flops", "gemm_result", "percent_of_peak", "metadata",
           "save_json", "load_json", "spec_for_device", "relative_error", "cublas_baseline", "cell"]


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one callable, in milliseconds; `clock` is 'cuda-events' or 'host (CPU)'."""

    median_ms: float
    p20_ms: float
    p80_ms: float
    min_ms: float
    reps: int
    clock: str
    device: str

    @property
    def spread(self) -> float:
        """(p80 - p20) / median: a robust relative spread."""
        return (self.p80_ms - self.p20_ms) / self.median_ms

    @property
    def is_cpu(self) -> bool:
        """True when these are host-clock CPU timings (not GPU timings)."""
        return self.clock != "cuda-events"


def _quantile(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _device_type(what: str, device) -> str:
    """'cpu' or 'cuda': the type of `device` (a str torch parses, or a torch.device); ValueError naming `device`
    for anything else ('gpu', 'CUDA', 'mps': the host clock or CUDA events are the only clocks here)."""
    import torch

    try:
        kind = device.type if isinstance(device, torch.device) else torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda"):
        hint = " (the GPU is 'cuda', lower case)" if str(device).lower() in ("gpu", "cuda", "nvidia") else ""
        raise ValueError(f"{what}: device must be 'cpu', 'cuda' (or 'cuda:N') or a torch.device of type cpu or "
                         f"cuda, got {device!r}{hint}")
    return kind


def _cuda_clock(fn, warmup, reps, device, head_start: bool) -> bool:
    """Check `time_fn`'s arguments (an error naming the bad one); True when it times with CUDA events."""
    import torch

    if not callable(fn):
        raise TypeError(f"time_fn needs a callable, got {type(fn).__name__}")
    if not isinstance(reps, int) or reps < 1 or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"reps must be an int >= 1 and warmup an int >= 0, got reps={reps!r}, warmup={warmup!r}")
    if device is not None and not isinstance(device, (str, torch.device)):
        raise TypeError(f"time_fn: device must be None, a str ('cuda', 'cpu') or a torch.device, got {device!r}")
    if device is None:
        from bwkit.kit.runtime import interpreter_active

        use_cuda = (torch.cuda.is_available() and os.environ.get("BWKIT_FORCE_CPU") != "1"
                    and not interpreter_active())
    else:
        use_cuda = _device_type("time_fn", device) == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("time_fn(device='cuda') but no CUDA GPU is available here")
    if head_start and not use_cuda:
        raise ValueError("time_fn(head_start=True) needs the CUDA clock: on the host clock nothing is queued")
    return use_cuda


def time_fn(fn: Callable[[], object], *, warmup: int = 10, reps: int = 50, flush_l2: bool = True,
            device: str | None = None, head_start: bool = False) -> Timing:
    """Time `fn()` `reps` times after `warmup` calls; median and spread in ms.

    On a GPU (`device` 'cuda', or None where bwkit takes the GPU path: CUDA available, no BWKIT_FORCE_CPU=1, no
    Triton interpreter, as `bwkit.setup` decided): one CUDA event pair per rep, the L2 cache flushed
    (a 256 MB buffer zeroed) before each rep outside the timed region. Elsewhere: `time.perf_counter`, and the
    result is labelled 'host (CPU)'. A zero or negative time raises (it would mean nothing was measured).
    `head_start` (GPU only): ~0.1 ms of GPU sleep is queued before each start event, so the host work of the
    launch (argument checks, Triton's launcher) overlaps it and only GPU work is timed; `fn` must not synchronize.
    """
    import torch

    use_cuda = _cuda_clock(fn, warmup, reps, device, head_start)     # checks the arguments
    for _ in range(warmup):
        fn()
    times: list[float] = []
    if use_cuda:
        torch.cuda.synchronize()
        flush = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda") if flush_l2 else None
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
        for i in range(reps):
            if flush is not None:
                flush.zero_()
            if head_start:
                torch.cuda._sleep(200_000)          # the launch below is queued before this sleep ends
            starts[i].record()
            fn()
            ends[i].record()
        torch.cuda.synchronize()
        times = [s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)]
        clock, dev = "cuda-events", torch.cuda.get_device_name(0)
    else:
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        clock, dev = "host (CPU)", f"CPU ({platform.machine()})"
    if min(times) <= 0:
        raise RuntimeError(f"time_fn measured a non-positive time ({min(times)} ms): nothing was timed")
    return Timing(statistics.median(times), _quantile(times, 0.2), _quantile(times, 0.8), min(times), reps, clock,
                  dev)


def relative_error(out, ref) -> float:
    """||out - ref|| / ||ref|| (Frobenius norms) as a Python float.

    Computed in float64 on `out`'s device (`ref` is moved there): float64 keeps the metric's own rounding far
    below any tolerance it is compared with, whatever the size, and `out`'s device avoids copying a GPU result to
    the host. Non-finite values in `out` give nan or inf (callers that need a verdict check for it).
    """
    import torch

    for name, t in (("out", out), ("ref", ref)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"relative_error: {name} must be a torch.Tensor, got {type(t).__name__}")
    if tuple(out.shape) != tuple(ref.shape):
        raise ValueError(f"relative_error: out and ref must have the same shape, got {list(out.shape)} and "
                         f"{list(ref.shape)} (broadcasting would compare the wrong elements)")
    out = out.double()
    ref = ref.double().to(out.device)
    norm = ref.norm()
    if float(norm) == 0:
        raise ValueError("relative_error: ref is all zeros, so a relative error is undefined; compare absolute "
                         "errors instead")
    return float((out - ref).norm() / norm)


def cublas_baseline(M: int, N: int, K: int, dtype=None, *, name: str = "cuBLAS", precision: str = "bf16",
                    warmup: int = 10, reps: int = 50, device: str = "cuda"):
    """The cuBLAS reference point of a GEMM check: random A (M, K) and B (N, K) of `dtype` (default bf16) on
    `device`, and `torch.matmul(a, b.t())` timed with `time_fn`. Returns (a, b, `BenchResult`), the operands
    for timing the kernel under test on the same data."""
    import torch

    for nm, v in (("M", M), ("N", N), ("K", K)):
        check_number(f"cublas_baseline: {nm}", v)
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"cublas_baseline: dtype must be a torch.dtype (e.g. torch.bfloat16) or None, got {dtype!r}")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"cublas_baseline: device must be a str ('cuda', 'cpu') or a torch.device, got {device!r}")
    if _device_type("cublas_baseline", device) == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"cublas_baseline: device={str(device)!r} (the default) needs a CUDA GPU and none is "
                           "available here; device='cpu' times torch.matmul on the host clock instead")
    dtype = dtype or torch.bfloat16
    a = torch.randn(M, K, device=device, dtype=dtype)
    b = torch.randn(N, K, device=device, dtype=dtype)
    t = time_fn(lambda: torch.matmul(a, b.t()), warmup=warmup, reps=reps, device=device)
    return a, b, gemm_result(name, M, N, K, t, precision=precision)


def cell(v, spec: str = ".1f") -> str:
    """A table cell: '-' for None, a float formatted with `spec`, anything else (str, int) as text."""
    if v is None:
        return "-"
    if not isinstance(v, float):
        return str(v)
    return format(v, spec)


def gemm_flops(M: int, N: int, K: int, *, what: str = "gemm_flops") -> int:
    """FLOPs of one M x N x K matrix multiply (a multiply-add counts 2); a bad size is named with `what`."""
    for nm, v in (("M", M), ("N", N), ("K", K)):
        check_number(f"{what}: {nm}", v)
    return 2 * M * N * K


def spec_for_device(device_name: str):
    """Best match in `bwkit.hw.SPECS` for a CUDA device name ('NVIDIA H200' -> H200), or None (`hw.spec_for_device`,
    which also tells H100 SXM from PCIe when given the SM count)."""
    from bwkit import hw

    return hw.spec_for_device(device_name)


def percent_of_peak(tflops: float, gpu: str, precision: str) -> float:
    """`tflops` (a finite number >= 0) as a percentage of `gpu`'s dense peak at `precision` (from `bwkit.hw`)."""
    from bwkit import hw

    check_number("percent_of_peak: tflops", tflops, integer=False, zero_ok=True)
    return 100.0 * tflops * 1e12 / hw.peak_flops(gpu, precision)


@dataclass
class BenchResult:
    """One benchmark row: what ran, its shape, the timing and the derived TFLOP/s (and % of peak on a GPU)."""

    name: str
    shape: dict
    timing: Timing
    flops: float
    precision: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def tflops(self) -> float:
        """Achieved TFLOP/s from the median time."""
        return self.flops / (self.timing.median_ms * 1e-3) / 1e12

    @property
    def pct_peak(self) -> float | None:
        """% of the spec-table dense peak for this GPU and precision; None on CPU or an unknown GPU."""
        if self.timing.is_cpu or self.precision is None:
            return None
        spec = spec_for_device(self.timing.device)
        if spec is None or self.precision not in spec.peak_tflops:
            return None
        return percent_of_peak(self.tflops, spec.name, self.precision)

    def summary(self) -> str:
        """One line: name, shape, time, TFLOP/s, % of peak and how it was measured."""
        shape = "x".join(str(v) for v in self.shape.values())
        pct = f" ({self.pct_peak:.0f}% of peak)" if self.pct_peak is not None else ""
        label = "CPU timing" if self.timing.is_cpu else self.timing.device
        return (f"{self.name} {shape}: {self.timing.median_ms:.3f} ms, {self.tflops:.3g} TFLOP/s{pct} "
                f"[{label}, {self.timing.clock}, median of {self.timing.reps}, spread {self.timing.spread:.1%}]")

    def to_dict(self) -> dict:
        """JSON-ready dict including derived numbers."""
        d = asdict(self)
        d["tflops"] = self.tflops
        d["pct_peak"] = self.pct_peak
        return d


def gemm_result(name: str, M: int, N: int, K: int, timing: Timing, precision: str | None = None,
                **extra) -> BenchResult:
    """A `BenchResult` for an M x N x K GEMM timed as `timing` (a `Timing` from `time_fn`, with a median > 0);
    `precision` (one of `bwkit.hw.PRECISIONS`, or None) picks the peak that `pct_peak` divides by."""
    from bwkit.hw import PRECISIONS

    flops = gemm_flops(M, N, K, what="gemm_result")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"gemm_result: precision must be None or one of {', '.join(PRECISIONS)}, got {precision!r}")
    if not isinstance(timing, Timing):
        raise TypeError(f"gemm_result: timing must be a bwkit.bench.Timing (what time_fn returns), got "
                        f"{type(timing).__name__}")
    if not timing.median_ms > 0:
        raise ValueError(f"gemm_result: the median time must be > 0 ms, got {timing.median_ms!r}: a zero time is "
                         "a kernel that did not run (or was not waited for), never a result")
    return BenchResult(name, {"M": M, "N": N, "K": K}, timing, flops, precision, extra)


def metadata() -> dict:
    """Hardware and package versions for a results file."""
    import torch

    meta = {
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
    }
    for pkg in ("triton", "cutlass"):
        try:
            meta[pkg] = __import__(pkg).__version__
        except Exception:  # not installed, or no __version__
            meta[pkg] = None
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        meta["gpu"] = {"name": p.name, "capability": f"{p.major}.{p.minor}", "sms": p.multi_processor_count,
                       "memory_gib": round(p.total_memory / 2**30, 1)}
    else:
        meta["gpu"] = None
    return meta


def save_json(results: Sequence[BenchResult], path: str | Path) -> Path:
    """Write results (a sequence of `BenchResult`s or dicts, or one `BenchResult`) with `metadata()` to `path`
    (JSON); returns the path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save_json: path must be a file path (a str or Path), got {type(path).__name__}")
    path = Path(path)
    if isinstance(results, (BenchResult, dict)):
        results = [results]
    bad = [type(r).__name__ for r in results if not isinstance(r, (BenchResult, dict))]
    if bad:
        raise TypeError(f"save_json: results must be BenchResults (or dicts), got {', '.join(bad)}")
    rows = [r.to_dict() if isinstance(r, BenchResult) else r for r in results]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": metadata(), "results": rows}, indent=1))
    return path


def load_json(path: str | Path) -> dict:
    """Read a results file written by `save_json` (ValueError naming `path` when it is not one)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_json: path must be a file path (a str or Path), got {type(path).__name__}")
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a bwkit results file (not JSON: {e})") from e
    if not isinstance(data, dict) or "results" not in data or "metadata" not in data:
        raise ValueError(f"{path}: not a bwkit results file (needs 'metadata' and 'results')")
    return data
