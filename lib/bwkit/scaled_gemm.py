"""Block-scaled GEMMs with Triton's `tl.dot_scaled`: MXFP4 and MXFP8 (E4M3/E5M2, E8M0 scales), and NVFP4.

    import bwkit; rt = bwkit.setup()                 # first: picks the Triton interpreter on a CPU
    from bwkit import formats as F, scaled_gemm as sg
    a_q = F.quantize(a, "mxfp4")                     # a [M, K], blocks of 32 along K
    b_q = F.quantize(w, "mxfp4")                     # w [N, K] (nn.Linear layout) -> c = a @ w.T
    c = sg.mxfp4_matmul(a_q, b_q)                    # float32 [M, N]
    c_ref = sg.emulated_matmul(a_q, b_q)             # the same product from bwkit.formats' decoders
    k = sg.compile_block_scaled("e2m1", "e2m1")      # PTX/SASS for sm_100a: tcgen05.mma ... kind::mxf4 ...
    c4 = sg.nvfp4_matmul(F.quantize(a, "nvfp4"), F.quantize(w, "nvfp4"))   # NVFP4 (lab 04): float32 [M, N]

Operands are `bwkit.formats.Quantized` tensors from `quantize`, blocked along K: `a_q` is [M, K] (axis 1);
`b_q` is [N, K] blocked along axis 1 (gives a @ b.T) or [K, N] blocked along axis 0 (gives a @ b). K must be a
multiple of 32 (whole scale blocks). FP4 codes are packed two per byte (element 0 in the low nibble) before the
launch; scales go in as uint8 E8M0 codes, [M, K/32] and [N, K/32]. The product accumulates in FP32.

Paths: on a CPU the kernel runs in the Triton interpreter (triton 3.9; 3.7 crashes on `tl.dot_scaled`), exact
against the emulator up to FP32 summation order. On sm_100a it compiles to `tcgen05.mma ... block_scale`; on
Hopper Triton emulates `dot_scaled` in software (it upcasts to bf16).

NVFP4 (lab 04: `matmul_kernel_nvfp4`, `nvfp4_matmul`, `compile_nvfp4`): E2M1 codes with UE4M3 scales per 16 along
K and one FP32 tensor scale per operand; `a_q` [M, K] and `b_q` [N, K], both blocked along axis 1; K a multiple
of BLOCK_K. Taught in lab 02 (steps 10-11) and lab 04.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from bwkit.formats import Quantized, pack_fp4
from bwkit.gemm.kernels import _blocks
from bwkit.gemm.plan import _check_shape
from bwkit.kit import runtime
from bwkit.kit.args import check_flag

__all__ = [
    "matmul_kernel_block_scaled", "block_scaled_matmul", "mxfp4_matmul", "mxfp8_matmul", "emulated_matmul",
    "compile_block_scaled", "DOT_FORMATS", "matmul_kernel_nvfp4", "nvfp4_matmul", "compile_nvfp4",
    "TILE_SCHEMES", "dot_scaled_tile_shapes", "k_step_bytes",
]

# quantize() scheme -> tl.dot_scaled format string
DOT_FORMATS = {"mxfp4": "e2m1", "mxfp8_e4m3": "e4m3", "mxfp8_e5m2": "e5m2"}
# the schemes whose tiles the kernels of this module load (MX through matmul_kernel_block_scaled, NVFP4 through
# matmul_kernel_nvfp4)
TILE_SCHEMES = ("mxfp4", "mxfp8_e4m3", "mxfp8_e5m2", "nvfp4")


def _tile_scheme(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, scheme: str, what: str):
    from bwkit.formats import SCHEMES

    if scheme not in TILE_SCHEMES:
        raise ValueError(f"{what}: scheme must be one of {', '.join(TILE_SCHEMES)}, got {scheme!r}")
    spec = SCHEMES[scheme]
    for nm, v in (("BLOCK_M", BLOCK_M), ("BLOCK_N", BLOCK_N), ("BLOCK_K", BLOCK_K)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{what}: {nm} must be a positive int, got {v!r}")
    if BLOCK_K % spec.block_size:
        raise ValueError(f"{what}: BLOCK_K = {BLOCK_K} must be a multiple of {scheme}'s block of "
                         f"{spec.block_size} (whole scale blocks per K step)")
    return spec


def dot_scaled_tile_shapes(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int,
                           scheme: str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Shapes of the four tiles one K step hands to `tl.dot_scaled`: (A codes, A scales, B codes, B scales).

    A is [BLOCK_M, BLOCK_K / pack] bytes (pack = 2 FP4 codes per byte, 1 for FP8); B is [BLOCK_K / pack, BLOCK_N]
    (dot_scaled multiplies A [M, K] by B [K, N]); the scales are [BLOCK_M, BLOCK_K / block] and
    [BLOCK_N, BLOCK_K / block] — B's scales are *not* transposed (Triton's `tl.dot_scaled` docs). This is what
    `matmul_kernel_block_scaled` and `matmul_kernel_nvfp4` load per K step. Taught in lab 04 (exercise 04.4).
    """
    spec = _tile_scheme(BLOCK_M, BLOCK_N, BLOCK_K, scheme, "dot_scaled_tile_shapes")
    pack = 8 // spec.elem_bits
    kb = BLOCK_K // spec.block_size
    return (BLOCK_M, BLOCK_K // pack), (BLOCK_M, kb), (BLOCK_K // pack, BLOCK_N), (BLOCK_N, kb)


def k_step_bytes(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, scheme: str) -> int:
    """Bytes one K step of a BLOCK_M x BLOCK_N tile loads: A and B codes plus their one-byte block scales.

    (BLOCK_M + BLOCK_N) x (BLOCK_K x element bits / 8 + BLOCK_K / block). Taught in lab 04 (exercise 04.5).
    """
    spec = _tile_scheme(BLOCK_M, BLOCK_N, BLOCK_K, scheme, "k_step_bytes")
    return (BLOCK_M + BLOCK_N) * (BLOCK_K * spec.elem_bits // 8 + BLOCK_K // spec.block_size)


@triton.jit
def matmul_kernel_block_scaled(
    # pointers: A codes [M, K/PACK_A], B codes [N, K/PACK_B] (uint8), scales [M, K/32], [N, K/32], C [M, N]
    a_ptr, b_ptr, a_sf_ptr, b_sf_ptr, c_ptr,
    # sizes
    M, N, K,
    # strides
    stride_am, stride_ak, stride_bn, stride_bk,
    stride_asm, stride_ask, stride_bsn, stride_bsk,
    stride_cm, stride_cn,
    # meta-parameters
    A_FORMAT: tl.constexpr, B_FORMAT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """C[M, N] = dequant(A) @ dequant(B)^T, one BLOCK_M x BLOCK_N tile per program; K in steps of BLOCK_K."""
    PACK_A: tl.constexpr = 2 if A_FORMAT == "e2m1" else 1
    PACK_B: tl.constexpr = 2 if B_FORMAT == "e2m1" else 1
    SF_K: tl.constexpr = BLOCK_K // 32
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_ak = tl.arange(0, BLOCK_K // PACK_A)
    offs_bk = tl.arange(0, BLOCK_K // PACK_B)
    offs_sk = tl.arange(0, SF_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_a = k * (BLOCK_K // PACK_A) + offs_ak
        k_b = k * (BLOCK_K // PACK_B) + offs_bk
        k_s = k * SF_K + offs_sk
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + k_a[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (k_a[None, :] < K // PACK_A), other=0)
        # B is stored [N, K]; dot_scaled wants the [K, N] tile
        b = tl.load(b_ptr + offs_n[None, :] * stride_bn + k_b[:, None] * stride_bk,
                    mask=(offs_n[None, :] < N) & (k_b[:, None] < K // PACK_B), other=0)
        a_sf = tl.load(a_sf_ptr + offs_m[:, None] * stride_asm + k_s[None, :] * stride_ask,
                       mask=(offs_m[:, None] < M) & (k_s[None, :] < K // 32), other=127)
        b_sf = tl.load(b_sf_ptr + offs_n[:, None] * stride_bsn + k_s[None, :] * stride_bsk,
                       mask=(offs_n[:, None] < N) & (k_s[None, :] < K // 32), other=127)
        acc = tl.dot_scaled(a, a_sf, A_FORMAT, b, b_sf, B_FORMAT, acc)
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def _operand(q: Quantized, name: str, schemes: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Check one operand; return (codes [rows, K(/2)] uint8, scales [rows, K/32] uint8, dot format)."""
    if not isinstance(q, Quantized):
        raise TypeError(f"{name} must be a bwkit.formats.Quantized (from formats.quantize), "
                        f"got {type(q).__name__}")
    if q.scheme not in schemes:
        raise ValueError(f"{name} has scheme {q.scheme!r}; this GEMM takes {', '.join(schemes)} "
                         f"(quantize with one of those)")
    if len(q.shape) != 2:
        raise ValueError(f"{name} must be 2-D, got shape {list(q.shape)}")
    if q.block_size != 32:
        raise ValueError(f"{name} was quantized with block_size={q.block_size}; the hardware reads blocks of 32")
    codes, sf = q.codes, q.scales
    if name == "b_q" and q.axis == 0:           # B given as [K, N], blocked along K: use its [N, K] view
        codes, sf = codes.t(), sf.t()
    elif q.axis != 1:
        raise ValueError(f"{name} must be blocked along K: axis 1 of a [M, K] (or [N, K]) tensor"
                         + (", or axis 0 of a [K, N] one" if name == "b_q" else "") + f"; got axis {q.axis}")
    fmt = DOT_FORMATS[q.scheme]
    codes = codes.contiguous()
    if fmt == "e2m1":
        codes = pack_fp4(codes)
    return codes, sf.contiguous(), fmt


def _mx_blocks(block_m: int, block_n: int, block_k: int) -> None:
    """ValueError unless the blocks of `matmul_kernel_block_scaled` are powers of two >= 16, block_k a multiple
    of 64 (checked before any launch or compile: Triton's own error would be a CompilationError)."""
    for v, nm in ((block_m, "block_m"), (block_n, "block_n"), (block_k, "block_k")):
        if isinstance(v, bool) or not isinstance(v, int) or v < 16 or v & (v - 1):
            raise ValueError(f"{nm} must be a power of two >= 16, got {v!r}")
    if block_k % 64:
        raise ValueError(f"block_k must be a multiple of 64 (two FP4 scale blocks per packed tile), got {block_k}")


def _nvfp4_blocks(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, what: str) -> None:
    """ValueError unless the blocks of `matmul_kernel_nvfp4` are powers of two >= 16, BLOCK_K >= 32."""
    for nm, v in (("BLOCK_M", BLOCK_M), ("BLOCK_N", BLOCK_N), ("BLOCK_K", BLOCK_K)):
        if isinstance(v, bool):
            raise ValueError(f"{what}: {nm} must be a power of two >= 16 (tl.dot's minimum), got {v!r}")
    _blocks(BLOCK_M, BLOCK_N, BLOCK_K, what)
    if BLOCK_K % 32:
        raise ValueError(f"{what}: BLOCK_K must be a multiple of 32, got {BLOCK_K}")


def block_scaled_matmul(a_q: Quantized, b_q: Quantized, *, schemes: tuple[str, ...] = tuple(DOT_FORMATS),
                        block_m: int | None = None, block_n: int | None = None,
                        block_k: int | None = None) -> torch.Tensor:
    """C = A @ B^T (or A @ B, see the module docstring) for MX operands of `schemes`; float32 [M, N].

    Checks the operands (type, scheme, 2-D, blocked along K, K a multiple of 32, matching K), packs FP4
    codes, allocates C and launches `matmul_kernel_block_scaled`. Tile sizes default to 16x16x64 in the
    interpreter and 128x128x128 on a GPU.
    """
    a, a_sf, a_fmt = _operand(a_q, "a_q", schemes)
    b, b_sf, b_fmt = _operand(b_q, "b_q", schemes)
    M, K = a_q.shape
    N = b_sf.shape[0]
    Kb = b_q.shape[0] if b_q.axis == 0 else b_q.shape[1]     # b_q's logical K, not its padded scale count
    if K % 32:
        raise ValueError(f"K = {K} must be a multiple of 32 (one E8M0 scale per 32 elements of K)")
    if Kb != K:
        raise ValueError(f"K mismatch: a_q is [M={M}, K={K}], b_q has K={Kb}")
    if a.device != b.device:
        raise ValueError(f"operands on different devices: {a.device} and {b.device}")
    interp = runtime.interpreter_active()
    if interp and a.device.type != "cpu":
        raise ValueError(f"the Triton interpreter runs kernels on CPU tensors; the operands are on {a.device}")
    if not interp and a.device.type != "cuda":
        raise ValueError(f"compiled Triton kernels need CUDA tensors; the operands are on {a.device}: quantize "
                         "tensors that live on the GPU (or run bwkit.setup() on a machine without one)")
    bm = (16 if interp else 128) if block_m is None else block_m
    bn = (16 if interp else 128) if block_n is None else block_n
    bk = (64 if interp else 128) if block_k is None else block_k
    _mx_blocks(bm, bn, bk)
    c = torch.empty((M, N), dtype=torch.float32, device=a.device)
    grid = (triton.cdiv(M, bm), triton.cdiv(N, bn))
    matmul_kernel_block_scaled[grid](
        a, b, a_sf, b_sf, c, M, N, K,
        a.stride(0), a.stride(1), b.stride(0), b.stride(1),
        a_sf.stride(0), a_sf.stride(1), b_sf.stride(0), b_sf.stride(1),
        c.stride(0), c.stride(1),
        A_FORMAT=a_fmt, B_FORMAT=b_fmt, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
    return c


def mxfp4_matmul(a_q: Quantized, b_q: Quantized, **tiles: int) -> torch.Tensor:
    """MXFP4 x MXFP4 block-scaled GEMM (E2M1 elements, E8M0 scales per 32): float32 [M, N].

    Taught in lab 02, step 11; lab 04 builds on it.
    """
    return block_scaled_matmul(a_q, b_q, schemes=("mxfp4",), **tiles)


def mxfp8_matmul(a_q: Quantized, b_q: Quantized, **tiles: int) -> torch.Tensor:
    """MXFP8 block-scaled GEMM (E4M3 or E5M2 elements, E8M0 scales per 32): float32 [M, N]."""
    return block_scaled_matmul(a_q, b_q, schemes=("mxfp8_e4m3", "mxfp8_e5m2"), **tiles)


def emulated_matmul(a_q: Quantized, b_q: Quantized) -> torch.Tensor:
    """The reference product from the emulator: dequantize both operands, multiply in float64, return fp32."""
    if not isinstance(a_q, Quantized) or not isinstance(b_q, Quantized):
        raise TypeError("emulated_matmul takes two bwkit.formats.Quantized operands")
    a = a_q.dequantize().to(torch.float64)
    b = b_q.dequantize().to(torch.float64)
    if len(a_q.shape) != 2 or len(b_q.shape) != 2:
        raise ValueError("emulated_matmul takes 2-D operands")
    b = b if b_q.axis == 0 else b.t()
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"K mismatch: {list(a_q.shape)} and {list(b_q.shape)} (axis {b_q.axis})")
    return (a @ b).to(torch.float32)


def compile_block_scaled(a_format: str = "e2m1", b_format: str = "e2m1", target: str = "sm_100a",
                         block_m: int = 128, block_n: int = 128, block_k: int = 128, num_warps: int = 4,
                         num_stages: int = 3, shape: tuple[int, int, int] = (8192, 8192, 8192)):
    """Compile `matmul_kernel_block_scaled` for `target` without a GPU (bwkit.inspect.Compiled: PTX, SASS).

    Specialized as a `block_scaled_matmul` launch on contiguous operands of `shape` (M, N, K) is
    (`bwkit.gemm.plan.launch_specialization`). For sm_100a and e2m1 x e2m1 the PTX holds
    `tcgen05.mma.cta_group::1.kind::mxf4.block_scale`.
    """
    valid = set(DOT_FORMATS.values())
    for f in (a_format, b_format):
        if f not in valid:
            raise ValueError(f"unknown dot_scaled format {f!r}; valid: {', '.join(sorted(valid))}")
    M, N, K = _check_shape(shape, "compile_block_scaled")
    _mx_blocks(block_m, block_n, block_k)
    if K % 32:
        raise ValueError(f"compile_block_scaled: K = {K} must be a multiple of 32 (one E8M0 scale per 32 elements)")
    pa, pb = (2 if f == "e2m1" else 1 for f in (a_format, b_format))
    args = {**_layout(shape, K // pa, K // pb, K // 32, torch.uint8),
            "A_FORMAT": a_format, "B_FORMAT": b_format, "BLOCK_M": block_m, "BLOCK_N": block_n, "BLOCK_K": block_k}
    return _compile(matmul_kernel_block_scaled, args, target, num_warps, num_stages)


def _layout(shape: tuple[int, int, int], a_cols: int, b_cols: int, sf_cols: int, sf_dtype) -> dict:
    """The runtime arguments of this module's kernels on contiguous operands (codes, scales, fp32 C) of `shape`."""
    M, N, K = shape
    return {"a_ptr": torch.uint8, "b_ptr": torch.uint8, "a_sf_ptr": sf_dtype, "b_sf_ptr": sf_dtype,
            "c_ptr": torch.float32, "M": M, "N": N, "K": K, "stride_am": a_cols, "stride_ak": 1, "stride_bn": b_cols,
            "stride_bk": 1, "stride_asm": sf_cols, "stride_ask": 1, "stride_bsn": sf_cols, "stride_bsk": 1,
            "stride_cm": N, "stride_cn": 1}


def _compile(kernel, args: dict, target: str, num_warps: int, num_stages: int):
    """Compile a kernel of this module as a launch with `args` specializes it (`bwkit.gemm.plan.compile_launch`)."""
    from bwkit.gemm.plan import compile_launch

    return compile_launch(kernel, args, target, num_warps, num_stages)


def _capability_major(device) -> int:
    return torch.cuda.get_device_capability(device)[0]


# ----------------------------------------------------------------------------------------------------------
# NVFP4 (lab 04): E2M1 elements, UE4M3 scales per 16 along K, an FP32 tensor scale per operand
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
    a_ts_ptr, b_ts_ptr,                 # fp32 scalars in memory: the per-tensor decode scales (no host sync)
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, DEQUANT: tl.constexpr,
):
    """C = (dequant(A) @ dequant(B)^T) * a_ts * b_ts; K a multiple of BLOCK_K (whole 16-blocks).

    DEQUANT False: `tl.dot_scaled(..., "e2m1", ...)` with UE4M3 scales (sm_100a: tcgen05.mma kind::mxf4nvf4
    block16; sm_90a, which has no FP4 Tensor Cores: Triton's software emulation, a decode to bf16 for wgmma).
    DEQUANT True: decode E2M1 and UE4M3 in registers to fp16 (exact: at most 5 significant bits) and `tl.dot`
    them. `nvfp4_matmul` picks DEQUANT False on datacenter Blackwell only (FP4 Tensor Cores with UE4M3 block-16
    scales), True in the triton 3.9 interpreter (it reads dot_scaled scales as E8M0 only) and on every other GPU.
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
    tensor_scale = tl.load(a_ts_ptr) * tl.load(b_ts_ptr)
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

    `dequant` None: `tl.dot_scaled` (DEQUANT False) on datacenter Blackwell (sm_100a/sm_103a: tcgen05 block-16
    UE4M3 scales), the in-register decode (True) in the interpreter and on every other GPU (Hopper has no FP4
    Tensor Cores); `dequant=False` elsewhere raises. K must be a multiple of BLOCK_K (default 64 in the
    interpreter, 128 on a GPU; itself a multiple of 32). Taught in lab 04.
    """
    a, a_sf, a_ts = _nvfp4_operand(a_q, "a_q")
    b, b_sf, b_ts = _nvfp4_operand(b_q, "b_q")
    (M, K), N = a_q.shape, b_q.shape[0]
    if b_q.shape[1] != K:
        raise ValueError(f"nvfp4_matmul: K mismatch, a_q is {list(a_q.shape)} and b_q is {list(b_q.shape)} "
                         "(b_q is [N, K])")
    if a.device != b.device:
        raise ValueError(f"nvfp4_matmul: operands on {a.device} and {b.device}")
    if dequant is not None:
        check_flag("nvfp4_matmul: dequant", dequant)
    interp = runtime.interpreter_active()
    blackwell = not interp and a.device.type == "cuda" and _capability_major(a.device) == 10
    if dequant is None:
        dequant = not blackwell
    if not interp and not dequant and not blackwell:
        where = (runtime.arch_name(tuple(torch.cuda.get_device_capability(a.device))) if a.device.type == "cuda"
                 else str(a.device))
        raise ValueError(f"nvfp4_matmul(dequant=False): tl.dot_scaled with UE4M3 block-16 scales is the datacenter "
                         f"Blackwell instruction (tcgen05.mma kind::mxf4nvf4 block16); {where} has no FP4 Tensor "
                         "Cores for it: use dequant=True (or None), the in-register decode to fp16")
    if interp and not dequant:
        raise runtime.InterpreterBugError("nvfp4_matmul(dequant=False): the triton 3.9 interpreter reads "
                                          "tl.dot_scaled scales as E8M0 only, so UE4M3 scales would be decoded "
                                          "wrongly; use dequant=True on the CPU (or compile the kernel)")
    bm = (16 if interp else 128) if BLOCK_M is None else BLOCK_M
    bn = (16 if interp else 128) if BLOCK_N is None else BLOCK_N
    bk = (64 if interp else 128) if BLOCK_K is None else BLOCK_K
    _nvfp4_blocks(bm, bn, bk, "nvfp4_matmul")
    if K % bk:
        raise ValueError(f"nvfp4_matmul: K = {K} must be a multiple of BLOCK_K = {bk} (whole 16-element scale "
                         "blocks per K step)")
    c = torch.empty((M, N), dtype=torch.float32, device=a.device)
    a_ts, b_ts = (t.reshape(1).to(a.device) for t in (a_ts, b_ts))     # read in the kernel: no host sync
    grid = (triton.cdiv(M, bm), triton.cdiv(N, bn))
    matmul_kernel_nvfp4[grid](a, b, a_sf, b_sf, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                              a_sf.stride(0), a_sf.stride(1), b_sf.stride(0), b_sf.stride(1), c.stride(0),
                              c.stride(1), a_ts, b_ts, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, DEQUANT=bool(dequant))
    return c


def compile_nvfp4(target: str = "sm_100a", dequant: bool = False, BLOCK_M: int = 128, BLOCK_N: int = 128,
                  BLOCK_K: int = 128, num_warps: int = 4, num_stages: int = 3,
                  shape: tuple[int, int, int] = (8192, 8192, 8192)):
    """Compile `matmul_kernel_nvfp4` for `target` on any machine, specialized as a launch at `shape`; a
    `bwkit.inspect.Compiled`.

    On sm_100a with `dequant=False` the PTX holds `tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.block16`.
    (`nvfp4_matmul` launches dequant=False on datacenter Blackwell only; compiling it for sm_90a shows what
    Triton would make of it there.) Taught in lab 04.
    """
    M, N, K = _check_shape(shape, "compile_nvfp4")
    check_flag("compile_nvfp4: dequant", dequant)
    _nvfp4_blocks(BLOCK_M, BLOCK_N, BLOCK_K, "compile_nvfp4")
    if K % 16:
        raise ValueError(f"compile_nvfp4: K = {K} is not a multiple of NVFP4's block of 16")
    args = {**_layout(shape, K // 2, K // 2, K // 16, torch.float8_e4m3fn), "a_ts_ptr": torch.float32,
            "b_ts_ptr": torch.float32, "BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N, "BLOCK_K": BLOCK_K,
            "DEQUANT": dequant}
    return _compile(matmul_kernel_nvfp4, args, target, num_warps, num_stages)
