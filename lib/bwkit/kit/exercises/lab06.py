"""Exercises of lab 06 (near-peak GEMM): a timing too good to be true, tile and wave quantization, the model's %
of peak, a tile choice and its calibration. References come from `bwkit.efficiency` and `bwkit.bench`."""

from __future__ import annotations

import math
import random

from bwkit import bench
from bwkit import efficiency as eff
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.models import one_too_many, waves
from bwkit.kit.exercises.spec import Case, Choice, Exercise, Function, Mistake, Part, wrong_choices

__all__ = ["MEASURED_OPTIONS", "PREFILL_SHAPE", "CALIBRATION", "calibration_inputs"]

MEASURED_OPTIONS = ("the GEMM", "the launch", "the L2 flush")
PREFILL_SHAPE = (2048, 17290, 16384)                       # exercise 06.5: M, N, K on a B200, bf16
# exercise 06.6: a hypothetical 80.0% measured at 8192^3 on an H200 (128x256 tiles), predicted at 8192x768x8192
CALIBRATION = {"measured_pct": 80.0, "cal_shape": (8192, 8192, 8192), "target_shape": (8192, 768, 8192),
               "tile": "128x256", "gpu": "H200"}


def _tflops(M: int, N: int, K: int, ms: float) -> float:
    return bench.gemm_flops(M, N, K) / (ms * 1e-3) / 1e12


def _shape(rng: random.Random, lo: int = 256, hi: int = 20000) -> tuple[int, int, int]:
    return rng.randrange(lo, hi), rng.randrange(lo, hi), rng.randrange(lo, hi)


# ------------------------------------------------------------------------------------------------ 06.2
def _padded(x: int, b: int, how=math.ceil) -> int:
    return how(x / b) * b


def _no_k(M, N, K, bm, bn, bk) -> float:
    return M * N / (_padded(M, bm) * _padded(N, bn))


def _rounded(how):
    return lambda M, N, K, bm, bn, bk: M * N * K / (_padded(M, bm, how) * _padded(N, bn, how) * _padded(K, bk, how))


def _counts_only(M, N, K, bm, bn, bk) -> float:
    return M * N * K / (math.ceil(M / bm) * math.ceil(N / bn) * math.ceil(K / bk))


def _block_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((16384, 17290, 16384, 128, 256, 64), "the seed's shape, 128x256x64"),
             Case((1000, 1000, 1000, 128, 128, 64), "1000³, 128x128x64"),
             Case((1030, 1030, 1030, 128, 128, 64), "1030³: a sliver past 8 tiles, 128x128x64"),
             Case((16384, 17920, 16384, 256, 128, 64), "CUTLASS's shape, 256x128x64"),
             Case((1030, 2000, 1000, 128, 256, 64), "1030x2000x1000, 128x256x64: BLOCK_M != BLOCK_N")]
    drawn = [Case((*_shape(rng), rng.choice([64, 128, 256]), rng.choice([64, 128, 256]), rng.choice([32, 64, 128])),
                  "a random shape") for _ in range(2)]
    return fixed + drawn


# ------------------------------------------------------------------------------------------------ 06.3
def _waves_ref(M: int, N: int, bm: int, bn: int, n_slots: int) -> tuple[int, int, float]:
    tm, tn, _ = eff.tile_counts(M, N, 1, (bm, bn, 1))
    tiles = tm * tn
    return tiles, math.ceil(tiles / n_slots), eff.wave_efficiency(tiles, n_slots)


def _waves_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((16384, 17290, 128, 256, eff.slots("B200", "128x256")), "seed's shape, 128x256 on B200"),
             Case((16384, 17290, 256, 128, eff.slots("B200", "256x128 2-CTA")), "seed's shape, 2-CTA on B200"),
             Case((8192, 768, 128, 256, eff.slots("H200", "128x256")), "8192x768, 128x256 on H200"),
             Case((4736, 1024, 128, 256, eff.slots("B200", "128x256")), "148 tiles: exactly one wave on B200")]
    drawn = [Case((rng.randrange(4096, 20000), rng.randrange(4096, 20000), rng.choice([64, 128, 256]),
                   rng.choice([64, 128, 256]), rng.choice([74, 132, 148])), "a random shape") for _ in range(2)]
    return fixed + drawn


def _scaled_last(t: tuple, r: float) -> tuple:
    return (*t[:-1], t[-1] * r)


def _waves_fraction(*args):
    tiles, fraction, _ = waves(*args, waves_round=float)      # tiles / slots, not rounded to whole waves
    return tiles, fraction, 1.0


def _last_wave_fill(M, N, bm, bn, slots):
    tiles, full, _ = waves(M, N, bm, bn, slots)
    return tiles, full, (tiles - (full - 1) * slots) / slots


def _waves_inverse(*args):
    tiles, full, e = waves(*args)
    return tiles, full, 1 / e


# ------------------------------------------------------------------------------------------------ 06.4
_FRACTION = Mistake("you returned a fraction; the answer is a percentage", ratio=0.01)     # 06.4 and 06.6


def _pct(M, N, K, bm, bn, bk, n_slots, sustained=1.0, *, tile=True, wave=True, s=True, pad_k=True) -> float:
    tiles, _, we = _waves_ref(M, N, bm, bn, n_slots)
    te = eff.tile_efficiency(M, N, K, (bm, bn, bk)) if pad_k else _no_k(M, N, K, bm, bn, bk)
    return 100 * (sustained if s else 1.0) * (te if tile else 1.0) * (we if wave else 1.0)


def _pct_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((8192, 768, 8192, 128, 256, 64, eff.slots("H200", "128x256"), 0.8), "8192x768x8192 on H200"),
             Case((16384, 17290, 16384, 256, 128, 64, eff.slots("B200", "256x128 2-CTA"), 1.0),
                  "seed's shape, 2-CTA on B200"),
             Case((4736, 1024, 4096, 128, 256, 64, eff.slots("B200", "128x256"), 0.9),
                  "4736x1024x4096 on B200: 148 tiles, one full wave")]
    drawn = [Case((*_shape(rng, 1024), rng.choice([128, 256]), rng.choice([128, 256]), 64, rng.choice([132, 148]),
                   round(rng.uniform(0.6, 1.0), 3)), "a random shape") for _ in range(2)]
    return fixed + drawn


# ------------------------------------------------------------------------------------------------ 06.5
def _tile_choice() -> str:
    return eff.best_tile(*PREFILL_SHAPE, gpu="B200", precision="bf16").tile


def _why_not(name: str) -> str:
    preds = {n: eff.predict(*PREFILL_SHAPE, n, "B200", "bf16") for n in eff.TILES}
    best = preds[_tile_choice()]
    p = preds[name]
    if round(p.pct_of_peak, 6) < round(best.pct_of_peak, 6):
        return (f"{p.tiles} tiles on {p.slots} slots = {p.waves:.2f} waves -> {p.full_waves}: {p.pct_of_peak:.1f}% "
                f"against {best.pct_of_peak:.1f}% for {best.tile}, whose last wave costs less")
    return (f"it ties at {p.pct_of_peak:.1f}%, but loads {p.tile_intensity:.0f} FLOP/B per tile against "
            f"{best.tile_intensity:.0f} for {best.tile}: more L2 and shared-memory traffic for the same time")


# ------------------------------------------------------------------------------------------------ 06.6
def calibration_inputs() -> tuple[float, float, float]:
    """(measured %, raw model % at the calibration shape, raw model % at the target shape) of exercise 06.6."""
    c = CALIBRATION
    raw = [eff.predict(*c[k], c["tile"], c["gpu"], "bf16").pct_of_peak for k in ("cal_shape", "target_shape")]
    return c["measured_pct"], raw[0], raw[1]


def _calibrated(measured: float, raw_cal: float, raw_target: float) -> float:
    return min(1.0, measured / raw_cal) * raw_target        # fit_sustained's rule: sustained <= 1


def _cal_cases(rng: random.Random) -> list[Case]:
    drawn = []
    for _ in range(2):
        raw_cal = round(rng.uniform(85, 100), 2)
        drawn.append(Case((round(rng.uniform(50, raw_cal - 1), 1), raw_cal, round(rng.uniform(40, 99), 2)),
                          "made-up numbers"))
    return [Case(calibration_inputs(), "80% at 8192³ on H200 -> 8192x768x8192")] + drawn


register(
    Exercise("06.1", "a timing too good to be true", (
        Part(reads=(Function("implied_tflops", "(M: int, N: int, K: int, ms: float) -> float", "TFLOP/s"),),
             name="implied TFLOP/s",
             cases=lambda rng: [Case((16384, 17290, 16384, 0.05), "the colleague's 0.05 ms"),
                                Case((8192, 8192, 8192, 1.0), "8192³ in 1 ms"),
                                Case((*_shape(rng), round(rng.uniform(0.01, 50), 3)), "a random timing")],
             expected=_tflops, rtol=1e-9,
             mistakes=(
                 Mistake("you counted one FLOP per multiply-add; a multiply-add is 2 FLOPs", ratio=0.5),
                 Mistake("off by 1000: milliseconds vs seconds, or GFLOP/s instead of TFLOP/s", ratio=(1e3, 1e-3)),
                 Mistake("you returned FLOP/s, not TFLOP/s", ratio=1e12),
                 Mistake("off by 1e6: the time was taken as microseconds (or the result as MFLOP/s)",
                         ratio=(1e6, 1e-6)),
                 Mistake("you multiplied by the time: throughput is work divided by time",
                         value=lambda M, N, K, ms: 2 * M * N * K * ms * 1e-3 / 1e12),
                 Mistake("that is FLOP per millisecond (1e9 x TFLOP/s): convert ms to s (x 1e-3) and FLOP/s to "
                         "TFLOP/s (/ 1e12)", ratio=1e9),
                 Mistake("you hard-coded the colleague's 0.05 ms: use the `ms` argument",
                         value=lambda M, N, K, ms: _tflops(M, N, K, 0.05)),
             ), hint="A multiply-add is 2 FLOPs; 1 ms = 1e-3 s; 1 TFLOP/s = 1e12 FLOP/s."),
        Part(reads=(Choice("what_was_measured", MEASURED_OPTIONS),), name="what was measured",
             expected=lambda: "the launch",
             mistakes=wrong_choices({
                 "the GEMM": "no GEMM of this size can beat the peak 80-fold: the host clock stopped before the GPU "
                             "finished (no synchronize, no events)",
                 "the L2 flush": "nothing flushed L2 here; the host clock timed the asynchronous launch",
             }), hint="What does torch.matmul return to Python before the GPU has finished?"),
    )),

    Exercise.single(
        "06.2", "tile efficiency",
        reads=Function("tile_eff", "(M: int, N: int, K: int, BLOCK_M: int, BLOCK_N: int, BLOCK_K: int) -> float"),
        cases=_block_cases, rtol=1e-9,
        expected=lambda M, N, K, bm, bn, bk: eff.tile_efficiency(M, N, K, (bm, bn, bk)),
        mistakes=[
            Mistake("the ratio is upside down (padded / useful): the useful fraction is at most 1",
                    value=lambda *a: 1 / eff.tile_efficiency(*a[:3], a[3:])),
            Mistake("you returned the padding (the wasted fraction), not the useful fraction",
                    value=lambda *a: 1 - eff.tile_efficiency(*a[:3], a[3:])),
            Mistake("you did not round up: padding makes the useful fraction below 1", value=lambda *a: 1.0),
            Mistake("you returned a percentage; the answer is a fraction (at most 1)", ratio=100),
            Mistake("you forgot to pad K to whole BLOCK_K steps", value=_no_k),
            Mistake("you rounded the tile counts down (floor); a ragged edge still needs a whole tile: ceil",
                    value=_rounded(math.floor)),
            Mistake("you rounded the tile counts to the nearest (round); a ragged edge needs a whole tile: ceil",
                    value=_rounded(round)),
            Mistake("(x + b) // b is one tile too many when b divides x: round up with (x + b - 1) // b or math.ceil",
                    value=_rounded(one_too_many)),
            Mistake("you swapped the blocks: M is cut by BLOCK_M, N by BLOCK_N",
                    value=lambda M, N, K, bm, bn, bk: eff.tile_efficiency(M, N, K, (bn, bm, bk))),
            Mistake("you divided by the tile counts, not the padded sizes: multiply each count by its block",
                    value=_counts_only),
        ],
        hint="Round each dimension up to a multiple of its block, multiply the three, divide the real work by it."),

    Exercise.single(
        "06.3", "tiles and waves",
        reads=Function("waves", "(M: int, N: int, BLOCK_M: int, BLOCK_N: int, num_slots: int) -> "
                                "tuple[int, int, float]"),
        cases=_waves_cases, expected=_waves_ref, rtol=1e-9,
        mistakes=[
            Mistake("you rounded the tile counts down: a ragged edge still needs a tile",
                    value=lambda *a: waves(*a, tiles_round=math.floor)),
            Mistake("you rounded the waves down: a partial wave still costs a whole wave",
                    value=lambda *a: waves(*a, waves_round=math.floor)),
            Mistake("tiles // slots + 1 counts one wave too many when the tiles fill the slots exactly: round up "
                    "with math.ceil", value=lambda *a: waves(*a, waves_round=one_too_many)),
            Mistake("you returned the wave efficiency as a percentage; the answer is a fraction (at most 1)",
                    value=lambda *a: _scaled_last(waves(*a), 100)),
            Mistake("you returned the fractional waves (tiles / slots) instead of whole ones",
                    value=_waves_fraction),
            Mistake("the wave efficiency is upside down: work done / slot-time paid, at most 1",
                    value=_waves_inverse),
            Mistake("you swapped the blocks: M is cut by BLOCK_M, N by BLOCK_N",
                    value=lambda M, N, bm, bn, slots: waves(M, N, bn, bm, slots)),
            Mistake("that is how full the last wave is; the wave efficiency is over all waves: tiles / (full waves x "
                    "slots)", value=_last_wave_fill),
            Mistake("you used 148 (a B200's SMs) whatever num_slots says: a 2-CTA tile or an H200 has other slots",
                    value=lambda M, N, bm, bn, slots: waves(M, N, bm, bn, 148)),
        ],
        hint="Both counts round up (math.ceil); efficiency = tiles / (full waves x slots)."),

    Exercise.single(
        "06.4", "predict % of peak",
        reads=Function("predict_pct", "(M: int, N: int, K: int, BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, "
                                      "num_slots: int, sustained: float = 1.0) -> float", "%"),
        cases=_pct_cases, expected=_pct, rtol=1e-6,
        mistakes=[
            _FRACTION,
            Mistake("you left out the wave efficiency", value=lambda *a: _pct(*a, wave=False)),
            Mistake("you left out the tile efficiency", value=lambda *a: _pct(*a, tile=False)),
            Mistake("you forgot the sustained factor", value=lambda *a: _pct(*a, s=False)),
            Mistake("you divided by the sustained factor: the chip sustains a fraction of the peak, so multiply",
                    value=lambda *a: _pct(*a, s=False) / a[7]),
            Mistake("you swapped the blocks: M is cut by BLOCK_M, N by BLOCK_N",
                    value=lambda M, N, K, bm, bn, bk, *a: _pct(M, N, K, bn, bm, bk, *a)),
            Mistake("you used 148 (a B200's SMs) whatever num_slots says: an H200 or a 2-CTA tile has other slots",
                    value=lambda M, N, K, bm, bn, bk, slots, *a: _pct(M, N, K, bm, bn, bk, 148, *a)),
            Mistake("your tile efficiency leaves out K: K is padded to whole BLOCK_K steps too",
                    value=lambda *a: _pct(*a, pad_k=False)),
        ],
        hint="100 x sustained x tile efficiency x wave efficiency."),

    Exercise.choice(
        "06.5", "pick a tile for N=17290", "tile_choice", list(eff.TILES), answer=_tile_choice,
        wrong={n: _why_not(n) for n in eff.TILES if n != _tile_choice()},
        hint="Two tiles tie on predicted % of peak; prefer the one that loads fewer bytes per FLOP."),

    Exercise.single(
        "06.6", "calibrate, then predict",
        reads=Function("calibrated_prediction", "(measured_pct: float, raw_cal_pct: float, raw_target_pct: float) "
                                                "-> float", "%"),
        cases=_cal_cases, expected=_calibrated, rtol=1e-6,
        mistakes=[
            Mistake("you used the raw (datasheet) prediction without calibrating", value=lambda m, c, t: t),
            Mistake("you multiplied by the measured % instead of by the fitted fraction measured / raw",
                    value=lambda m, c, t: m * t),
            Mistake("you carried the measured value over unchanged: the target has other tile and wave losses",
                    value=lambda m, c, t: m),
            Mistake("the fitted fraction is upside down: sustained = measured / raw (at most 1)",
                    value=lambda m, c, t: c / m * t),
            Mistake("you swapped the shapes: fit at the calibration shape (raw_cal_pct), apply at the target",
                    value=lambda m, c, t: m / t * c),
            _FRACTION,
            Mistake("you scaled by the measured % as a fraction of the peak (measured / 100); the fitted fraction "
                    "is measured / raw_cal_pct: the model already predicts the raw_cal_pct part",
                    value=lambda m, c, t: m / 100 * t),
            Mistake("you shifted by the difference (raw_cal - measured points); sustained is a factor: multiply by "
                    "measured / raw_cal_pct", value=lambda m, c, t: t - (c - m)),
            Mistake("you hard-coded the lab's 80%: use measured_pct (the other inputs are made up)",
                    value=lambda m, c, t: _calibrated(80.0, c, t)),
        ],
        hint="sustained = measured / raw at the calibration shape; the prediction is sustained x raw at the target."),
)
