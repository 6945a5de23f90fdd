"""Building blocks shared by the kit's CuTe DSL tcgen05 kernels (`bwkit.cute_gemm`, `bwkit.cute_ladder`).

Each helper is one step of a Blackwell GEMM that does not depend on the data type or on what the MMA does with
it: the smem ring and its TMA loads, the two pipelines (TMA -> MMA over K, MMA -> epilogue), TMEM allocation,
the TMA and MMA loops over K and the TMEM -> registers -> global epilogue. Host-side helpers run inside a
`@cute.jit` host function; kernel-side ones inside a `@cute.kernel`, while it is traced. Plain Python helpers
emit their CuTe ops where they are called; the `@cute.jit` ones (those with loops) are inlined into the kernel.
Either way the compiled kernel is the same as with the code written out in place (lab 05's two kernels give
byte-identical PTX and SASS either way). One rule of the DSL's tracer: a value a staged loop or branch
carries must be rebound there as a plain local, so `mma_loop`, which changes the tiled MMA's fields, returns
it: ``tiled_mma = mma_loop(tiled_mma, ...)``. The same holds for pipeline states: a helper that advances one
inside its own loop returns it (`tma_load_loop`, the epilogues, ``mma_loop(..., carry=True)``), and a kernel
that calls it inside a tile loop rebinds it (the persistent kernels of `bwkit.cute_ladder`). What differs
between kernels (operands, the MMA op, which warp does what) stays in the kernel.

Run: nothing here runs on its own. Compile a kernel that uses it, e.g. ``bwkit.cute_gemm.compile_gemm(...)``
(any machine, no GPU: sm_100a PTX/SASS via `bwkit.inspect.compile_cute`); running needs datacenter Blackwell.

Constraints (what the helpers assume): by default, as lab 05's kernels use them, one CTA per tile
(``cta_group::1``, no cluster, no TMA multicast); the optional arguments (``cluster_mnk``/``cluster_vmnk``,
``two_cta_dealloc``, ``acc_stages``, ``per_tile``, the TMA-store epilogue) add what lab 10's ladder needs: CTA
pairs, multicast inside a cluster, persistent tile loops, staged accumulators, C through shared memory; with
them left out the helpers emit exactly lab 05's code. A/B smem layouts staged as (MMA, MMA_M or MMA_N, MMA_K,
STAGES) and partitioned MMA views whose first three modes are one stage; an FP32 accumulator in TMEM with one
row per thread of a 128-thread epilogue (128 rows per CTA, ``tcgen05.ld 32x32b``); TMEM allocations of 32,
64, 128, 256 or 512 columns.
"""

import cutlass
import cutlass.cute as cute
import cutlass.pipeline as pipeline
import cutlass.utils.blackwell_helpers as sm100_utils
import cutlass.utils.blockscaled_layout as blockscaled_utils
from cutlass.cute.nvgpu import cpasync, tcgen05
from cutlass.memory import TmemAllocator
from cutlass.tensor_utils import LayoutEnum

from bwkit import tensorcores as tc

__all__ = [
    "TMEM_BARRIER_ID", "TMEM_ALLOC_COLUMNS", "one_stage", "make_smem_layouts_ab", "make_tma_load",
    "allocate_barriers", "allocate_smem_operand", "stage_bytes", "make_load_pipeline", "make_acc_pipeline",
    "tma_partition_stages", "tma_load_loop", "alloc_tmem", "make_tmem_accumulator", "make_tmem_scales", "free_tmem",
    "mma_loop",
    "epilogue_tmem_to_gmem", "make_cluster_layout_vmnk", "make_tma_store", "epilogue_tmem_to_smem_to_gmem",
    "EPI_BARRIER_ID",
]

TMEM_BARRIER_ID = 1            # named barrier for "TMEM address is ready" and "everyone is done with TMEM"
# what tcgen05.alloc can reserve: a power of two >= 32 columns, at most 512 (bwkit.tensorcores.alloc_columns)
TMEM_ALLOC_COLUMNS = tuple(sorted({tc.alloc_columns(n) for n in range(1, tc.TMEM_COLUMNS + 1)}))
EPI_BARRIER_ID = 2             # named barrier of the epilogue warps (TMA-store epilogue, TMEM free)


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
                  internal_type=None, cluster_mnk=None, cluster_vmnk=None):
    """A TMA load for MMA operand 'A' (M-side tiles) or 'B' (N-side) that fills one stage of `smem_layout`.

    Returns (TMA copy atom, TMA coordinate view of `mX`): the kernel partitions that view, not `mX` itself.
    `internal_type` is the element type TMA moves (e.g. Int16 for 1-byte scale factors); None = mX's.
    In a cluster, pass its shape `cluster_mnk` and `cluster_vmnk` (`make_cluster_layout_vmnk`): the load then
    signals the CTA pair's leader (``cta_group::2``) and/or multicasts to every CTA of the cluster that needs
    the same tile (A along the cluster's N, B along its M: ``.multicast::cluster``).
    """
    if operand not in ("A", "B"):
        raise ValueError(f"operand must be 'A' or 'B', got {operand!r}")
    make = cute.nvgpu.make_tiled_tma_atom_A if operand == "A" else cute.nvgpu.make_tiled_tma_atom_B
    if cluster_mnk is None:
        op = cpasync.CopyBulkTensorTileG2SOp(tcgen05.CtaGroup.ONE)
        return make(op, mX, one_stage(smem_layout), tile_mnk, tiled_mma, internal_type=internal_type)
    pick = sm100_utils.cluster_shape_to_tma_atom_A if operand == "A" else sm100_utils.cluster_shape_to_tma_atom_B
    op = pick(cluster_mnk, tiled_mma.thr_id)
    return make(op, mX, one_stage(smem_layout), tile_mnk, tiled_mma, cluster_vmnk.shape, internal_type=internal_type)


def make_cluster_layout_vmnk(tiled_mma: cute.TiledMma, cluster_mnk):
    """The cluster's CTAs as (V, M, N, K): V = the CTAs of one MMA (2 for a ``cta_group::2`` pair), then the
    MMA tiles along M and N. Multicast masks and pipelines are built from it."""
    return cute.tiled_divide(cute.make_layout(cluster_mnk), (tiled_mma.thr_id,))


# ------------------------------------------------------------------------------------------------ kernel side
def allocate_barriers(smem, stages: int, acc_stages: int = 1, cluster: bool = False, clc_stages: int = 0):
    """Allocate the kernel's barrier block in shared memory and return it.

    Fields: ``load`` (a full and an empty mbarrier per smem stage), ``acc`` (full + empty per accumulator
    stage) and ``tmem_addr`` (the Int32 slot tcgen05.alloc writes the TMEM address to). `cluster` adds
    ``tmem_dealloc`` (the mbarrier a CTA pair frees its TMEM on); `clc_stages` > 0 adds ``clc`` (full + empty
    per stage) and ``clc_response`` (16 bytes per stage, written by clusterlaunchcontrol.try_cancel).
    """
    i64, mem = cutlass.Int64, cute.struct.MemRange
    fields = {"load": mem[i64, stages * 2], "acc": mem[i64, acc_stages * 2]}      # in this order in smem
    if cluster or clc_stages:
        fields["tmem_dealloc"] = i64
    if clc_stages:
        fields["clc"] = mem[i64, clc_stages * 2]
        fields["clc_response"] = cute.struct.Align[mem[cutlass.Int32, 4 * clc_stages], 16]
    fields["tmem_addr"] = cutlass.Int32
    name = "ClcBarriers" if clc_stages else "ClusterBarriers" if cluster else "Barriers"
    return smem.allocate(cute.struct(type(name, (), {"__annotations__": fields})))


def allocate_smem_operand(smem, dtype, layout) -> cute.Tensor:
    """A 128-byte aligned smem tensor of `layout`; a ComposedLayout's swizzle goes to the allocator."""
    if isinstance(layout, cute.ComposedLayout):
        return smem.allocate_tensor(dtype, layout.outer, byte_alignment=128, swizzle=layout.inner)
    return smem.allocate_tensor(dtype, layout, byte_alignment=128)


def stage_bytes(*operands) -> int:
    """Bytes one stage of the given (dtype, staged smem layout) pairs holds: the TMA transaction count."""
    return sum(cute.size_in_bytes(dtype, one_stage(layout)) for dtype, layout in operands)


def make_load_pipeline(barrier_storage, stages: int, tx_count: int, cluster_vmnk=None):
    """TMA -> MMA pipeline over K: `stages` smem buffers, one producer thread (TMA) and one consumer (MMA).

    The full barrier of a stage flips when `tx_count` bytes have landed; the MMA side releases a stage with
    tcgen05.commit. In a cluster (`cluster_vmnk`), the leader's full barrier counts the bytes of its whole CTA
    pair, and a stage is empty once every MMA that read it (multicast: the MMAs of the cluster's row and column
    of pairs) has committed. Returns (producer, consumer) participants.
    """
    mma_readers = 1                              # the MMAs that read one stage
    if cluster_vmnk is not None:
        mma_readers = cute.size(cluster_vmnk, mode=[1]) + cute.size(cluster_vmnk, mode=[2]) - 1
    return pipeline.PipelineTmaUmma.create(
        num_stages=stages,
        producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread),
        consumer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread, mma_readers),
        tx_count=tx_count,
        barrier_storage=barrier_storage,
        cta_layout_vmnk=cluster_vmnk,            # None: one CTA
    ).make_participants()


def make_acc_pipeline(barrier_storage, consumer_threads: int, acc_stages: int = 1, cluster_vmnk=None):
    """MMA -> epilogue pipeline over TMEM accumulators: one MMA thread commits, `consumer_threads` read.

    With a CTA pair (`cluster_vmnk`), the leader's MMA commits to both CTAs and `consumer_threads` counts the
    readers of both. Returns (producer, consumer) participants.
    """
    return pipeline.PipelineUmmaAsync.create(
        num_stages=acc_stages,
        producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread),
        consumer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread, consumer_threads),
        barrier_storage=barrier_storage,
        cta_layout_vmnk=cluster_vmnk,            # None: one CTA
    ).make_participants()


def tma_partition_stages(tma_atom: cute.CopyAtom, sX: cute.Tensor, tCgX: cute.Tensor, mcast_rank=0,
                         mcast_ctas: int = 1):
    """TMA views of one operand, so that one TMA copy moves a whole stage.

    `sX` is (MMA, MMA_M, MMA_K, STAGES) in smem, `tCgX` the MMA-partitioned global tile
    (MMA, MMA_M, MMA_K, k_tiles, ...). Returns (tXsX, tXgX): (TMA, STAGES) and (TMA, k_tiles, ...). With
    multicast, `mcast_ctas` CTAs share the tile and this CTA (`mcast_rank` among them) loads its 1/mcast_ctas
    slice of it for all of them.
    """
    return cpasync.tma_partition(tma_atom, mcast_rank, cute.make_layout(mcast_ctas),
                                 cute.group_modes(sX, 0, 3), cute.group_modes(tCgX, 0, 3))


@cute.jit
def tma_load_loop(load_producer, k_tiles, loads, per_tile: cutlass.Constexpr = False):
    """The TMA producer's loop over K: for each K tile, wait for an empty stage and load into it.

    `loads` is a sequence of (tma_atom, tXgX, tXsX) from `tma_partition_stages`: K tile ``slot.count`` goes
    into smem stage ``slot.index``, and all of a stage's copies complete on its full barrier. Runs up to
    STAGES K tiles ahead of the MMA. A 4th item, a multicast mask, sends the copy to those CTAs of the cluster.
    `per_tile`: index K tiles by the loop counter instead (a persistent kernel calls this once per output tile,
    and the pipeline's count keeps running across tiles). Returns `load_producer` (its state advanced): rebind
    it when calling this inside a staged loop.
    """
    for _k in cutlass.range(k_tiles):
        slot = load_producer.acquire_and_advance()          # wait until the stage is empty
        k = _k if cutlass.const_expr(per_tile) else slot.count
        for load in loads:
            tma_atom, tXgX, tXsX = load[0], load[1], load[2]
            if cutlass.const_expr(len(load) == 4):
                cute.copy(tma_atom, tXgX[(None, k)], tXsX[(None, slot.index)], tma_bar_ptr=slot.barrier,
                          mcast_mask=load[3])
            else:
                cute.copy(tma_atom, tXgX[(None, k)], tXsX[(None, slot.index)], tma_bar_ptr=slot.barrier)
    return load_producer


def alloc_tmem(tmem_addr, num_cols: int, threads: int, allocator_warp: int = 0, two_cta_dealloc=None):
    """Allocate `num_cols` TMEM columns: warp `allocator_warp` allocates, all `threads` wait for the address.

    `tmem_addr` points at the smem Int32 slot for the address (``allocate_barriers(...).tmem_addr.ptr``).
    A CTA pair (``cta_group::2``) allocates in both CTAs at once and frees on the mbarrier `two_cta_dealloc`
    (``allocate_barriers(..., cluster=True).tmem_dealloc.ptr``). Returns (allocator, FP32 TMEM base pointer);
    `free_tmem` gives the columns back.
    """
    if num_cols not in TMEM_ALLOC_COLUMNS:
        raise ValueError(f"TMEM allocations are {TMEM_ALLOC_COLUMNS} columns, got {num_cols!r}")
    retrieve = pipeline.NamedBarrier(barrier_id=TMEM_BARRIER_ID, num_threads=threads)
    if allocator_warp == 0 and two_cta_dealloc is None:
        tmem = TmemAllocator(tmem_addr, barrier_for_retrieve=retrieve)
    else:
        tmem = TmemAllocator(tmem_addr, barrier_for_retrieve=retrieve, allocator_warp_id=allocator_warp,
                             is_two_cta=two_cta_dealloc is not None, two_cta_tmem_dealloc_mbar_ptr=two_cta_dealloc)
    tmem.allocate(num_cols)
    tmem.wait_for_alloc()
    return tmem, tmem.retrieve_ptr(cutlass.Float32)


def make_tmem_accumulator(tiled_mma: cute.TiledMma, tile_mnk, acc_ptr, acc_stages: int | None = None) -> cute.Tensor:
    """The FP32 accumulator of one TILE_M x TILE_N tile at TMEM address `acc_ptr`: (MMA, MMA_M, MMA_N).

    `acc_stages` (an int): that many accumulators side by side in TMEM columns, with a trailing stage mode
    (MMA, MMA_M, MMA_N, ACC_STAGES), so that the MMA can fill one while the epilogue drains another.
    """
    acc_shape = tiled_mma.partition_shape_C(tile_mnk[:2])
    if acc_stages is None:
        return cute.make_tensor(acc_ptr, tiled_mma.make_fragment_C(acc_shape).layout)
    return cute.make_tensor(acc_ptr, tiled_mma.make_fragment_C(cute.append(acc_shape, acc_stages)).layout)


def make_tmem_scales(tiled_mma: cute.TiledMma, tile_mnk, sf_ptr, sf_vec: int, scales):
    """The block-scaled MMA's scales in TMEM from `sf_ptr` on (SFA, then SFB), and their tcgen05.cp copies.

    `sf_ptr` is the first TMEM column after the accumulator(s), as an FP32 TMEM pointer; `scales` is
    ((sSFA, sSFA_layout), (sSFB, sSFB_layout)): the staged smem scales and their layouts. TMEM holds one
    stage's scales, which `mma_loop` refills before each K tile's MMAs. Returns (tCtSFA, tCtSFB, s2t_copies),
    the `tCtSFA`, `tCtSFB` and `s2t_copies` arguments of `mma_loop`.
    """
    (sSFA, sSFA_layout), (sSFB, sSFB_layout) = scales
    sf_dtype = sSFA.element_type
    tCtSFA = cute.make_tensor(cute.recast_ptr(sf_ptr, dtype=sf_dtype), blockscaled_utils.make_tmem_layout_sfa(
        tiled_mma, tile_mnk, sf_vec, one_stage(sSFA_layout)))
    sfb_ptr = cute.recast_ptr(sf_ptr + tcgen05.find_tmem_tensor_col_offset(tCtSFA), dtype=sf_dtype)
    tCtSFB = cute.make_tensor(sfb_ptr, blockscaled_utils.make_tmem_layout_sfb(
        tiled_mma, tile_mnk, sf_vec, one_stage(sSFB_layout)))
    cp_atom = cute.make_copy_atom(tcgen05.Cp4x32x128bOp(tcgen05.CtaGroup.ONE), sf_dtype)
    copies = []
    for sSF, tCtSF in ((sSFA, tCtSFA), (sSFB, tCtSFB)):      # tcgen05.cp: the stage's scales smem -> TMEM
        s2t = tcgen05.make_s2t_copy(cp_atom, cute.filter_zeros(tCtSF))
        thr = s2t.get_slice(0)
        copies.append((s2t, tcgen05.get_s2t_smem_desc_tensor(s2t, thr.partition_S(cute.filter_zeros(sSF))),
                       thr.partition_D(cute.filter_zeros(tCtSF))))
    return tCtSFA, tCtSFB, tuple(copies)


def free_tmem(tmem, acc_ptr, barrier=None) -> None:
    """Wait until every thread is done with TMEM, then give the allocation back (tcgen05.dealloc, warp 0).

    `barrier`: the `pipeline.NamedBarrier` of the threads that still use TMEM when not all of the CTA does
    (a warp-specialized kernel whose TMA warp has left); default: all threads of the CTA.
    """
    if barrier is None:
        pipeline.sync(barrier_id=TMEM_BARRIER_ID)
    else:
        barrier.arrive_and_wait()
    tmem.free(acc_ptr)


@cute.jit
def mma_loop(tiled_mma: cute.TiledMma, tCtAcc: cute.Tensor, tCrA: cute.Tensor, tCrB: cute.Tensor, load_consumer,
             k_tiles, s2t_copies=(), tCtSFA=None, tCtSFB=None, carry: cutlass.Constexpr = False):
    """The MMA issuer's loop over K: one tile's tcgen05.mma into the TMEM accumulator `tCtAcc`.

    For each K tile: wait until TMA filled the stage, issue one MMA per MMA_K block of it (the first of the
    tile overwrites the accumulator, the rest accumulate), then release the stage (tcgen05.commit: empty
    when those MMAs are done). `tCrA`/`tCrB` are the smem descriptors (MMA, MMA_M/N, MMA_K, STAGES).

    Block-scaled MMA: `s2t_copies` are (tcgen05.cp copy, smem source (..., STAGES), TMEM destination)
    triples run first in each stage; `tCtSFA`/`tCtSFB` are the scales in TMEM (..., MMA_K) that each MMA is
    pointed at. Returns `tiled_mma` (its fields changed); rebind it when calling this inside a staged loop.
    `carry=True` returns (tiled_mma, load_consumer): a persistent kernel calls this once per tile inside its
    tile loop, and the consumer's pipeline state must flow from one tile to the next.
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
    if cutlass.const_expr(carry):
        return tiled_mma, load_consumer
    return tiled_mma


@cute.jit
def epilogue_tmem_to_gmem(tCtAcc: cute.Tensor, tCgC: cute.Tensor, acc_consumer, tid, epi_n: cutlass.Constexpr,
                          staged: cutlass.Constexpr = False):
    """Epilogue of one tile: TMEM accumulator -> registers -> global, `epi_n` columns at a time.

    `tCtAcc` is the FP32 accumulator (MMA, MMA_M, MMA_N) in TMEM, `tCgC` the same tile of C in global memory
    (MMA, MMA_M, MMA_N), of C's element type. Thread `tid` (of 128) owns accumulator row `tid`. Waits on
    `acc_consumer` for the accumulator, converts each chunk to C's type (tcgen05.ld, cvt, vectorized
    st.global) and releases the accumulator stage when done. `staged`: `tCtAcc` has a stage mode
    (MMA, MMA_M, MMA_N, ACC_STAGES) and the stage the pipeline hands over is the one drained. Returns
    `acc_consumer` (its state advanced): rebind it when calling this inside a staged loop.
    """
    if cutlass.const_expr(staged):
        acc_ready = acc_consumer.wait_and_advance()
        tCtAcc = tCtAcc[(None, None, None, acc_ready.index)]
    epi_tile = ((cute.size(tCtAcc, mode=[0, 0]), epi_n),)
    tAcc_epi = cute.zipped_divide(tCtAcc, epi_tile)             # ((128, EPI_N), n_chunks)
    gC_epi = cute.zipped_divide(tCgC, epi_tile)                 # ((128, EPI_N), n_chunks)
    ld_atom = cute.make_copy_atom(tcgen05.Ld32x32bOp(tcgen05.Repetition(epi_n)), cutlass.Float32)
    t2r = tcgen05.make_tmem_copy(ld_atom, tAcc_epi[None, 0]).get_slice(tid)
    tTR_acc = t2r.partition_S(tAcc_epi)                         # (T2R, T2R_M, n_chunks) in TMEM
    tTR_gC = t2r.partition_D(gC_epi)                            # (T2R, T2R_M, n_chunks) in global
    r_acc = cute.make_rmem_tensor(tTR_gC[None, None, 0].shape, cutlass.Float32)
    r_out = cute.make_rmem_tensor(tTR_gC[None, None, 0].shape, tCgC.element_type)

    if cutlass.const_expr(not staged):
        acc_ready = acc_consumer.wait_and_advance()
    for i in cutlass.range(cute.size(tTR_acc, mode=[2])):
        cute.copy(t2r, tTR_acc[None, None, i], r_acc)           # tcgen05.ld
        r_out.store(r_acc.load().to(tCgC.element_type))         # FP32 -> C's type
        cute.autovec_copy(r_out, tTR_gC[None, None, i])         # vectorized st.global
    acc_ready.release()
    return acc_consumer


# ------------------------------------------------------------------------------------------------ TMA-store epilogue
def make_tma_store(mC: cute.Tensor, epi_tile, epi_stages: int):
    """Host side of a TMA-store epilogue: `epi_stages` smem buffers of one (EPI_M, EPI_N) chunk of C each.

    Returns (sC_layout (EPI_M, EPI_N, EPI_STAGES), TMA store atom, TMA coordinate view of `mC`).
    """
    sC_layout = sm100_utils.make_smem_layout_epi(mC.element_type, LayoutEnum.ROW_MAJOR, epi_tile, epi_stages)
    atom, view = cpasync.make_tiled_tma_atom(cpasync.CopyBulkTensorTileS2GOp(), mC,
                                             cute.slice_(sC_layout, (None, None, 0)), epi_tile)
    return sC_layout, atom, view


@cute.jit
def epilogue_tmem_to_smem_to_gmem(tCtAcc: cute.Tensor, tCgC: cute.Tensor, sC: cute.Tensor, tma_c: cute.CopyAtom,
                                  acc_consumer, store_pipeline, epi_barrier, tid, is_store_warp, chunks_done,
                                  epi_n: cutlass.Constexpr):
    """Epilogue of one tile through shared memory: TMEM -> registers -> smem (st.shared) -> global (TMA store).

    `tCtAcc` (MMA, MMA_M, MMA_N, ACC_STAGES) in TMEM, `tCgC` the tile's TMA coordinates (MMA, MMA_M, MMA_N),
    `sC` the (EPI_M, EPI_N, EPI_STAGES) ring of C chunks. Per chunk of `epi_n` columns: tcgen05.ld, convert,
    st.shared into the next ring buffer, fence the async proxy, barrier the 128 epilogue threads
    (`epi_barrier`), then one thread (`is_store_warp` and elected) issues ``cp.async.bulk.tensor`` shared ->
    global and waits until the ring buffer written next is free again (`store_pipeline`, bulk groups).
    `chunks_done` (chunks stored before this tile) keeps the ring turning across tiles. Returns `acc_consumer`.
    """
    epi_stages = cute.size(sC, mode=[2])
    acc_ready = acc_consumer.wait_and_advance()
    acc = tCtAcc[((None, None), 0, 0, acc_ready.index)]                    # (128, TILE_N) of this stage
    tAcc_epi = cute.flat_divide(acc, (cute.size(acc, mode=[0]), epi_n))     # (128, EPI_N, 1, n_chunks)
    gC_epi = cute.flat_divide(tCgC[((None, None), 0, 0)], (cute.size(acc, mode=[0]), epi_n))
    ld_atom = cute.make_copy_atom(tcgen05.Ld32x32bOp(tcgen05.Repetition(epi_n)), cutlass.Float32)
    tiled_t2r = tcgen05.make_tmem_copy(ld_atom, tAcc_epi[(None, None, 0, 0)])
    t2r = tiled_t2r.get_slice(tid)
    tTR_acc = t2r.partition_S(tAcc_epi)                                     # (T2R, T2R_M, T2R_N, 1, n_chunks)
    r_acc = cute.make_rmem_tensor(t2r.partition_D(gC_epi)[(None, None, None, 0, 0)].shape, cutlass.Float32)
    r2s_atom = sm100_utils.get_smem_store_op(LayoutEnum.ROW_MAJOR, sC.element_type, cutlass.Float32, tiled_t2r)
    tiled_r2s = cute.make_tiled_copy_D(r2s_atom, tiled_t2r)
    tRS_sC = tiled_r2s.get_slice(tid).partition_D(sC)                       # (R2S, R2S_M, R2S_N, EPI_STAGES)
    tRS_acc = tiled_r2s.retile(r_acc)
    r_out = cute.make_rmem_tensor(tRS_acc.shape, sC.element_type)
    tSG_sC, tSG_gC = cpasync.tma_partition(tma_c, 0, cute.make_layout(1), cute.group_modes(sC, 0, 2),
                                           cute.group_modes(gC_epi, 0, 2))  # (TMA, EPI_STAGES), (TMA, 1, n_chunks)

    n_chunks = cute.size(tTR_acc, mode=[4])
    for i in cutlass.range(n_chunks):
        cute.copy(tiled_t2r, tTR_acc[(None, None, None, 0, i)], r_acc)     # tcgen05.ld
        r_out.store(tRS_acc.load().to(sC.element_type))                     # FP32 -> C's type
        buf = (chunks_done + i) % epi_stages
        cute.copy(tiled_r2s, r_out, tRS_sC[(None, None, None, buf)])       # st.shared
        cute.arch.fence_proxy("async.shared", space="cta")                 # smem writes visible to TMA
        epi_barrier.arrive_and_wait()
        if is_store_warp:
            with cute.arch.elect_one():                                     # one thread issues and waits
                cute.copy(tma_c, tSG_sC[(None, buf)], tSG_gC[(None, 0, i)])    # TMA store: smem -> global
                store_pipeline.producer_commit()
                store_pipeline.producer_acquire()                           # next ring buffer free again
        epi_barrier.arrive_and_wait()
    acc_ready.release()
    return acc_consumer
