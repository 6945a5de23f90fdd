"""The Gluon ladder's kernels (steps 1-4 and Hopper's wgmma), their descriptors, compilation and launches.

See `bwkit.gluon_gemm` for the overview; the tile rules and budgets are in `bwkit.gluon_gemm.model`.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import triton
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.blackwell import (
    TensorMemoryLayout,
    TensorMemoryScalesLayout,
    allocate_tensor_memory,
    fence_async_shared,
    mbarrier,
    tcgen05_commit,
    tcgen05_copy,
    tcgen05_mma,
    tcgen05_mma_scaled,
    tma,
)
from triton.experimental.gluon.language.nvidia.hopper import warpgroup_mma, warpgroup_mma_wait

from bwkit import inspect as bwi
from bwkit.gluon_gemm.model import STEP_NAMES, GluonConfig, Step, _check_step, check_config
from bwkit.kit.args import check_flag
from bwkit.kit.args import check_number as _check_arg

__all__ = [
    "STEPS", "compile_step", "compile_sync", "compile_pipelined", "compile_ws", "compile_nvfp4", "compile_wgmma",
    "matmul", "matmul_nvfp4", "make_descriptors", "with_stages", "descriptor_blocks", "issue_loads", "alloc_ring",
    "ring_slot", "store_epilogue", "tile_offsets", "issue_scaled_loads", "scales_view", "gemm_sync_kernel",
    "gemm_pipelined_kernel", "ws_loader", "ws_mma", "ws_epilogue", "gemm_ws_kernel", "gemm_nvfp4_kernel",
    "gemm_wgmma_kernel",
]

_GL = {"bf16": gl.bfloat16, "fp16": gl.float16, "u8": gl.uint8, "fp8e4nv": gl.float8e4nv}


# --------------------------------------------------------------------------------------- shared Gluon pieces
@gluon.jit
def issue_loads(a_desc, b_desc, bar, a_buf, b_buf, off_m, off_n, k, pred=True):
    """One K slice of A and B by TMA: `bar` completes when both have landed (expect-tx counts their bytes)."""
    mbarrier.expect(bar, a_desc.block_type.nbytes + b_desc.block_type.nbytes, pred)
    tma.async_load(a_desc, [off_m, k], bar, a_buf, pred)
    tma.async_load(b_desc, [off_n, k], bar, b_buf, pred)


@gluon.jit
def alloc_ring(a_desc, b_desc, STAGES: gl.constexpr):
    """STAGES slots of A and B, each with a `ready` (TMA landed) and an `empty` (MMA done) mbarrier."""
    a_bufs = gl.allocate_shared_memory(a_desc.dtype, [STAGES] + a_desc.block_type.shape, a_desc.layout)
    b_bufs = gl.allocate_shared_memory(b_desc.dtype, [STAGES] + b_desc.block_type.shape, b_desc.layout)
    ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    for q in gl.static_range(STAGES):
        mbarrier.init(ready.index(q), count=1)
        mbarrier.init(empty.index(q), count=1)
    return a_bufs, b_bufs, ready, empty


@gluon.jit
def store_epilogue(acc, c_desc, c_smem, off_m, off_n):
    """TMEM -> registers (tcgen05.ld) -> shared -> global (TMA store), EPI_N columns at a time."""
    EPI_N: gl.constexpr = c_desc.block_type.shape[1]
    for j in gl.static_range(acc.shape[1] // EPI_N):
        part = acc.slice(j * EPI_N, EPI_N).load()
        tma.store_wait(0)                   # the previous slice's TMA store has read c_smem
        c_smem.store(part.to(c_desc.dtype))
        fence_async_shared()                # order the generic-proxy store before the async-proxy TMA
        tma.async_store(c_desc, [off_m, off_n + j * EPI_N], c_smem)
    tma.store_wait(0)


@gluon.jit
def ring_slot(i, STAGES: gl.constexpr):
    """(slot, ready parity, empty parity) of K step i: the Gluon twin of `ring_phases` (lab 09, exercise 09.3)."""
    trip = (i // STAGES) & 1
    return i % STAGES, trip, trip ^ 1


@gluon.jit
def tile_offsets(tile, n_tiles_n, BM: gl.constexpr, BN: gl.constexpr):
    """(row, column) offset of persistent tile number `tile` (row-major over the tiles of C)."""
    return (tile // n_tiles_n) * BM, (tile % n_tiles_n) * BN


# ------------------------------------------------------------------------------------------- step 1: sync
@gluon.jit
def gemm_sync_kernel(a_desc, b_desc, c_desc, WAIT_MMA: gl.constexpr = True):
    """Step 1: per K slice, TMA -> wait -> tcgen05_mma -> wait; one program per 128 x BLOCK_N tile of C."""
    BM: gl.constexpr = a_desc.block_type.shape[0]
    BN: gl.constexpr = b_desc.block_type.shape[0]
    BK: gl.constexpr = a_desc.block_type.shape[1]
    off_m = gl.program_id(0) * BM
    off_n = gl.program_id(1) * BN
    a_s = gl.allocate_shared_memory(a_desc.dtype, a_desc.block_type.shape, a_desc.layout)
    b_s = gl.allocate_shared_memory(b_desc.dtype, b_desc.block_type.shape, b_desc.layout)
    c_s = gl.allocate_shared_memory(c_desc.dtype, c_desc.block_type.shape, c_desc.layout)
    tma_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    mma_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    mbarrier.init(tma_bar, count=1)
    mbarrier.init(mma_bar, count=1)
    acc = allocate_tensor_memory(gl.float32, [BM, BN], TensorMemoryLayout([BM, BN], col_stride=1))
    phase = 0
    for k in range(0, a_desc.shape[1], BK):
        issue_loads(a_desc, b_desc, tma_bar, a_s, b_s, off_m, off_n, k)
        mbarrier.wait(tma_bar, phase)
        if WAIT_MMA:
            tcgen05_mma(a_s, b_s.permute((1, 0)), acc, use_acc=k > 0, mbarriers=[mma_bar])
            mbarrier.wait(mma_bar, phase)
        else:       # what `mbarriers=None` compiles to: nothing waits for the MMA (see lab 09, step 1)
            tcgen05_mma(a_s, b_s.permute((1, 0)), acc, use_acc=k > 0)
        phase ^= 1
    store_epilogue(acc, c_desc, c_s, off_m, off_n)


# -------------------------------------------------------------------------------------- step 2: pipelined
@gluon.jit
def gemm_pipelined_kernel(a_desc, b_desc, c_desc, STAGES: gl.constexpr):
    """Step 2: a STAGES-slot TMA ring; the MMA of slice i frees its slot, the TMA refills it STAGES - 1 ahead."""
    BM: gl.constexpr = a_desc.block_type.shape[0]
    BN: gl.constexpr = b_desc.block_type.shape[0]
    BK: gl.constexpr = a_desc.block_type.shape[1]
    off_m = gl.program_id(0) * BM
    off_n = gl.program_id(1) * BN
    a_bufs, b_bufs, ready, empty = alloc_ring(a_desc, b_desc, STAGES)
    c_s = gl.allocate_shared_memory(c_desc.dtype, c_desc.block_type.shape, c_desc.layout)
    done = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    mbarrier.init(done, count=1)
    acc = allocate_tensor_memory(gl.float32, [BM, BN], TensorMemoryLayout([BM, BN], col_stride=1))
    n_k = gl.cdiv(a_desc.shape[1], BK)
    for q in gl.static_range(STAGES - 1):                   # prologue: the first STAGES - 1 K slices
        issue_loads(a_desc, b_desc, ready.index(q), a_bufs.index(q), b_bufs.index(q), off_m, off_n, q * BK,
                    q < n_k)
    for i in range(n_k):
        s, ready_phase, _ = ring_slot(i, STAGES)
        mbarrier.wait(ready.index(s), ready_phase)
        tcgen05_mma(a_bufs.index(s), b_bufs.index(s).permute((1, 0)), acc, use_acc=i > 0,
                    mbarriers=[empty.index(s)])            # completes -> slot s is empty again
        j = i + STAGES - 1                                  # refill the slot MMA i - 1 read, once it is done
        sj, _, empty_phase = ring_slot(j, STAGES)
        mbarrier.wait(empty.index(sj), empty_phase, pred=j < n_k)
        issue_loads(a_desc, b_desc, ready.index(sj), a_bufs.index(sj), b_bufs.index(sj), off_m, off_n, j * BK,
                    j < n_k)
    tcgen05_commit(done)                                    # arrives when every MMA issued so far is done
    mbarrier.wait(done, 0)
    store_epilogue(acc, c_desc, c_s, off_m, off_n)


# ------------------------------------------------------------------------------- step 3: warp-specialized
@gluon.jit
def ws_loader(a_desc, b_desc, a_bufs, b_bufs, ready, empty, n_tiles, n_tiles_n):
    """Step 3, loader partition (1 warp): waits for an empty slot, fills it by TMA, every K slice of every tile."""
    BM: gl.constexpr = a_desc.block_type.shape[0]
    BN: gl.constexpr = b_desc.block_type.shape[0]
    BK: gl.constexpr = a_desc.block_type.shape[1]
    STAGES: gl.constexpr = a_bufs.shape[0]
    i = 0
    for tile in range(gl.program_id(0), n_tiles, gl.num_programs(0)):
        off_m, off_n = tile_offsets(tile, n_tiles_n, BM, BN)
        for k in range(0, a_desc.shape[1], BK):
            s, _, empty_phase = ring_slot(i, STAGES)
            mbarrier.wait(empty.index(s), empty_phase)
            issue_loads(a_desc, b_desc, ready.index(s), a_bufs.index(s), b_bufs.index(s), off_m, off_n, k)
            i += 1


@gluon.jit
def ws_mma(a_bufs, b_bufs, ready, empty, acc_bufs, acc_ready, acc_empty, n_tiles, K):
    """Step 3, MMA partition (1 warp): one accumulator buffer per tile, its MMAs, then a commit to the epilogue."""
    STAGES: gl.constexpr = a_bufs.shape[0]
    BK: gl.constexpr = a_bufs.shape[2]
    ACC: gl.constexpr = acc_bufs.shape[0]
    i = 0
    t = 0
    for _tile_id in range(gl.program_id(0), n_tiles, gl.num_programs(0)):
        b, _, acc_phase = ring_slot(t, ACC)
        mbarrier.wait(acc_empty.index(b), acc_phase)                # the epilogue has drained this buffer
        for k in range(0, K, BK):
            s, ready_phase, _ = ring_slot(i, STAGES)
            mbarrier.wait(ready.index(s), ready_phase)
            tcgen05_mma(a_bufs.index(s), b_bufs.index(s).permute((1, 0)), acc_bufs.index(b), use_acc=k > 0,
                        mbarriers=[empty.index(s)])
            i += 1
        tcgen05_commit(acc_ready.index(b))                            # the tile's last MMA -> epilogue
        t += 1


@gluon.jit
def ws_epilogue(c_desc, c_smem, acc_bufs, acc_ready, acc_empty, n_tiles, n_tiles_n):
    """Step 3, default partition (num_warps): drains each finished accumulator and hands the buffer back."""
    BM: gl.constexpr = acc_bufs.shape[1]
    BN: gl.constexpr = acc_bufs.shape[2]
    ACC: gl.constexpr = acc_bufs.shape[0]
    t = 0
    for tile in range(gl.program_id(0), n_tiles, gl.num_programs(0)):
        off_m, off_n = tile_offsets(tile, n_tiles_n, BM, BN)
        b, acc_phase, _ = ring_slot(t, ACC)
        mbarrier.wait(acc_ready.index(b), acc_phase)
        store_epilogue(acc_bufs.index(b), c_desc, c_smem, off_m, off_n)
        mbarrier.arrive(acc_empty.index(b), count=1)
        t += 1


@gluon.jit
def gemm_ws_kernel(a_desc, b_desc, c_desc, STAGES: gl.constexpr, ACC_BUFFERS: gl.constexpr,
                   WORKER_REGS: gl.constexpr):
    """Step 3: persistent; the epilogue (default), loader and MMA partitions share the ring and ACC_BUFFERS."""
    BM: gl.constexpr = a_desc.block_type.shape[0]
    BN: gl.constexpr = b_desc.block_type.shape[0]
    a_bufs, b_bufs, ready, empty = alloc_ring(a_desc, b_desc, STAGES)
    c_s = gl.allocate_shared_memory(c_desc.dtype, c_desc.block_type.shape, c_desc.layout)
    acc_ready = gl.allocate_shared_memory(gl.int64, [ACC_BUFFERS, 1], mbarrier.MBarrierLayout())
    acc_empty = gl.allocate_shared_memory(gl.int64, [ACC_BUFFERS, 1], mbarrier.MBarrierLayout())
    for q in gl.static_range(ACC_BUFFERS):
        mbarrier.init(acc_ready.index(q), count=1)
        mbarrier.init(acc_empty.index(q), count=1)
    acc_bufs = allocate_tensor_memory(gl.float32, [ACC_BUFFERS, BM, BN], TensorMemoryLayout([BM, BN], col_stride=1))
    n_tiles_n = gl.cdiv(c_desc.shape[1], BN)
    n_tiles = gl.cdiv(c_desc.shape[0], BM) * n_tiles_n
    gl.warp_specialize([
        (ws_epilogue, (c_desc, c_s, acc_bufs, acc_ready, acc_empty, n_tiles, n_tiles_n)),     # default: num_warps
        (ws_loader, (a_desc, b_desc, a_bufs, b_bufs, ready, empty, n_tiles, n_tiles_n)),        # 1 warp
        (ws_mma, (a_bufs, b_bufs, ready, empty, acc_bufs, acc_ready, acc_empty, n_tiles, a_desc.shape[1])),
    ], [1, 1], [WORKER_REGS, WORKER_REGS])


# ------------------------------------------------------------------------------------------ step 4: NVFP4
@gluon.jit
def issue_scaled_loads(a_desc, b_desc, sfa_desc, sfb_desc, bar, a_buf, b_buf, sfa_buf, sfb_buf, off_m, off_n,
                       j, pred):
    """K slice j: packed FP4 A and B (BLOCK_K / 2 bytes per row) and their 128 x 4 blocked scales, one barrier."""
    KB: gl.constexpr = a_desc.block_type.shape[1]
    SK: gl.constexpr = sfa_desc.block_type.shape[2]                  # 64-value scale atoms per K slice
    nbytes: gl.constexpr = (a_desc.block_type.nbytes + b_desc.block_type.nbytes + sfa_desc.block_type.nbytes
                            + sfb_desc.block_type.nbytes)
    mbarrier.expect(bar, nbytes, pred)
    tma.async_load(a_desc, [off_m, j * KB], bar, a_buf, pred)
    tma.async_load(b_desc, [off_n, j * KB], bar, b_buf, pred)
    tma.async_load(sfa_desc, [0, off_m // 128, j * SK, 0, 0], bar, sfa_buf, pred)
    tma.async_load(sfb_desc, [0, off_n // 128, j * SK, 0, 0], bar, sfb_buf, pred)


@gluon.jit
def scales_view(smem, ROWS: gl.constexpr, BK: gl.constexpr):
    """The blocked layout of bwkit.formats.to_blocked_scales, viewed as the [ROWS, BK / 16] tile tcgen05.cp reads."""
    smem = smem.reshape((smem.shape[1], smem.shape[2], 32, 4, 4))
    return smem.permute((0, 3, 2, 1, 4)).reshape((ROWS, BK // 16))


@gluon.jit
def gemm_nvfp4_kernel(a_desc, b_desc, sfa_desc, sfb_desc, c_desc, STAGES: gl.constexpr):
    """Step 4: step 2 with packed FP4 and UE4M3 scales: tcgen05_copy to TMEM, then tcgen05_mma_scaled."""
    BM: gl.constexpr = a_desc.block_type.shape[0]
    BN: gl.constexpr = b_desc.block_type.shape[0]
    BK: gl.constexpr = 2 * a_desc.block_type.shape[1]               # two FP4 values per byte
    off_m = gl.program_id(0) * BM
    off_n = gl.program_id(1) * BN
    a_bufs, b_bufs, ready, empty = alloc_ring(a_desc, b_desc, STAGES)
    sfa_bufs = gl.allocate_shared_memory(sfa_desc.dtype, [STAGES] + sfa_desc.block_type.shape, sfa_desc.layout)
    sfb_bufs = gl.allocate_shared_memory(sfb_desc.dtype, [STAGES] + sfb_desc.block_type.shape, sfb_desc.layout)
    c_s = gl.allocate_shared_memory(c_desc.dtype, c_desc.block_type.shape, c_desc.layout)
    done = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    mbarrier.init(done, count=1)
    acc = allocate_tensor_memory(gl.float32, [BM, BN], TensorMemoryLayout([BM, BN], col_stride=1))
    sfa_t = allocate_tensor_memory(sfa_desc.dtype, [BM, BK // 16], TensorMemoryScalesLayout())
    sfb_t = allocate_tensor_memory(sfb_desc.dtype, [BN, BK // 16], TensorMemoryScalesLayout())
    n_k = gl.cdiv(2 * a_desc.shape[1], BK)
    for q in gl.static_range(STAGES - 1):
        issue_scaled_loads(a_desc, b_desc, sfa_desc, sfb_desc, ready.index(q), a_bufs.index(q), b_bufs.index(q),
                           sfa_bufs.index(q), sfb_bufs.index(q), off_m, off_n, q, q < n_k)
    for i in range(n_k):
        s, ready_phase, _ = ring_slot(i, STAGES)
        mbarrier.wait(ready.index(s), ready_phase)
        tcgen05_copy(scales_view(sfa_bufs.index(s), BM, BK), sfa_t)  # smem -> TMEM, ordered before the MMA
        tcgen05_copy(scales_view(sfb_bufs.index(s), BN, BK), sfb_t)
        tcgen05_mma_scaled(a_bufs.index(s), b_bufs.index(s).permute((1, 0)), acc, sfa_t, sfb_t, "e2m1", "e2m1",
                           use_acc=i > 0, mbarriers=[empty.index(s)])
        j = i + STAGES - 1
        sj, _, empty_phase = ring_slot(j, STAGES)
        mbarrier.wait(empty.index(sj), empty_phase, pred=j < n_k)
        issue_scaled_loads(a_desc, b_desc, sfa_desc, sfb_desc, ready.index(sj), a_bufs.index(sj),
                           b_bufs.index(sj), sfa_bufs.index(sj), sfb_bufs.index(sj), off_m, off_n, j, j < n_k)
    tcgen05_commit(done)
    mbarrier.wait(done, 0)
    store_epilogue(acc, c_desc, c_s, off_m, off_n)


# -------------------------------------------------------------------------------------- Hopper: wgmma ring
@gluon.jit
def gemm_wgmma_kernel(a_desc, b_desc, c_desc, STAGES: gl.constexpr, num_warps: gl.constexpr):
    """Hopper: step 2's ring with async warpgroup_mma; <= 1 MMA in flight frees the slot before it."""
    BM: gl.constexpr = a_desc.block_type.shape[0]
    BN: gl.constexpr = b_desc.block_type.shape[0]
    BK: gl.constexpr = a_desc.block_type.shape[1]
    off_m = gl.program_id(0) * BM
    off_n = gl.program_id(1) * BN
    a_bufs, b_bufs, ready, empty = alloc_ring(a_desc, b_desc, STAGES)    # `empty` unused: wgmma_wait frees slots
    c_s = gl.allocate_shared_memory(c_desc.dtype, c_desc.block_type.shape, c_desc.layout)
    layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                     instr_shape=[16, BN, 16])
    acc = gl.zeros((BM, BN), dtype=gl.float32, layout=layout)       # the accumulator lives in registers
    n_k = gl.cdiv(a_desc.shape[1], BK)
    for q in gl.static_range(STAGES - 1):
        issue_loads(a_desc, b_desc, ready.index(q), a_bufs.index(q), b_bufs.index(q), off_m, off_n, q * BK,
                    q < n_k)
    for i in range(n_k):
        s, ready_phase, _ = ring_slot(i, STAGES)
        mbarrier.wait(ready.index(s), ready_phase)
        acc = warpgroup_mma(a_bufs.index(s), b_bufs.index(s).permute((1, 0)), acc, is_async=True)
        acc, _, _ = warpgroup_mma_wait(num_outstanding=1, deps=(acc, a_bufs.index(s), b_bufs.index(s)))
        j = i + STAGES - 1                              # <= 1 wgmma in flight: the one of step i - 1 is done
        sj = j % STAGES
        issue_loads(a_desc, b_desc, ready.index(sj), a_bufs.index(sj), b_bufs.index(sj), off_m, off_n, j * BK,
                    j < n_k)
    acc = warpgroup_mma_wait(num_outstanding=0, deps=(acc,))
    c_s.store(acc.to(c_desc.dtype))
    fence_async_shared()
    tma.async_store(c_desc, [off_m, off_n], c_s)
    tma.store_wait(0)


# ------------------------------------------------------------------------------ descriptors and compilation
def _layout(dtype: str, block: list[int]):
    if len(block) == 5:                              # blocked scales: no swizzle, so tcgen05.cp can read them
        return gl.NVMMASharedLayout(swizzle_byte_width=0, element_bitwidth=8, rank=5)
    return gl.NVMMASharedLayout.get_default_for(block, _GL[dtype])


def descriptor_blocks(step: str, c: GluonConfig, dtype: str) -> dict[str, tuple[str, list[int]]]:
    """Every TMA descriptor of a step's kernel: name -> (element type, block shape). One place for both the
    compile-time signature and the launch."""
    _check_step(step, c, dtype)
    out = dtype if step != "nvfp4" else "bf16"
    if step == "nvfp4":
        sf = lambda rows: [1, rows // 128, c.BLOCK_K // 64, 2, 256]  # noqa: E731 - one 512-byte atom per 128x4
        d = {"a_desc": ("u8", [c.BLOCK_M, c.BLOCK_K // 2]), "b_desc": ("u8", [c.BLOCK_N, c.BLOCK_K // 2]),
             "sfa_desc": ("fp8e4nv", sf(c.BLOCK_M)), "sfb_desc": ("fp8e4nv", sf(c.BLOCK_N))}
    else:
        d = {"a_desc": (dtype, [c.BLOCK_M, c.BLOCK_K]), "b_desc": (dtype, [c.BLOCK_N, c.BLOCK_K])}
    d["c_desc"] = (out, [c.BLOCK_M, c.BLOCK_N if step == "wgmma" else c.EPI_N])
    return d


def _signature(descs: dict[str, tuple[str, list[int]]]) -> dict[str, str]:
    return {n: f"tensordesc<{t}[{','.join(map(str, b))}],{_layout(t, b)!r}>" for n, (t, b) in descs.items()}


def _compile(step: str, config: GluonConfig, dtype: str, constexprs: tuple) -> bwi.Compiled:
    check_config(step, config, dtype)          # before the cache: a dict config is unhashable, a bad one is refused
    return _compile_cached(step, config, dtype, constexprs)


@functools.lru_cache(maxsize=64)
def _compile_cached(step: str, config: GluonConfig, dtype: str, constexprs: tuple) -> bwi.Compiled:
    opts = {"maxnreg": config.maxnreg} if step == "ws" else {}
    k = bwi.compile_triton(_KERNELS[step], _signature(descriptor_blocks(step, config, dtype)), dict(constexprs),
                           STEPS[step].target, config.num_warps, **opts)
    m = k.metadata
    k.metadata = {"step": step, "config": config, **{key: m[key] for key in ("shared", "tmem_size", "num_warps",
                                                                             "name")}}
    return k


def compile_sync(config: GluonConfig | None = None, dtype: str = "bf16", *, wait_mma: bool = True) -> bwi.Compiled:
    """Step 1 for sm_100a; `wait_mma=False` compiles the MMA without a barrier, as `mbarriers=None` does."""
    check_flag("compile_sync: wait_mma", wait_mma)
    return _compile("sync", _config("sync", config), dtype, (("WAIT_MMA", wait_mma),))


def compile_pipelined(config: GluonConfig | None = None, dtype: str = "bf16") -> bwi.Compiled:
    """Step 2 (TMA + mbarrier ring of STAGES slots) for sm_100a."""
    c = _config("pipelined", config)
    return _compile("pipelined", c, dtype, (("STAGES", c.STAGES),))


def compile_ws(config: GluonConfig | None = None, dtype: str = "bf16") -> bwi.Compiled:
    """Step 3 (warp-specialized loader / MMA / epilogue, persistent, ACC_BUFFERS accumulators) for sm_100a."""
    c = _config("ws", config)
    return _compile("ws", c, dtype, (("STAGES", c.STAGES), ("ACC_BUFFERS", c.ACC_BUFFERS),
                                     ("WORKER_REGS", c.WORKER_REGS)))


def compile_nvfp4(config: GluonConfig | None = None) -> bwi.Compiled:
    """Step 4 (NVFP4 block-scaled ring: tcgen05.cp + tcgen05.mma kind::mxf4nvf4) for sm_100a; C is bf16."""
    c = _config("nvfp4", config)
    return _compile("nvfp4", c, "bf16", (("STAGES", c.STAGES),))


def compile_wgmma(config: GluonConfig | None = None, dtype: str = "bf16") -> bwi.Compiled:
    """The Hopper ring (TMA + mbarrier + async warpgroup_mma, accumulator in registers) for sm_90a."""
    c = _config("wgmma", config)
    return _compile("wgmma", c, dtype, (("STAGES", c.STAGES), ("num_warps", c.num_warps)))


def _config(step: str, config: GluonConfig | None) -> GluonConfig:
    """`config`, or the step's default tile when it is None; TypeError for anything but a GluonConfig."""
    if config is None:
        return STEPS[step].config
    if not isinstance(config, GluonConfig):
        raise TypeError(f"config must be a GluonConfig (or None: the step's default tile), got "
                        f"{type(config).__name__} {config!r:.60}")
    return config


def compile_step(name: str, config: GluonConfig | None = None, dtype: str = "bf16") -> bwi.Compiled:
    """Compile ladder step `name` (see `STEPS`) on any machine; cached per (step, config, dtype).

    dtype: 'bf16' or 'fp16' (A, B and C); step 'nvfp4' takes only the default 'bf16' (packed FP4 operands, C bf16).
    """
    if not isinstance(name, str) or name not in STEPS:
        raise ValueError(f"unknown step {name!r}; steps: {', '.join(STEPS)}")
    _config(name, config)
    if name == "nvfp4":
        if dtype != "bf16":
            raise ValueError(f"compile_step: step 'nvfp4' takes no dtype (its operands are packed FP4 with UE4M3 "
                             f"scales, C is bf16), got dtype={dtype!r}")
        return compile_nvfp4(config)
    return STEPS[name].compile(config, dtype)


_KERNELS = {"sync": gemm_sync_kernel, "pipelined": gemm_pipelined_kernel, "ws": gemm_ws_kernel,
            "nvfp4": gemm_nvfp4_kernel, "wgmma": gemm_wgmma_kernel}
STEPS: dict[str, Step] = {s.name: s for s in [
    Step("sync", "sm_100a", compile_sync, GluonConfig(STAGES=1),
         "TMEM accumulator; TMA then tcgen05_mma, each waited for on its mbarrier"),
    Step("pipelined", "sm_100a", compile_pipelined, GluonConfig(STAGES=4),
         "a ring of STAGES slots, ready/empty mbarriers, TMA STAGES-1 slices ahead"),
    Step("ws", "sm_100a", compile_ws, GluonConfig(BLOCK_N=256, STAGES=4, ACC_BUFFERS=2),
         "loader / MMA / epilogue partitions, persistent tiles, 2 TMEM accumulators"),
    Step("nvfp4", "sm_100a", compile_nvfp4, GluonConfig(BLOCK_K=256, STAGES=4),
         "packed FP4 + UE4M3 scales: tcgen05_copy, tcgen05_mma_scaled"),
    Step("wgmma", "sm_90a", compile_wgmma, GluonConfig(STAGES=4),
         "Hopper: the ring with async warpgroup_mma, accumulator in registers"),
]}
assert tuple(STEPS) == STEP_NAMES, "model.STEP_NAMES and STEPS must list the same steps"




# ------------------------------------------------------------------------------------ running (B200 / H100)
def _require(target: str) -> None:
    import torch

    major = {"sm_100a": 10, "sm_90a": 9}[target]
    if not torch.cuda.is_available() or torch.cuda.get_device_capability(0)[0] != major:
        raise RuntimeError(f"this kernel runs on {target} GPUs only ({'B200/GB200' if major == 10 else 'H100/H200'}"
                           f"); here use compile_step(...) and read the PTX/SASS")


def _operand(name: str, t, rows: int | None, dtypes: tuple) -> None:
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in dtypes:
        raise TypeError(f"{name} has dtype {t.dtype}; expected one of {dtypes}")
    if t.dim() != 2 or (rows is not None and t.shape[0] != rows):
        raise ValueError(f"{name} has shape {list(t.shape)}; expected ({rows if rows is not None else 'rows'}, K)")
    if not t.is_contiguous() or (t.shape[1] * t.element_size()) % 16:
        raise ValueError(f"{name}: TMA needs contiguous rows of a multiple of 16 bytes (K % 8 == 0 for 16-bit)")


def _on_gpu(target: str, **tensors) -> None:
    for name, t in tensors.items():
        if t.device.type != "cuda":
            raise ValueError(f"{name} is on {t.device}: matmul launches a GPU kernel; on a CPU use compile_step")
    _require(target)


def make_descriptors(step: str, config: GluonConfig, dtype: str, tensors: dict) -> dict:
    """The host TMA descriptors of a step's kernel for `tensors` (name -> tensor, as in `descriptor_blocks`).

    Builds only the descriptors (no launch), so it runs on CPU tensors too: benchmarks/gpu_check_gluon.py --dry-run.
    """
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    blocks = descriptor_blocks(step, config, dtype)
    missing = [n for n in blocks if n not in tensors]
    if missing:
        raise ValueError(f"make_descriptors: tensors lacks {missing}; step {step!r} takes {list(blocks)}")
    return {n: TensorDescriptor.from_tensor(tensors[n], b, _layout(t, b))
            for n, (t, b) in blocks.items()}


def _launch(step: str, config: GluonConfig, dtype: str, tensors: dict, M: int, N: int) -> None:
    import torch

    descs = make_descriptors(step, config, dtype, tensors)
    c = config
    tiles = triton.cdiv(M, c.BLOCK_M) * triton.cdiv(N, c.BLOCK_N)
    grid = (triton.cdiv(M, c.BLOCK_M), triton.cdiv(N, c.BLOCK_N))
    kw = {"num_warps": c.num_warps}
    if step == "sync":
        kw["WAIT_MMA"] = True
    elif step == "ws":
        grid = (min(tiles, torch.cuda.get_device_properties(0).multi_processor_count),)
        kw.update(STAGES=c.STAGES, ACC_BUFFERS=c.ACC_BUFFERS, WORKER_REGS=c.WORKER_REGS, maxnreg=c.maxnreg)
    else:
        kw["STAGES"] = c.STAGES
    _KERNELS[step][grid](*descs.values(), **kw)


def matmul(a, b, step: str = "ws", config: GluonConfig | None = None):
    """C = a @ b.T with ladder step `step` ('sync', 'pipelined', 'ws' on sm_100a; 'wgmma' on sm_90a).

    a (M, K) and b (N, K): contiguous bf16 or fp16 CUDA tensors of one dtype; C has their dtype.
    """
    import torch

    if step not in STEPS or step == "nvfp4":
        raise ValueError(f"matmul: step must be one of sync, pipelined, ws, wgmma (nvfp4: matmul_nvfp4), got {step!r}")
    dtypes = {torch.bfloat16: "bf16", torch.float16: "fp16"}
    _operand("a", a, None, tuple(dtypes))
    _operand("b", b, None, (a.dtype,))
    if b.shape[1] != a.shape[1]:
        raise ValueError(f"a is {list(a.shape)} and b is {list(b.shape)}: both must be (rows, K) with the same K")
    cfg = _config(step, config)
    check_config(step, cfg, dtypes[a.dtype])
    _on_gpu(STEPS[step].target, a=a, b=b)
    M, N = a.shape[0], b.shape[0]
    c = torch.empty(M, N, dtype=a.dtype, device=a.device)
    _launch(step, cfg, dtypes[a.dtype], {"a_desc": a, "b_desc": b, "c_desc": c}, M, N)
    return c


def matmul_nvfp4(a_fp4, b_fp4, sfa, sfb, M: int, N: int, K: int, config: GluonConfig | None = None):
    """C (M, N, bf16) = (A * sfa) @ (B * sfb).T on sm_100a with step 4.

    a_fp4 (M, K/2) and b_fp4 (N, K/2): contiguous packed E2M1 codes (uint8, `bwkit.formats.pack_fp4`); sfa, sfb:
    contiguous UE4M3 block scales (uint8 codes or float8_e4m3fn) in the blocked layout of
    `bwkit.formats.to_blocked_scales` (the contract of `bwkit.formats.check_nvfp4_operands`, shared by the kit's
    NVFP4 GEMMs). M, N % 128 == 0, K % BLOCK_K == 0 (the scale blocks cover whole tiles).
    """
    import torch

    for name, v in (("M", M), ("N", N), ("K", K)):
        _check_arg(f"matmul_nvfp4: {name}", v)
    cfg = _config("nvfp4", config)
    check_config("nvfp4", cfg)
    if M % 128 or N % 128 or K % cfg.BLOCK_K:
        raise ValueError(f"matmul_nvfp4: M={M} and N={N} must be multiples of 128 and K={K} of BLOCK_K={cfg.BLOCK_K}")
    from bwkit.formats import check_nvfp4_operands  # the operand contract of every kit NVFP4 GEMM

    check_nvfp4_operands(a_fp4, b_fp4, sfa, sfb, M, N, K)
    views = {name: sf.view(torch.float8_e4m3fn).view(1, rows // 128, K // 64, 2, 256)
             for name, sf, rows in (("sfa", sfa, M), ("sfb", sfb, N))}
    _on_gpu("sm_100a", a_fp4=a_fp4, b_fp4=b_fp4, sfa=sfa, sfb=sfb)
    c = torch.empty(M, N, dtype=torch.bfloat16, device=a_fp4.device)
    _launch("nvfp4", cfg, "bf16", {"a_desc": a_fp4, "b_desc": b_fp4, "sfa_desc": views["sfa"],
                                   "sfb_desc": views["sfb"], "c_desc": c}, M, N)
    return c


def with_stages(step: str, stages: int) -> GluonConfig:
    """The step's default tile with another STAGES (for stage sweeps)."""
    if not isinstance(step, str) or step not in STEPS:
        raise ValueError(f"with_stages: unknown step {step!r}; steps: {', '.join(STEPS)}")
    return replace(STEPS[step].config, STAGES=stages)
