"""The ladder as data (`LADDER`, `ladder_step`), compile-only signatures, and how every step is checked
(float64 reference, per-dtype tolerance, NaN-poisoned outputs). See `bwkit.gemm` for the overview."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from bwkit.gemm.kernels import (
    _DEFAULT_OUT,
    DTYPES,
    TRITON_TYPES,
    matmul_autotuned,
    matmul_grouped,
    matmul_kernel_grouped,
    matmul_kernel_kloop,
    matmul_kernel_naive,
    matmul_kernel_persistent_tma,
    matmul_kernel_ws,
    matmul_kloop,
    matmul_naive,
    matmul_persistent_tma,
    matmul_ws,
)
from bwkit.kit import runtime

__all__ = ["LadderStep", "LADDER", "ladder_step", "gemm_signature", "compile_step", "reference_matmul",
           "gemm_tolerance", "random_operands", "check_matmul"]


class LadderStep(NamedTuple):
    """One rung: its name, the @triton.jit kernel, the Python wrapper and constexprs to compile it with."""

    name: str
    kernel: object
    wrapper: Callable[..., torch.Tensor]
    constexprs: dict


_BIG = {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64}
LADDER: list[LadderStep] = [
    LadderStep("naive", matmul_kernel_naive, matmul_naive, {**_BIG}),
    LadderStep("kloop", matmul_kernel_kloop, matmul_kloop, {**_BIG}),
    LadderStep("grouped", matmul_kernel_grouped, matmul_grouped, {**_BIG, "GROUP_M": 8}),
    LadderStep("autotuned", matmul_kernel_grouped, matmul_autotuned, {"BLOCK_M": 128, "BLOCK_N": 256,
                                                                      "BLOCK_K": 64, "GROUP_M": 8}),
    LadderStep("persistent_tma", matmul_kernel_persistent_tma, matmul_persistent_tma,
               {"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "GROUP_M": 8, "NUM_SMS": 148,
                "B_KMAJOR": True}),
    LadderStep("ws", matmul_kernel_ws, matmul_ws,
               {"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "GROUP_M": 8, "NUM_SMS": 148, "B_KMAJOR": True,
                "WARP_SPECIALIZE": True, "C_TMA": True}),
]


def ladder_step(name: str) -> LadderStep:
    """The `LADDER` entry called `name`."""
    for s in LADDER:
        if s.name == name:
            return s
    raise ValueError(f"unknown ladder step {name!r}; steps: {', '.join(s.name for s in LADDER)}")


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
        return DTYPES[dtype]
    if dtype not in TRITON_TYPES:
        raise TypeError(f"unsupported dtype {dtype}; choose one of {', '.join(DTYPES)}")
    return dtype


def gemm_signature(dtype: str | torch.dtype = "fp16",
                   out_dtype: str | torch.dtype | None = None) -> dict[str, str]:
    """Triton signature of every ladder kernel's runtime arguments for `bwkit.inspect.compile_triton`.

    `dtype` is the operand type ('fp32', 'fp16', 'bf16', 'fp8' or a torch dtype); C's type defaults as in
    the wrappers.
    Taught in lab 01 and lab 03 (compile-only steps).
    """
    dt = _dtype(dtype)
    out = _DEFAULT_OUT[dt] if out_dtype is None else _dtype(out_dtype)
    sig = {"a_ptr": f"*{TRITON_TYPES[dt]}", "b_ptr": f"*{TRITON_TYPES[dt]}", "c_ptr": f"*{TRITON_TYPES[out]}"}
    for nm in ("M", "N", "K", "stride_am", "stride_ak", "stride_bk", "stride_bn", "stride_cm", "stride_cn"):
        sig[nm] = "i32"
    return sig


def compile_step(name: str, dtype: str | torch.dtype = "fp16", target: str = "sm_100a", *, num_warps: int = 8,
                 num_stages: int = 3, **constexprs):
    """Compile ladder step `name` for `target` on any machine (no GPU); return a `bwkit.inspect.Compiled`.

    Row-major operands are assumed: the unit strides (stride_ak, or stride_bk for K-major B, and stride_bn
    otherwise, and stride_cn) are compile-time 1, as Triton specializes them at run time. `constexprs`
    override the step's defaults. Taught in lab 03 (which steps emit tcgen05.mma / wgmma / TMA).
    """
    from bwkit import inspect as bwi

    step = ladder_step(name)
    ce = {**step.constexprs, **constexprs}
    units = {"stride_ak": 1, "stride_cn": 1}
    units["stride_bk" if ce.get("B_KMAJOR") else "stride_bn"] = 1
    sig = {k: v for k, v in gemm_signature(dtype).items() if k not in units}
    return bwi.compile_triton(step.kernel, sig, {**ce, **units}, target=target, num_warps=num_warps,
                              num_stages=num_stages)


def reference_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """float64 reference C = a @ b on the CPU (the yardstick every ladder step is checked against)."""
    return a.detach().to("cpu", torch.float64) @ b.detach().to("cpu", torch.float64)


def gemm_tolerance(dtype: str | torch.dtype, K: int, out_dtype: str | torch.dtype | None = None,
                   tf32: bool = False) -> tuple[float, float]:
    """(atol, rtol) for a ladder GEMM vs the float64 reference on unit-normal inputs with inner size K.

    Operands are exact in fp64, so the error is fp32 accumulation (~sqrt(K) * 2^-24 relative to the row norm)
    plus the rounding of C to its dtype; `tf32` adds TF32's 10-bit mantissa for fp32 operands on a GPU.
    Inputs of magnitude ~1 give |C| ~ sqrt(K), so atol scales with sqrt(K).
    """
    dt = _dtype(dtype)
    out = _DEFAULT_OUT[dt] if out_dtype is None else _dtype(out_dtype)
    eps_out = {torch.float32: 2.0**-24, torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}[out]
    eps_acc = 2.0**-11 if (tf32 and dt == torch.float32) else 2.0**-24
    scale = math.sqrt(K)
    atol = scale * (4 * eps_acc * math.sqrt(K) + 2 * eps_out)
    return atol, 2 * eps_out


def random_operands(M: int, N: int, K: int, dtype: str | torch.dtype = "fp16", device: str = "cpu",
                    generator: torch.Generator | None = None, b_layout: str = "kn") -> tuple[torch.Tensor,
                                                                                             torch.Tensor]:
    """Fresh unit-normal A (M, K) and B (K, N) in `dtype` (fp8 values are rounded from the normal samples).

    `b_layout` 'kn': B is a contiguous (K, N) tensor; 'nk': B is `w.t()` of a contiguous (N, K) weight (the
    nn.Linear layout, which TMA accepts for any N).
    """
    dt = _dtype(dtype)
    for nm, v in (("M", M), ("N", N), ("K", K)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"random_operands: {nm} must be a positive int, got {v!r}")
    if b_layout not in ("kn", "nk"):
        raise ValueError(f"random_operands: b_layout must be 'kn' or 'nk', got {b_layout!r}")
    a = torch.randn((M, K), generator=generator).to(device=device, dtype=dt)
    if b_layout == "kn":
        b = torch.randn((K, N), generator=generator).to(device=device, dtype=dt)
    else:
        b = torch.randn((N, K), generator=generator).to(device=device, dtype=dt).t()
    return a, b


def check_matmul(fn: Callable[..., torch.Tensor], M: int, N: int, K: int, dtype: str | torch.dtype = "fp16",
                 *, seed: int | None = None, device: str | None = None, b_layout: str = "kn",
                 **kwargs) -> dict:
    """Run `fn(a, b, out=c, **kwargs)` on fresh random operands and compare with `reference_matmul`.

    `c` is poisoned (filled with NaN) before the run, so a tile the kernel never writes shows up as NaN.
    `seed` None draws fresh operands from torch's global generator; `b_layout` as in `random_operands`.
    Passes when |c - ref| <= atol + rtol * |ref| everywhere (`gemm_tolerance`). Returns {'ok', 'max_abs_err',
    'err_ratio' (worst |c - ref| / (atol + rtol |ref|), <= 1 passes), 'atol', 'rtol', 'nan'}; raises
    AssertionError with the details when the result is wrong. Taught in lab 03.
    """
    dt = _dtype(dtype)
    if device is None:
        device = "cpu" if runtime.interpreter_active() else "cuda"
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    a, b = random_operands(M, N, K, dt, device, gen, b_layout)
    out_dtype = kwargs.pop("out_dtype", None) or _DEFAULT_OUT[dt]
    c = torch.full((M, N), float("nan"), dtype=out_dtype, device=device)       # poisoned output
    res_c = fn(a, b, out=c, **kwargs)
    if res_c is not c:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} did not return the `out` tensor it was given")
    ref = reference_matmul(a, b)
    got = c.detach().to("cpu", torch.float64)
    tf32 = dt == torch.float32 and not runtime.interpreter_active()
    atol, rtol = gemm_tolerance(dt, K, c.dtype, tf32=tf32)
    nan = int(torch.isnan(got).sum())
    err = (got - ref).abs()
    max_err = float(err[~torch.isnan(err)].max()) if nan < got.numel() else float("nan")
    ratio_t = err / (atol + rtol * ref.abs())
    ratio = float(ratio_t[~torch.isnan(ratio_t)].max()) if nan < got.numel() else float("nan")
    ok = nan == 0 and ratio <= 1.0
    res = {"ok": ok, "max_abs_err": max_err, "err_ratio": ratio, "atol": atol, "rtol": rtol, "nan": nan}
    if not ok:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} {M}x{N}x{K} {dt}: {nan} NaN (unwritten) "
                             f"elements, max abs error {max_err:.3g} vs atol {atol:.3g} + "
                             f"rtol {rtol:.3g}*|ref|")
    return res
