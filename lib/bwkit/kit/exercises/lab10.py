"""Exercises of lab 10 (CuTe DSL to near-peak): what each check reads, the inputs it tries, the mistakes it names.

The references are `bwkit.ladder_model`'s functions (the same arithmetic the lab's predictions use).
"""

from __future__ import annotations

import math
import random

from bwkit import ladder_model as lm
from bwkit import tensorcores as tc
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.models import one_too_many
from bwkit.kit.exercises.spec import Case, Exercise, Function, Mistake, wrong_unit

SMEM = lm.SMEM_LIMIT           # 232448 bytes: what one sm_100a CTA may allocate


# ------------------------------------------------------------------------------------------------ 10.1
_stage = lm.stage_bytes         # bytes of one A/B stage: (128 + TILE_N // cta_group) x TILE_K x elem_bytes


def _stages_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((256, 64, 1, 0), "rung 1: 128x256x64, one CTA"),
             Case((256, 64, 2, 0), "rung 2: a CTA pair"),
             Case((256, 64, 2, 16384), "rung 5: a pair + 2 C buffers of 128x32"),
             Case((256, 64, 2, 4096), "a pair + one C buffer of 128x16"),
             Case((128, 128, 1, 8192), "128x128x128, one C buffer")]
    drawn = Case((rng.choice([64, 128, 256]), rng.choice([64, 128]), 2, rng.choice([8192, 32768])), "random")
    return fixed + [drawn]


# ------------------------------------------------------------------------------------------------ 10.2
def _ab(tn: int, tk: int, cg: int) -> tuple[float, float]:
    """(bytes of A, bytes of B) one CTA holds per K step (bf16)."""
    return 128 * tk * 2, tn // cg * tk * 2


def _per_cta(tn: int, tk: int, cg: int, a_sharers: int, b_sharers: int) -> float:
    """Bytes one CTA fetches per K step when `a_sharers` CTAs share each A slice and `b_sharers` each B slice."""
    a, b = _ab(tn, tk, cg)
    return a / a_sharers + b / b_sharers


def _l2_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((256, 64, 1, 1, 1), "rung 1: no cluster"),
             Case((256, 64, 2, 2, 1), "a CTA pair, cluster (2, 1)"),
             Case((256, 64, 2, 2, 2), "rung 2: cluster (2, 2)"),
             Case((256, 64, 2, 4, 1), "cluster (4, 1)"),
             Case((256, 64, 1, 2, 1), "one-CTA MMAs, cluster (2, 1)"),
             Case((128, 64, 1, 2, 4), "one-CTA MMAs, cluster (2, 4)")]
    cg = rng.choice([1, 2])
    drawn = Case((rng.choice([64, 128, 256]), rng.choice([64, 128]), cg, cg * rng.choice([1, 2]),
                  rng.choice([2, 4])), "random")
    return fixed + [drawn]


# ------------------------------------------------------------------------------------------------ 10.3
def _tiles_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((8192, 8192, 256, 2, 2, 148), "8192^3, cluster (2, 2), B200"),
             Case((16384, 17920, 256, 2, 2, 148), "CUTLASS's shape"),
             Case((8192, 768, 256, 2, 1, 148), "a thin N, cluster (2, 1)"),
             Case((4096, 4096, 128, 4, 2, 148), "cluster (4, 2): 18 clusters on 148 SMs"),
             Case((8000, 8000, 256, 2, 2, 148), "8000^2: partial cluster tiles at both edges"),
             Case((1024, 4368, 256, 4, 2, 148), "a ragged N, cluster (4, 2)"),
             Case((1024, 4368, 256, 2, 4, 148), "a ragged N, cluster (2, 4)"),
             Case((257, 9728, 256, 2, 2, 148), "M = 257: one row past a cluster tile")]
    cm, cn = rng.choice([(2, 1), (2, 2), (4, 2), (2, 4)])
    M, N = 128 * cm * rng.randrange(8, 64), 256 * cn * rng.randrange(8, 64)
    if rng.random() < 0.5:                      # ragged: partial cluster tiles along M, N or both
        M -= rng.choice([0, rng.randrange(1, 128 * cm)])
        N -= rng.randrange(1, 256 * cn)
    return fixed + [Case((M, N, 256, cm, cn, rng.choice([132, 148])), "random shape")]


def _cta_tiles(M: int, N: int, tn: int, floor: bool = False) -> int:
    return (M // 128) * (N // tn) if floor else math.ceil(M / 128) * math.ceil(N / tn)


def _cluster_tiles(M: int, N: int, tn: int, cm: int, cn: int, rows: int = 128, floor: bool = False) -> int:
    """Tiles of `rows` x cluster_m by TILE_N x cluster_n, one per cluster at a time (`floor`: whole ones only)."""
    if floor:
        return (M // (rows * cm)) * (N // (tn * cn))
    return math.ceil(M / (rows * cm)) * math.ceil(N / (tn * cn))


def _either_rounding(diagnosis: str, model) -> list[Mistake]:
    """The mistake `model(..., floor)` with the tile counts rounded up (ceil) and down (//): same diagnosis."""
    return [Mistake(diagnosis, value=lambda *a, f=f: model(*a, floor=f)) for f in (False, True)]


def _clusters(cm: int, cn: int, sms: int) -> int:
    """Clusters of cluster_m x cluster_n CTAs resident at once on `sms` SMs."""
    return sms // (cm * cn)


# ------------------------------------------------------------------------------------------------ 10.4
def _tmem_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((256, 2), "rung 4: two 256-column accumulators"), Case((256, 1), "rung 3"),
             Case((128, 2), "NVFP4 rung: 2 x 128"), Case((96, 1), "a 96-column tile"), Case((64, 3), "3 x 64"),
             Case((16, 1), "a 16-column tile")]
    acc = rng.choice([1, 2, 3])
    drawn = Case((16 * rng.randrange(1, 512 // (16 * acc) + 1), acc), "random")
    return fixed + [drawn]


# ------------------------------------------------------------------------------------------------ 10.5
def _time_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((35.3, 1.2, 14, 1), "8192^3 on rung 3"), Case((35.3, 1.2, 14, 2), "8192^3 on rung 4"),
             Case((10.0, 15.0, 8, 2), "small K: the epilogue is the longer"),
             Case((10.0, 15.0, 8, 1), "small K, 1 accumulator")]
    drawn = Case((round(rng.uniform(1, 50), 2), round(rng.uniform(0.5, 30), 2), rng.randrange(2, 70),
                  rng.choice([1, 2])), "random")
    return fixed + [drawn]


register(
    Exercise.single(
        "10.1", "stages that fit",
        reads=Function("stages_that_fit", "(TILE_N: int, TILE_K: int, cta_group: int, epi_bytes: int) -> int",
                       "stages"),
        cases=_stages_cases,
        expected=lambda tn, tk, cg, epi: lm.max_stages(tn, tk, cg, 2, epi), rtol=0,
        mistakes=[
            Mistake("in a CTA pair each CTA holds only TILE_N / 2 rows of B: divide B by cta_group",
                    value=lambda tn, tk, cg, epi: (SMEM - epi) // _stage(tn, tk, 1)),
            Mistake("you forgot the epilogue's C buffers (epi_bytes) in the budget",
                    value=lambda tn, tk, cg, epi: SMEM // _stage(tn, tk, cg)),
            Mistake("a CTA may use 227 KiB = 232448 bytes, not the SM's 228 KiB (or 256 KiB)",
                    when=lambda got, want, tn, tk, cg, epi: got in ((228 * 1024 - epi) // _stage(tn, tk, cg),
                                                                   (256 * 1024 - epi) // _stage(tn, tk, cg))),
            Mistake("you counted elements, not bytes: a bf16 element is 2 bytes",
                    value=lambda tn, tk, cg, epi: (SMEM - epi) // _stage(tn, tk, cg, 1)),
            Mistake("you rounded up: a partial stage does not fit, round down",
                    value=lambda tn, tk, cg, epi: math.ceil((SMEM - epi) / _stage(tn, tk, cg))),
            Mistake("you halved A as well: in a CTA pair each CTA keeps all of its own 128 rows of A",
                    value=lambda tn, tk, cg, epi: (SMEM - epi) // ((128 // cg + tn // cg) * tk * 2)),
        ],
        hint="One stage = (128 rows of A + TILE_N / cta_group rows of B) x TILE_K x 2 bytes; divide what is left of "
             "232448 bytes after the C buffers, rounding down."),

    Exercise.single(
        "10.2", "multicast traffic",
        reads=Function("l2_bytes", "(TILE_N: int, TILE_K: int, cta_group: int, cluster_m: int, cluster_n: int) "
                       "-> float", "bytes"),
        cases=_l2_cases,
        expected=lm.l2_bytes_per_cta, rtol=1e-9,
        mistakes=[
            Mistake("the multicast directions are swapped: A (M-side rows) is shared by the CTAs along N, "
                    "B by the pairs along M",
                    value=lambda tn, tk, cg, cm, cn: _per_cta(tn, tk, cg, cm // cg, cn)),
            Mistake("that is without multicast: each A slice is fetched once for the cluster_n CTAs that share it "
                    "(and each B slice once for the pairs along M)",
                    value=lambda tn, tk, cg, cm, cn: sum(_ab(tn, tk, cg))),
            Mistake("in a CTA pair each CTA loads only TILE_N / 2 rows of B",
                    value=lambda tn, tk, cg, cm, cn: _per_cta(tn, tk, 1, cn, cm // cg)),
            Mistake("B is shared by the pairs along M, cluster_m / cta_group of them, not by all cluster_m CTAs",
                    value=lambda tn, tk, cg, cm, cn: _per_cta(tn, tk, cg, cn, cm)),
            Mistake("not every CTA of the cluster shares each slice: A is shared along N only, B along M only",
                    value=lambda tn, tk, cg, cm, cn: sum(_ab(tn, tk, cg)) / (cm * cn)),
            Mistake("you counted elements, not bytes (bf16 = 2 bytes)", ratio=0.5),
            wrong_unit("KiB", "bytes: multiply by 1024", 1 / 1024),
        ],
        hint="A: 128 x TILE_K x 2 bytes, shared by cluster_n CTAs; B: TILE_N / cta_group x TILE_K x 2 bytes, shared "
             "by cluster_m / cta_group pairs."),

    Exercise.single(
        "10.3", "tiles per CTA of a persistent grid",
        reads=Function("tiles_per_cta", "(M: int, N: int, TILE_N: int, cluster_m: int, cluster_n: int, sms: int) "
                       "-> int", "tiles"),
        cases=_tiles_cases,
        expected=lm.persistent_tiles_per_cta, rtol=0,
        mistakes=[
            *_either_rounding("a persistent grid keeps sms // (cluster_m x cluster_n) whole clusters resident; "
                              "spreading CTA tiles over every SM ignores the SMs a cluster cannot use",
                              lambda M, N, tn, cm, cn, sms, floor: math.ceil(_cta_tiles(M, N, tn, floor) / sms)),
            Mistake("you rounded down: the busiest CTA also does the partial last round",
                    value=lambda M, N, tn, cm, cn, sms: _cluster_tiles(M, N, tn, cm, cn) // _clusters(cm, cn, sms)),
            Mistake("you rounded down twice: a partial cluster tile still needs a cluster (ceil, not //), and the "
                    "busiest CTA also does the partial last round",
                    value=lambda M, N, tn, cm, cn, sms: _cluster_tiles(M, N, tn, cm, cn, floor=True)
                    // _clusters(cm, cn, sms)),
            Mistake("a partial cluster tile still needs a cluster: ceil, not //, for the cluster tiles along M "
                    "and along N",
                    value=lambda M, N, tn, cm, cn, sms: math.ceil(_cluster_tiles(M, N, tn, cm, cn, floor=True)
                                                                  / _clusters(cm, cn, sms))),
            Mistake("tiles // clusters + 1 adds a round when the cluster tiles divide evenly over the clusters: "
                    "round up with ceil (or -(-tiles // clusters))",
                    value=lambda M, N, tn, cm, cn, sms: one_too_many(_cluster_tiles(M, N, tn, cm, cn)
                                                                     / _clusters(cm, cn, sms))),
            Mistake("you divided the area M x N by a cluster tile's: a ragged edge still takes whole cluster tiles "
                    "along each axis, ceil(M / (128 x cluster_m)) x ceil(N / (TILE_N x cluster_n))",
                    value=lambda M, N, tn, cm, cn, sms: math.ceil(math.ceil(M * N / (128 * cm * tn * cn))
                                                                  / _clusters(cm, cn, sms))),
            Mistake("cluster_m runs along M: a cluster tile is 128 x cluster_m rows by TILE_N x cluster_n columns "
                    "(you swapped the two axes)",
                    value=lambda M, N, tn, cm, cn, sms: math.ceil(_cluster_tiles(M, N, tn, cn, cm)
                                                                  / _clusters(cm, cn, sms))),
            *_either_rounding("you divided CTA tiles by the number of clusters: each cluster takes cluster_m x "
                              "cluster_n CTA tiles at a time",
                              lambda M, N, tn, cm, cn, sms, floor: math.ceil(_cta_tiles(M, N, tn, floor)
                                                                             / _clusters(cm, cn, sms))),
            Mistake("a CTA's tile has 128 rows (the pair's MMA has 256, but each CTA computes half of it)",
                    value=lambda M, N, tn, cm, cn, sms: math.ceil(_cluster_tiles(M, N, tn, cm, cn, rows=256)
                                                                  / _clusters(cm, cn, sms))),
        ],
        hint="Count cluster tiles (128 x cluster_m rows by TILE_N x cluster_n columns), count the clusters that fit "
             "on the SMs, and round the ratio up."),

    Exercise.single(
        "10.4", "TMEM columns for two accumulators",
        reads=Function("tmem_alloc", "(tile_n: int, acc_stages: int) -> int", "columns"),
        cases=_tmem_cases,
        expected=lm.tmem_alloc_columns, rtol=0,
        mistakes=[
            Mistake("tcgen05.alloc takes a power of two: round tile_n x acc_stages up to 32, 64, 128, 256 or 512",
                    value=lambda tn, acc: tn * acc),
            Mistake("a power of two, yes, but never fewer than 32 columns",
                    value=lambda tn, acc: tc.round_alloc(tn * acc, minimum=1)),
            Mistake("round up to a power of two, not to a multiple of 32",
                    value=lambda tn, acc: 32 * math.ceil(tn * acc / 32)),
            Mistake("that counts bytes (4 per FP32 value); the allocation is in columns, one per accumulator "
                    "column (each column has all 128 lanes)",
                    value=lambda tn, acc: tc.round_alloc(4 * tn * acc)),
            Mistake("each accumulator needs its own tile_n columns: multiply by acc_stages",
                    value=lambda tn, acc: lm.tmem_alloc_columns(tn, 1)),
        ],
        hint="An FP32 accumulator of 128 x tile_n takes tile_n columns (one lane per row); allocations are powers of "
             "two from 32 to 512."),

    Exercise.single(
        "10.5", "epilogue overlap",
        reads=Function("persistent_time", "(t_mainloop: float, t_epilogue: float, tiles: int, acc_stages: int) "
                       "-> float", "µs"),
        cases=_time_cases,
        expected=lm.overlap_time, rtol=1e-6,
        mistakes=[
            Mistake("with two accumulators the epilogue of tile i runs under the mainloop of tile i+1: do not add "
                    "every epilogue",
                    value=lambda m, e, n, acc: n * (m + e)),
            Mistake("the last tile's epilogue has no mainloop to hide under: add it once",
                    value=lambda m, e, n, acc: n * (m + e) if acc == 1 else n * max(m, e)),
            Mistake("when the epilogue is longer than the mainloop it sets the pace: use max(mainloop, epilogue)",
                    value=lambda m, e, n, acc: n * (m + e) if acc == 1 else n * m + e),
            Mistake("with one accumulator the MMAs of the next tile wait for the epilogue: nothing overlaps",
                    value=lambda m, e, n, acc: lm.overlap_time(m, e, n, 2)),
            wrong_unit("ms", "µs, like the times it is given (no / 1000)", 1e-3),
        ],
        hint="One accumulator: tiles x (mainloop + epilogue). Two: mainloop + (tiles - 1) x max(mainloop, epilogue) "
             "+ epilogue."),
)
