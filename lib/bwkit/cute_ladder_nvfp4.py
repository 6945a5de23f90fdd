"""The NVFP4 block-scaled GEMM on the ladder's best schedule (`bwkit.cute_ladder`, rung 5), 1-CTA MMA.

Lab 05's NVFP4 kernel (`bwkit.cute_gemm.gemm_kernel_nvfp4`: one CTA per tile, one accumulator, direct stores)
moved onto rung 5's persistent, warp-specialised schedule: the static tile scheduler, two TMEM
accumulators and the TMA-store epilogue, all through the same `bwkit.cute_common` helpers. What the scales add
is lab 05's: two more TMA loads per stage (SFA, SFB), ``tcgen05.cp`` of the stage's scales into TMEM before its
MMAs, and ``tcgen05.mma ... kind::mxf4nvf4.block_scale.block16`` pointed at them.

What it does not take from rung 5: the CTA pair and the cluster. A 2-CTA block-scaled MMA splits SFB across the
pair with its own tiled MMA and TMA layout, and at TILE_N = 256 two FP32 accumulators already fill TMEM's 512
columns, leaving none for the scales (CUTLASS's persistent block-scaled example falls back to one accumulator
there). Here TILE_N = 128: 2 x 128 accumulator columns + the scales fit in one 512-column allocation.

    from bwkit import cute_ladder_nvfp4 as l4
    k = l4.compile_nvfp4(8192, 8192, 8192)     # PTX: kind::mxf4nvf4.block16, tcgen05.cp, TMA store, ...

Constraints: M % 128, N % 128, K % 256 == 0 (checked, no bounds checks in the kernel). Taught in lab 10.
"""

from dataclasses import replace

import cuda.bindings.driver as cuda_driver
import cutlass
import cutlass.cute as cute
import cutlass.pipeline as pipeline
import cutlass.utils as cutlass_utils
from cutlass.cute.runtime import make_ptr
from cutlass.memory import SmemAllocator

from bwkit import cute_common as cc
from bwkit import cute_gemm as cg
from bwkit import cute_ladder as lad

__all__ = ["NVFP4_RUNG", "EXPECTED_PTX", "nvfp4_smem_bytes", "check_nvfp4_rung", "compile_nvfp4", "run_nvfp4",
           "kernel_persistent_nvfp4", "ladder_host_nvfp4"]

# rung 5's schedule (persistent, 2 accumulators, TMA store) with a 1-CTA 128 x 128 x 256 NVFP4 tile
NVFP4_RUNG = replace(lad.RUNGS[4], number="nvfp4", name="NVFP4 on rung 5's schedule (1-CTA)", cta_group=1,
                     cluster=(1, 1), TILE_N=128, TILE_K=cg.NVFP4_TILE_K, STAGES=5)

EXPECTED_PTX: dict[str, str] = {
    "tcgen05.mma kind::mxf4nvf4 block16": r"tcgen05\.mma\.cta_group::1\.kind::mxf4nvf4\.block_scale\.block16",
    "tcgen05.cp (scales smem -> TMEM)": r"tcgen05\.cp",
    "tcgen05.alloc of 512 columns": r"mov\.b32\s+%r\d+, 512;\s+tcgen05\.alloc",
    "TMA store (cp.async.bulk.tensor shared -> global)": r"cp\.async\.bulk\.tensor\.2d\.global\.shared::cta",
    "grid size read by the static scheduler (%nctaid)": r"%nctaid\.z",
}


def _check_nvfp4_rung_type(what: str, rung) -> None:
    """TypeError naming `what` unless `rung` is a `bwkit.cute_ladder.Rung` (a name such as 'nvfp4' is not one)."""
    if not isinstance(rung, lad.Rung):
        raise TypeError(f"{what}: rung must be a bwkit.cute_ladder.Rung: the NVFP4 rung is "
                        f"bwkit.cute_ladder_nvfp4.NVFP4_RUNG (the default: leave rung out), or a variant such as "
                        f"dataclasses.replace(NVFP4_RUNG, STAGES=4); got {type(rung).__name__} {rung!r:.60}")


def nvfp4_smem_bytes(rung: lad.Rung = NVFP4_RUNG) -> int:
    """Shared memory per CTA: STAGES x (A + B packed FP4, 2 values a byte, + their UE4M3 scales, one per 16) plus
    the TMA-store ring of EPI_STAGES x 128 x EPI_N bf16."""
    _check_nvfp4_rung_type("nvfp4_smem_bytes", rung)
    if rung.TILE_K != cg.NVFP4_TILE_K:
        raise ValueError(f"nvfp4_smem_bytes: rung {rung.number!r} has TILE_K={rung.TILE_K}, not an NVFP4 rung's "
                         f"{cg.NVFP4_TILE_K}: a dense rung's shared memory is bwkit.cute_ladder.smem_bytes(rung)")
    per_stage = (128 + rung.TILE_N) * rung.TILE_K // 2 + (128 + rung.TILE_N) * rung.TILE_K // cg.SF_VEC
    return rung.STAGES * per_stage + rung.EPI_STAGES * 128 * rung.EPI_N * 2


def check_nvfp4_rung(M: int, N: int, K: int, rung: lad.Rung = NVFP4_RUNG) -> None:
    """Raise ValueError naming the rule when the shape or the rung does not fit this kernel (persistent with the
    static scheduler, 1-CTA, unclustered, TMA-store epilogue: the only schedule `kernel_persistent_nvfp4` has)."""
    _check_nvfp4_rung_type("check_nvfp4_rung", rung)
    if rung.cta_group != 1 or rung.cluster != (1, 1) or not rung.persistent:
        raise ValueError(f"the NVFP4 ladder kernel is persistent, 1-CTA and unclustered; got cta_group="
                         f"{rung.cta_group}, cluster={rung.cluster}, scheduler={rung.scheduler!r}")
    if rung.scheduler != "static":
        raise ValueError(f"the NVFP4 ladder kernel uses the static scheduler (scheduler='static'), got "
                         f"scheduler={rung.scheduler!r}")
    if rung.epilogue != "tma":
        raise ValueError(f"the NVFP4 ladder kernel stores C by TMA (epilogue='tma'), got epilogue={rung.epilogue!r}")
    cg._check_nvfp4_tiles(M, N, K, rung.TILE_N)                 # the sizes and TILE_N in (128, 256)
    if rung.TILE_K != cg.NVFP4_TILE_K:
        raise ValueError(f"NVFP4 tiles are 128 x TILE_N x {cg.NVFP4_TILE_K}; got TILE_K={rung.TILE_K}")
    if rung.acc_stages * rung.TILE_N + 2 * rung.TILE_K // cg.SF_VEC > lad.TMEM_COLUMNS:
        raise ValueError(f"{rung.acc_stages} accumulators x {rung.TILE_N} columns leave no TMEM for the scales: "
                         f"use TILE_N=128 or acc_stages=1")
    if nvfp4_smem_bytes(rung) > lad.SMEM_LIMIT:
        raise ValueError(f"{rung.STAGES} stages need {nvfp4_smem_bytes(rung)} bytes of shared memory, over "
                         f"{lad.SMEM_LIMIT} (227 KiB): lower STAGES")


@cute.kernel
def kernel_persistent_nvfp4(
    tiled_mma: cute.TiledMma,
    tma_a: cute.CopyAtom, mA: cute.Tensor,          # (M, K, 1) packed FP4
    tma_b: cute.CopyAtom, mB: cute.Tensor,          # (N, K, 1) packed FP4
    tma_sfa: cute.CopyAtom, mSFA: cute.Tensor,      # scales of A, blocked 128 x 4 layout
    tma_sfb: cute.CopyAtom, mSFB: cute.Tensor,
    tma_c: cute.CopyAtom, mC: cute.Tensor,          # TMA view of C (M, N)
    sA_layout: cute.ComposedLayout, sB_layout: cute.ComposedLayout,
    sSFA_layout: cute.Layout, sSFB_layout: cute.Layout, sC_layout: cute.ComposedLayout,
    sched_params,
    ab_dtype: cutlass.Constexpr, sf_dtype: cutlass.Constexpr, c_dtype: cutlass.Constexpr,
    rung: cutlass.Constexpr,
):
    """`bwkit.cute_ladder.kernel_persistent` (1-CTA) plus lab 05's scale path: SFA/SFB by TMA, tcgen05.cp to TMEM."""
    warp = cute.arch.make_warp_uniform(cute.arch.warp_idx())
    tid, _, _ = cute.arch.thread_idx()
    tile = rung.mma_tile
    epi_warps = len(lad.EPI_WARPS)

    smem = SmemAllocator()
    bars = cc.allocate_barriers(smem, rung.STAGES, rung.acc_stages)
    sA = cc.allocate_smem_operand(smem, ab_dtype, sA_layout)       # (MMA, MMA_M, MMA_K, STAGES)
    sB = cc.allocate_smem_operand(smem, ab_dtype, sB_layout)
    sSFA = cc.allocate_smem_operand(smem, sf_dtype, sSFA_layout)
    sSFB = cc.allocate_smem_operand(smem, sf_dtype, sSFB_layout)
    sC = cc.allocate_smem_operand(smem, c_dtype, sC_layout)                # (EPI_M, EPI_N, EPI_STAGES)
    tx_bytes = cc.stage_bytes((ab_dtype, sA_layout), (ab_dtype, sB_layout),
                              (sf_dtype, sSFA_layout), (sf_dtype, sSFB_layout))
    load_producer, load_consumer = cc.make_load_pipeline(bars.load.data_ptr(), rung.STAGES, tx_bytes)
    acc_producer, acc_consumer = cc.make_acc_pipeline(bars.acc.data_ptr(), 32 * epi_warps, rung.acc_stages)

    every = (None, None)                            # all tiles; the scheduler picks (m, n)
    gA = cute.local_tile(mA[None, None, 0], cute.slice_(tile, (None, 0, None)), every)   # (128, 256, tiles_m, k)
    gB = cute.local_tile(mB[None, None, 0], cute.slice_(tile, (0, None, None)), every)   # (TILE_N, 256, tiles_n, k)
    gSFA = cute.local_tile(mSFA[None, None, 0], cute.slice_(tile, (None, 0, None)), every)
    gSFB = cute.local_tile(mSFB[None, None, 0], cute.slice_(tile, (0, None, None)), every)
    gC = cute.local_tile(mC, cute.slice_(tile, (None, None, 0)), every)                  # (128, TILE_N, tm, tn)
    k_tiles = cute.size(gA, mode=[3])
    thr_mma = tiled_mma.get_slice(0)
    tCgA = thr_mma.partition_A(gA)                  # (MMA, MMA_M, MMA_K, tiles_m, k_tiles)
    tCgB = thr_mma.partition_B(gB)                  # (MMA, MMA_N, MMA_K, tiles_n, k_tiles)
    tCgSFA = thr_mma.partition_A(gSFA)
    tCgSFB = thr_mma.partition_B(gSFB)
    tCgC = thr_mma.partition_C(gC)                  # (MMA, MMA_M, MMA_N, tiles_m, tiles_n)
    tCrA = tiled_mma.make_fragment_A(sA)
    tCrB = tiled_mma.make_fragment_B(sB)
    tAsA, tAgA = cc.tma_partition_stages(tma_a, sA, tCgA)                # (TMA, STAGES), (TMA, tiles_m, k)
    tBsB, tBgB = cc.tma_partition_stages(tma_b, sB, tCgB)
    tAsSFA, tAgSFA = cc.tma_partition_stages(tma_sfa, sSFA, tCgSFA)
    tBsSFB, tBgSFB = cc.tma_partition_stages(tma_sfb, sSFB, tCgSFB)
    tAsSFA, tAgSFA = cute.filter_zeros(tAsSFA), cute.filter_zeros(tAgSFA)   # broadcast (stride-0) modes out
    tBsSFB, tBgSFB = cute.filter_zeros(tBsSFB), cute.filter_zeros(tBgSFB)

    sched = cutlass_utils.StaticPersistentTileScheduler.create(sched_params, cute.arch.block_idx(),
                                                               cute.arch.grid_dim())
    work = sched.initial_work_tile_info()
    clc_pipeline = clc_state = None
    tmem_threads = 32 * (epi_warps + 1)

    if warp == lad.TMA_WARP:
        while work.is_valid_tile:
            m, n = work.tile_idx[0], work.tile_idx[1]
            load_producer = cc.tma_load_loop(
                load_producer, k_tiles, ((tma_a, tAgA[(None, m, None)], tAsA), (tma_b, tBgB[(None, n, None)], tBsB),
                                         (tma_sfa, tAgSFA[(None, m, None)], tAsSFA),
                                         (tma_sfb, tBgSFB[(None, n, None)], tBsSFB)), per_tile=True)
            work, sched, clc_state = lad._next_work(sched, clc_pipeline, clc_state)
        load_producer.tail()

    if warp == lad.MMA_WARP:
        tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, lad.TMEM_COLUMNS, tmem_threads, lad.EPI_WARPS[0])
        tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile, acc_ptr, rung.acc_stages)   # (MMA, MMA_M, MMA_N, ACC)
        # TMEM after the accumulators: SFA, then SFB (one stage's scales; tcgen05.cp refills them per K tile)
        tCtSFA, tCtSFB, s2t = cc.make_tmem_scales(tiled_mma, tile, acc_ptr + rung.acc_stages * rung.TILE_N,
                                                  cg.SF_VEC, ((sSFA, sSFA_layout), (sSFB, sSFB_layout)))
        while work.is_valid_tile:
            acc_slot = acc_producer.acquire_and_advance()
            tiled_mma, load_consumer = cc.mma_loop(tiled_mma, tCtAcc[(None, None, None, acc_slot.index)], tCrA, tCrB,
                                                   load_consumer, k_tiles, s2t_copies=s2t, tCtSFA=tCtSFA,
                                                   tCtSFB=tCtSFB, carry=True)
            acc_slot.commit()
            work, sched, clc_state = lad._next_work(sched, clc_pipeline, clc_state)
        acc_producer.tail()

    if warp < lad.MMA_WARP:
        tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, lad.TMEM_COLUMNS, tmem_threads, lad.EPI_WARPS[0])
        tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile, acc_ptr, rung.acc_stages)
        epi_barrier = pipeline.NamedBarrier(barrier_id=cc.EPI_BARRIER_ID, num_threads=32 * epi_warps)
        store_pipeline = pipeline.PipelineTmaStore.create(
            num_stages=rung.EPI_STAGES, producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread,
                                                                                 32 * epi_warps))
        tiles_done = cutlass.Int32(0)
        while work.is_valid_tile:
            m, n = work.tile_idx[0], work.tile_idx[1]
            acc_consumer = cc.epilogue_tmem_to_smem_to_gmem(
                tCtAcc, tCgC[(None, None, None, m, n)], sC, tma_c, acc_consumer, store_pipeline, epi_barrier, tid,
                warp == lad.EPI_WARPS[0], tiles_done * (rung.TILE_N // rung.EPI_N), rung.EPI_N)
            tiles_done += 1
            work, sched, clc_state = lad._next_work(sched, clc_pipeline, clc_state)
        store_pipeline.producer_tail()
        tmem.relinquish_alloc_permit()
        cc.free_tmem(tmem, acc_ptr, barrier=epi_barrier)


@cute.jit
def ladder_host_nvfp4(a_ptr: cute.Pointer, b_ptr: cute.Pointer, sfa_ptr: cute.Pointer, sfb_ptr: cute.Pointer,
                      c_ptr: cute.Pointer, M: cutlass.Int32, N: cutlass.Int32, K: cutlass.Int32,
                      stream: cuda_driver.CUstream, rung: cutlass.Constexpr, clusters: cutlass.Constexpr):
    """Host side: lab 05's NVFP4 tensors, MMA and scale layouts; rung 5's TMA store and persistent grid."""
    tile = rung.mma_tile
    tiled_mma, tmas, layouts = cg.nvfp4_operands(a_ptr, b_ptr, sfa_ptr, sfb_ptr, M, N, K, tile, rung.STAGES)
    mC = cute.make_tensor(c_ptr, cute.make_layout((M, cute.assume(N, 32)), stride=(cute.assume(N, 32), 1)))
    sC_layout, tma_c, tma_mC = cc.make_tma_store(mC, (128, rung.EPI_N), rung.EPI_STAGES)
    params = cutlass_utils.PersistentTileSchedulerParams((cute.ceil_div(M, 128), cute.ceil_div(N, tile[1]), 1),
                                                         (1, 1, 1))
    grid = cutlass_utils.StaticPersistentTileScheduler.get_grid_shape(params, clusters)
    kernel_persistent_nvfp4(tiled_mma, *tmas, tma_c, tma_mC, *layouts, sC_layout, params, a_ptr.dtype, sfa_ptr.dtype,
                            c_ptr.dtype, rung).launch(grid=grid, block=(rung.threads, 1, 1), stream=stream)


def _ptrs(addrs, out_dtype):
    dts = (cutlass.Float4E2M1FN, cutlass.Float4E2M1FN, cutlass.Float8E4M3FN, cutlass.Float8E4M3FN, out_dtype)
    return [make_ptr(dt, a, cute.AddressSpace.gmem, assumed_align=16) for dt, a in zip(dts, addrs, strict=True)]


def compile_nvfp4(M: int = 8192, N: int = 8192, K: int = 8192, rung: lad.Rung = NVFP4_RUNG):
    """Compile the NVFP4 ladder kernel for sm_100a (no GPU needed; grid sized for a B200); bf16 output."""
    _check_nvfp4_rung_type("compile_nvfp4", rung)
    check_nvfp4_rung(M, N, K, rung)
    from bwkit.inspect import compile_cute

    ptrs = _ptrs([1 << 20, 1 << 21, 1 << 22, 1 << 23, 1 << 24], cutlass.BFloat16)
    return compile_cute(ladder_host_nvfp4, *ptrs, M, N, K, cuda_driver.CUstream(0), rung,
                        lad.max_active_clusters(rung))


_RUN_CACHE: dict = {}


def run_nvfp4(a_fp4, b_fp4, sfa, sfb, M: int, N: int, K: int, rung: lad.Rung = NVFP4_RUNG):
    """NVFP4 C = A·Bᵀ (bf16, no global scale) on a B200; operands as `bwkit.cute_gemm.gemm_nvfp4` takes them
    (`bwkit.formats.check_nvfp4_operands`)."""
    import torch

    _check_nvfp4_rung_type("run_nvfp4", rung)
    check_nvfp4_rung(M, N, K, rung)
    cg.check_nvfp4_operands(a_fp4, b_fp4, sfa, sfb, M, N, K)
    cg._check_on_gpu(a_fp4=a_fp4, b_fp4=b_fp4, sfa=sfa, sfb=sfb)
    c = torch.empty(M, N, dtype=torch.bfloat16, device=a_fp4.device)
    ptrs = _ptrs([t.data_ptr() for t in (a_fp4, b_fp4, sfa, sfb, c)], cutlass.BFloat16)
    stream = cuda_driver.CUstream(torch.cuda.current_stream().cuda_stream)
    if rung not in _RUN_CACHE:
        clusters = cutlass_utils.HardwareInfo().get_max_active_clusters(1)
        _RUN_CACHE[rung] = cute.compile(ladder_host_nvfp4, *ptrs, M, N, K, stream, rung, clusters)
    _RUN_CACHE[rung](*ptrs, M, N, K, stream)
    return c
