"""The ladder's kernels and their wrappers (steps 1-6), see `bwkit.gemm` for the overview."""


from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from bwkit.kit import runtime
from bwkit.kit.args import check_number

__all__ = [
    "matmul_kernel_naive", "matmul_naive",
    "matmul_kernel_kloop", "matmul_kloop",
    "matmul_kernel_grouped", "matmul_grouped",
    "matmul_autotuned", "autotune_configs",
    "matmul_kernel_persistent_tma", "matmul_persistent_tma",
    "matmul_kernel_ws", "matmul_ws",
    "grouped_pid", "DTYPES", "TRITON_TYPES",
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
def _masked_kloop(a_ptr, b_ptr, pid_m, pid_n, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """The fp32 (BLOCK_M, BLOCK_N) tile (pid_m, pid_n) of A @ B: a K loop over pointer blocks (steps 2-4).

    Each BLOCK_K slice of A's rows and B's columns is loaded with masks (out-of-range rows, columns and k read 0,
    which adds nothing) and accumulated by `tl.dot` in fp32.
    """
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
    return acc


@triton.jit
def _masked_store(c_ptr, acc, pid_m, pid_n, M, N, stride_cm, stride_cn,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Store `acc` as C's tile (pid_m, pid_n) in C's dtype; rows and columns outside M x N are masked (steps 2-6)."""
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)


@triton.jit
def matmul_kernel_kloop(
    a_ptr, b_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """One C tile per program, looping over K in BLOCK_K slices; out-of-range rows/cols/k are masked.

    Step 1's grid; the K loop is `_masked_kloop`, the store `_masked_store`.
    """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    acc = _masked_kloop(a_ptr, b_ptr, pid_m, pid_n, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                        BLOCK_M, BLOCK_N, BLOCK_K)
    _masked_store(c_ptr, acc, pid_m, pid_n, M, N, stride_cm, stride_cn, BLOCK_M, BLOCK_N)


# ----------------------------------------------------------------------------------------------------------
# Step 3: grouped program order: GROUP_M row-tiles share each B column-tile while it is in L2
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def _grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M: tl.constexpr):
    """(pid_m, pid_n) of linear tile `tile_id` in grouped order; called by every grouped kernel (steps 3-6)."""
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = tile_id // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)           # the last group may be shorter
    pid_m = first_pid_m + (tile_id % num_pid_in_group) % group_size_m
    pid_n = (tile_id % num_pid_in_group) // group_size_m
    return pid_m, pid_n


def grouped_pid(tile_id: int, num_pid_m: int, num_pid_n: int, GROUP_M: int) -> tuple[int, int]:
    """(pid_m, pid_n) of linear tile `tile_id` in grouped order: GROUP_M row-tiles walked down each column.

    Runs the kernels' own @triton.jit helper `_grouped_pid` as plain Python on ints. Raises ValueError unless
    the sizes are positive ints and 0 <= tile_id < num_pid_m * num_pid_n. Taught in lab 03, step 3.
    """
    for name, v in (("num_pid_m", num_pid_m), ("num_pid_n", num_pid_n), ("GROUP_M", GROUP_M)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"grouped_pid: {name} must be a positive int, got {v!r}")
    if not isinstance(tile_id, int) or isinstance(tile_id, bool) or not 0 <= tile_id < num_pid_m * num_pid_n:
        raise ValueError(f"grouped_pid: tile_id must be an int in [0, {num_pid_m * num_pid_n}) for a {num_pid_m} x "
                         f"{num_pid_n} grid of tiles, got {tile_id!r}")
    return _grouped_pid.fn(tile_id, num_pid_m, num_pid_n, GROUP_M)


@triton.jit
def _tile_counts(M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """(num_pid_m, num_pid_n, num_tiles, k_tiles): C's tiles along M, along N and in all, and K's slices.

    Ragged edge tiles and a ragged last K slice count (steps 3-6).
    """
    num_pid_m = (M + BLOCK_M - 1) // BLOCK_M
    num_pid_n = (N + BLOCK_N - 1) // BLOCK_N
    num_tiles = num_pid_m * num_pid_n
    k_tiles = (K + BLOCK_K - 1) // BLOCK_K
    return num_pid_m, num_pid_n, num_tiles, k_tiles


@triton.jit
def matmul_kernel_grouped(
    a_ptr, b_ptr, c_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    """Step 2's kernel on a 1-D grid whose program ids are re-ordered in groups of GROUP_M row-tiles."""
    num_pid_m, num_pid_n, _, _ = _tile_counts(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K)
    # grouped order (see grouped_pid): GROUP_M row-tiles walked down each column of tiles
    pid_m, pid_n = _grouped_pid(tl.program_id(0), num_pid_m, num_pid_n, GROUP_M)
    acc = _masked_kloop(a_ptr, b_ptr, pid_m, pid_n, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                        BLOCK_M, BLOCK_N, BLOCK_K)
    _masked_store(c_ptr, acc, pid_m, pid_n, M, N, stride_cm, stride_cn, BLOCK_M, BLOCK_N)


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
    if out.device != a.device or out.stride(1) != 1 or (M > 1 and out.stride(0) < N):
        raise ValueError(f"{what}: out must be on {a.device} with unit column stride and rows that do not overlap "
                         f"(row stride >= {N}), got {out.device}, strides {out.stride()}")
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


def _device_target(a: torch.Tensor) -> str:
    """The plan target of a's GPU ('sm_90a', 'sm_100a', 'sm_120'); cached, so no query sits in a timed region."""
    return _target_of(a.device.index if a.device.index is not None else torch.cuda.current_device())


@functools.cache
def _target_of(index: int) -> str:
    from bwkit.gemm.plan import plan_target

    return plan_target(tuple(torch.cuda.get_device_capability(index)))


def _fixed_config(step: str, a: torch.Tensor, given: dict, cpu: dict) -> tuple:
    """(BLOCK_M, BLOCK_N, BLOCK_K, {num_warps, num_stages}) for a fixed-config step: `given` where not None, else
    `cpu` in the interpreter and the plan's config (`launch_configs(step, dtype, target)[0]`) on a GPU."""
    if runtime.interpreter_active() or all(v is not None for v in given.values()):
        plan, launch = cpu, {k: cpu[k] for k in ("num_warps", "num_stages") if k in cpu}
    else:
        from bwkit.gemm.plan import launch_configs

        cfg = launch_configs(step, a.dtype, _device_target(a))[0]
        plan, launch = cfg.kwargs, {"num_warps": cfg.num_warps, "num_stages": cfg.num_stages}
    got = {k: (v if v is not None else plan[k]) for k, v in given.items()}
    return got["BLOCK_M"], got["BLOCK_N"], got.get("BLOCK_K"), launch


def matmul_naive(a: torch.Tensor, b: torch.Tensor, *, BLOCK_M: int | None = None, BLOCK_N: int | None = None,
                 out_dtype: torch.dtype | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 1: C = a @ b with one program per (BLOCK_M, BLOCK_N) tile and the whole K strip in one load.

    Needs M % BLOCK_M == 0, N % BLOCK_N == 0 and K a power of two in [16, 256] (no masks, no K loop). Blocks left
    None: 32 x 32 in the interpreter, the plan's tile on a GPU (`launch_configs('naive', ...)`).
    Taught in lab 03, step 1.
    """
    c = _check_operands(a, b, "matmul_naive", out_dtype, out)
    (M, K), N = a.shape, b.shape[1]
    BLOCK_M, BLOCK_N, _, launch = _fixed_config("naive", a, {"BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N},
                                                {"BLOCK_M": 32, "BLOCK_N": 32})
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
                              BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=K, **launch)
    return c


def matmul_kloop(a: torch.Tensor, b: torch.Tensor, *, BLOCK_M: int | None = None, BLOCK_N: int | None = None,
                 BLOCK_K: int | None = None, out_dtype: torch.dtype | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 2: C = a @ b, any M, N, K: a K loop of BLOCK_K slices and masks at the ragged edges.

    Blocks left None: 32 x 32 x 32 in the interpreter, the plan's config on a GPU (`launch_configs('kloop', ...)`).
    Taught in lab 03, step 2.
    """
    c = _check_operands(a, b, "matmul_kloop", out_dtype, out)
    BLOCK_M, BLOCK_N, BLOCK_K, launch = _fixed_config(
        "kloop", a, {"BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N, "BLOCK_K": BLOCK_K},
        {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32})
    _blocks(BLOCK_M, BLOCK_N, BLOCK_K, "matmul_kloop")
    (M, K), N = a.shape, b.shape[1]
    a, b = _interpreter_safe(a, b)
    grid = (triton.cdiv(M, BLOCK_M), triton.cdiv(N, BLOCK_N))
    matmul_kernel_kloop[grid](a, b, c, M, N, K, *_strides(a, b, c),
                              BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K, **launch)
    return c


def matmul_grouped(a: torch.Tensor, b: torch.Tensor, *, BLOCK_M: int | None = None, BLOCK_N: int | None = None,
                   BLOCK_K: int | None = None, GROUP_M: int = 8, out_dtype: torch.dtype | None = None,
                   out: torch.Tensor | None = None, num_warps: int | None = None,
                   num_stages: int | None = None) -> torch.Tensor:
    """Step 3: step 2 with program ids re-ordered in groups of GROUP_M row-tiles (better L2 reuse).

    Blocks (and warps, stages) left None: 32 x 32 x 32 with 4 warps and 3 stages in the interpreter, the plan's
    config on a GPU (`launch_configs('grouped', ...)`). Taught in lab 03, step 3.
    """
    c = _check_operands(a, b, "matmul_grouped", out_dtype, out)
    for nm, v in (("num_warps", num_warps), ("num_stages", num_stages)):
        if v is not None:
            check_number(f"matmul_grouped: {nm}", v)
    BLOCK_M, BLOCK_N, BLOCK_K, launch = _fixed_config(
        "grouped", a, {"BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N, "BLOCK_K": BLOCK_K},
        {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "num_warps": 4, "num_stages": 3})
    launch = {"num_warps": launch["num_warps"] if num_warps is None else num_warps,
              "num_stages": launch["num_stages"] if num_stages is None else num_stages}
    _blocks(BLOCK_M, BLOCK_N, BLOCK_K, "matmul_grouped")
    if not isinstance(GROUP_M, int) or isinstance(GROUP_M, bool) or GROUP_M < 1:
        raise ValueError(f"matmul_grouped: GROUP_M must be a positive int, got {GROUP_M!r}")
    (M, K), N = a.shape, b.shape[1]
    a, b = _interpreter_safe(a, b)
    grid = (triton.cdiv(M, BLOCK_M) * triton.cdiv(N, BLOCK_N),)
    matmul_kernel_grouped[grid](a, b, c, M, N, K, *_strides(a, b, c), BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N,
                                BLOCK_K=BLOCK_K, GROUP_M=GROUP_M, **launch)
    return c


# ----------------------------------------------------------------------------------------------------------
# Step 4: autotuned: the grouped kernel, block shapes / warps / stages picked by triton.autotune (GPU only)
# ----------------------------------------------------------------------------------------------------------
_CPU_CONFIG = {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 4}
_TUNED: dict[tuple, object] = {}   # (step, dtype, target) -> autotuned kernel, built on first GPU call


def autotune_configs(step: str = "autotuned", dtype="bf16", target: str = "sm_100a") -> list:
    """The `triton.Config` list a tuned step ('autotuned', 'persistent_tma' or 'ws') tries on a GPU.

    The same list as `bwkit.gemm.launch_configs(step, dtype, target)`, which sizes every config to fit the
    target's shared memory (fp32 operands get shorter K slices or fewer stages than 16-bit ones). Taught in lab 03,
    step 4.
    """
    from bwkit.gemm.plan import TUNED_STEPS, launch_configs

    if step not in TUNED_STEPS:
        raise ValueError(f"autotune_configs: unknown step {step!r}; "
                         "choose 'autotuned', 'persistent_tma' or 'ws'")
    return launch_configs(step, dtype, target)


# every argument that changes the compiled kernel besides the tuned ones: the sizes, the strides (a unit stride
# becomes a constexpr, a multiple of 16 a divisibility hint) and the constexprs a wrapper passes itself
_KEY = ["M", "N", "K", "stride_am", "stride_ak", "stride_bk", "stride_bn", "stride_cm", "stride_cn"]
_KEY_EXTRA = {"autotuned": [], "persistent_tma": ["NUM_SMS", "B_KMAJOR"],
              "ws": ["NUM_SMS", "B_KMAJOR", "WARP_SPECIALIZE", "C_TMA"]}


def _tuned(step: str, kernel, dtype: torch.dtype, target: str):
    """The autotuner of `step` for `dtype` operands on `target`, built on first use (never at import)."""
    key = (step, dtype, target)
    if key not in _TUNED:
        _TUNED[key] = triton.autotune(configs=autotune_configs(step, dtype, target),
                                      key=_KEY + _KEY_EXTRA[step])(kernel)
    return _TUNED[key]


def matmul_autotuned(a: torch.Tensor, b: torch.Tensor, *,
                     out_dtype: torch.dtype | None = None,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 4: the grouped kernel with its block shape, warps and stages chosen by `triton.autotune`.

    On a GPU the first call for each (M, N, K, strides) benchmarks `launch_configs('autotuned', dtype, target)`
    (seconds) and caches the winner; under the interpreter a fixed small config runs (timing there would mean
    nothing).
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
    kernel = _tuned("autotuned", matmul_kernel_grouped, a.dtype, _device_target(a))

    def grid(meta):
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)

    kernel[grid](a, b, c, M, N, K, *_strides(a, b, c))
    return c


# ----------------------------------------------------------------------------------------------------------
# Step 5: persistent over all SMs, operands through TMA tensor descriptors
# ----------------------------------------------------------------------------------------------------------
@triton.jit
def _tma_descriptors(a_ptr, b_ptr, M, N, K, stride_am, stride_bk, stride_bn,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, B_KMAJOR: tl.constexpr):
    """(a_desc, b_desc): TMA tensor descriptors of A and B whose boxes are one tile's K slice (steps 5-6).

    A is (M, K), K-contiguous. B_KMAJOR: B is stored as its transpose (N, K), K-contiguous; else (K, N).
    """
    a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[stride_am, 1],
                                       block_shape=[BLOCK_M, BLOCK_K])
    if B_KMAJOR:
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[N, K], strides=[stride_bn, 1],
                                           block_shape=[BLOCK_N, BLOCK_K])
    else:
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[K, N], strides=[stride_bk, 1],
                                           block_shape=[BLOCK_K, BLOCK_N])
    return a_desc, b_desc


@triton.jit
def _tma_kloop(a_desc, b_desc, pid_m, pid_n, k_tiles,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, B_KMAJOR: tl.constexpr):
    """The fp32 (BLOCK_M, BLOCK_N) tile (pid_m, pid_n) of A @ B: a K loop of k_tiles TMA box loads (steps 5-6).

    No masks: the parts of a box outside the tensor read as zeros. A B_KMAJOR box of B is transposed (`.T`).
    """
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
    return acc


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
    out-of-bounds boxes with zeros, so ragged edges need no masks on the loads (`_tma_descriptors`,
    `_tma_kloop`); the store is step 2's `_masked_store`.
    """
    a_desc, b_desc = _tma_descriptors(a_ptr, b_ptr, M, N, K, stride_am, stride_bk, stride_bn,
                                      BLOCK_M, BLOCK_N, BLOCK_K, B_KMAJOR)
    num_pid_m, num_pid_n, num_tiles, k_tiles = _tile_counts(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K)
    for tile_id in tl.range(tl.program_id(0), num_tiles, NUM_SMS, flatten=True):
        # grouped order (see grouped_pid): GROUP_M row-tiles walked down each column of tiles
        pid_m, pid_n = _grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M)
        acc = _tma_kloop(a_desc, b_desc, pid_m, pid_n, k_tiles, BLOCK_M, BLOCK_N, BLOCK_K, B_KMAJOR)
        _masked_store(c_ptr, acc, pid_m, pid_n, M, N, stride_cm, stride_cn, BLOCK_M, BLOCK_N)


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
    descriptor in two half-tiles (needs C's row stride 16-byte aligned); else masked pointer stores
    (`_masked_store`).
    """
    a_desc, b_desc = _tma_descriptors(a_ptr, b_ptr, M, N, K, stride_am, stride_bk, stride_bn,
                                      BLOCK_M, BLOCK_N, BLOCK_K, B_KMAJOR)
    if C_TMA:
        c_desc = tl.make_tensor_descriptor(c_ptr, shape=[M, N], strides=[stride_cm, 1],
                                           block_shape=[BLOCK_M, BLOCK_N // 2])
    num_pid_m, num_pid_n, num_tiles, k_tiles = _tile_counts(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K)
    for tile_id in tl.range(tl.program_id(0), num_tiles, NUM_SMS, flatten=False,
                            warp_specialize=WARP_SPECIALIZE):
        # grouped order (see grouped_pid): GROUP_M row-tiles walked down each column of tiles
        pid_m, pid_n = _grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M)
        acc = _tma_kloop(a_desc, b_desc, pid_m, pid_n, k_tiles, BLOCK_M, BLOCK_N, BLOCK_K, B_KMAJOR)
        if C_TMA:
            # epilogue in two halves: half the registers and shared memory of a whole-tile store
            off_m = pid_m * BLOCK_M
            off_n = pid_n * BLOCK_N
            acc0, acc1 = acc.reshape((BLOCK_M, 2, BLOCK_N // 2)).permute(0, 2, 1).split()
            c_desc.store([off_m, off_n], acc0.to(c_ptr.dtype.element_ty))
            c_desc.store([off_m, off_n + BLOCK_N // 2], acc1.to(c_ptr.dtype.element_ty))
        else:
            _masked_store(c_ptr, acc, pid_m, pid_n, M, N, stride_cm, stride_cn, BLOCK_M, BLOCK_N)


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


_ALLOCATOR: list[bool] = []


def _ensure_allocator() -> None:
    """Device-side tensor descriptors need a global scratch allocator on a GPU (not in the interpreter); set once."""
    if runtime.interpreter_active() or _ALLOCATOR:
        return

    def alloc(size: int, alignment: int, stream):
        return torch.empty(size, dtype=torch.int8, device="cuda")

    triton.set_allocator(alloc)
    _ALLOCATOR.append(True)


@functools.cache
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _num_sms(a: torch.Tensor) -> int:
    """SMs of a's GPU (cached: no device query inside a timed region); 4 in the interpreter."""
    if a.device.type == "cuda":
        return _sm_count(a.device.index if a.device.index is not None else torch.cuda.current_device())
    return 4   # interpreter: a few "SMs" so the persistent loop really visits several tiles per program


_CONFIG_KEYS = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M")


def _check_config(config, what: str) -> dict:
    """A copy of a TMA step's `config` dict; ValueError/TypeError naming a missing, unknown or bad entry."""
    if not isinstance(config, dict):
        raise TypeError(f"{what}: config must be a dict {{'BLOCK_M', 'BLOCK_N', 'BLOCK_K', 'GROUP_M'[, 'num_warps', "
                        f"'num_stages']}} or None (autotune), got {config!r}")
    missing = [k for k in _CONFIG_KEYS if k not in config]
    unknown = [k for k in config if k not in (*_CONFIG_KEYS, "num_warps", "num_stages")]
    if missing or unknown:
        raise ValueError(f"{what}: config needs the keys {', '.join(_CONFIG_KEYS)} (and may add num_warps, "
                         f"num_stages); missing {missing}, unknown {unknown}")
    for k in ("GROUP_M", "num_warps", "num_stages"):
        if k in config:
            check_number(f"{what}: config[{k!r}]", config[k])
    return dict(config)


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
        cfg = _check_config(config, what)
        launch = {k: cfg.pop(k) for k in ("num_warps", "num_stages") if k in cfg}
        _blocks(cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["BLOCK_K"], what)
        tiles = triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(N, cfg["BLOCK_N"])
        kernel[(min(num_sms, tiles),)](a, b, c, M, N, K, *_strides(a, b, c), NUM_SMS=num_sms, B_KMAJOR=kmajor,
                                       **extra, **cfg, **launch)
        return c

    def grid(meta):
        return (min(num_sms, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"])),)

    _tuned(step, kernel, a.dtype, _device_target(a))[grid](a, b, c, M, N, K, *_strides(a, b, c), NUM_SMS=num_sms,
                                                          B_KMAJOR=kmajor, **extra)
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
    if warp_specialize is None:      # the plan's choice: on for datacenter Blackwell only (cached per device)
        warp_specialize = a.device.type == "cuda" and _device_target(a) == "sm_100a"
    if not isinstance(warp_specialize, bool):
        raise TypeError(f"matmul_ws: warp_specialize must be a bool or None, got {warp_specialize!r}")

    def c_tma(c: torch.Tensor) -> bool:
        return (c.stride(0) * c.element_size()) % 16 == 0 and c.data_ptr() % 16 == 0

    return _launch_persistent(matmul_kernel_ws, "ws", a, b, c, "matmul_ws", config,
                              {"WARP_SPECIALIZE": warp_specialize, "C_TMA": c_tma})


# ----------------------------------------------------------------------------------------------------------
# The ladder, references, checks and compile-only helpers
# ----------------------------------------------------------------------------------------------------------
