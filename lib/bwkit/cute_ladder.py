"""The kit's CuTe DSL ladder: the steps that take lab 05's first tcgen05 GEMM towards CUTLASS's near-peak kernels.

Each rung adds one idea to the one before and is written with the shared pieces of `bwkit.cute_common`:

1. **one CTA per tile** — lab 05's kernel (`bwkit.cute_gemm.gemm_kernel_tcgen05`), reused as it is;
2. **2-CTA MMA + TMA multicast** — a CTA pair issues ``tcgen05.mma.cta_group::2`` (M = 256 across the two SMs,
   each holding half of B) and, inside a (2, 2) cluster, each A slice is fetched once and multicast to the two
   pairs that need it (``.multicast::cluster``);
3. **persistent + tile scheduler** — one cluster per 4 SMs stays resident and walks the tiles: dedicated
   warps (4 epilogue, 1 MMA, 1 TMA) loop over the tiles the scheduler hands out, so the TMA warp already loads
   tile i+1 while tile i is drained. Static scheduler (`StaticPersistentTileScheduler`), or Blackwell's cluster
   launch control (``clusterlaunchcontrol.try_cancel``, `ClcDynamicPersistentTileScheduler`, variant "3-clc");
4. **double-buffered TMEM accumulator** — two accumulators of TILE_N columns each (2 x 256 = all 512 TMEM
   columns), so the MMAs of tile i+1 run while the epilogue drains tile i;
5. **TMA-store epilogue** — registers -> shared memory -> ``cp.async.bulk.tensor`` (a TMA store) instead of
   every thread writing its row to global memory.

`bwkit.cute_ladder_nvfp4` puts the NVFP4 block-scaled kernel on the best dense rung's schedule (its `NVFP4_RUNG`).

Rungs 2-5 share one host function, `ladder_host`, which takes the kernel as a ``Constexpr``: it builds the MMA
(``cta_group::1`` or ``::2``), the cluster layout, the smem rings, the TMA loads (multicast when the cluster
shares a tile), the TMA store and the scheduler, and launches the kernel it was given. Rung 2's kernel is
`kernel_cluster`; rungs 3-5 are one persistent kernel, `kernel_persistent`, whose rung fields (scheduler,
accumulator stages, epilogue) select the pieces.

Use (compile-only on any machine; running needs a datacenter Blackwell GPU, sm_100a)::

    from bwkit import cute_ladder as lad
    k = lad.compile_rung(lad.RUNGS[4], 8192, 8192, 8192)    # bwkit.inspect.Compiled: k.ptx, k.sass()
    c = lad.run_rung(lad.RUNGS[4], a, b)                     # on a B200: a (M, K), b (N, K) bf16 CUDA tensors

Constraints (checked before compiling, with the rule in the message): M a multiple of 128 x cluster M, N of
TILE_N x cluster N, K of TILE_K (no bounds checks); the A/B ring plus the C buffers within 227 KiB of shared
memory; the accumulators within TMEM's 512 columns. Taught in lab 10.
"""

import warnings
from dataclasses import dataclass, replace

import cuda.bindings.driver as cuda_driver
import cutlass
import cutlass.cute as cute
import cutlass.pipeline as pipeline
import cutlass.utils as cutlass_utils
import cutlass.utils.blackwell_helpers as sm100_utils
from cutlass.cute.nvgpu import cpasync, tcgen05
from cutlass.cute.runtime import make_ptr
from cutlass.memory import SmemAllocator
from cutlass.tensor_utils import LayoutEnum

from bwkit import cute_common as cc
from bwkit import cute_gemm as cg
from bwkit import hw
from bwkit import ladder_model as lm
from bwkit import pipeline as pl
from bwkit import tensorcores as tc
from bwkit.kit.args import check_number

# nvidia-cutlass-dsl 4.8.1 marks its tile schedulers (and their divisor type) as deprecated; they are its API
warnings.filterwarnings("ignore", message="Migrated to examples/CuTeDSL/helpers", category=DeprecationWarning)
warnings.filterwarnings("ignore", message="FastDivmodDivisor is deprecated", category=DeprecationWarning)

__all__ = [
    "Rung", "RUNGS", "RUNG_CLC", "B200_SMS", "SMEM_LIMIT", "TMEM_COLUMNS", "EXPECTED_PTX",
    "check_rung_shapes", "smem_bytes", "tmem_columns", "max_active_clusters", "compile_rung", "run_rung",
    "ladder_host", "kernel_cluster", "kernel_persistent", "rung_by_name", "make_tiled_mma", "layout_budget",
]

B200_SMS = hw.get_spec("B200").sms    # bwkit.hw's B200 (sm_100a) SM count: what compile-only assumes for the grid
SMEM_LIMIT = pl.SMEM_BYTES_PER_SM     # dynamic shared memory one sm_100a CTA may use (227 KiB)
TMEM_COLUMNS = tc.TMEM_COLUMNS        # TMEM per SM: 128 lanes x 512 columns of 32 bits
EPI_WARPS = (0, 1, 2, 3)       # persistent kernel: warps 0-3 drain the accumulator (128 threads, one row each)
MMA_WARP, TMA_WARP, SCHED_WARP = 4, 5, 6
SCHEDULERS = ("none", "static", "clc")
EPILOGUES = ("direct", "tma")
CLC_RESPONSE_BYTES = 16        # what clusterlaunchcontrol.try_cancel writes: 4 x Int32
THREADS = cg.THREADS           # rung 2 keeps lab 05's 4 warps: warp 0 loads, warp 1 multiplies, all 4 store


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: its MMA grouping, cluster, scheduler, accumulator stages and epilogue.

    The output tile of one MMA is (128 x cta_group) x TILE_N; a cluster is `cluster` = (CTAs along M, CTAs along
    N); `scheduler` 'none' launches one cluster per tile, 'static' / 'clc' a persistent grid; `acc_stages`
    TMEM accumulators; `epilogue` 'direct' (each thread stores its row) or 'tma' (through shared memory).
    """

    number: str
    name: str
    cta_group: int = 1
    cluster: tuple[int, int] = (1, 1)
    scheduler: str = "none"
    acc_stages: int = 1
    epilogue: str = "direct"
    TILE_N: int = 256
    TILE_K: int = 64
    STAGES: int = 4
    EPI_N: int = 32
    EPI_STAGES: int = 2

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"rung {self.number} ({self.name}): {msg}")

        cg._int_fields(self, f"rung {self.number} ({self.name}): ")
        if isinstance(self.cluster, list):              # a list would make the rung unhashable (a cache key)
            object.__setattr__(self, "cluster", tuple(self.cluster))
        if (not isinstance(self.cluster, tuple) or len(self.cluster) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in self.cluster)):
            bad(f"cluster must be a pair of positive ints (CTAs along M, CTAs along N), e.g. (2, 2), got "
                f"{self.cluster!r}")
        if self.cta_group not in (1, 2):
            bad(f"cta_group must be 1 (one SM per MMA) or 2 (a tcgen05 CTA pair), got {self.cta_group!r}")
        cm, cn = self.cluster
        if any(v & (v - 1) for v in (cm, cn)):
            bad(f"cluster dims must be powers of two, got {self.cluster}")
        if cm % self.cta_group:
            bad(f"cluster {self.cluster}: a CTA pair (cta_group=2) needs an even number of CTAs along M")
        if cm * cn > 8:
            bad(f"cluster {self.cluster} has {cm * cn} CTAs; the portable maximum is 8")
        if self.scheduler not in SCHEDULERS:
            bad(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.epilogue not in EPILOGUES:
            bad(f"epilogue must be one of {EPILOGUES}, got {self.epilogue!r}")
        if self.acc_stages not in (1, 2):
            bad(f"acc_stages must be 1 or 2, got {self.acc_stages!r}")
        if self.scheduler == "none" and (self.acc_stages > 1 or self.epilogue == "tma"):
            bad("a second accumulator or a TMA-store epilogue needs a persistent kernel (scheduler 'static' or "
                "'clc'): with one CTA per tile there is no next tile to overlap with")
        if self.scheduler == "none" and self.cluster != (1, 1) and self.cta_group == 1:
            bad("the one-cluster-per-tile kernel (rung 2) is written for a CTA pair: use cta_group=2, or a "
                "persistent scheduler for one-CTA MMAs in a cluster")
        if self.TILE_N not in (64, 128, 256):
            bad(f"TILE_N must be 64, 128 or 256 (tcgen05 N <= 256), got {self.TILE_N!r}")
        if self.TILE_K <= 0 or self.TILE_K % 64:
            bad(f"TILE_K must be a positive multiple of 64 (a 128-byte swizzle row of 16-bit data), "
                f"got {self.TILE_K!r}")
        if not 2 <= self.STAGES <= 12:
            bad(f"STAGES must be between 2 and 12, got {self.STAGES!r}")
        if self.EPI_N not in (8, 16, 32, 64) or self.TILE_N % self.EPI_N:
            bad(f"EPI_N must be 8, 16, 32 or 64 and divide TILE_N={self.TILE_N}, got {self.EPI_N!r}")
        if self.acc_stages * self.TILE_N > TMEM_COLUMNS:
            bad(f"{self.acc_stages} accumulators x TILE_N={self.TILE_N} columns exceed TMEM's {TMEM_COLUMNS}")
        if self.EPI_STAGES not in (1, 2, 4):
            bad(f"EPI_STAGES must be 1, 2 or 4, got {self.EPI_STAGES!r}")

    @property
    def mma_tile(self) -> tuple[int, int, int]:
        """(M, N, K) of one MMA tile: 128 rows per CTA of the MMA, TILE_N columns, TILE_K per K step."""
        return (128 * self.cta_group, self.TILE_N, self.TILE_K)

    @property
    def persistent(self) -> bool:
        """True for a persistent grid (a tile scheduler), False for one cluster per tile."""
        return self.scheduler != "none"

    @property
    def threads(self) -> int:
        """Threads per CTA: 128 (4 warps that all take part in the epilogue), or 6-7 specialised warps."""
        if not self.persistent:
            return 128
        return 32 * (len(EPI_WARPS) + 2 + (self.scheduler == "clc"))

    @property
    def cluster_size(self) -> int:
        """CTAs in one cluster."""
        return self.cluster[0] * self.cluster[1]

    @property
    def multicast(self) -> tuple[int, int]:
        """(CTAs each A slice goes to, CTAs each B slice goes to) by TMA multicast: (cluster N, cluster M / pair)."""
        return self.cluster[1], self.cluster[0] // self.cta_group

    @property
    def gemm_config(self) -> cg.GemmConfig:
        """Rung 1 only: the `bwkit.cute_gemm.GemmConfig` of lab 05's kernel with this rung's tiles."""
        return cg.GemmConfig(TILE_N=self.TILE_N, TILE_K=self.TILE_K, STAGES=self.STAGES, EPI_N=self.EPI_N)


RUNGS: list[Rung] = [
    Rung("1", "one CTA per tile (lab 05)"),
    Rung("2", "2-CTA MMA + TMA multicast", cta_group=2, cluster=(2, 2), STAGES=6),
    Rung("3", "persistent, static tile scheduler", cta_group=2, cluster=(2, 2), STAGES=6, scheduler="static"),
    Rung("4", "double-buffered TMEM accumulator", cta_group=2, cluster=(2, 2), STAGES=6, scheduler="static",
         acc_stages=2),
    Rung("5", "TMA-store epilogue", cta_group=2, cluster=(2, 2), STAGES=6, scheduler="static", acc_stages=2,
         epilogue="tma"),
]
# Rung 3 with Blackwell's cluster launch control instead of the static schedule
RUNG_CLC = replace(RUNGS[2], number="3-clc", name="persistent, cluster launch control", scheduler="clc")

# PTX each rung adds (regexes over the PTX text)
EXPECTED_PTX: dict[str, dict[str, str]] = {
    "1": {"tcgen05.mma cta_group::1": r"tcgen05\.mma\.cta_group::1\.kind::f16"},
    "2": {"tcgen05.mma cta_group::2": r"tcgen05\.mma\.cta_group::2\.kind::f16",
          "TMA load multicast to the cluster": r"cp\.async\.bulk\.tensor\.2d\.shared::cluster\.global\S*"
                                               r"\.multicast::cluster\S*\.cta_group::2",
          "barrier.cluster (cluster-wide sync)": r"barrier\.cluster\.(arrive|wait)"},
    "3": {"grid size read by the static scheduler (%nctaid)": r"%nctaid\.z",
          "TMEM handshake of 4 epilogue warps + the MMA warp": r"bar\.sync\s+1, 160;"},
    "3-clc": {"clusterlaunchcontrol.try_cancel": r"clusterlaunchcontrol\.try_cancel",
              "clusterlaunchcontrol.query_cancel": r"clusterlaunchcontrol\.query_cancel"},
    "4": {"tcgen05.alloc of 512 columns (2 accumulators)": r"mov\.b32\s+%r\d+, 512;\s+tcgen05\.alloc"},
    "5": {"TMA store (cp.async.bulk.tensor shared -> global)": r"cp\.async\.bulk\.tensor\.2d\.global\.shared::cta",
          "bulk async-group commit/wait (store ring)": r"cp\.async\.bulk\.(commit_group|wait_group)"},
}


def rung_by_name(number: str) -> Rung:
    """The rung with this number ('1' .. '5', '3-clc')."""
    for r in (*RUNGS, RUNG_CLC):
        if r.number == number:
            return r
    hint = ""
    if isinstance(number, int) and not isinstance(number, bool):
        hint = f" (the numbers are strings: rung_by_name({str(number)!r}))"
    elif isinstance(number, str) and number.strip().lower() == "nvfp4":
        hint = " (the NVFP4 rung is bwkit.cute_ladder_nvfp4.NVFP4_RUNG)"
    raise ValueError(f"unknown rung {number!r}; known: {', '.join(r.number for r in (*RUNGS, RUNG_CLC))}{hint}")


def _check_rung(what: str, rung) -> None:
    """TypeError naming `what` unless `rung` is a `Rung` (a number or name says which one to pass instead)."""
    if isinstance(rung, Rung):
        return
    hint = ""
    if isinstance(rung, (str, int)) and not isinstance(rung, bool):
        key = str(rung).strip().lower().removeprefix("rung").strip(" _-")
        if key in [r.number for r in (*RUNGS, RUNG_CLC)]:
            hint = f"; rung {key} is bwkit.cute_ladder.rung_by_name({key!r})"
        elif key == "nvfp4":
            hint = "; the NVFP4 rung is bwkit.cute_ladder_nvfp4.NVFP4_RUNG (its functions: compile_nvfp4, run_nvfp4)"
    elif type(rung).__name__ == "GemmConfig":
        hint = "; a GemmConfig is lab 05's kernel: bwkit.cute_gemm.compile_gemm(M, N, K, config=...)"
    raise TypeError(f"{what}: rung must be a bwkit.cute_ladder.Rung (e.g. RUNGS[1]), got {type(rung).__name__} "
                    f"{rung!r:.60}{hint}")


def _check_dense(what: str, rung, instead: str) -> None:
    """`_check_rung`, and ValueError when `rung` is the NVFP4 rung (number 'nvfp4', as `bwkit.ladder_model` reads
    it): this module's formulas and kernels are the dense ones; `instead` says what to call for it."""
    _check_rung(what, rung)
    if rung.number == "nvfp4":
        raise ValueError(f"{what}: rung {rung.number!r} is the NVFP4 rung (packed FP4 + scales), not a dense "
                         f"bf16/fp16 rung: {instead}")


def smem_bytes(rung: Rung, elem_bytes: int = 2) -> int:
    """Shared memory of one CTA's operand rings: STAGES x (128 rows of A + TILE_N / cta_group rows of B) x TILE_K
    x elem_bytes, plus the TMA-store epilogue's EPI_STAGES buffers of 128 x EPI_N (barriers not counted)."""
    _check_dense("smem_bytes", rung, "its shared memory is bwkit.cute_ladder_nvfp4.nvfp4_smem_bytes(rung)")
    ring = rung.STAGES * lm.stage_bytes(rung.TILE_N, rung.TILE_K, rung.cta_group, elem_bytes)
    epi = rung.EPI_STAGES * 128 * rung.EPI_N * elem_bytes if rung.epilogue == "tma" else 0
    return ring + epi


def tmem_columns(rung: Rung) -> int:
    """TMEM columns each CTA allocates: acc_stages x TILE_N, rounded up to tcgen05.alloc's power of two (>= 32)."""
    _check_dense("tmem_columns", rung, f"its kernel allocates all {TMEM_COLUMNS} TMEM columns (the accumulators + "
                 "the scales; bwkit.cute_ladder_nvfp4.check_nvfp4_rung checks that they fit)")
    return tc.alloc_columns(rung.acc_stages * rung.TILE_N)


def max_active_clusters(rung: Rung, sms: int = B200_SMS) -> int:
    """Clusters that fit on `sms` SMs at once (one CTA per SM): what a persistent grid launches; compile-only
    assumes a B200's 148. On a GPU `run_rung` asks the driver (clusters must fit in a GPC, so it can be fewer)."""
    _check_rung("max_active_clusters", rung)
    check_number("max_active_clusters: sms", sms)
    return sms // rung.cluster_size


_NVFP4_FUNCTIONS = ("compile it with bwkit.cute_ladder_nvfp4.compile_nvfp4(M, N, K, rung), run it with run_nvfp4 and "
                    "check its shapes with check_nvfp4_rung")


def check_rung_shapes(M: int, N: int, K: int, rung: Rung) -> None:
    """Raise ValueError naming the rule when (M, N, K) does not fit the rung's tiles and cluster."""
    _check_dense("check_rung_shapes", rung, _NVFP4_FUNCTIONS)
    for name, v in (("M", M), ("N", N), ("K", K)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    cm, cn = rung.cluster
    rules = [("M", M, 128 * cm, f"128 rows per CTA x {cm} CTAs of the cluster along M"),
             ("N", N, rung.TILE_N * cn, f"TILE_N={rung.TILE_N} x {cn} CTAs of the cluster along N"),
             ("K", K, rung.TILE_K, f"TILE_K={rung.TILE_K}")]
    for name, v, step, why in rules:
        if v % step:
            raise ValueError(f"{name}={v} is not a multiple of {step} ({why}): rung {rung.number} has no bounds "
                             f"checks and its clusters tile C exactly; pad the operands")
    if smem_bytes(rung) > SMEM_LIMIT:
        raise ValueError(f"rung {rung.number}: {rung.STAGES} stages need {smem_bytes(rung)} bytes of shared memory; "
                         f"an sm_100a CTA has at most {SMEM_LIMIT} (227 KiB): lower STAGES")


# ------------------------------------------------------------------------------------------------ rung 2
@cute.kernel
def kernel_cluster(
    tiled_mma: cute.TiledMma,
    tma_a: cute.CopyAtom, mA: cute.Tensor,          # mA: TMA view of A, (M, K)
    tma_b: cute.CopyAtom, mB: cute.Tensor,          # mB: TMA view of B, (N, K)
    mC: cute.Tensor,                                # (M, N) row-major
    sA_layout: cute.ComposedLayout,                 # (MMA, MMA_M, MMA_K, STAGES), swizzled
    sB_layout: cute.ComposedLayout,                 # (MMA, MMA_N, MMA_K, STAGES), swizzled
    cluster_vmnk: cute.Layout,                      # the cluster's CTAs as (pair, M, N, 1)
    rung: cutlass.Constexpr,                        # tile_mnk, STAGES, EPI_N, ... of the rung
):
    """Rung 2: lab 05's kernel on a CTA pair inside a cluster; the pair's leader issues the MMAs for both SMs.

    Same steps as `bwkit.cute_gemm.gemm_kernel_tcgen05`, in the same order; what the pair and the cluster add
    is on the lines that differ (``difflib`` the two sources to see them).
    """
    warp = cute.arch.make_warp_uniform(cute.arch.warp_idx())
    tid, _, _ = cute.arch.thread_idx()
    bidx, pid_n, _ = cute.arch.block_idx()
    pair = cute.size(cluster_vmnk, mode=[0])                # CTAs per MMA: 2
    v, pid_m = bidx % pair, bidx // pair                    # v = 0: the pair's leader; pid_m: the pair's tile
    cta = cluster_vmnk.get_flat_coord(cute.arch.block_idx_in_cluster())     # (v, m, n, 0) inside the cluster
    io_dtype = mC.element_type
    tile_mnk, STAGES, EPI_N = rung.mma_tile, rung.STAGES, rung.EPI_N

    # --- 1. shared memory: the mbarriers, the TMEM address slot, then the STAGES-deep A and B rings
    smem = SmemAllocator()
    bars = cc.allocate_barriers(smem, STAGES, cluster=True)     # + .tmem_dealloc: the pair frees TMEM together
    sA = cc.allocate_smem_operand(smem, io_dtype, sA_layout)    # (MMA, MMA_M, MMA_K, STAGES): 128 rows of A
    sB = cc.allocate_smem_operand(smem, io_dtype, sB_layout)    # (MMA, MMA_N, MMA_K, STAGES): TILE_N/2 rows of B

    # --- 2. the pipelines: the leader's full barrier counts both CTAs' bytes; a stage is empty when every MMA
    #        that read it (the pairs of the cluster's row and column, multicast) has committed
    tx_bytes = cc.stage_bytes((io_dtype, sA_layout), (io_dtype, sB_layout)) * pair
    load_producer, load_consumer = cc.make_load_pipeline(bars.load.data_ptr(), STAGES, tx_bytes, cluster_vmnk)
    acc_producer, acc_consumer = cc.make_acc_pipeline(bars.acc.data_ptr(), pair * THREADS, cluster_vmnk=cluster_vmnk)

    # --- 3. this pair's tiles of A, B, C (tile_mnk is the pair's: 2 x 128 rows)
    gA = cute.local_tile(mA, tile_mnk, (pid_m, pid_n, None), proj=(1, None, 1))   # (TILE_M, TILE_K, k_tiles)
    gB = cute.local_tile(mB, tile_mnk, (pid_m, pid_n, None), proj=(None, 1, 1))   # (TILE_N, TILE_K, k_tiles)
    gC = cute.local_tile(mC, tile_mnk, (pid_m, pid_n, None), proj=(1, 1, None))   # (TILE_M, TILE_N)
    k_tiles = cute.size(gA, mode=[2])

    # --- 4. MMA views: this CTA's half of the pair's MMA; TMA views that multicast
    thr_mma = tiled_mma.get_slice(v)
    tCgA = thr_mma.partition_A(gA)                  # (MMA, MMA_M, MMA_K, k_tiles): this CTA's 128 rows
    tCgB = thr_mma.partition_B(gB)                  # (MMA, MMA_N, MMA_K, k_tiles): this CTA's TILE_N/2 rows
    tCgC = thr_mma.partition_C(gC)                  # (MMA, MMA_M, MMA_N): 128 x TILE_N
    tCrA = tiled_mma.make_fragment_A(sA)            # (MMA, MMA_M, MMA_K, STAGES) smem descriptors
    tCrB = tiled_mma.make_fragment_B(sB)            # (MMA, MMA_N, MMA_K, STAGES)
    # A is shared along the cluster's N, B along its M: each CTA loads its share of the tile for all of them
    tAsA, tAgA = cc.tma_partition_stages(tma_a, sA, tCgA, cta[2], cute.size(cluster_vmnk, mode=[2]))
    tBsB, tBgB = cc.tma_partition_stages(tma_b, sB, tCgB, cta[1], cute.size(cluster_vmnk, mode=[1]))
    mask_a = cpasync.create_tma_multicast_mask(cluster_vmnk, cta, mcast_mode=2)
    mask_b = cpasync.create_tma_multicast_mask(cluster_vmnk, cta, mcast_mode=1)

    # --- 5. allocate TILE_N TMEM columns in both CTAs of the pair at once (tcgen05.alloc.cta_group::2)
    tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, tile_mnk[1], THREADS, two_cta_dealloc=bars.tmem_dealloc.ptr)
    tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile_mnk, acc_ptr)           # (MMA, MMA_M, MMA_N)

    # --- 6a. warp 0: the TMA producer runs up to STAGES K tiles ahead of the MMA
    if warp == 0:
        cpasync.prefetch_descriptor(tma_a)
        cpasync.prefetch_descriptor(tma_b)
        load_producer = cc.tma_load_loop(load_producer, k_tiles, ((tma_a, tAgA, tAsA, mask_a),
                                                                  (tma_b, tBgB, tBsB, mask_b)))
        load_producer.tail()                        # stay until every MMA that reads our smem has committed

    # --- 6b. warp 1 of the leader: tcgen05.mma.cta_group::2 for both SMs of the pair
    if warp == 1:
        if v == 0:
            acc_slot = acc_producer.acquire_and_advance()
            tiled_mma = cc.mma_loop(tiled_mma, tCtAcc, tCrA, tCrB, load_consumer, k_tiles)
            acc_slot.commit()                                   # tcgen05.commit: accumulator ready, both CTAs

    # --- 7. epilogue (all 4 warps): thread t owns accumulator row t; tcgen05.ld EPI_N columns at a time
    tmem.relinquish_alloc_permit()
    cc.epilogue_tmem_to_gmem(tCtAcc, tCgC, acc_consumer, tid, EPI_N)
    if warp == 1:
        if v == 0:
            acc_producer.tail()                     # the peer has released the accumulator before we exit
    cc.free_tmem(tmem, acc_ptr)                                 # after a barrier: everyone done reading TMEM


# ------------------------------------------------------------------------------------------------ rungs 3-5
def _next_work(sched, clc_pipeline, clc_state):
    """The scheduler's next tile for this warp: static = stride by the grid; CLC = read the response the
    scheduler warp's try_cancel wrote (and free its slot). Returns (work, sched, clc_state) to rebind in the
    tile loop (the DSL carries through a staged loop only what the loop body assigns or calls a method on)."""
    if cutlass.const_expr(clc_pipeline is None):
        sched.advance_to_next_work()
        return sched.get_current_work(), sched, clc_state
    clc_pipeline.consumer_wait(clc_state)
    work = sched.get_current_work()
    clc_pipeline.consumer_release(clc_state)
    clc_state.advance()
    return work, sched, clc_state


@cute.kernel
def kernel_persistent(
    tiled_mma: cute.TiledMma,
    tma_a: cute.CopyAtom, mA: cute.Tensor,          # TMA view of A, (M, K)
    tma_b: cute.CopyAtom, mB: cute.Tensor,          # TMA view of B, (N, K)
    tma_c: cute.CopyAtom, mC: cute.Tensor,          # (M, N): its TMA view (TMA-store epilogue) or C itself
    sA_layout: cute.ComposedLayout, sB_layout: cute.ComposedLayout,
    sC_layout: cute.ComposedLayout,                 # (EPI_M, EPI_N, EPI_STAGES): the C ring of the TMA store
    cluster_vmnk: cute.Layout,
    sched_params,                                   # the tile scheduler's parameters (static or CLC)
    io_dtype: cutlass.Constexpr,                    # A, B and C's element type
    rung: cutlass.Constexpr,
):
    """Rungs 3-5: a persistent, warp-specialised kernel; each role walks the tiles the scheduler hands out.

    Warps 0-3 drain accumulators (epilogue), warp 4 issues the MMAs (the pair's leader only), warp 5 loads by
    TMA, warp 6 (CLC only) asks the hardware for the next tile. `rung.acc_stages` TMEM accumulators decouple the
    MMA warp from the epilogue; `rung.epilogue` picks direct stores or the TMA store.
    """
    warp = cute.arch.make_warp_uniform(cute.arch.warp_idx())
    tid, _, _ = cute.arch.thread_idx()
    bidx, _, _ = cute.arch.block_idx()
    pair = cute.size(cluster_vmnk, mode=[0])
    v = bidx % pair
    rank = cute.arch.block_idx_in_cluster()
    cta = cluster_vmnk.get_flat_coord(rank)
    tile = rung.mma_tile
    clc = rung.scheduler == "clc"

    smem = SmemAllocator()
    bars = cc.allocate_barriers(smem, rung.STAGES, rung.acc_stages, cluster=True, clc_stages=1 if clc else 0)
    tx_bytes = cc.stage_bytes((io_dtype, sA_layout), (io_dtype, sB_layout)) * pair
    load_producer, load_consumer = cc.make_load_pipeline(bars.load.data_ptr(), rung.STAGES, tx_bytes, cluster_vmnk)
    epi_threads = 32 * len(EPI_WARPS)
    acc_producer, acc_consumer = cc.make_acc_pipeline(bars.acc.data_ptr(), pair * epi_threads, rung.acc_stages,
                                                      cluster_vmnk)
    clc_pipeline = clc_state = clc_ptr = None
    if cutlass.const_expr(clc):
        # every warp of every CTA in the cluster that walks tiles reads each response once
        readers = 32 * (1 + rung.cluster_size * (len(EPI_WARPS) + 2))
        clc_pipeline = pipeline.PipelineClcFetchAsync.create(
            barrier_storage=bars.clc.data_ptr(), num_stages=1,
            producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread),
            consumer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread, readers),
            tx_count=CLC_RESPONSE_BYTES, cta_layout_vmnk=cluster_vmnk, defer_sync=True)
        clc_state = pipeline.make_pipeline_state(pipeline.PipelineUserType.Consumer, 1)
        clc_ptr = bars.clc_response.data_ptr()
        pipeline.pipeline_init_arrive(cluster_shape_mn=rung.cluster, is_relaxed=True)
        pipeline.pipeline_init_wait(cluster_shape_mn=rung.cluster)
    sA = cc.allocate_smem_operand(smem, io_dtype, sA_layout)
    sB = cc.allocate_smem_operand(smem, io_dtype, sB_layout)
    sC = None
    if cutlass.const_expr(rung.epilogue == "tma"):
        sC = cc.allocate_smem_operand(smem, io_dtype, sC_layout)           # (EPI_M, EPI_N, EPI_STAGES)

    # every tile of A, B, C at once; the scheduler picks (m, n)
    gA = cute.local_tile(mA, cute.slice_(tile, (None, 0, None)), (None, None))   # (256, TILE_K, tiles_m, k_tiles)
    gB = cute.local_tile(mB, cute.slice_(tile, (0, None, None)), (None, None))   # (TILE_N, TILE_K, tiles_n, k_tiles)
    gC = cute.local_tile(mC, cute.slice_(tile, (None, None, 0)), (None, None))   # (256, TILE_N, tiles_m, tiles_n)
    k_tiles = cute.size(gA, mode=[3])
    thr_mma = tiled_mma.get_slice(v)
    tCgA = thr_mma.partition_A(gA)                  # (MMA, MMA_M, MMA_K, tiles_m, k_tiles)
    tCgB = thr_mma.partition_B(gB)                  # (MMA, MMA_N, MMA_K, tiles_n, k_tiles)
    tCgC = thr_mma.partition_C(gC)                  # (MMA, MMA_M, MMA_N, tiles_m, tiles_n)
    tCrA = tiled_mma.make_fragment_A(sA)            # (MMA, MMA_M, MMA_K, STAGES)
    tCrB = tiled_mma.make_fragment_B(sB)
    tAsA, tAgA = cc.tma_partition_stages(tma_a, sA, tCgA, cta[2], cute.size(cluster_vmnk, mode=[2]))
    tBsB, tBgB = cc.tma_partition_stages(tma_b, sB, tCgB, cta[1], cute.size(cluster_vmnk, mode=[1]))
    mask_a = cpasync.create_tma_multicast_mask(cluster_vmnk, cta, mcast_mode=2)
    mask_b = cpasync.create_tma_multicast_mask(cluster_vmnk, cta, mcast_mode=1)

    if cutlass.const_expr(clc):
        sched = cutlass_utils.ClcDynamicPersistentTileScheduler.create(
            sched_params, cute.arch.block_idx(), cute.arch.grid_dim(), clc_ptr)
    else:
        sched = cutlass_utils.StaticPersistentTileScheduler.create(
            sched_params, cute.arch.block_idx(), cute.arch.grid_dim())
    work = sched.initial_work_tile_info()

    dealloc = None
    if cutlass.const_expr(rung.cta_group == 2):
        dealloc = bars.tmem_dealloc.ptr
    tmem_threads = 32 * (len(EPI_WARPS) + 1)        # the epilogue warps and the MMA warp use TMEM
    if warp == TMA_WARP:
        cpasync.prefetch_descriptor(tma_a)
        cpasync.prefetch_descriptor(tma_b)
        while work.is_valid_tile:
            m, n = work.tile_idx[0] // pair, work.tile_idx[1]
            load_producer = cc.tma_load_loop(load_producer, k_tiles,
                                             ((tma_a, tAgA[(None, m, None)], tAsA, mask_a),
                                              (tma_b, tBgB[(None, n, None)], tBsB, mask_b)), per_tile=True)
            work, sched, clc_state = _next_work(sched, clc_pipeline, clc_state)
        load_producer.tail()

    if warp == MMA_WARP:
        tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, tmem_columns(rung), tmem_threads, EPI_WARPS[0], dealloc)
        tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile, acc_ptr, rung.acc_stages)   # (MMA, MMA_M, MMA_N, ACC)
        while work.is_valid_tile:
            if v == 0:
                acc_slot = acc_producer.acquire_and_advance()      # wait for a drained accumulator
                tiled_mma, load_consumer = cc.mma_loop(tiled_mma, tCtAcc[(None, None, None, acc_slot.index)],
                                                       tCrA, tCrB, load_consumer, k_tiles, carry=True)
                acc_slot.commit()
            work, sched, clc_state = _next_work(sched, clc_pipeline, clc_state)
        if v == 0:
            acc_producer.tail()

    if warp < MMA_WARP:
        tmem, acc_ptr = cc.alloc_tmem(bars.tmem_addr.ptr, tmem_columns(rung), tmem_threads, EPI_WARPS[0], dealloc)
        tCtAcc = cc.make_tmem_accumulator(tiled_mma, tile, acc_ptr, rung.acc_stages)
        epi_barrier = pipeline.NamedBarrier(barrier_id=cc.EPI_BARRIER_ID, num_threads=epi_threads)
        tiles_done = cutlass.Int32(0)
        if cutlass.const_expr(rung.epilogue == "tma"):
            store_pipeline = pipeline.PipelineTmaStore.create(
                num_stages=rung.EPI_STAGES,
                producer_group=pipeline.CooperativeGroup(pipeline.Agent.Thread, epi_threads))
        while work.is_valid_tile:
            m, n = work.tile_idx[0] // pair, work.tile_idx[1]
            if cutlass.const_expr(rung.epilogue == "tma"):
                acc_consumer = cc.epilogue_tmem_to_smem_to_gmem(
                    tCtAcc, tCgC[(None, None, None, m, n)], sC, tma_c, acc_consumer, store_pipeline, epi_barrier,
                    tid, warp == EPI_WARPS[0], tiles_done * (rung.TILE_N // rung.EPI_N), rung.EPI_N)
            else:
                acc_consumer = cc.epilogue_tmem_to_gmem(tCtAcc, tCgC[(None, None, None, m, n)], acc_consumer, tid,
                                                        rung.EPI_N, staged=True)
            tiles_done += 1
            work, sched, clc_state = _next_work(sched, clc_pipeline, clc_state)
        if cutlass.const_expr(rung.epilogue == "tma"):
            store_pipeline.producer_tail()                  # the last TMA stores have read their smem
        tmem.relinquish_alloc_permit()
        cc.free_tmem(tmem, acc_ptr, barrier=epi_barrier)

    if cutlass.const_expr(clc):
        if warp == SCHED_WARP:
            if rank == 0:                               # one thread per cluster cancels the next cluster's launch
                clc_producer = pipeline.make_pipeline_state(pipeline.PipelineUserType.ProducerConsumer, 1)
                while work.is_valid_tile:
                    clc_pipeline.producer_acquire(clc_producer)
                    sched.advance_to_next_work(clc_pipeline.producer_get_barrier(clc_producer))
                    clc_producer.advance()
                    work, sched, clc_state = _next_work(sched, clc_pipeline, clc_state)
                clc_pipeline.producer_tail(clc_producer)


# ------------------------------------------------------------------------------------------------ host side
def make_tiled_mma(io_dtype, rung: Rung) -> cute.TiledMma:
    """The rung's tcgen05 MMA: kind::f16, (128 x cta_group) x TILE_N x 16, operands from smem, both K-major."""
    if io_dtype not in [t for t, _ in cg.DTYPES.values()]:
        raise TypeError(f"make_tiled_mma: io_dtype must be a CuTe element type, cutlass.BFloat16 or cutlass.Float16 "
                        f"(bwkit.cute_gemm.DTYPES[name][0]), got {io_dtype!r}")
    _check_dense("make_tiled_mma", rung, "its block-scaled MMA is built by bwkit.cute_gemm.nvfp4_operands")
    tile = rung.mma_tile
    group = tcgen05.CtaGroup.TWO if rung.cta_group == 2 else tcgen05.CtaGroup.ONE
    return cute.make_tiled_mma(tcgen05.MmaF16BF16Op(io_dtype, cutlass.Float32, (tile[0], tile[1], cg.MMA_K_F16),
                                                    group, tcgen05.OperandSource.SMEM, cute.nvgpu.OperandMajorMode.K,
                                                    cute.nvgpu.OperandMajorMode.K))


def layout_budget(rung: Rung, dtype: str = "bf16") -> dict[str, int]:
    """What CuTe's own layouts for the rung occupy (computed on the CPU, as the host function builds them):
    ``smem_ab`` bytes of the A/B rings, ``smem_c`` of the TMA-store ring, ``tmem_acc_columns`` of the
    accumulator(s). The tests compare them with `smem_bytes` and `tmem_columns`."""
    from bwkit.layouts import run_cute

    _check_dense("layout_budget", rung, "these are the dense kind::f16 layouts; its shared memory is "
                 "bwkit.cute_ladder_nvfp4.nvfp4_smem_bytes(rung)")
    if dtype not in cg.DTYPES:
        raise ValueError(f"layout_budget: dtype must be one of {list(cg.DTYPES)}, got {dtype!r}")
    io_dtype = cg.DTYPES[dtype][0]

    def build() -> dict[str, int]:
        tiled_mma = make_tiled_mma(io_dtype, rung)
        sA, sB = cc.make_smem_layouts_ab(tiled_mma, rung.mma_tile, io_dtype, rung.STAGES)
        smem_c = 0
        if rung.epilogue == "tma":
            sC = sm100_utils.make_smem_layout_epi(io_dtype, LayoutEnum.ROW_MAJOR, (128, rung.EPI_N), rung.EPI_STAGES)
            smem_c = cute.size_in_bytes(io_dtype, sC)
        acc = tiled_mma.make_fragment_C(cute.append(tiled_mma.partition_shape_C(rung.mma_tile[:2]), rung.acc_stages))
        return {"smem_ab": int(cute.size_in_bytes(io_dtype, sA) + cute.size_in_bytes(io_dtype, sB)),
                "smem_c": int(smem_c), "tmem_acc_columns": int(tcgen05.find_tmem_tensor_col_offset(acc))}

    return run_cute(build)


@cute.jit
def ladder_host(a_ptr: cute.Pointer, b_ptr: cute.Pointer, c_ptr: cute.Pointer,
                M: cutlass.Int32, N: cutlass.Int32, K: cutlass.Int32, stream: cuda_driver.CUstream,
                kernel: cutlass.Constexpr, rung: cutlass.Constexpr, clusters: cutlass.Constexpr):
    """Host side of rungs 2-5: MMA, cluster layout, smem rings, TMA loads/store and scheduler; launches `kernel`.

    `clusters` is how many clusters a persistent grid keeps resident (`max_active_clusters`).
    """
    io_dtype = a_ptr.dtype
    mA = cute.make_tensor(a_ptr, cute.make_layout((M, cute.assume(K, 64)), stride=(cute.assume(K, 64), 1)))
    mB = cute.make_tensor(b_ptr, cute.make_layout((N, cute.assume(K, 64)), stride=(cute.assume(K, 64), 1)))
    mC = cute.make_tensor(c_ptr, cute.make_layout((M, cute.assume(N, 64)), stride=(cute.assume(N, 64), 1)))
    tile = rung.mma_tile
    tiled_mma = make_tiled_mma(io_dtype, rung)
    cluster_mnk = (*rung.cluster, 1)
    cluster_vmnk = cc.make_cluster_layout_vmnk(tiled_mma, cluster_mnk)     # (pair, M, N, 1)
    sA_layout, sB_layout = cc.make_smem_layouts_ab(tiled_mma, tile, io_dtype, rung.STAGES)
    tma_a, tma_mA = cc.make_tma_load("A", mA, sA_layout, tile, tiled_mma, cluster_mnk=cluster_mnk,
                                     cluster_vmnk=cluster_vmnk)
    tma_b, tma_mB = cc.make_tma_load("B", mB, sB_layout, tile, tiled_mma, cluster_mnk=cluster_mnk,
                                     cluster_vmnk=cluster_vmnk)
    cta_tiles = (cute.ceil_div(M, 128), cute.ceil_div(N, tile[1]), 1)          # CTA tiles (128 x TILE_N)

    if cutlass.const_expr(not rung.persistent):
        kernel(tiled_mma, tma_a, tma_mA, tma_b, tma_mB, mC, sA_layout, sB_layout, cluster_vmnk, rung).launch(
            grid=cta_tiles, block=(rung.threads, 1, 1), cluster=cluster_mnk, stream=stream)
    else:
        sC_layout, tma_c, tma_mC = cc.make_tma_store(mC, (128, rung.EPI_N), rung.EPI_STAGES)
        if cutlass.const_expr(rung.epilogue == "direct"):
            tma_mC = mC                                 # the direct epilogue writes C itself
        if cutlass.const_expr(rung.scheduler == "clc"):
            params = cutlass_utils.ClcDynamicPersistentTileSchedulerParams(cta_tiles, cluster_mnk)
            grid = cutlass_utils.ClcDynamicPersistentTileScheduler.get_grid_shape(params)
        else:
            params = cutlass_utils.PersistentTileSchedulerParams(cta_tiles, cluster_mnk)
            grid = cutlass_utils.StaticPersistentTileScheduler.get_grid_shape(params, clusters)
        kernel(tiled_mma, tma_a, tma_mA, tma_b, tma_mB, tma_c, tma_mC, sA_layout, sB_layout, sC_layout,
               cluster_vmnk, params, io_dtype, rung).launch(grid=grid, block=(rung.threads, 1, 1), cluster=cluster_mnk,
                                                  stream=stream)


def _kernel_for(rung: Rung):
    return kernel_persistent if rung.persistent else kernel_cluster


def _is_lab05(rung: Rung) -> bool:
    return rung.cta_group == 1 and rung.cluster == (1, 1) and not rung.persistent


def compile_rung(rung: Rung, M: int = 8192, N: int = 8192, K: int = 8192, dtype: str = "bf16"):
    """Compile one rung for sm_100a (no GPU needed); return a `bwkit.inspect.Compiled`.

    Rung 1 is `bwkit.cute_gemm.compile_gemm`; the others go through `ladder_host` with their kernel. A
    persistent grid is sized for a B200 (`max_active_clusters`).
    """
    _check_dense("compile_rung", rung, _NVFP4_FUNCTIONS)
    if dtype not in cg.DTYPES:
        raise ValueError(f"dtype must be one of {list(cg.DTYPES)}, got {dtype!r}")
    check_rung_shapes(M, N, K, rung)
    if _is_lab05(rung):
        return cg.compile_gemm(M, N, K, dtype=dtype, config=rung.gemm_config)
    from bwkit.inspect import compile_cute

    cdt = cg.DTYPES[dtype][0]
    ptrs = [make_ptr(cdt, addr, cute.AddressSpace.gmem, assumed_align=16) for addr in (1 << 20, 1 << 21, 1 << 22)]
    return compile_cute(ladder_host, *ptrs, M, N, K, cuda_driver.CUstream(0), _kernel_for(rung), rung,
                        max_active_clusters(rung))


_RUN_CACHE: dict = {}


def run_rung(rung: Rung, a, b):
    """C = a @ b.T with one rung's kernel on a datacenter Blackwell GPU; a (M, K), b (N, K) bf16/fp16 CUDA tensors."""
    _check_dense("run_rung", rung, _NVFP4_FUNCTIONS)
    if _is_lab05(rung):
        return cg.gemm_tcgen05(a, b, rung.gemm_config)
    dt, (M, N, K), c, ptrs, stream = cg._dense_operands(a, b, lambda M, N, K: check_rung_shapes(M, N, K, rung))
    key = (rung, dt)
    if key not in _RUN_CACHE:
        clusters = cutlass_utils.HardwareInfo().get_max_active_clusters(rung.cluster_size)
        _RUN_CACHE[key] = cute.compile(ladder_host, *ptrs, M, N, K, stream, _kernel_for(rung), rung, clusters)
    _RUN_CACHE[key](*ptrs, M, N, K, stream)
    return c
