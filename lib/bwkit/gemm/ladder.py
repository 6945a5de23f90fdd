"""The ladder as data (`LADDER`, `ladder_step`), compile-only signatures, how every step is checked (float64
reference, per-dtype tolerance, NaN-poisoned outputs) and the launch helpers lab 03's exercises use (`fresh`,
`launch`: a learner's kernel on a poisoned output through the memory-safe `bwkit.kit.interp.safe_launch`).
See `bwkit.gemm` for the overview."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from bwkit.gemm.kernels import (
    _DEFAULT_OUT,
    DTYPES,
    TRITON_TYPES,
    _check_operands,
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
from bwkit.kit.args import check_number

__all__ = ["LadderStep", "LADDER", "ladder_step", "gemm_signature", "compile_step", "reference_matmul",
           "gemm_tolerance", "random_operands", "check_matmul", "fresh", "launch", "launch_report", "tile_order"]


class LadderStep(NamedTuple):
    """One rung: its name, the @triton.jit kernel, the Python wrapper and constexprs to compile it with."""

    name: str
    kernel: object
    wrapper: Callable[..., torch.Tensor]
    constexprs: dict


def _default_constexprs(step: str) -> dict:
    """The constexprs of `step`'s default sm_100a fp16 launch (the plan's first config), for `LADDER`."""
    from bwkit.gemm.plan import NAIVE_K, default_constexprs, launch_configs

    ce = dict(launch_configs(step, "fp16", "sm_100a")[0].kwargs)
    if step == "naive":
        ce["BLOCK_K"] = NAIVE_K
    return {**ce, **default_constexprs(step, "sm_100a")}


LADDER: list[LadderStep] = [
    LadderStep(name, kernel, wrapper, _default_constexprs(name))
    for name, kernel, wrapper in (
        ("naive", matmul_kernel_naive, matmul_naive),
        ("kloop", matmul_kernel_kloop, matmul_kloop),
        ("grouped", matmul_kernel_grouped, matmul_grouped),
        ("autotuned", matmul_kernel_grouped, matmul_autotuned),
        ("persistent_tma", matmul_kernel_persistent_tma, matmul_persistent_tma),
        ("ws", matmul_kernel_ws, matmul_ws),
    )
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


def compile_step(name: str, dtype: str | torch.dtype = "fp16", target: str = "sm_100a", *,
                 shape: tuple[int, int, int] | None = None, b_layout: str | None = None, config=0,
                 num_warps: int | None = None, num_stages: int | None = None, **constexprs):
    """Compile ladder step `name` for `target` as a GPU launch at `shape` would (no GPU needed); a `Compiled`.

    `shape` (M, N, K), default 8192^3 (naive: 8192 x 8192 x 256, it holds all of K); A, C contiguous; B (K, N)
    row-major for `b_layout` 'kn' or `w.t()` of an (N, K) weight for 'nk' (default: 'nk' for the TMA steps, as
    `B_KMAJOR`, else 'kn'). The kernel is specialized as Triton's JIT specializes that launch (unit strides become
    constexprs, sizes, strides and pointers divisible by 16 get divisibility hints; `launch_specialization`).
    `config`: an index into `launch_configs(name, dtype, target)` (0, the default config), a `triton.Config` or a
    dict of its kwargs; `num_warps`, `num_stages` and `constexprs` override it and the wrapper's own constexprs
    (NUM_SMS, B_KMAJOR, WARP_SPECIALIZE, C_TMA: C_TMA follows C's row stride as in `matmul_ws`). The metadata adds
    'shape', 'b_layout' and 'config'. Taught in lab 03, step 7 (which steps emit tcgen05.mma / wgmma / TMA).
    """
    import triton

    from bwkit.gemm.plan import (
        NAIVE_K,
        SHAPES,
        _check_shape,
        compile_launch,
        default_constexprs,
        launch_configs,
        plan_target,
    )
    from bwkit.gemm.plan import step_args as _args

    step = ladder_step(name)
    dt = _dtype(dtype)
    plan_target(target)
    if shape is None:
        shape = SHAPES["aligned"] if name != "naive" else (*SHAPES["aligned"][:2], NAIVE_K)
    M, N, K = _check_shape(shape, "compile_step")
    if isinstance(config, int) and not isinstance(config, bool):
        cfgs = launch_configs(name, dt, target)
        if not 0 <= config < len(cfgs):
            raise ValueError(f"compile_step: config index {config} out of range; {name} has {len(cfgs)} "
                             f"config(s) for {dtype} on {target}")
        config = cfgs[config]
    if isinstance(config, triton.Config):
        kw, warps, stages = dict(config.kwargs), config.num_warps, config.num_stages
    elif isinstance(config, dict):
        kw = dict(config)
        warps, stages = kw.pop("num_warps", 4), kw.pop("num_stages", 3)
    else:
        raise TypeError(f"compile_step: config must be an index, a triton.Config or a dict, got {config!r}")
    if b_layout is None:
        b_layout = "nk" if "B_KMAJOR" in step.constexprs and constexprs.get("B_KMAJOR", True) else "kn"
    if name == "naive":
        if K < 16 or K > 256 or K & (K - 1):
            raise ValueError(f"compile_step: the naive step loads all of K: K={K} must be a power of two in "
                             "[16, 256]")
        kw["BLOCK_K"] = K
    out = _DEFAULT_OUT[dt]
    c_tma = (N * torch.empty(0, dtype=out).element_size()) % 16 == 0
    ce = {**kw, **default_constexprs(name, target, b_layout, c_tma), **constexprs}
    args = {**_args(name, dt, shape, b_layout), **ce}
    k = compile_launch(step.kernel, args, target, num_warps if num_warps is not None else warps,
                       num_stages if num_stages is not None else stages)
    k.metadata.update(shape=(M, N, K), b_layout=b_layout, config=ce)
    return k


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
    check_number("gemm_tolerance: K (the inner size)", K)
    out = _DEFAULT_OUT[dt] if out_dtype is None else _dtype(out_dtype)
    if out not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"gemm_tolerance: out_dtype (C's dtype) must be fp32, fp16 or bf16, got {out_dtype!r} "
                         "(the ladder never stores C in fp8)")
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
        check_number(f"random_operands: {nm}", v)
    if b_layout not in ("kn", "nk"):
        raise ValueError(f"random_operands: b_layout must be 'kn' or 'nk', got {b_layout!r}")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"random_operands: device={device!r}, but this machine has no CUDA GPU; pass device='cpu'")
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
    if not callable(fn):
        raise TypeError(f"check_matmul: fn must be a GEMM wrapper (a function such as gemm.matmul_kloop, or "
                        f"gemm.ladder_step(name).wrapper), got {type(fn).__name__} {fn!r}")
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


def fresh(M: int, N: int, K: int, dtype: str | torch.dtype = torch.float16, *,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh unit-normal A (M, K) and B (K, N) on the device this lab runs kernels on (the CPU in the interpreter).

    Taught in lab 03 (every kernel exercise draws fresh operands).
    """
    return random_operands(M, N, K, dtype, "cpu" if runtime.interpreter_active() else "cuda", generator)


def launch_report(kernel, a: torch.Tensor, b: torch.Tensor, grid, out_dtype: torch.dtype = torch.float16,
                  *, out: torch.Tensor | None = None, **meta):
    """Run `kernel[grid](a, b, c, M, N, K, strides..., **meta)` on a NaN-poisoned C; return (c, LaunchReport).

    C is a new contiguous (M, N) tensor of `out_dtype`, or `out` when given (any (M, N) float tensor with a unit
    column stride, e.g. the first N columns of a wider buffer: its row stride is not N, so a kernel that ignores
    stride_cm stores in the wrong places); its dtype then wins over `out_dtype`.

    The operands are checked as the library's wrappers check theirs (`bwkit.gemm.kernels._check_operands`: 2-D
    tensors of one ladder dtype with a unit stride, K matching, one device: the CPU in the interpreter, CUDA on a
    GPU). The launch goes through `bwkit.kit.interp.safe_launch`: in the interpreter every load and store is
    checked against A, B and C first (an access outside them raises `OutOfBoundsAccess` instead of crashing the
    process), bf16 operands are refused with the fix (triton issue 11584), and the report says which part of C no
    program stored (`report.describe_unwritten('c_ptr', tile)`). On a GPU it is a plain launch. Taught in lab 03.
    """
    from bwkit.kit import interp

    what = f"launch({getattr(kernel, '__name__', 'kernel')})"
    c = _check_operands(a, b, what, out_dtype if out is None else None, out).fill_(float("nan"))   # C poisoned
    runtime.guard_dot_dtypes(a, b, what=what)
    (M, K), N = a.shape, b.shape[1]
    report = interp.safe_launch(kernel, grid, a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                                c.stride(0), c.stride(1), **meta)
    return c, report


def launch(kernel, a: torch.Tensor, b: torch.Tensor, grid, out_dtype: torch.dtype = torch.float16,
           **meta) -> torch.Tensor:
    """`launch_report(...)` without the report: C, NaN wherever no program stored. Taught in lab 03."""
    return launch_report(kernel, a, b, grid, out_dtype, **meta)[0]


_MAX_TILES = 1_000_000     # a tile list a notebook can hold (~120 MB of Python tuples)


def tile_order(num_pid_m: int, num_pid_n: int, GROUP_M: int | None = None, *,
               first: int | None = None) -> list[tuple[int, int]]:
    """(pid_m, pid_n) of every tile (or of the `first` ones) in launch order: row-major for GROUP_M None, else
    grouped (`grouped_pid`). The arguments are tile counts, cdiv(M, BLOCK_M) x cdiv(N, BLOCK_N): more than a
    million tiles (M and N passed instead) raise ValueError. Taught in lab 03, step 3.
    """
    from bwkit.gemm.kernels import grouped_pid

    for nm, v in (("num_pid_m", num_pid_m), ("num_pid_n", num_pid_n)):
        check_number(f"tile_order: {nm}", v)
    n = num_pid_m * num_pid_n
    if first is not None:
        check_number("tile_order: first", first)
        n = min(n, first)
    if n > _MAX_TILES:
        raise ValueError(f"tile_order: {num_pid_m} x {num_pid_n} = {n:,} tiles; it takes tile counts "
                         f"(num_pid_m = cdiv(M, BLOCK_M), num_pid_n = cdiv(N, BLOCK_N)), not M and N")
    if GROUP_M is None:
        return [(t // num_pid_n, t % num_pid_n) for t in range(n)]
    if not isinstance(GROUP_M, int) or GROUP_M < 1:
        raise ValueError(f"tile_order: GROUP_M must be a positive int or None, got {GROUP_M!r}")
    return [tuple(int(x) for x in grouped_pid(t, num_pid_m, num_pid_n, GROUP_M)) for t in range(n)]
