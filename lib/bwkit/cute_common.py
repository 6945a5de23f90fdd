"""Building blocks shared by the kit's CuTe DSL tcgen05 kernels (`bwkit.cute_gemm`: dense and NVFP4 GEMM).

Each helper is one step of a Blackwell GEMM that does not depend on the data type or on what the MMA does with
it: the smem ring and its TMA loads, the two pipelines (TMA -> MMA over K, MMA -> epilogue), TMEM allocation,
the TMA and MMA loops over K and the TMEM -> registers -> global epilogue. Host-side helpers run inside a
`@cute.jit` host function; kernel-side ones inside a `@cute.kernel`, while it is traced. Plain Python helpers
emit their CuTe ops where they are called; the `@cute.jit` ones (those with loops) are inlined into the kernel.
Either way the compiled kernel is the same as with the code written out in place (lab 05's two kernels give
byte-identical PTX and SASS either way). One rule of the DSL's tracer: a value a staged loop or branch
carries must be rebound there as a plain local, so `mma_loop`, which changes the tiled MMA's fields, returns
it: ``tiled_mma = mma_loop(tiled_mma, ...)``. What differs between kernels (operands, the MMA op, which warp
does what) stays in the kernel.

Run: nothing here runs on its own. Compile a kernel that uses it, e.g. ``bwkit.cute_gemm.compile_gemm(...)``
(any machine, no GPU: sm_100a PTX/SASS via `bwkit.inspect.compile_cute`); running needs datacenter Blackwell.

Constraints (what the helpers assume, as lab 05's kernels use them): one CTA per tile (``cta_group::1``,
no cluster, no TMA multicast); A/B smem layouts staged as (MMA, MMA_M or MMA_N, MMA_K, STAGES) and partitioned
MMA views whose first three modes are one stage; an FP32 accumulator in TMEM with one row per thread of a
128-thread epilogue (M = 128, ``tcgen05.ld 32x32b``); TMEM allocations of 32, 64, 128, 256 or 512 columns.
"""

import cutlass
import cutlass.cute as cute
import cutlass.pipeline as pipeline
import cutlass.utils.blackwell_helpers as sm100_utils
from cutlass.cute.nvgpu import cpasync, tcgen05
from cutlass.memory import TmemAllocator

__all__ = [
    "TMEM_BARRIER_ID", "TMEM_ALLOC_COLUMNS", "one_stage", "make_smem_layouts_ab", "make_tma_load",
    "allocate_barriers", "allocate_smem_operand", "stage_bytes", "make_load_pipeline", "make_acc_pipeline",
    "tma_partition_stages", "tma_load_loop", "alloc_tmem", "make_tmem_accumulator", "free_tmem", "mma_loop",
    "epilogue_tmem_to_gmem",
]

TMEM_BARRIER_ID = 1            # named barrier for "TMEM address is ready" and "everyone is done with TMEM"
TMEM_ALLOC_COLUMNS = (32, 64, 128, 256, 512)   # tcgen05.alloc takes a power of two >= 32 columns


# ------------------------------------------------------------------------------------------------ host side
def one_stage(staged_layout):
    """Stage 0 of a staged smem layout (MMA, MMA_M/N, MMA_K, STAGES): what one TMA copy fills, one stage."""
    return cute.slice_(staged_layout, (None, None, None, 0))


def make_smem_layouts_ab(tiled_mma: cute.TiledMma, tile_mnk, ab_dtype, stages: int):
    """The STAGES-deep smem layouts of A and B, swizzled as the MMA's smem descriptors expect.

    Returns (sA_layout, sB_layout): (MMA, MMA_M, MMA_K, STAGES) and (MMA, MMA_N, MMA_K, STAGES).
    """
    return (sm100_utils.make_smem_layout_a(tiled_mma, tile_mnk, ab_dtype, stages),
            sm100_utils.make_smem_layout_b(tiled_mma, tile_mnk, ab_dtype, stages))


def make_tma_load(operand: str, mX: cute.Tensor, smem_layout, tile_mnk, tiled_mma: cute.TiledMma,
                  internal_type=None):
    """A TMA load for MMA operand 'A' (M-side tiles) or 'B' (N-side) that fills one stage of `smem_layout`.

    Returns (TMA copy atom, TMA coordinate view of `mX`): the kernel partitions that view, not `mX` itself.
    `internal_type` is the element type TMA moves (e.g. Int16 for 1-byte scale factors); None = mX's.
    """
    if operand not in ("A", "B"):
        raise ValueError(f"operand must be 'A' or 'B', got {operand!r}")
    make = cute.nvgpu.make_tiled_tma_atom_A if operand == "A" else cute.nvgpu.make_tiled_tma_atom_B
    op = cpasync.CopyBulkTensorTileG2SOp(tcgen05.CtaGroup.ONE)
    return make(op, mX, one_stage(smem_layout), tile_mnk, tiled_mma, internal_type=internal_type)


# ------------------------------------------------------------------------------------------------ kernel side
def allocate_barriers(smem, stages: int, acc_stages: int = 1):
    """Allocate the kernel's barrier block in shared memory and return it.

    Fields: ``load`` (a full and an empty mbarrier per smem stage), ``acc`` (full + empty per accumulator
    stage) and ``tmem_addr`` (the Int32 slot tcgen05.alloc writes the TMEM address to).
    """
    @cute.struct
    class Barriers:
        load: cute.struct.MemRange[cutlass.Int64, stages * 2]
        acc: cute.struct.MemRange[cutlass.Int64, acc_stages * 2]
        tmem_addr: cutlass.Int32

    return smem.allocate(Barriers)


def allocate_smem_operand(smem, dtype, layout) -> cute.Tensor:
    """A 128-byte aligned smem tensor of `layout`; a ComposedLayout's swizzle goes to the allocator."""
    if isinstance(layout, cute.ComposedLayout):
        return smem.allocate_tensor(dtype, layout.outer, byte_alignment=128, swizzle=layout.inner)
    return smem.allocate_tensor(dtype, layout, byte_alignment=128)


def stage_bytes(*operands) -> int:
    """Bytes one stage of the given (dtype, staged smem layout) pairs holds: the TMA transaction count."""
    return sum(cute.size_in_bytes(dtype, one_stage(layout)) for dtype, layout in operands)


def make_load_pipeline(barrier_storage, stages: int, tx_count: int):
    """TMA -> MMA pipeline over K: `stages` smem buffers, one producer thread (TMA) and one consumer (MMA).

    The full barrier of a stage flips when `tx_count` bytes have landed; the MMA side releases a stage with
    tcgen05.commit. Returns (producer, consumer) participants.
    """
    return pipeline.PipelineTmaUmma.create(
        num_stages=stages,
        producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread),
        consumer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread),
        tx_count=tx_count,
        barrier_storage=barrier_storage,
    ).make_participants()


def make_acc_pipeline(barrier_storage, consumer_threads: int, acc_stages: int = 1):
    """MMA -> epilogue pipeline over TMEM accumulators: one MMA thread commits, `consumer_threads` read.

    Returns (producer, consumer) participants.
    """
    return pipeline.PipelineUmmaAsync.create(
        num_stages=acc_stages,
        producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread),
        consumer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread, consumer_threads),
        barrier_storage=barrier_storage,
    ).make_participants()


def tma_partition_stages(tma_atom: cute.CopyAtom, sX: cute.Tensor, tCgX: cute.Tensor):
    """TMA views of one operand, so that one TMA copy moves a whole stage.

    `sX` is (MMA, MMA_M, MMA_K, STAGES) in smem, `tCgX` the MMA-partitioned global tile
    (MMA, MMA_M, MMA_K, k_tiles). Returns (tXsX, tXgX): (TMA, STAGES) and (TMA, k_tiles).
    """
    return cpasync.tma_partition(tma_atom, 0, cute.make_layout(1),
                                 cute.group_modes(sX, 0, 3), cute.group_modes(tCgX, 0, 3))


@cute.jit
def tma_load_loop(load_producer, k_tiles, loads) -> None:
    """The TMA producer's loop over K: for each K tile, wait for an empty stage and load into it.

    `loads` is a sequence of (tma_atom, tXgX, tXsX) from `tma_partition_stages`: K tile ``slot.count`` goes
    into smem stage ``slot.index``, and all of a stage's copies complete on its full barrier. Runs up to
    STAGES K tiles ahead of the MMA.
    """
    for _k in cutlass.range(k_tiles):
        slot = load_producer.acquire_and_advance()          # wait until the stage is empty
        for tma_atom, tXgX, tXsX in loads:
            cute.copy(tma_atom, tXgX[(None, slot.count)], tXsX[(None, slot.index)], tma_bar_ptr=slot.barrier)


def alloc_tmem(tmem_addr, num_cols: int, threads: int):
    """Allocate `num_cols` TMEM columns: warp 0 allocates, all `threads` wait for the address.

    `tmem_addr` points at the smem Int32 slot for the address (``allocate_barriers(...).tmem_addr.ptr``).
    Returns (allocator, FP32 TMEM base pointer); `free_tmem` gives the columns back.
    """
    if num_cols not in TMEM_ALLOC_COLUMNS:
        raise ValueError(f"TMEM allocations are {TMEM_ALLOC_COLUMNS} columns, got {num_cols}")
    tmem = TmemAllocator(tmem_addr,
                         barrier_for_retrieve=pipeline.NamedBarrier(barrier_id=TMEM_BARRIER_ID, num_threads=threads))
    tmem.allocate(num_cols)
    tmem.wait_for_alloc()
    return tmem, tmem.retrieve_ptr(cutlass.Float32)


def make_tmem_accumulator(tiled_mma: cute.TiledMma, tile_mnk, acc_ptr) -> cute.Tensor:
    """The FP32 accumulator of one TILE_M x TILE_N tile at TMEM address `acc_ptr`: (MMA, MMA_M, MMA_N)."""
    acc_shape = tiled_mma.partition_shape_C(tile_mnk[:2])
    return cute.make_tensor(acc_ptr, tiled_mma.make_fragment_C(acc_shape).layout)


def free_tmem(tmem, acc_ptr) -> None:
    """Wait until every thread is done with TMEM, then give the allocation back (tcgen05.dealloc, warp 0)."""
    pipeline.sync(barrier_id=TMEM_BARRIER_ID)
    tmem.free(acc_ptr)


@cute.jit
def mma_loop(tiled_mma: cute.TiledMma, tCtAcc: cute.Tensor, tCrA: cute.Tensor, tCrB: cute.Tensor, load_consumer,
             k_tiles, s2t_copies=(), tCtSFA=None, tCtSFB=None):
    """The MMA issuer's loop over K: one tile's tcgen05.mma into the TMEM accumulator `tCtAcc`.

    For each K tile: wait until TMA filled the stage, issue one MMA per MMA_K block of it (the first of the
    tile overwrites the accumulator, the rest accumulate), then release the stage (tcgen05.commit: empty
    when those MMAs are done). `tCrA`/`tCrB` are the smem descriptors (MMA, MMA_M/N, MMA_K, STAGES).

    Block-scaled MMA: `s2t_copies` are (tcgen05.cp copy, smem source (..., STAGES), TMEM destination)
    triples run first in each stage; `tCtSFA`/`tCtSFB` are the scales in TMEM (..., MMA_K) that each MMA is
    pointed at. Returns `tiled_mma` (its fields changed); rebind it when calling this inside a staged loop.
    """
    tiled_mma.set(tcgen05.Field.ACCUMULATE, False)          # the first MMA overwrites the accumulator
    for _k in cutlass.range(k_tiles):
        slot = load_consumer.wait_and_advance()             # wait until TMA filled the stage
        for s2t, src, dst in s2t_copies:                    # tcgen05.cp: scales smem -> TMEM
            stage_of_src = (*([None] * (cute.rank(src) - 1)), slot.index)     # all modes, stage slot.index
            cute.copy(s2t, src[stage_of_src], dst)
        for kb in cutlass.range_constexpr(cute.size(tCrA, mode=[2])):
            if cutlass.const_expr(tCtSFA is not None):
                tiled_mma.set(tcgen05.Field.SFA, tCtSFA[(None, None, kb)].iterator)
                tiled_mma.set(tcgen05.Field.SFB, tCtSFB[(None, None, kb)].iterator)
            cute.gemm(tiled_mma, tCtAcc, tCrA[(None, None, kb, slot.index)], tCrB[(None, None, kb, slot.index)],
                      tCtAcc)
            tiled_mma.set(tcgen05.Field.ACCUMULATE, True)
        slot.release()                                      # tcgen05.commit: stage empty when its MMAs finish
    return tiled_mma


@cute.jit
def epilogue_tmem_to_gmem(tCtAcc: cute.Tensor, tCgC: cute.Tensor, acc_consumer, tid, epi_n: cutlass.Constexpr):
    """Epilogue of one tile: TMEM accumulator -> registers -> global, `epi_n` columns at a time.

    `tCtAcc` is the FP32 accumulator (MMA, MMA_M, MMA_N) in TMEM, `tCgC` the same tile of C in global memory
    (MMA, MMA_M, MMA_N), of C's element type. Thread `tid` (of 128) owns accumulator row `tid`. Waits on
    `acc_consumer` for the accumulator, converts each chunk to C's type (tcgen05.ld, cvt, vectorized
    st.global) and releases the accumulator stage when done.
    """
    epi_tile = ((cute.size(tCtAcc, mode=[0, 0]), epi_n),)
    tAcc_epi = cute.zipped_divide(tCtAcc, epi_tile)             # ((128, EPI_N), n_chunks)
    gC_epi = cute.zipped_divide(tCgC, epi_tile)                 # ((128, EPI_N), n_chunks)
    ld_atom = cute.make_copy_atom(tcgen05.Ld32x32bOp(tcgen05.Repetition(epi_n)), cutlass.Float32)
    t2r = tcgen05.make_tmem_copy(ld_atom, tAcc_epi[None, 0]).get_slice(tid)
    tTR_acc = t2r.partition_S(tAcc_epi)                         # (T2R, T2R_M, n_chunks) in TMEM
    tTR_gC = t2r.partition_D(gC_epi)                            # (T2R, T2R_M, n_chunks) in global
    r_acc = cute.make_rmem_tensor(tTR_gC[None, None, 0].shape, cutlass.Float32)
    r_out = cute.make_rmem_tensor(tTR_gC[None, None, 0].shape, tCgC.element_type)

    acc_ready = acc_consumer.wait_and_advance()
    for i in cutlass.range(cute.size(tTR_acc, mode=[2])):
        cute.copy(t2r, tTR_acc[None, None, i], r_acc)           # tcgen05.ld
        r_out.store(r_acc.load().to(tCgC.element_type))         # FP32 -> C's type
        cute.autovec_copy(r_out, tTR_gC[None, None, i])         # vectorized st.global
    acc_ready.release()
