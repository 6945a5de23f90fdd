"""The kit's own Blackwell GEMMs in the CuTe DSL: a dense BF16/FP16 tcgen05 GEMM and an NVFP4 block-scaled one.

Both compute ``C = A · Bᵀ`` with A of shape (M, K) and B of shape (N, K), both K-major (row-major in torch, like an
``nn.Linear`` weight), and C of shape (M, N) row-major. One CTA of 128 threads (4 warps) computes one
``TILE_M x TILE_N`` tile of C:

1. **TMA** (warp 0) copies a ``TILE_M x TILE_K`` slice of A and a ``TILE_N x TILE_K`` slice of B into a ring of
   ``STAGES`` shared-memory buffers; each buffer has a *full* and an *empty* mbarrier (the pipeline over K).
2. **tcgen05.mma** (warp 1, one elected thread) multiplies the slice in shared memory into an FP32 accumulator
   that lives in **Tensor Memory** (TMEM: 128 lanes x TILE_N columns), then releases the buffer to warp 0.
3. **Epilogue** (all 4 warps): each thread reads its accumulator row from TMEM (``tcgen05.ld``) in column chunks
   of ``EPI_N``, converts to the output type and stores to global memory.

The NVFP4 variant adds scale factors: the UE4M3 scales (one per 16 FP4 values along K) travel by TMA with A and B,
are copied from shared memory to TMEM (``tcgen05.cp``) and the MMA is ``kind::mxf4nvf4.block_scale.block16``.
What the two kernels share (smem ring and TMA setup, pipelines, TMEM allocation, the TMA and MMA loops over K,
the epilogue) is in `bwkit.cute_common`; each kernel here is a ``@cute.kernel``, launched by a ``@cute.jit``
host function, compiled or run by a plain Python ``compile_*`` / ``gemm_*`` function.

Use (compile-only on any machine; running needs a datacenter Blackwell GPU, sm_100a)::

    from bwkit import cute_gemm as cg
    k = cg.compile_gemm(8192, 8192, 8192)          # bwkit.inspect.Compiled: k.ptx, k.sass()
    c = cg.gemm_tcgen05(a, b)                      # on a B200: a (M, K), b (N, K) bf16 CUDA tensors
    k4 = cg.compile_gemm_nvfp4(512, 512, 512)      # PTX shows tcgen05.mma...kind::mxf4nvf4

Constraints (checked before compiling or launching, with a message naming the rule): M % TILE_M == 0,
N % TILE_N == 0, K % TILE_K == 0 (this kernel does no bounds checks); TILE_M = 128, TILE_N in {64, 128, 256};
rows 16-byte aligned (implied by K % TILE_K == 0). NVFP4: K % 256 == 0, packed FP4 (two codes a byte); both: STAGES
from 2 to 8 and the ring within 227 KiB of shared memory.

Taught in lab 05 (steps 4-7).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, fields

import cuda.bindings.driver as cuda_driver
import cutlass
import cutlass.cute as cute
import cutlass.utils.blockscaled_layout as blockscaled_utils
from cutlass.cute.nvgpu import cpasync, tcgen05
from cutlass.cute.runtime import make_ptr
from cutlass.memory import SmemAllocator

from bwkit import cute_common as cc
from bwkit.formats import check_nvfp4_operands, check_operand
from bwkit.kit.args import check_number
from bwkit.pipeline import SMEM_BYTES_PER_SM

__all__ = [
    "GemmConfig", "DTYPES", "EXPECTED_PTX", "EXPECTED_PTX_NVFP4", "NVFP4_TILE_K", "SF_VEC",
    "check_gemm_shapes", "check_nvfp4_shapes", "check_nvfp4_operands", "compile_gemm", "compile_gemm_nvfp4",
    "gemm_host", "gemm_kernel_tcgen05", "nvfp4_operands", "gemm_nvfp4_host", "gemm_kernel_nvfp4",
    "gemm_tcgen05", "gemm_nvfp4", "smem_bytes",
]

THREADS = 128                  # 4 warps: warp 0 = TMA producer, warp 1 = MMA issuer, all 4 = epilogue
MMA_K_F16 = 16                 # K of one tcgen05.mma kind::f16 instruction (256 bits of 16-bit data)
MMA_K_FP4 = 64                 # K of one tcgen05.mma kind::mxf4nvf4 instruction (256 bits of packed FP4)
SF_VEC = 16                    # NVFP4: one UE4M3 scale per 16 values along K
NVFP4_TILE_K = 256             # NVFP4 K tile: 4 MMAs of K=64; 128 bytes of packed FP4 per row (one swizzle atom)

# name -> (CuTe element type, bytes per element)
DTYPES: dict[str, tuple[type, int]] = {"bf16": (cutlass.BFloat16, 2), "fp16": (cutlass.Float16, 2)}

# PTX instructions each kernel must contain (regexes over the PTX text)
EXPECTED_PTX: dict[str, str] = {
    "tcgen05.mma kind::f16": r"tcgen05\.mma\.cta_group::1\.kind::f16",
    "tcgen05.alloc (TMEM)": r"tcgen05\.alloc",
    "tcgen05.ld (TMEM -> registers)": r"tcgen05\.ld",
    "tcgen05.commit (MMA done -> mbarrier)": r"tcgen05\.commit",
    "cp.async.bulk.tensor (TMA load)": r"cp\.async\.bulk\.tensor",
    "mbarrier (pipeline)": r"mbarrier\.",
}
EXPECTED_PTX_NVFP4: dict[str, str] = {
    "tcgen05.mma kind::mxf4nvf4 block16": r"tcgen05\.mma\.cta_group::1\.kind::mxf4nvf4\.block_scale\.block16",
    "tcgen05.cp (scales smem -> TMEM)": r"tcgen05\.cp",
    "tcgen05.alloc (TMEM)": r"tcgen05\.alloc",
    "tcgen05.ld (TMEM -> registers)": r"tcgen05\.ld",
    "cp.async.bulk.tensor (TMA load)": r"cp\.async\.bulk\.tensor",
    "mbarrier (pipeline)": r"mbarrier\.",
}


def _int_fields(obj, prefix: str) -> None:
    """`check_number` on each int field of the dataclass `obj` that holds no int (a float, a str, None, a bool), so
    a size never reaches CuTe as 128.0; a wrong int is left to the field's own rule (which says what it allows)."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        if f.type in ("int", int) and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            check_number(f"{prefix}{f.name}", v)


@dataclass(frozen=True)
class GemmConfig:
    """Tile sizes and pipeline depth of the dense kernel: TILE_M x TILE_N of C per CTA, K in TILE_K steps."""

    TILE_M: int = 128
    TILE_N: int = 256
    TILE_K: int = 64
    STAGES: int = 4
    EPI_N: int = 32            # accumulator columns each epilogue step moves TMEM -> registers -> global

    def __post_init__(self) -> None:
        _int_fields(self, "GemmConfig.")
        if self.TILE_M != 128:
            raise ValueError(f"TILE_M must be 128 (one CTA, one tcgen05.mma of M=128), got {self.TILE_M!r}")
        if self.TILE_N not in (64, 128, 256):
            raise ValueError(f"TILE_N must be one of 64, 128, 256 (tcgen05 N <= 256), got {self.TILE_N!r}")
        if self.TILE_K % 64 != 0 or self.TILE_K <= 0:
            raise ValueError(f"TILE_K must be a positive multiple of 64 (a 128-byte swizzle row of 16-bit data), "
                             f"got {self.TILE_K!r}")
        if not 2 <= self.STAGES <= 8:
            raise ValueError(f"STAGES must be between 2 and 8, got {self.STAGES!r}")
        if self.EPI_N not in (8, 16, 32, 64) or self.TILE_N % self.EPI_N:
            raise ValueError(f"EPI_N must be 8, 16, 32 or 64 and divide TILE_N={self.TILE_N}, got {self.EPI_N!r}")


def _check_config(what: str, config) -> None:
    """TypeError naming `what` unless `config` is a `GemmConfig` (a dict, None or a ladder rung is not one)."""
    if isinstance(config, GemmConfig):
        return
    hint = {dict: "; a dict of fields goes in as cg.GemmConfig(**config)",
            type(None): "; leave config out for the default, cg.GemmConfig()"}.get(type(config), "")
    if type(config).__name__ == "Rung":
        hint = ("; a bwkit.cute_ladder.Rung is a ladder rung: use bwkit.cute_ladder's compile_rung / run_rung / "
                "smem_bytes (rung 1's GemmConfig is rung.gemm_config)")
    raise TypeError(f"{what}: config must be a bwkit.cute_gemm.GemmConfig, e.g. cg.GemmConfig(TILE_N=128, STAGES=6), "
                    f"got {type(config).__name__} {config!r:.60}{hint}")


def smem_bytes(config: GemmConfig, elem_bytes: int = 2) -> int:
    """Shared memory the dense kernel's A/B ring needs: STAGES x (TILE_M + TILE_N) x TILE_K x elem_bytes."""
    _check_config("smem_bytes", config)
    check_number("smem_bytes: elem_bytes", elem_bytes, integer=False)
    return config.STAGES * (config.TILE_M + config.TILE_N) * config.TILE_K * elem_bytes


def check_gemm_shapes(M: int, N: int, K: int, config: GemmConfig = GemmConfig()) -> None:
    """Raise ValueError naming the rule when (M, N, K) does not fit the dense kernel's tiles."""
    _check_config("check_gemm_shapes", config)
    for name, v in (("M", M), ("N", N), ("K", K)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    rules = [("M", M, config.TILE_M, "TILE_M"), ("N", N, config.TILE_N, "TILE_N"), ("K", K, config.TILE_K, "TILE_K")]
    for name, v, tile, tname in rules:
        if v % tile:
            raise ValueError(f"{name}={v} is not a multiple of {tname}={tile}: this kernel has no bounds checks, "
                             f"so M, N, K must be multiples of the tile ({config.TILE_M}, {config.TILE_N}, "
                             f"{config.TILE_K}); pad the operands")
    if smem_bytes(config) > SMEM_BYTES_PER_SM:
        raise ValueError(f"STAGES={config.STAGES} x tiles need {smem_bytes(config)} bytes of shared memory; "
                         f"an sm_100a CTA has at most 232448 (227 KiB): lower STAGES or TILE_N")


def _check_nvfp4_tiles(M: int, N: int, K: int, TILE_N: int) -> None:
    """The sizes and TILE_N rules every NVFP4 kernel shares (lab 05's and `bwkit.cute_ladder_nvfp4`'s)."""
    for name, v in (("M", M), ("N", N), ("K", K)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if isinstance(TILE_N, bool) or not isinstance(TILE_N, numbers.Integral):
        check_number("NVFP4 TILE_N", TILE_N)
    if TILE_N not in (128, 256):
        raise ValueError(f"NVFP4 TILE_N must be 128 or 256, got {TILE_N!r}")
    for name, v, tile in (("M", M, 128), ("N", N, TILE_N), ("K", K, NVFP4_TILE_K)):
        if v % tile:
            raise ValueError(f"{name}={v} is not a multiple of {tile}: the NVFP4 kernel needs M % 128 == 0, "
                             f"N % TILE_N({TILE_N}) == 0 and K % {NVFP4_TILE_K} == 0 (K tile = 4 MMAs of K=64; "
                             f"scale tiles cover 128 rows x 4 scales); pad the operands")


def check_nvfp4_shapes(M: int, N: int, K: int, TILE_N: int = 128, STAGES: int = 4) -> None:
    """Raise ValueError naming the rule when (M, N, K) does not fit the NVFP4 kernel (128 x TILE_N x 256 tiles) or
    its STAGES-deep ring (packed FP4 A and B + their scales, one per 16) does not fit shared memory."""
    _check_nvfp4_tiles(M, N, K, TILE_N)
    if isinstance(STAGES, bool) or not isinstance(STAGES, numbers.Integral):
        check_number("NVFP4 STAGES", STAGES)
    if not 2 <= STAGES <= 8:
        raise ValueError(f"NVFP4 STAGES must be between 2 and 8, got {STAGES!r}")
    ring = STAGES * ((128 + TILE_N) * NVFP4_TILE_K // 2 + (128 + TILE_N) * NVFP4_TILE_K // SF_VEC)
    if ring > SMEM_BYTES_PER_SM:
        raise ValueError(f"NVFP4 STAGES={STAGES} x tiles need {ring} bytes of shared memory; an sm_100a CTA has at "
                         f"most {SMEM_BYTES_PER_SM} (227 KiB): lower STAGES or TILE_N")


# ------------------------------------------------------------------------------------------------ dense kernel
@cute.kernel
def gemm_kernel_tcgen05(
    tiled_mma: cute.TiledMma,
    tma_a: cute.CopyAtom, mA: cute.Tensor,          # mA: TMA view of A, (M, K)
    tma_b: cute.CopyAtom, mB: cute.Tensor,          # mB: TMA view of B, (N, K)
    mC: cute.Tensor,                                # (M, N) row-major
    sA_layout: cute.ComposedLayout,                 # (MMA, MMA_M, MMA_K, STAGES), swizzled
    sB_layout: cute.ComposedLayout,                 # (MMA, MMA_N, MMA_K, STAGES), swizzled
    tile_mnk: cutlass.Constexpr,
    STAGES: cutlass.Constexpr,
    EPI_N: cutlass.Constexpr,
):
    """One CTA computes one TILE_M x TILE_N tile of C = A·Bᵀ (warp 0 loads, warp 1 multiplies, all store).

    The steps it shares with the NVFP4 kernel are `bwkit.cute_common` helpers (``cc.``).
    """
    warp = cute.arch.make_warp_uniform(cute.arch.warp_idx())
    tid, _, _ = cute.arch.thread_idx()
    pid_m, pid_n, _ = cute.arch.block_idx()
    io_dtype = mC.element_type

    # --- 1. shared memory: the mbarriers, the TMEM address slot, then the STAGES-deep A and B rings
    smem = SmemAllocator()
    bars = cc.allocate_barriers(smem, STAGES)                   # .load (full + empty per stage), .acc, .tmem_addr
    sA = cc.allocate_smem_operand(smem, io_dtype, sA_layout)    # (MMA, MMA_M, MMA_K, STAGES)
    sB = cc.allocate_smem_operand(smem, io_dtype, sB_layout)    # (MMA, MMA_N, MMA_K, STAGES)

    # --- 2. the pipelines: TMA -> MMA over K (STAGES buffers), MMA -> epilogue (one accumulator)
    tx_bytes = cc.stage_bytes((io_dtype, sA_layout), (io_dtype, sB_layout))    # the full barrier's byte count
    load_producer, load_consumer = cc.make_load_pipeline(bars.load.data_ptr(), STAGES, tx_bytes)
    acc_producer, acc_consumer = cc.make_acc_pipeline(bars.acc.data_ptr(), THREADS)

    # --- 3. this CTA's tiles of A, B, C
    gA = cute.local_tile(mA, tile_mnk, (pid_m, pid_n, None), proj=(1, None, 1))   # (TILE_M, TILE_K, k_tiles)
    gB = cute.local_tile(mB, tile_mnk, (pid_m, pid_n, None), proj=(None, 1, 1))   # (TILE_N, TILE_K, k_tiles)
    gC = cute.local_tile(mC, tile_mnk, (pid_m, pid_n, None), proj=(1, 1, None))   # (TILE_M, TILE_N)
    k_tiles = cute.size(gA, mode=[2])

    # --- 4. MMA views: global tiles as the MMA sees them, smem descriptors; TMA views
    thr_mma = tiled_mma.get_slice(0)
    tCgA = thr_mma.partition_A(gA)                  # (MMA, MMA_M, MMA_K, k_tiles)
    tCgB = thr_mma.partition_B(gB)                  # (MMA, MMA_N, MMA_K, k_tiles)
    tCgC = thr_mma.partition_C(gC)                  # (MMA, MMA_M, MMA_N)
    tCrA = tiled_mma.make_fragment_A(sA)            # (MMA, MMA_M, MMA_K, STAGES) smem descriptors
    tCrB = tiled_mma.make_fragment_B(sB)            # (MMA, MMA_N, MMA_K, STAGES)
    # one TMA copy moves a whole (TILE_M, TILE_K) / (TILE_N, TILE_K) stage
    tAsA, tAgA = cc.tma_partition_stages(tma_a, sA, tCgA)      # (TMA, STAGES), (TMA, k_tiles)
    tBsB, tBgB = cc.tma_partition_stages(tma_b, sB, tCgB)

    # --- 5. allocate TILE_N TMEM columns (a 128 x TILE_N FP32 accumulator); warp 0 allocates, all wait
    tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, tile_mnk[1], THREADS)
    tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile_mnk, acc_ptr)           # (MMA, MMA_M, MMA_N)

    # --- 6a. warp 0: the TMA producer runs up to STAGES K tiles ahead of the MMA
    if warp == 0:
        cpasync.prefetch_descriptor(tma_a)
        cpasync.prefetch_descriptor(tma_b)
        cc.tma_load_loop(load_producer, k_tiles, ((tma_a, tAgA, tAsA), (tma_b, tBgB, tBsB)))

    # --- 6b. warp 1: the MMA issuer; per K tile TILE_K / 16 tcgen05.mma, accumulating in TMEM
    if warp == 1:
        acc_slot = acc_producer.acquire_and_advance()
        tiled_mma = cc.mma_loop(tiled_mma, tCtAcc, tCrA, tCrB, load_consumer, k_tiles)
        acc_slot.commit()                                       # tcgen05.commit: accumulator ready

    # --- 7. epilogue (all 4 warps): thread t owns accumulator row t; tcgen05.ld EPI_N columns at a time
    tmem.relinquish_alloc_permit()
    cc.epilogue_tmem_to_gmem(tCtAcc, tCgC, acc_consumer, tid, EPI_N)
    cc.free_tmem(tmem, acc_ptr)                                 # after a barrier: everyone done reading TMEM


@cute.jit
def gemm_host(a_ptr: cute.Pointer, b_ptr: cute.Pointer, c_ptr: cute.Pointer,
              M: cutlass.Int32, N: cutlass.Int32, K: cutlass.Int32, stream: cuda_driver.CUstream,
              tile_mnk: cutlass.Constexpr, STAGES: cutlass.Constexpr, EPI_N: cutlass.Constexpr):
    """Host side (runs on the CPU): build layouts, the MMA, the TMA descriptors; launch one CTA per C tile."""
    io_dtype = a_ptr.dtype
    # K-major A (M, K), B (N, K); row-major C (M, N). `assume` tells the compiler the dims' divisibility.
    mA = cute.make_tensor(a_ptr, cute.make_layout((M, cute.assume(K, 64)), stride=(cute.assume(K, 64), 1)))
    mB = cute.make_tensor(b_ptr, cute.make_layout((N, cute.assume(K, 64)), stride=(cute.assume(K, 64), 1)))
    mC = cute.make_tensor(c_ptr, cute.make_layout((M, cute.assume(N, 64)), stride=(cute.assume(N, 64), 1)))

    mma_op = tcgen05.MmaF16BF16Op(io_dtype, cutlass.Float32, (tile_mnk[0], tile_mnk[1], MMA_K_F16),
                                  tcgen05.CtaGroup.ONE, tcgen05.OperandSource.SMEM,
                                  cute.nvgpu.OperandMajorMode.K, cute.nvgpu.OperandMajorMode.K)
    tiled_mma = cute.make_tiled_mma(mma_op)

    # shared-memory layouts with the 128-byte swizzle the MMA descriptors expect, STAGES deep
    sA_layout, sB_layout = cc.make_smem_layouts_ab(tiled_mma, tile_mnk, io_dtype, STAGES)
    # TMA descriptors: one copy fills one stage of sA / sB
    tma_a, tma_mA = cc.make_tma_load("A", mA, sA_layout, tile_mnk, tiled_mma)
    tma_b, tma_mB = cc.make_tma_load("B", mB, sB_layout, tile_mnk, tiled_mma)

    grid = (cute.ceil_div(M, tile_mnk[0]), cute.ceil_div(N, tile_mnk[1]), 1)
    gemm_kernel_tcgen05(tiled_mma, tma_a, tma_mA, tma_b, tma_mB, mC, sA_layout, sB_layout,
                        tile_mnk, STAGES, EPI_N).launch(grid=grid, block=(THREADS, 1, 1), stream=stream)


def _compile(fn, *args):
    """`bwkit.inspect.compile_cute`: sm_100a, into a private temporary dump folder."""
    from bwkit.inspect import compile_cute

    return compile_cute(fn, *args)


def _fake_ptr(dtype, address: int = 1 << 20):
    """A 16-byte-aligned global pointer for compile-only use (nothing is dereferenced on the CPU)."""
    return make_ptr(dtype, address, cute.AddressSpace.gmem, assumed_align=16)


def compile_gemm(M: int = 8192, N: int = 8192, K: int = 8192, dtype: str = "bf16",
                 config: GemmConfig = GemmConfig()):
    """Compile the dense kernel for sm_100a (works without a GPU); return a `bwkit.inspect.Compiled`.

    `M, N, K` are checked against the tiles; the compiled kernel takes them at run time. `dtype` is 'bf16'
    or 'fp16'.
    """
    _check_config("compile_gemm", config)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    check_gemm_shapes(M, N, K, config)
    cdt = DTYPES[dtype][0]
    tile = (config.TILE_M, config.TILE_N, config.TILE_K)
    return _compile(gemm_host, _fake_ptr(cdt), _fake_ptr(cdt), _fake_ptr(cdt), M, N, K,
                        cuda_driver.CUstream(0), tile, config.STAGES, config.EPI_N)


_RUN_CACHE: dict = {}


def _check_on_gpu(**tensors) -> None:
    """After the shape checks: every operand on the GPU, 16-byte aligned, and the GPU an sm_100a."""
    for name, t in tensors.items():
        if t.device.type != "cuda":
            raise ValueError(f"{name} is on {t.device}: gemm_* launches a kernel and needs CUDA tensors on an "
                             f"sm_100a GPU (on a CPU use compile_gemm / compile_gemm_nvfp4 to read the PTX)")
        if t.data_ptr() % 16:
            raise ValueError(f"{name} must be 16-byte aligned for TMA (data_ptr % 16 == 0)")
    _require_blackwell()


def _require_blackwell() -> None:
    import torch

    if not torch.cuda.is_available() or torch.cuda.get_device_capability(0)[0] != 10:
        raise RuntimeError("this kernel runs on datacenter Blackwell (sm_100a, e.g. B200) only; here use "
                           "compile_gemm / compile_gemm_nvfp4 to compile it and read the PTX/SASS")


def _dense_operands(a, b, check_shapes: Callable[[int, int, int], None]) -> tuple:
    """Check the operands of a dense GEMM launch, a (M, K) and b (N, K) bf16/fp16 CUDA tensors (`check_shapes(M, N,
    K)` raises on sizes the kernel does not take), then allocate C (M, N): return (dtype name, (M, N, K), c, [a, b, c
    as CuTe pointers], the current stream). Used by `gemm_tcgen05` and `bwkit.cute_ladder.run_rung`."""
    import torch

    tdt = {torch.bfloat16: "bf16", torch.float16: "fp16"}
    if not isinstance(a, torch.Tensor) or a.dtype not in tdt:
        raise TypeError(f"a must be a bf16 or fp16 torch.Tensor, got {getattr(a, 'dtype', type(a).__name__)}")
    if a.dim() != 2 or getattr(b, "dim", lambda: 0)() != 2:
        raise ValueError("a must be (M, K) and b must be (N, K)")
    M, K = a.shape
    N = b.shape[0]
    check_shapes(M, N, K)
    check_operand("a", a, (M, K), a.dtype)
    check_operand("b", b, (N, K), a.dtype)
    _check_on_gpu(a=a, b=b)
    c = torch.empty(M, N, dtype=a.dtype, device=a.device)
    cdt = DTYPES[tdt[a.dtype]][0]
    ptrs = [make_ptr(cdt, t.data_ptr(), cute.AddressSpace.gmem, assumed_align=16) for t in (a, b, c)]
    stream = cuda_driver.CUstream(torch.cuda.current_stream().cuda_stream)
    return tdt[a.dtype], (M, N, K), c, ptrs, stream


def gemm_tcgen05(a, b, config: GemmConfig = GemmConfig()):
    """C = a @ b.T on a Blackwell GPU with the kit's tcgen05 kernel; a (M, K), b (N, K) bf16/fp16 CUDA tensors."""
    _check_config("gemm_tcgen05", config)
    dt, (M, N, K), c, ptrs, stream = _dense_operands(a, b, lambda M, N, K: check_gemm_shapes(M, N, K, config))
    key = ("dense", dt, config)
    if key not in _RUN_CACHE:
        tile = (config.TILE_M, config.TILE_N, config.TILE_K)
        _RUN_CACHE[key] = cute.compile(gemm_host, *ptrs, M, N, K, stream, tile, config.STAGES, config.EPI_N)
    _RUN_CACHE[key](*ptrs, M, N, K, stream)
    return c


# ------------------------------------------------------------------------------------------------ NVFP4 kernel
@cute.kernel
def gemm_kernel_nvfp4(
    tiled_mma: cute.TiledMma,
    tma_a: cute.CopyAtom, mA: cute.Tensor,          # (M, K, 1) packed FP4
    tma_b: cute.CopyAtom, mB: cute.Tensor,          # (N, K, 1) packed FP4
    tma_sfa: cute.CopyAtom, mSFA: cute.Tensor,      # scales of A in the blocked 128 x 4 layout
    tma_sfb: cute.CopyAtom, mSFB: cute.Tensor,      # scales of B, same layout
    mC: cute.Tensor,                                # (M, N, 1) row-major
    sA_layout: cute.ComposedLayout, sB_layout: cute.ComposedLayout,
    sSFA_layout: cute.Layout, sSFB_layout: cute.Layout,
    ab_dtype: cutlass.Constexpr, sf_dtype: cutlass.Constexpr,
    tile_mnk: cutlass.Constexpr,
    STAGES: cutlass.Constexpr,
    EPI_N: cutlass.Constexpr,
):
    """The dense kernel plus scale factors: TMA brings SFA/SFB with A/B, tcgen05.cp moves them to TMEM."""
    warp = cute.arch.make_warp_uniform(cute.arch.warp_idx())
    tid, _, _ = cute.arch.thread_idx()
    pid_m, pid_n, _ = cute.arch.block_idx()

    smem = SmemAllocator()
    bars = cc.allocate_barriers(smem, STAGES)
    sA = cc.allocate_smem_operand(smem, ab_dtype, sA_layout)       # (MMA, MMA_M, MMA_K, STAGES)
    sB = cc.allocate_smem_operand(smem, ab_dtype, sB_layout)       # (MMA, MMA_N, MMA_K, STAGES)
    sSFA = cc.allocate_smem_operand(smem, sf_dtype, sSFA_layout)   # scales of the A stages, blocked layout
    sSFB = cc.allocate_smem_operand(smem, sf_dtype, sSFB_layout)

    # A, B and their scales share one full barrier per stage
    tx_bytes = cc.stage_bytes((ab_dtype, sA_layout), (ab_dtype, sB_layout),
                              (sf_dtype, sSFA_layout), (sf_dtype, sSFB_layout))
    load_producer, load_consumer = cc.make_load_pipeline(bars.load.data_ptr(), STAGES, tx_bytes)
    acc_producer, acc_consumer = cc.make_acc_pipeline(bars.acc.data_ptr(), THREADS)

    coord = (pid_m, pid_n, None)
    gA = cute.local_tile(mA[None, None, 0], tile_mnk, coord, proj=(1, None, 1))       # (TILE_M, TILE_K, k_tiles)
    gB = cute.local_tile(mB[None, None, 0], tile_mnk, coord, proj=(None, 1, 1))       # (TILE_N, TILE_K, k_tiles)
    gSFA = cute.local_tile(mSFA[None, None, 0], tile_mnk, coord, proj=(1, None, 1))   # scales of that A tile
    gSFB = cute.local_tile(mSFB[None, None, 0], tile_mnk, coord, proj=(None, 1, 1))
    gC = cute.local_tile(mC[None, None, 0], tile_mnk, coord, proj=(1, 1, None))       # (TILE_M, TILE_N)
    k_tiles = cute.size(gA, mode=[2])

    thr_mma = tiled_mma.get_slice(0)
    tCgA = thr_mma.partition_A(gA)                  # (MMA, MMA_M, MMA_K, k_tiles)
    tCgB = thr_mma.partition_B(gB)                  # (MMA, MMA_N, MMA_K, k_tiles)
    tCgSFA = thr_mma.partition_A(gSFA)              # (MMA, MMA_M, MMA_K, k_tiles) of scales
    tCgSFB = thr_mma.partition_B(gSFB)              # (MMA, MMA_N, MMA_K, k_tiles) of scales
    tCgC = thr_mma.partition_C(gC)                  # (MMA, MMA_M, MMA_N)
    tCrA = tiled_mma.make_fragment_A(sA)            # (MMA, MMA_M, MMA_K, STAGES) smem descriptors
    tCrB = tiled_mma.make_fragment_B(sB)            # (MMA, MMA_N, MMA_K, STAGES)

    tAsA, tAgA = cc.tma_partition_stages(tma_a, sA, tCgA)                # (TMA, STAGES), (TMA, k_tiles)
    tBsB, tBgB = cc.tma_partition_stages(tma_b, sB, tCgB)
    tAsSFA, tAgSFA = cc.tma_partition_stages(tma_sfa, sSFA, tCgSFA)
    tBsSFB, tBgSFB = cc.tma_partition_stages(tma_sfb, sSFB, tCgSFB)
    tAsSFA, tAgSFA = cute.filter_zeros(tAsSFA), cute.filter_zeros(tAgSFA)   # broadcast (stride-0) modes out
    tBsSFB, tBgSFB = cute.filter_zeros(tBsSFB), cute.filter_zeros(tBgSFB)

    # TMEM: accumulator (TILE_N columns), then SFA, then SFB; 512 columns covers all of it
    tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, 512, THREADS)
    tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile_mnk, acc_ptr)      # (MMA, MMA_M, MMA_N)
    tCtSFA, tCtSFB, s2t = cc.make_tmem_scales(               # + tcgen05.cp copies of a stage's scales to TMEM
        tiled_mma, tile_mnk, acc_ptr + tcgen05.find_tmem_tensor_col_offset(tCtAcc), SF_VEC,
        ((sSFA, sSFA_layout), (sSFB, sSFB_layout)))

    if warp == 0:                                   # TMA producer: A, B and their scales share one barrier
        cc.tma_load_loop(load_producer, k_tiles, ((tma_a, tAgA, tAsA), (tma_b, tBgB, tBsB),
                                                  (tma_sfa, tAgSFA, tAsSFA), (tma_sfb, tBgSFB, tBsSFB)))

    if warp == 1:                                   # MMA issuer: tcgen05.cp the stage's scales, then its MMAs
        acc_slot = acc_producer.acquire_and_advance()
        tiled_mma = cc.mma_loop(tiled_mma, tCtAcc, tCrA, tCrB, load_consumer, k_tiles,
                                s2t_copies=s2t,
                                tCtSFA=tCtSFA, tCtSFB=tCtSFB)
        acc_slot.commit()

    # epilogue: the dense kernel's
    tmem.relinquish_alloc_permit()
    cc.epilogue_tmem_to_gmem(tCtAcc, tCgC, acc_consumer, tid, EPI_N)
    cc.free_tmem(tmem, acc_ptr)


def nvfp4_operands(a_ptr: cute.Pointer, b_ptr: cute.Pointer, sfa_ptr: cute.Pointer, sfb_ptr: cute.Pointer,
                   M, N, K, tile_mnk, stages: int):
    """Host side (inside a `@cute.jit`) of an NVFP4 GEMM's inputs: the block-scaled MMA and A, B, SFA, SFB.

    A and B are packed FP4 (K-major), the UE4M3 scales in the blocked layout (128-row x 4-scale atoms, K atoms
    fastest: the cuBLAS / tcgen05 layout). Returns (tiled_mma, tmas, layouts): `tmas` the TMA atoms and views
    (tma_a, tma_mA, tma_b, tma_mB, tma_sfa, tma_mSFA, tma_sfb, tma_mSFB), `layouts` the `stages`-deep smem
    layouts (sA, sB, sSFA, sSFB), in the order the NVFP4 kernels take them. Used by lab 05's kernel and by
    `bwkit.cute_ladder_nvfp4`.
    """
    Ka = cute.assume(K, 32)
    mA = cute.make_tensor(a_ptr, cute.make_layout((M, Ka, 1), stride=(Ka, 1, M * Ka)))
    mB = cute.make_tensor(b_ptr, cute.make_layout((N, Ka, 1), stride=(Ka, 1, N * Ka)))
    mSFA = cute.make_tensor(sfa_ptr, blockscaled_utils.tile_atom_to_shape_SF(mA.shape, SF_VEC))
    mSFB = cute.make_tensor(sfb_ptr, blockscaled_utils.tile_atom_to_shape_SF(mB.shape, SF_VEC))

    mma_op = tcgen05.MmaMXF4NVF4Op(sfa_ptr.dtype, (tile_mnk[0], tile_mnk[1], MMA_K_FP4), tcgen05.CtaGroup.ONE,
                                   tcgen05.OperandSource.SMEM)
    tiled_mma = cute.make_tiled_mma(mma_op)
    sA_layout, sB_layout = cc.make_smem_layouts_ab(tiled_mma, tile_mnk, a_ptr.dtype, stages)
    sSFA_layout = blockscaled_utils.make_smem_layout_sfa(tiled_mma, tile_mnk, SF_VEC, stages)
    sSFB_layout = blockscaled_utils.make_smem_layout_sfb(tiled_mma, tile_mnk, SF_VEC, stages)

    tma_a, tma_mA = cc.make_tma_load("A", mA, sA_layout, tile_mnk, tiled_mma)
    tma_b, tma_mB = cc.make_tma_load("B", mB, sB_layout, tile_mnk, tiled_mma)
    # scales travel as 16-bit words (TMA needs >= 2-byte elements)
    tma_sfa, tma_mSFA = cc.make_tma_load("A", mSFA, sSFA_layout, tile_mnk, tiled_mma, internal_type=cutlass.Int16)
    tma_sfb, tma_mSFB = cc.make_tma_load("B", mSFB, sSFB_layout, tile_mnk, tiled_mma, internal_type=cutlass.Int16)
    return (tiled_mma, (tma_a, tma_mA, tma_b, tma_mB, tma_sfa, tma_mSFA, tma_sfb, tma_mSFB),
            (sA_layout, sB_layout, sSFA_layout, sSFB_layout))


@cute.jit
def gemm_nvfp4_host(a_ptr: cute.Pointer, b_ptr: cute.Pointer, sfa_ptr: cute.Pointer, sfb_ptr: cute.Pointer,
                    c_ptr: cute.Pointer, M: cutlass.Int32, N: cutlass.Int32, K: cutlass.Int32,
                    stream: cuda_driver.CUstream, tile_mnk: cutlass.Constexpr, STAGES: cutlass.Constexpr,
                    EPI_N: cutlass.Constexpr):
    """Host side of the NVFP4 GEMM: A, B packed FP4 (K-major), UE4M3 scales in the blocked layout, C row-major."""
    tiled_mma, tmas, layouts = nvfp4_operands(a_ptr, b_ptr, sfa_ptr, sfb_ptr, M, N, K, tile_mnk, STAGES)
    mC = cute.make_tensor(c_ptr, cute.make_layout((M, cute.assume(N, 32), 1),
                                                  stride=(cute.assume(N, 32), 1, M * N)))
    grid = (cute.ceil_div(M, tile_mnk[0]), cute.ceil_div(N, tile_mnk[1]), 1)
    gemm_kernel_nvfp4(tiled_mma, *tmas, mC, *layouts, a_ptr.dtype, sfa_ptr.dtype, tile_mnk, STAGES, EPI_N,
                      ).launch(grid=grid, block=(THREADS, 1, 1), stream=stream)


def compile_gemm_nvfp4(M: int = 8192, N: int = 8192, K: int = 8192, TILE_N: int = 128, STAGES: int = 4,
                       out_dtype: str = "bf16"):
    """Compile the NVFP4 block-scaled kernel for sm_100a (no GPU needed); return a `bwkit.inspect.Compiled`."""
    if out_dtype not in DTYPES:
        raise ValueError(f"out_dtype must be one of {list(DTYPES)}, got {out_dtype!r}")
    check_nvfp4_shapes(M, N, K, TILE_N, STAGES)
    tile = (128, TILE_N, NVFP4_TILE_K)
    return _compile(gemm_nvfp4_host, _fake_ptr(cutlass.Float4E2M1FN, 1 << 20),
                        _fake_ptr(cutlass.Float4E2M1FN, 1 << 21), _fake_ptr(cutlass.Float8E4M3FN, 1 << 22),
                        _fake_ptr(cutlass.Float8E4M3FN, 1 << 23), _fake_ptr(DTYPES[out_dtype][0], 1 << 24),
                        M, N, K, cuda_driver.CUstream(0), tile, STAGES, 32)


def gemm_nvfp4(a_fp4, b_fp4, sfa, sfb, M: int, N: int, K: int, TILE_N: int = 128, STAGES: int = 4):
    """NVFP4 C = A·Bᵀ (bf16 out, no global scale applied) on a Blackwell GPU.

    `a_fp4` (M, K//2) and `b_fp4` (N, K//2) are uint8 CUDA tensors of packed E2M1 codes (element 0 in the low
    nibble); `sfa`/`sfb` are UE4M3 scale bytes (uint8, or float8_e4m3fn) in the blocked 128 x 4 layout (M*K//16
    and N*K//16 of them, see `bwkit.formats`; `check_nvfp4_operands`). Multiply the result by the two per-tensor
    decode scales yourself.
    """
    import torch

    check_nvfp4_shapes(M, N, K, TILE_N, STAGES)
    check_nvfp4_operands(a_fp4, b_fp4, sfa, sfb, M, N, K)
    _check_on_gpu(a_fp4=a_fp4, b_fp4=b_fp4, sfa=sfa, sfb=sfb)
    c = torch.empty(M, N, dtype=torch.bfloat16, device=a_fp4.device)
    ptrs = [make_ptr(dt, t.data_ptr(), cute.AddressSpace.gmem, assumed_align=16) for dt, t in
            ((cutlass.Float4E2M1FN, a_fp4), (cutlass.Float4E2M1FN, b_fp4), (cutlass.Float8E4M3FN, sfa),
             (cutlass.Float8E4M3FN, sfb), (cutlass.BFloat16, c))]
    stream = cuda_driver.CUstream(torch.cuda.current_stream().cuda_stream)
    key = ("nvfp4", TILE_N, STAGES)
    if key not in _RUN_CACHE:
        _RUN_CACHE[key] = cute.compile(gemm_nvfp4_host, *ptrs, M, N, K, stream, (128, TILE_N, NVFP4_TILE_K),
                                       STAGES, 32)
    _RUN_CACHE[key](*ptrs, M, N, K, stream)
    return c
