"""The Triton GEMM ladder: one problem, C = A @ B, solved by kernels that each add one idea.

    import bwkit; rt = bwkit.setup()           # first: picks the Triton interpreter on a GPU-less machine
    from bwkit import gemm
    c = gemm.matmul_kloop(a, b)                 # a: (M, K), b: (K, N), fp32 / fp16 / bf16 / fp8-e4m3
    for step in gemm.LADDER: ...                # (name, kernel, wrapper, default constexprs), in order

The steps (taught in lab 03, one per step): 1 `naive` (one output tile per program, the whole K strip loaded
at once), 2 `kloop` (a loop over K with masks for ragged edges), 3 `grouped` (L2-friendly program order), 4
`autotuned` (block shapes, warps and stages chosen by `triton.autotune` on a GPU, only when called; a fixed
config on the interpreter), 5 `persistent_tma` (one program per SM looping over tiles, operands loaded through
TMA tensor descriptors), 6 `ws` (step 5 with a warp-specialized, software-pipelined K loop for Blackwell).

Constraints: operands are 2-D CUDA (or, under the interpreter, CPU) tensors of the same dtype; accumulation is
fp32; C is fp32 for fp32 inputs, fp16 for fp16 and fp8 inputs, bf16 for bf16 inputs (override with
`out_dtype`). Under the interpreter bf16 operands are converted to fp32 exactly before the launch (the
interpreter's bf16 `tl.dot` is wrong, triton issue 11584). On a GPU fp32 operands use TF32 Tensor Cores
(Triton's default). TMA steps need one unit stride per operand and 16-byte-aligned other strides; pass a
weight stored as (N, K) as `w.t()`.

"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import triton
import triton.language as tl

from bwkit.kit import runtime

__all__ = [
    "matmul_kernel_naive", "matmul_naive",
    "matmul_kernel_kloop", "matmul_kloop",
    "matmul_kernel_grouped", "matmul_grouped",
    "matmul_autotuned", "autotune_configs",
    "matmul_kernel_persistent_tma", "matmul_persistent_tma",
    "matmul_kernel_ws", "matmul_ws",
    "LadderStep", "LADDER", "ladder_step",
    "gemm_signature", "compile_step", "reference_matmul", "gemm_tolerance", "random_operands", "check_matmul",
    "grouped_pid", "DTYPES", "TRITON_TYPES",
    "matmul_kernel_nvfp4", "nvfp4_matmul", "compile_nvfp4",
]

# torch dtype name -> torch dtype, for the dtypes the ladder accepts.
DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "fp8": torch.float8_e4m3fn,
}
# torch dtype -> Triton pointer element type (for compile-only signatures).
TRITON_TYPES: dict[torch.dtype, str] = {
    torch.float32: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.float8_e4m3fn: "fp8e4nv",
}
_DEFAULT_OUT = {torch.float32: torch.float32, torch.float16: torch.float16, torch.bfloat16: torch.bfloat16,
                torch.float8_e4m3fn: torch.float16}


# ----------------------------------------------------------------------------------------------------------
# Step 1: naive: one program per output tile, the whole K strip in one load (no loop, no masks)
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def matmul_kernel_naive(
    # pointers
    a_ptr, b_ptr, c_ptr,
    # sizes
    M, N, K,
    # strides
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    # meta-parameters
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """C tile (pid_m, pid_n) = A[rows, :] @ B[:, cols]; BLOCK_K == K; M, N multiples of the blocks."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)   # (BLOCK_M, K)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)   # (K, BLOCK_N)
    acc = tl.dot(a, b)                                                                  # fp32 accumulator
    c = acc.to(c_ptr.dtype.element_ty)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, c)


# ----------------------------------------------------------------------------------------------------------
# Step 2: K loop: BLOCK_K-wide slices accumulated in fp32; masks make any M, N, K work
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def matmul_kernel_kloop(
    a_ptr, b_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """One C tile per program, looping over K in BLOCK_K slices; out-of-range rows/cols/k are masked."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)   # the fp32 accumulator, all zeros
    for k in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        k_left = K - k * BLOCK_K                                     # ragged last slice
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    c = acc.to(c_ptr.dtype.element_ty)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, c, mask=c_mask)


# ----------------------------------------------------------------------------------------------------------
# Step 3: grouped program order: GROUP_M row-tiles share each B column-tile while it is in L2
# ----------------------------------------------------------------------------------------------------------
def grouped_pid(tile_id: int, num_pid_m: int, num_pid_n: int, GROUP_M: int) -> tuple[int, int]:
    """(pid_m, pid_n) of linear tile `tile_id` in grouped order: GROUP_M row-tiles walked down each column.

    The same arithmetic as the grouped kernels (written inline there). Taught in lab 03, step 3.
    """
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = tile_id // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)           # the last group may be shorter
    pid_m = first_pid_m + (tile_id % num_pid_in_group) % group_size_m
    pid_n = (tile_id % num_pid_in_group) // group_size_m
    return pid_m, pid_n


@triton.jit
def matmul_kernel_grouped(
    a_ptr, b_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    """Step 2's kernel on a 1-D grid whose program ids are re-ordered in groups of GROUP_M row-tiles."""
    num_pid_m = (M + BLOCK_M - 1) // BLOCK_M
    num_pid_n = (N + BLOCK_N - 1) // BLOCK_N
    pid = tl.program_id(0)
    # grouped order (see grouped_pid): GROUP_M row-tiles walked down each column of tiles
    group_id = pid // (GROUP_M * num_pid_n)
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % (GROUP_M * num_pid_n)) % group_size_m
    pid_n = (pid % (GROUP_M * num_pid_n)) // group_size_m
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)   # the fp32 accumulator, all zeros
    for k in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    c = acc.to(c_ptr.dtype.element_ty)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, c, mask=c_mask)


# ----------------------------------------------------------------------------------------------------------
# Wrappers: check, allocate, launch
# ----------------------------------------------------------------------------------------------------------
def _check_operands(a: torch.Tensor, b: torch.Tensor, what: str, out_dtype: torch.dtype | None,
                    out: torch.Tensor | None) -> torch.Tensor:
    """Validate a GEMM's operands (and `out`, if given) before any launch; return the C tensor to fill."""
    for nm, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what}: {nm} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 2:
            raise ValueError(f"{what}: {nm} must be 2-D, got shape {list(t.shape)}")
        if t.dtype not in TRITON_TYPES:
            raise TypeError(f"{what}: {nm} has dtype {t.dtype}; "
                            f"supported: {', '.join(map(str, TRITON_TYPES))}")
        if t.stride(0) != 1 and t.stride(1) != 1:
            raise ValueError(f"{what}: {nm} (strides {t.stride()}) has no unit stride: pass a contiguous "
                             "tensor or the transpose of one")
    if a.dtype != b.dtype:
        raise TypeError(f"{what}: a and b must have the same dtype, got {a.dtype} and {b.dtype}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{what}: shape mismatch, a is {list(a.shape)} and b is {list(b.shape)}: "
                         f"a.shape[1] (K={a.shape[1]}) must equal b.shape[0] ({b.shape[0]})")
    if a.device != b.device:
        raise ValueError(f"{what}: a is on {a.device} and b on {b.device}; put both on one device")
    if a.shape[0] == 0 or a.shape[1] == 0 or b.shape[1] == 0:
        raise ValueError(f"{what}: empty operand (a {list(a.shape)}, b {list(b.shape)})")
    if runtime.interpreter_active():
        if a.device.type != "cpu":
            raise ValueError(f"{what}: the Triton interpreter runs on CPU tensors, got {a.device}")
    elif a.device.type != "cuda":
        raise ValueError(f"{what}: compiled Triton kernels need CUDA tensors, got {a.device} "
                         "(no interpreter: call bwkit.setup() before importing triton on a GPU-less machine)")
    if out_dtype is not None and out_dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise TypeError(f"{what}: out_dtype must be torch.float32, float16 or bfloat16, got {out_dtype}")
    M, N = a.shape[0], b.shape[1]
    if out is None:
        return torch.empty((M, N), dtype=out_dtype or _DEFAULT_OUT[a.dtype], device=a.device)
    if not isinstance(out, torch.Tensor) or out.shape != (M, N):
        raise ValueError(f"{what}: out must be a ({M}, {N}) tensor, got "
                         f"{list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    if out.dtype not in (torch.float32, torch.float16, torch.bfloat16) or (out_dtype and
                                                                            out.dtype != out_dtype):
        raise TypeError(f"{what}: out has dtype {out.dtype}; it must be float32/float16/bfloat16"
                        + (f" and equal out_dtype={out_dtype}" if out_dtype else ""))
    if out.device != a.device or out.stride(1) != 1:
        raise ValueError(f"{what}: out must be on {a.device} with unit column stride, got {out.device}, "
                         f"strides {out.stride()}")
    return out


def _interpreter_safe(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Under the interpreter, convert bf16 operands to fp32 (exact) instead of hitting its bf16 tl.dot bug."""
    if runtime.interpreter_active() and a.dtype == torch.bfloat16:
        a, b = a.float(), b.float()
    runtime.guard_dot_dtypes(a, b, what="bwkit.gemm")
    return a, b


def _strides(a, b, c) -> tuple[int, ...]:
    return (a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1))


def _blocks(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, what: str) -> None:
    for nm, v in (("BLOCK_M", BLOCK_M), ("BLOCK_N", BLOCK_N), ("BLOCK_K", BLOCK_K)):
        if not isinstance(v, int) or v < 16 or v & (v - 1):
            raise ValueError(f"{what}: {nm} must be a power of two >= 16 (tl.dot's minimum), got {v!r}")


def matmul_naive(a: torch.Tensor, b: torch.Tensor, *, BLOCK_M: int = 32, BLOCK_N: int = 32,
                 out_dtype: torch.dtype | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 1: C = a @ b with one program per (BLOCK_M, BLOCK_N) tile and the whole K strip in one load.

    Needs M % BLOCK_M == 0, N % BLOCK_N == 0 and K a power of two in [16, 256] (no masks, no K loop).
    Taught in lab 03, step 1.
    """
    c = _check_operands(a, b, "matmul_naive", out_dtype, out)
    (M, K), N = a.shape, b.shape[1]
    _blocks(BLOCK_M, BLOCK_N, 16, "matmul_naive")
    if M % BLOCK_M or N % BLOCK_N:
        raise ValueError(f"matmul_naive has no masks: M={M} must be a multiple of BLOCK_M={BLOCK_M} and "
                         f"N={N} of BLOCK_N={BLOCK_N} (step 2, matmul_kloop, handles ragged edges)")
    if K < 16 or K > 256 or K & (K - 1):
        raise ValueError(f"matmul_naive loads all of K at once: K={K} must be a power of two in [16, 256] "
                         "(step 2, matmul_kloop, loops over K)")
    a, b = _interpreter_safe(a, b)
    grid = (M // BLOCK_M, N // BLOCK_N)
    matmul_kernel_naive[grid](a, b, c, M, N, K, *_strides(a, b, c),
                              BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=K)
    return c


def matmul_kloop(a: torch.Tensor, b: torch.Tensor, *, BLOCK_M: int = 32, BLOCK_N: int = 32, BLOCK_K: int = 32,
                 out_dtype: torch.dtype | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 2: C = a @ b, any M, N, K: a K loop of BLOCK_K slices and masks at the ragged edges.

    Taught in lab 03, step 2.
    """
    c = _check_operands(a, b, "matmul_kloop", out_dtype, out)
    _blocks(BLOCK_M, BLOCK_N, BLOCK_K, "matmul_kloop")
    (M, K), N = a.shape, b.shape[1]
    a, b = _interpreter_safe(a, b)
    grid = (triton.cdiv(M, BLOCK_M), triton.cdiv(N, BLOCK_N))
    matmul_kernel_kloop[grid](a, b, c, M, N, K, *_strides(a, b, c),
                              BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K)
    return c


def matmul_grouped(a: torch.Tensor, b: torch.Tensor, *, BLOCK_M: int = 32, BLOCK_N: int = 32,
                   BLOCK_K: int = 32, GROUP_M: int = 8, out_dtype: torch.dtype | None = None,
                   out: torch.Tensor | None = None, num_warps: int = 4, num_stages: int = 3) -> torch.Tensor:
    """Step 3: step 2 with program ids re-ordered in groups of GROUP_M row-tiles (better L2 reuse).

    Taught in lab 03, step 3.
    """
    c = _check_operands(a, b, "matmul_grouped", out_dtype, out)
    _blocks(BLOCK_M, BLOCK_N, BLOCK_K, "matmul_grouped")
    if not isinstance(GROUP_M, int) or GROUP_M < 1:
        raise ValueError(f"matmul_grouped: GROUP_M must be a positive int, got {GROUP_M!r}")
    (M, K), N = a.shape, b.shape[1]
    a, b = _interpreter_safe(a, b)
    grid = (triton.cdiv(M, BLOCK_M) * triton.cdiv(N, BLOCK_N),)
    matmul_kernel_grouped[grid](a, b, c, M, N, K, *_strides(a, b, c), BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N,
                                BLOCK_K=BLOCK_K, GROUP_M=GROUP_M, num_warps=num_warps, num_stages=num_stages)
    return c


# ----------------------------------------------------------------------------------------------------------
# Step 4: autotuned: the grouped kernel, block shapes / warps / stages picked by triton.autotune (GPU only)
# ----------------------------------------------------------------------------------------------------------
_CPU_CONFIG = {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 4}
_TUNED: dict[str, object] = {}   # step name -> autotuned kernel, built on first GPU call (never at import)


def autotune_configs(step: str = "autotuned") -> list:
    """The `triton.Config` list a step tunes over on a GPU ('autotuned', 'persistent_tma' or 'ws').

    Block shapes of 64-256 x 64-256 x 32-128, 4 or 8 warps, 3-5 stages: the region where Hopper wgmma and
    Blackwell tcgen05 tiles are fed without spilling shared memory. Taught in lab 03, step 4.
    """
    if step not in ("autotuned", "persistent_tma", "ws"):
        raise ValueError(f"autotune_configs: unknown step {step!r}; "
                         "choose 'autotuned', 'persistent_tma' or 'ws'")
    shapes = [(128, 256, 64, 3, 8), (256, 128, 64, 3, 8), (128, 128, 64, 4, 4), (128, 128, 128, 3, 8),
              (128, 256, 64, 4, 8), (64, 256, 64, 4, 4), (128, 64, 64, 5, 4)]
    return [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8},
                          num_warps=w, num_stages=s)
            for bm, bn, bk, s, w in shapes]


def _tuned(step: str, kernel):
    if step not in _TUNED:
        _TUNED[step] = triton.autotune(configs=autotune_configs(step), key=["M", "N", "K"])(kernel)
    return _TUNED[step]


def matmul_autotuned(a: torch.Tensor, b: torch.Tensor, *,
                     out_dtype: torch.dtype | None = None,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 4: the grouped kernel with its block shape, warps and stages chosen by `triton.autotune`.

    On a GPU the first call for each (M, N, K) benchmarks `autotune_configs()` (seconds) and caches the
    winner; under the interpreter a fixed small config runs (timing there would mean nothing).
    Taught in lab 03, step 4.
    """
    c = _check_operands(a, b, "matmul_autotuned", out_dtype, out)
    (M, K), N = a.shape, b.shape[1]
    a, b = _interpreter_safe(a, b)
    if runtime.interpreter_active():
        cfg = _CPU_CONFIG
        grid = (triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(N, cfg["BLOCK_N"]),)
        matmul_kernel_grouped[grid](a, b, c, M, N, K, *_strides(a, b, c), **cfg)
        return c
    kernel = _tuned("autotuned", matmul_kernel_grouped)

    def grid(meta):
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)

    kernel[grid](a, b, c, M, N, K, *_strides(a, b, c))
    return c


# ----------------------------------------------------------------------------------------------------------
# Step 5: persistent over all SMs, operands through TMA tensor descriptors
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def matmul_kernel_persistent_tma(
    a_ptr, b_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    NUM_SMS: tl.constexpr, B_KMAJOR: tl.constexpr,
):
    """NUM_SMS programs each loop over output tiles (stride NUM_SMS); A and B tiles arrive by TMA.

    A must be K-contiguous (stride_ak == 1). B_KMAJOR: B is stored as its transpose (N, K), K-contiguous
    (stride_bk == 1, e.g. `w.t()` of an nn.Linear weight); else B is (K, N), N-contiguous. TMA fills
    out-of-bounds boxes with zeros, so ragged edges need no masks on the loads.
    """
    a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[stride_am, 1],
                                       block_shape=[BLOCK_M, BLOCK_K])
    if B_KMAJOR:
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[N, K], strides=[stride_bn, 1],
                                           block_shape=[BLOCK_N, BLOCK_K])
    else:
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[K, N], strides=[stride_bk, 1],
                                           block_shape=[BLOCK_K, BLOCK_N])
    num_pid_m = (M + BLOCK_M - 1) // BLOCK_M
    num_pid_n = (N + BLOCK_N - 1) // BLOCK_N
    num_tiles = num_pid_m * num_pid_n
    k_tiles = (K + BLOCK_K - 1) // BLOCK_K
    for tile_id in tl.range(tl.program_id(0), num_tiles, NUM_SMS, flatten=True):
        # grouped order (see grouped_pid): GROUP_M row-tiles walked down each column of tiles
        group_id = tile_id // (GROUP_M * num_pid_n)
        first_pid_m = group_id * GROUP_M
        group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
        pid_m = first_pid_m + (tile_id % (GROUP_M * num_pid_n)) % group_size_m
        pid_n = (tile_id % (GROUP_M * num_pid_n)) // group_size_m
        off_m = pid_m * BLOCK_M
        off_n = pid_n * BLOCK_N
        acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)   # the fp32 accumulator, all zeros
        for ki in range(k_tiles):
            a = a_desc.load([off_m, ki * BLOCK_K])
            if B_KMAJOR:
                b = b_desc.load([off_n, ki * BLOCK_K]).T
            else:
                b = b_desc.load([ki * BLOCK_K, off_n])
            acc = tl.dot(a, b, acc)
        offs_m = off_m + tl.arange(0, BLOCK_M)
        offs_n = off_n + tl.arange(0, BLOCK_N)
        c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
        tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn,
                 acc.to(c_ptr.dtype.element_ty), mask=c_mask)


# ----------------------------------------------------------------------------------------------------------
# Step 6: step 5 with a warp-specialized, pipelined tile loop (Blackwell: TMA warp, MMA warp, epilogue warps)
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def matmul_kernel_ws(
    a_ptr, b_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    NUM_SMS: tl.constexpr, B_KMAJOR: tl.constexpr, WARP_SPECIALIZE: tl.constexpr, C_TMA: tl.constexpr,
):
    """Step 5's persistent TMA kernel whose tile loop is warp-specialized (WARP_SPECIALIZE, Blackwell/Hopper).

    The compiler splits the loop body into a producer (TMA loads into a ring of shared-memory stages), an MMA
    issuer and the epilogue, so loads, MMAs and stores of different tiles overlap. C_TMA: store C through a
    descriptor in two half-tiles (needs C's row stride 16-byte aligned); else masked pointer stores.
    """
    a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[stride_am, 1],
                                       block_shape=[BLOCK_M, BLOCK_K])
    if B_KMAJOR:
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[N, K], strides=[stride_bn, 1],
                                           block_shape=[BLOCK_N, BLOCK_K])
    else:
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[K, N], strides=[stride_bk, 1],
                                           block_shape=[BLOCK_K, BLOCK_N])
    if C_TMA:
        c_desc = tl.make_tensor_descriptor(c_ptr, shape=[M, N], strides=[stride_cm, 1],
                                           block_shape=[BLOCK_M, BLOCK_N // 2])
    num_pid_m = (M + BLOCK_M - 1) // BLOCK_M
    num_pid_n = (N + BLOCK_N - 1) // BLOCK_N
    num_tiles = num_pid_m * num_pid_n
    k_tiles = (K + BLOCK_K - 1) // BLOCK_K
    for tile_id in tl.range(tl.program_id(0), num_tiles, NUM_SMS, flatten=False,
                            warp_specialize=WARP_SPECIALIZE):
        # grouped order (see grouped_pid): GROUP_M row-tiles walked down each column of tiles
        group_id = tile_id // (GROUP_M * num_pid_n)
        first_pid_m = group_id * GROUP_M
        group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
        pid_m = first_pid_m + (tile_id % (GROUP_M * num_pid_n)) % group_size_m
        pid_n = (tile_id % (GROUP_M * num_pid_n)) // group_size_m
        off_m = pid_m * BLOCK_M
        off_n = pid_n * BLOCK_N
        acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)   # the fp32 accumulator, all zeros
        for ki in range(k_tiles):
            a = a_desc.load([off_m, ki * BLOCK_K])
            if B_KMAJOR:
                b = b_desc.load([off_n, ki * BLOCK_K]).T
            else:
                b = b_desc.load([ki * BLOCK_K, off_n])
            acc = tl.dot(a, b, acc)
        if C_TMA:
            # epilogue in two halves: half the registers and shared memory of a whole-tile store
            acc0, acc1 = acc.reshape((BLOCK_M, 2, BLOCK_N // 2)).permute(0, 2, 1).split()
            c_desc.store([off_m, off_n], acc0.to(c_ptr.dtype.element_ty))
            c_desc.store([off_m, off_n + BLOCK_N // 2], acc1.to(c_ptr.dtype.element_ty))
        else:
            offs_m = off_m + tl.arange(0, BLOCK_M)
            offs_n = off_n + tl.arange(0, BLOCK_N)
            c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
            tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn,
                     acc.to(c_ptr.dtype.element_ty), mask=c_mask)


def _tma_layout(a: torch.Tensor, b: torch.Tensor, what: str) -> bool:
    """Check the TMA rules (unit inner stride, 16-byte aligned outer stride and base); return B_KMAJOR."""
    es = a.element_size()
    if a.stride(1) != 1 or (a.stride(0) * es) % 16:
        raise ValueError(f"{what}: TMA needs a K-contiguous A whose row stride is a multiple of 16 bytes; "
                         f"a has strides {a.stride()} ({es}-byte elements): pass a.contiguous() with "
                         f"K*{es} % 16 == 0")
    if b.stride(0) == 1 and (b.stride(1) * es) % 16 == 0:
        kmajor = True                               # b = w.t() with w (N, K) contiguous
    elif b.stride(1) == 1 and (b.stride(0) * es) % 16 == 0:
        kmajor = False                              # b (K, N) contiguous
    else:
        raise ValueError(f"{what}: TMA needs B with one unit stride and the other a multiple of 16 bytes; "
                         f"b has shape {list(b.shape)}, strides {b.stride()}, {es}-byte elements. If N*{es} "
                         "is not a multiple of 16, store the weight as (N, K) and pass w.t()")
    for nm, t in (("a", a), ("b", b)):
        if t.data_ptr() % 16:
            raise ValueError(f"{what}: {nm}'s base address is not 16-byte aligned (a sliced view?): "
                             "pass a copy")
    return kmajor


def _ensure_allocator() -> None:
    """Device-side tensor descriptors need a global scratch allocator on a GPU (not in the interpreter)."""
    if runtime.interpreter_active():
        return

    def alloc(size: int, alignment: int, stream):
        return torch.empty(size, dtype=torch.int8, device="cuda")

    triton.set_allocator(alloc)


def _num_sms(a: torch.Tensor) -> int:
    if a.device.type == "cuda":
        return torch.cuda.get_device_properties(a.device).multi_processor_count
    return 4   # interpreter: a few "SMs" so the persistent loop really visits several tiles per program


def _launch_persistent(kernel, step: str, a, b, c, what: str, config: dict | None,
                       extra: dict) -> torch.Tensor:
    (M, K), N = a.shape, b.shape[1]
    kmajor = _tma_layout(a, b, what)
    a, b = _interpreter_safe(a, b)
    extra = {k: (v(c) if callable(v) else v) for k, v in extra.items()}
    _ensure_allocator()
    num_sms = _num_sms(a)
    if config is None and runtime.interpreter_active():
        config = dict(_CPU_CONFIG)
    if config is not None:
        cfg = dict(config)
        launch = {k: cfg.pop(k) for k in ("num_warps", "num_stages") if k in cfg}
        _blocks(cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["BLOCK_K"], what)
        tiles = triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(N, cfg["BLOCK_N"])
        kernel[(min(num_sms, tiles),)](a, b, c, M, N, K, *_strides(a, b, c), NUM_SMS=num_sms, B_KMAJOR=kmajor,
                                       **extra, **cfg, **launch)
        return c

    def grid(meta):
        return (min(num_sms, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"])),)

    _tuned(step, kernel)[grid](a, b, c, M, N, K, *_strides(a, b, c), NUM_SMS=num_sms, B_KMAJOR=kmajor,
                               **extra)
    return c


def matmul_persistent_tma(a: torch.Tensor, b: torch.Tensor, *, config: dict | None = None,
                          out_dtype: torch.dtype | None = None,
                          out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 5: a persistent kernel (one program per SM) with TMA tensor descriptors for A and B.

    `config`: {'BLOCK_M', 'BLOCK_N', 'BLOCK_K', 'GROUP_M'[, 'num_warps', 'num_stages']}; None = autotune on a
    GPU, a fixed small config in the interpreter. A must be K-contiguous; B either (K, N) N-contiguous or
    `w.t()` of a contiguous (N, K) weight. Taught in lab 03, step 5.
    """
    c = _check_operands(a, b, "matmul_persistent_tma", out_dtype, out)
    return _launch_persistent(matmul_kernel_persistent_tma, "persistent_tma", a, b, c,
                              "matmul_persistent_tma", config, {})


def matmul_ws(a: torch.Tensor, b: torch.Tensor, *, config: dict | None = None,
              warp_specialize: bool | None = None, out_dtype: torch.dtype | None = None,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 6: step 5 with a warp-specialized tile loop and a TMA-stored, half-tile epilogue when C allows it.

    `warp_specialize` None = on for datacenter Blackwell (sm_100) only; `config` as in
    `matmul_persistent_tma`.
    Taught in lab 03, step 6.
    """
    c = _check_operands(a, b, "matmul_ws", out_dtype, out)
    if warp_specialize is None:
        warp_specialize = a.device.type == "cuda" and torch.cuda.get_device_capability(a.device)[0] == 10
    if not isinstance(warp_specialize, bool):
        raise TypeError(f"matmul_ws: warp_specialize must be a bool or None, got {warp_specialize!r}")

    def c_tma(c: torch.Tensor) -> bool:
        return (c.stride(0) * c.element_size()) % 16 == 0 and c.data_ptr() % 16 == 0

    return _launch_persistent(matmul_kernel_ws, "ws", a, b, c, "matmul_ws", config,
                              {"WARP_SPECIALIZE": warp_specialize, "C_TMA": c_tma})


# ----------------------------------------------------------------------------------------------------------
# The ladder, references, checks and compile-only helpers
# ----------------------------------------------------------------------------------------------------------
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
    step = ladder_step(name)
    ce = {**step.constexprs, **constexprs}
    units = {"stride_ak": 1, "stride_cn": 1}
    units["stride_bk" if ce.get("B_KMAJOR") else "stride_bn"] = 1
    sig = {k: v for k, v in gemm_signature(dtype).items() if k not in units}
    return _compile(_kernel_name(step.kernel), sig, {**ce, **units}, target, num_warps, num_stages)


def _kernel_name(kernel) -> str:
    fn = getattr(kernel, "fn", kernel)
    return fn.__name__


def _compile(kernel_name: str, sig: dict, consts: dict, target: str, num_warps: int, num_stages: int):
    """Compile a kernel of this module for `target` with `bwkit.inspect.compile_triton`."""
    from bwkit import inspect as bwi

    return bwi.compile_triton(globals()[kernel_name], sig, consts, target=target, num_warps=num_warps,
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


# ----------------------------------------------------------------------------------------------------------
# Lab 04 extension: an NVFP4 block-scaled GEMM (E2M1 elements, UE4M3 scales per 16, an FP32 tensor scale)
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def matmul_kernel_nvfp4(
    # pointers: A codes [M, K/2] and B codes [N, K/2] (uint8, two E2M1 per byte, element 0 low), UE4M3 scales
    # [M, K/16] and [N, K/16] (as float8_e4m3fn), C [M, N] fp32
    a_ptr, b_ptr, a_sf_ptr, b_sf_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bn, stride_bk,
    stride_asm, stride_ask, stride_bsn, stride_bsk,
    stride_cm, stride_cn,
    tensor_scale,                       # fp32: product of the two per-tensor decode scales
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, DEQUANT: tl.constexpr,
):
    """C = (dequant(A) @ dequant(B)^T) * tensor_scale; K a multiple of BLOCK_K (whole 16-blocks).

    DEQUANT False: `tl.dot_scaled(..., "e2m1", ...)` with UE4M3 scales (sm_100a: tcgen05.mma kind::mxf4nvf4
    block16). DEQUANT True: decode E2M1 and UE4M3 in registers to fp16 (exact: at most 5 significant bits) and
    `tl.dot` them — what runs in the triton 3.9 interpreter (it reads dot_scaled scales as E8M0 only) and the
    shape of what Hopper, which has no FP4 Tensor Cores, must do.
    """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_kp = tl.arange(0, BLOCK_K // 2)
    offs_s = tl.arange(0, BLOCK_K // 16)
    m_ok = offs_m < M
    n_ok = offs_n < N
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k in range(0, K // BLOCK_K):
        kp = k * (BLOCK_K // 2) + offs_kp
        ks = k * (BLOCK_K // 16) + offs_s
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kp[None, :] * stride_ak, mask=m_ok[:, None], other=0)
        a_sf = tl.load(a_sf_ptr + offs_m[:, None] * stride_asm + ks[None, :] * stride_ask, mask=m_ok[:, None],
                       other=0.0)
        b_sf = tl.load(b_sf_ptr + offs_n[:, None] * stride_bsn + ks[None, :] * stride_bsk, mask=n_ok[:, None],
                       other=0.0)
        if DEQUANT:
            b = tl.load(b_ptr + offs_n[:, None] * stride_bn + kp[None, :] * stride_bk, mask=n_ok[:, None],
                        other=0)
            # unpack two E2M1 codes per byte (element 0 in the low nibble) and decode them:
            # |value| = 0.5*m if e == 0 else (1 + 0.5*m) * 2^(e-1), from the 2 exponent bits e and mantissa bit m
            ca = tl.join(a & 0xF, a >> 4).reshape(BLOCK_M, BLOCK_K).to(tl.int32)
            cb = tl.join(b & 0xF, b >> 4).reshape(BLOCK_N, BLOCK_K).to(tl.int32)
            ea = (ca & 7) >> 1
            eb = (cb & 7) >> 1
            ma = (ca & 1).to(tl.float32)
            mb = (cb & 1).to(tl.float32)
            a_val = tl.where(ea == 0, 0.5 * ma, (1.0 + 0.5 * ma) * (1 << tl.maximum(ea - 1, 0)).to(tl.float32))
            b_val = tl.where(eb == 0, 0.5 * mb, (1.0 + 0.5 * mb) * (1 << tl.maximum(eb - 1, 0)).to(tl.float32))
            a_val = tl.where((ca & 8) != 0, -a_val, a_val)
            b_val = tl.where((cb & 8) != 0, -b_val, b_val)
            # apply the UE4M3 block scales (one per 16 elements of K)
            a_val = a_val.reshape(BLOCK_M, BLOCK_K // 16, 16) * a_sf.to(tl.float32)[:, :, None]
            b_val = b_val.reshape(BLOCK_N, BLOCK_K // 16, 16) * b_sf.to(tl.float32)[:, :, None]
            a16 = a_val.reshape(BLOCK_M, BLOCK_K).to(tl.float16)
            b16 = b_val.reshape(BLOCK_N, BLOCK_K).to(tl.float16)
            acc = tl.dot(a16, tl.trans(b16), acc)
        else:
            b = tl.load(b_ptr + offs_n[None, :] * stride_bn + kp[:, None] * stride_bk, mask=n_ok[None, :],
                        other=0)                                                            # (BLOCK_K/2, BLOCK_N)
            acc = tl.dot_scaled(a, a_sf, "e2m1", b, b_sf, "e2m1", acc)
    acc = acc * tensor_scale
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc,
             mask=m_ok[:, None] & n_ok[None, :])



def _nvfp4_operand(q, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check one NVFP4 operand (bwkit.formats.Quantized); return (packed codes, e4m3 scales, tensor scale)."""
    from bwkit.formats import Quantized, pack_fp4

    if not isinstance(q, Quantized):
        raise TypeError(f"nvfp4_matmul: {name} must be a bwkit.formats.Quantized (formats.quantize(x, 'nvfp4')), "
                        f"got {type(q).__name__}")
    if q.scheme != "nvfp4":
        raise ValueError(f"nvfp4_matmul: {name} has scheme {q.scheme!r}; quantize with 'nvfp4' "
                         "(use bwkit.scaled_gemm.mxfp4_matmul / mxfp8_matmul for MX schemes)")
    if len(q.shape) != 2 or q.axis != 1:
        raise ValueError(f"nvfp4_matmul: {name} must be 2-D and blocked along K (axis 1 of [rows, K]); got shape "
                         f"{list(q.shape)}, axis {q.axis}")
    if q.block_size != 16:
        raise ValueError(f"nvfp4_matmul: {name} has block_size {q.block_size}; NVFP4 hardware reads blocks of 16")
    codes = pack_fp4(q.codes.contiguous())
    return codes, q.scales.contiguous().view(torch.float8_e4m3fn), q.tensor_scale.to(torch.float32)


def nvfp4_matmul(a_q, b_q, *, dequant: bool | None = None, BLOCK_M: int | None = None, BLOCK_N: int | None = None,
                 BLOCK_K: int | None = None) -> torch.Tensor:
    """NVFP4 GEMM: C = dequant(a_q) @ dequant(b_q)^T in fp32, from `formats.quantize(a, 'nvfp4')` ([M, K]) and
    `formats.quantize(w, 'nvfp4')` ([N, K], the nn.Linear layout).

    `dequant` None: `tl.dot_scaled` (DEQUANT False) on a GPU, the in-register decode (True) in the interpreter.
    K must be a multiple of BLOCK_K (default 64 in the interpreter, 128 on a GPU; itself a multiple of 32).
    Taught in lab 04.
    """
    a, a_sf, a_ts = _nvfp4_operand(a_q, "a_q")
    b, b_sf, b_ts = _nvfp4_operand(b_q, "b_q")
    (M, K), N = a_q.shape, b_q.shape[0]
    if b_q.shape[1] != K:
        raise ValueError(f"nvfp4_matmul: K mismatch, a_q is {list(a_q.shape)} and b_q is {list(b_q.shape)} "
                         "(b_q is [N, K])")
    if a.device != b.device:
        raise ValueError(f"nvfp4_matmul: operands on {a.device} and {b.device}")
    interp = runtime.interpreter_active()
    if dequant is None:
        dequant = interp
    if interp and not dequant:
        raise runtime.InterpreterBugError("nvfp4_matmul(dequant=False): the triton 3.9 interpreter reads "
                                          "tl.dot_scaled scales as E8M0 only, so UE4M3 scales would be decoded "
                                          "wrongly; use dequant=True on the CPU (or compile the kernel)")
    bm = BLOCK_M or (16 if interp else 128)
    bn = BLOCK_N or (16 if interp else 128)
    bk = BLOCK_K or (64 if interp else 128)
    _blocks(bm, bn, bk, "nvfp4_matmul")
    if bk % 32:
        raise ValueError(f"nvfp4_matmul: BLOCK_K must be a multiple of 32, got {bk}")
    if K % bk:
        raise ValueError(f"nvfp4_matmul: K = {K} must be a multiple of BLOCK_K = {bk} (whole 16-element scale "
                         "blocks per K step)")
    c = torch.empty((M, N), dtype=torch.float32, device=a.device)
    ts = float(a_ts) * float(b_ts)
    grid = (triton.cdiv(M, bm), triton.cdiv(N, bn))
    matmul_kernel_nvfp4[grid](a, b, a_sf, b_sf, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                              a_sf.stride(0), a_sf.stride(1), b_sf.stride(0), b_sf.stride(1), c.stride(0),
                              c.stride(1), ts, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, DEQUANT=bool(dequant))
    return c


def compile_nvfp4(target: str = "sm_100a", dequant: bool = False, BLOCK_M: int = 128, BLOCK_N: int = 128,
                  BLOCK_K: int = 128, num_warps: int = 4, num_stages: int = 3):
    """Compile `matmul_kernel_nvfp4` for `target` on any machine; a `bwkit.inspect.Compiled`.

    On sm_100a with `dequant=False` the PTX holds `tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.block16`.
    Taught in lab 04.
    """
    sig = {"a_ptr": "*u8", "b_ptr": "*u8", "a_sf_ptr": "*fp8e4nv", "b_sf_ptr": "*fp8e4nv", "c_ptr": "*fp32",
           "tensor_scale": "fp32"}
    for nm in ("M", "N", "K", "stride_am", "stride_bn", "stride_asm", "stride_bsn", "stride_cm"):
        sig[nm] = "i32"
    consts = {"stride_ak": 1, "stride_bk": 1, "stride_ask": 1, "stride_bsk": 1, "stride_cn": 1,
              "BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N, "BLOCK_K": BLOCK_K, "DEQUANT": dequant}
    return _compile("matmul_kernel_nvfp4", sig, consts, target, num_warps, num_stages)
