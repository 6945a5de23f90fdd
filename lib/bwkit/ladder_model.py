"""What each rung of the CuTe ladder (`bwkit.cute_ladder`) should buy on a B200, before anything runs.

Two models of the kit, multiplied:

- **the efficiency model** (`bwkit.efficiency`, lab 06): tiles, waves and the per-wave roofline of the whole GEMM
  for the rung's MMA tile (a 2-CTA tile runs on a pair of SMs: half as many slots, each twice as fast);
- **the pipeline model** (`bwkit.pipeline`, lab 01): one SM over the tiles it computes — the TMA load pipe
  (this CTA's share of the L2 traffic after multicast, `l2_bytes_per_cta`), `STAGES` smem slots, MMAs at the
  Tensor Core rate, the epilogue, one or two TMEM accumulators. A one-CTA-per-tile rung pays the pipeline fill
  and the epilogue on every tile (the next CTA starts when this one exits); a persistent rung overlaps the next
  tile's loads with the epilogue; a double-buffered accumulator overlaps the next tile's MMAs with it too.

    from bwkit import ladder_model as lm, cute_ladder as lad
    p = lm.predict_rung(lad.RUNGS[3], 16384, 17920, 16384)   # p.pct_of_peak: model, % of the datasheet peak

The pipeline model's rates are its stated assumptions (`bwkit.pipeline.PipelineConfig`: 200 B/ns per SM from
L2, 800 ns load latency); the epilogue time is the tile's C bytes at the SM's share of HBM bandwidth. Not
modelled: clocks under the power limit (CUTLASS's figures are "at power"), instruction issue, launch and
prologue costs, L2 misses. These are predictions, never measurements. The small functions at the end are the
references of lab 10's exercises. Taught in lab 10.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from bwkit import efficiency as eff
from bwkit import hw
from bwkit import pipeline as pl
from bwkit import tensorcores as tc
from bwkit.kit.args import check_number as _check_arg

__all__ = [
    "RungPrediction", "predict_rung", "pipeline_config", "epilogue_ns", "l2_bytes_per_cta", "tmem_alloc_columns",
    "persistent_tiles_per_cta", "overlap_time", "stage_bytes", "max_stages", "SMEM_LIMIT", "TMEM_COLUMNS",
]

SMEM_LIMIT = pl.SMEM_BYTES_PER_SM   # dynamic shared memory per sm_100a CTA (227 KiB)
TMEM_COLUMNS = tc.TMEM_COLUMNS      # TMEM columns per SM (128 lanes x 512 x 32 bit)
_B200_SMS = hw.get_spec("B200").sms


def l2_bytes_per_cta(TILE_N: int, TILE_K: int, cta_group: int, cluster_m: int, cluster_n: int,
                     elem_bytes: float = 2.0) -> float:
    """Bytes one CTA fetches from L2 per K step: its 128 rows of A shared by the `cluster_n` CTAs along N, its
    TILE_N / cta_group rows of B shared by the `cluster_m / cta_group` pairs along M (TMA multicast)."""
    for name, v in (("TILE_N", TILE_N), ("TILE_K", TILE_K), ("cluster_m", cluster_m), ("cluster_n", cluster_n)):
        _check_arg(name, v)
    _check_arg("elem_bytes", elem_bytes, integer=False)
    if cta_group not in (1, 2) or cluster_m % cta_group:
        raise ValueError(f"cta_group must be 1 or 2 and divide cluster_m={cluster_m}, got {cta_group!r}")
    t = pl.stage_traffic(128 * cta_group, TILE_N, TILE_K, elem_bytes, cta_group=cta_group, multicast_a=cluster_n,
                         multicast_b=cluster_m // cta_group)
    return t.l2_bytes


def tmem_alloc_columns(tile_n: int, acc_stages: int) -> int:
    """TMEM columns to allocate for `acc_stages` FP32 accumulators of `tile_n` columns: the next power of two
    >= 32 (tcgen05.alloc's rule); ValueError above TMEM's 512."""
    _check_arg("tile_n", tile_n)
    _check_arg("acc_stages", acc_stages)
    need = tile_n * acc_stages
    if need > TMEM_COLUMNS:
        raise ValueError(f"{acc_stages} x {tile_n} = {need} columns exceed TMEM's {TMEM_COLUMNS}")
    return tc.round_alloc(need)


def persistent_tiles_per_cta(M: int, N: int, TILE_N: int, cluster_m: int, cluster_n: int,
                             sms: int = _B200_SMS) -> int:
    """Tiles the busiest CTA of a static persistent grid computes: sms // cluster clusters stay resident and
    take the ceil(M / (128 cluster_m)) x ceil(N / (TILE_N cluster_n)) cluster tiles in turn."""
    for name, v in (("M", M), ("N", N), ("TILE_N", TILE_N), ("cluster_m", cluster_m), ("cluster_n", cluster_n),
                    ("sms", sms)):
        _check_arg(name, v)
    cluster_tiles = math.ceil(M / (128 * cluster_m)) * math.ceil(N / (TILE_N * cluster_n))
    resident = min(cluster_tiles, sms // (cluster_m * cluster_n))
    if resident == 0:
        raise ValueError(f"a cluster of {cluster_m * cluster_n} CTAs does not fit on {sms} SMs")
    return math.ceil(cluster_tiles / resident)


def overlap_time(t_mainloop: float, t_epilogue: float, tiles: int, acc_stages: int) -> float:
    """Time for one persistent CTA's `tiles` when loads are hidden: with one accumulator every epilogue stalls
    the MMAs (tiles x (main + epi)); with two, tile i's epilogue runs under tile i+1's mainloop, and the slower
    of the two sets the pace: main + (tiles - 1) x max(main, epi) + epi."""
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 <= v < math.inf
               for v in (t_mainloop, t_epilogue)):
        raise ValueError(f"times must be >= 0, got {t_mainloop!r}, {t_epilogue!r} (finite numbers: not infinity, "
                         f"NaN or text)")
    _check_arg("tiles", tiles)
    if acc_stages not in (1, 2):
        raise ValueError(f"acc_stages must be 1 or 2, got {acc_stages!r}")
    if acc_stages == 1:
        return tiles * (t_mainloop + t_epilogue)
    return t_mainloop + (tiles - 1) * max(t_mainloop, t_epilogue) + t_epilogue


def stage_bytes(TILE_N: int, TILE_K: int, cta_group: int, elem_bytes: float = 2) -> float:
    """Shared memory of one A/B stage of one CTA: (128 rows of A + TILE_N / cta_group rows of B) x TILE_K x
    elem_bytes (a CTA pair splits B, each CTA keeps its own 128 rows of A). TILE_N and TILE_K positive ints,
    cta_group 1 or 2, elem_bytes a positive number (0.5 for FP4 packed two per byte)."""
    _check_tile("stage_bytes", TILE_N, TILE_K, cta_group, elem_bytes)
    return (128 + TILE_N // cta_group) * TILE_K * elem_bytes


def _check_tile(what: str, TILE_N, TILE_K, cta_group, elem_bytes) -> None:
    """ValueError naming the bad one of `stage_bytes`' arguments."""
    for name, v in (("TILE_N", TILE_N), ("TILE_K", TILE_K)):
        _check_arg(f"{what}: {name}", v)
    _check_arg(f"{what}: elem_bytes", elem_bytes, integer=False)
    if isinstance(cta_group, bool) or not isinstance(cta_group, int) or cta_group not in (1, 2):
        raise ValueError(f"{what}: cta_group must be 1 or 2, got {cta_group!r}")


def max_stages(TILE_N: int, TILE_K: int, cta_group: int, elem_bytes: float = 2, epi_bytes: int = 0,
               smem: int = SMEM_LIMIT) -> int:
    """Most A/B stages one CTA fits: (smem - epi_bytes) // `stage_bytes` (TILE_N, TILE_K, cta_group, elem_bytes)
    (0 when the C buffers leave less than one stage); ValueError when epi_bytes alone exceed `smem`.

    `elem_bytes` is any positive number: 2 (BF16), 1 (FP8), 0.5 (FP4 packed two per byte; a block-scaled
    format's scale bytes are extra: 0.5 + 1/16 counts NVFP4's one-byte scale per 16 elements too)."""
    for name, v in (("TILE_N", TILE_N), ("TILE_K", TILE_K), ("smem", smem)):
        _check_arg(name, v)
    _check_arg("elem_bytes", elem_bytes, integer=False)
    _check_arg("epi_bytes", epi_bytes, zero_ok=True)
    if cta_group not in (1, 2):
        raise ValueError(f"cta_group must be 1 or 2, got {cta_group!r}")
    if epi_bytes > smem:
        raise ValueError(f"epi_bytes={epi_bytes:,} exceeds the {smem:,} B of shared memory a CTA may use: the C "
                         f"buffers must fit beside the A/B stages")
    return int((smem - epi_bytes) // stage_bytes(TILE_N, TILE_K, cta_group, elem_bytes))


def epilogue_ns(TILE_N: int, gpu: str | hw.GPUSpec = "B200", out_bytes: float = 2.0) -> float:
    """Model time of one CTA's epilogue: its 128 x TILE_N C tile at 1/sms of the HBM bandwidth (every SM storing).
    TILE_N a positive int, out_bytes (bytes per C element) a positive number."""
    _check_arg("epilogue_ns: TILE_N", TILE_N)
    _check_arg("epilogue_ns: out_bytes", out_bytes, integer=False)
    s = hw.get_spec(gpu)
    return 128 * TILE_N * out_bytes / (s.bandwidth / s.sms / 1e9)


_RUNG_FIELDS = ("number", "TILE_N", "TILE_K", "cta_group", "cluster", "STAGES", "acc_stages", "scheduler")


def _check_rung(what: str, rung) -> None:
    """TypeError unless `rung` is a rung object (a `bwkit.cute_ladder.Rung`: it has every field the models read)."""
    if all(hasattr(rung, f) for f in _RUNG_FIELDS):
        return
    hint = ""
    if isinstance(rung, (int, str)) and not isinstance(rung, bool):
        num = str(rung).lower().removeprefix("rung").strip(" _-")
        hint = f"; rung {num} is bwkit.cute_ladder.rung_by_name({num!r})" if num[:1].isdigit() else ""
    raise TypeError(f"{what}: rung must be a rung object (a bwkit.cute_ladder.Rung: one of bwkit.cute_ladder.RUNGS, "
                    f"or bwkit.cute_ladder.rung_by_name(number); the NVFP4 rung is "
                    f"bwkit.cute_ladder_nvfp4.NVFP4_RUNG), not a number or name: got {type(rung).__name__} "
                    f"{rung!r}{hint}")


def _rung_precision(rung, precision: str | None) -> str:
    """The precision `rung`'s kernel computes in: 'fp4' for the NVFP4 rung (`bwkit.cute_ladder_nvfp4.NVFP4_RUNG`,
    number 'nvfp4'), 'bf16' for every rung of `bwkit.cute_ladder`; ValueError when `precision` says otherwise."""
    own = "fp4" if getattr(rung, "number", None) == "nvfp4" else "bf16"
    if precision is not None and precision != own:
        kind = "an FP4" if own == "fp4" else "a BF16"
        raise ValueError(f"precision={precision!r}, but rung {getattr(rung, 'number', rung)!r} is {kind} kernel "
                         f"(the rungs of bwkit.cute_ladder are BF16; the NVFP4 rung, "
                         f"bwkit.cute_ladder_nvfp4.NVFP4_RUNG, is fp4): pass precision={own!r} or leave it out")
    return own


def pipeline_config(rung, K: int, tiles: int, gpu: str | hw.GPUSpec = "B200",
                    precision: str | None = None) -> pl.PipelineConfig:
    """The pipeline model of one SM running `rung` over `tiles` tiles of K: the load pipe carries this CTA's L2
    share per K step (`l2_bytes_per_cta`), the Tensor Cores run at the SM's share of the dense peak. `precision`
    is the rung's own ('bf16', or 'fp4' for the NVFP4 rung); another raises ValueError."""
    _check_rung("pipeline_config", rung)
    precision = _rung_precision(rung, precision)
    s = hw.get_spec(gpu)
    l2 = l2_bytes_per_cta(rung.TILE_N, rung.TILE_K, rung.cta_group, *rung.cluster, eff.IN_BYTES[precision])
    return pl.PipelineConfig(BLOCK_M=128, BLOCK_N=rung.TILE_N, BLOCK_K=rung.TILE_K, stages=rung.STAGES,
                             bytes_per_element=l2 / ((128 + rung.TILE_N) * rung.TILE_K),
                             k_steps=math.ceil(K / rung.TILE_K), tiles=tiles, acc_buffers=rung.acc_stages,
                             flops_per_ns=s.peak(precision) / s.sms / 1e9, epilogue_ns=epilogue_ns(rung.TILE_N, s))


@dataclass(frozen=True)
class RungPrediction:
    """The models' view of one rung at one shape: efficiency-model %, pipeline MMA-busy fraction, their product."""

    rung: str
    tiles_per_sm: int
    efficiency_pct: float       # bwkit.efficiency: tiles, waves, roofline (% of the datasheet dense peak)
    mma_busy: float             # bwkit.pipeline: fraction of one SM's time its Tensor Cores work
    pct_of_peak: float          # the product: the model's % of the datasheet dense peak

    def line(self) -> str:
        """'rung 3: 61 tiles/SM, efficiency 99.2% x MMA busy 98.3% = 97.5% (model)'."""
        return (f"rung {self.rung}: {self.tiles_per_sm} tiles/SM, efficiency {self.efficiency_pct:.1f}% x MMA busy "
                f"{100 * self.mma_busy:.1f}% = {self.pct_of_peak:.1f}% (model)")


def predict_rung(rung, M: int, N: int, K: int, gpu: str | hw.GPUSpec = "B200",
                 precision: str | None = None) -> RungPrediction:
    """Predict one rung at M x N x K on `gpu` (see the module docstring); nothing is measured. `precision`
    defaults to the rung's own ('bf16'; 'fp4' for the NVFP4 rung); another raises ValueError."""
    _check_rung("predict_rung", rung)
    precision = _rung_precision(rung, precision)
    tile = eff.Tile(128 * rung.cta_group, rung.TILE_N, rung.TILE_K, cta_group=rung.cta_group)
    e = eff.predict(M, N, K, tile, gpu, precision)
    tiles = e.full_waves                            # the busiest SM's tiles
    if rung.scheduler == "none":                    # one CTA per tile: each tile pays its own fill and epilogue
        busy = pl.simulate(pipeline_config(rung, K, 1, gpu, precision)).mma_busy
    else:
        busy = pl.simulate(pipeline_config(rung, K, tiles, gpu, precision)).mma_busy
    return RungPrediction(rung.number, tiles, e.pct_of_peak, busy, e.pct_of_peak * busy)
