"""Exercises of lab 00 (hardware and roofline): what each check reads, the inputs it tries, the mistakes it names."""

from __future__ import annotations

import math
import random

from bwkit import hw
from bwkit.kit.checks import narrow_float
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import Case, Exercise, Function, Mistake, Value, wrong_unit


def _gpu_cases(rng: random.Random, fixed: list[Case]) -> list[Case]:
    """The cases the notebook talks about, plus a made-up GPU (so no hard-coded answer passes)."""
    return fixed + [Case((round(rng.uniform(200, 9000), 1), round(rng.uniform(1.0, 10.0), 2)), "a made-up GPU")]


register(
    Exercise.single(
        "00.1", "ridge point",
        reads=Function("ridge_point", "(peak_tflops: float, bandwidth_tbps: float) -> float", "FLOP/byte"),
        cases=lambda rng: _gpu_cases(rng, [Case((4500, 8.0), "B200 FP8"), Case((989, 3.35), "H100 BF16")]),
        expected=lambda peak, bw: (peak * 1e12) / (bw * 1e12), rtol=1e-6,
        mistakes=[
            Mistake("you divided bandwidth by peak: the inverse of the ridge point", value=lambda p, b: b / p),
            Mistake("you mixed units (TFLOP/s with GB/s, or PFLOP/s with TB/s): off by 1000", ratio=(1e3, 1e-3)),
            Mistake("you used the sparse peak (2x the dense one)", ratio=2),
            Mistake("you multiplied peak by bandwidth; the ridge point is peak / bandwidth", value=lambda p, b: p * b),
            Mistake("operator precedence: `a * 1e12 / b * 1e12` multiplies by the second 1e12 after dividing; put "
                    "the denominator in parentheses", ratio=1e24),
            Mistake("TB/s is 10^12 bytes/s (decimal, like TFLOP/s), not 2^40 (TiB/s)",
                    ratio=(1e12 / 2**40, 2**40 / 1e12)),
            Mistake("the bandwidth is in bytes per second: a factor of 8 (bits vs bytes) slipped in", ratio=(1 / 8, 8)),
            Mistake("keep the fraction: // or round() cut it off (use /)",
                    when=lambda got, want, p, b: isinstance(got, (int, float)) and got != want
                    and got in (math.floor(want), round(want))),
        ],
        hint="FLOP/s divided by byte/s is FLOP per byte; convert both to base units first."),

    Exercise.single(
        "00.2", "GEMM intensity",
        reads=Function("gemm_intensity", "(M: int, N: int, K: int, in_bytes: float, out_bytes: float) -> float",
                       "FLOP/byte"),
        cases=lambda rng: [Case((8192, 8192, 8192, 2, 2), "square bf16"), Case((32, 7168, 7168, 1, 2), "decode fp8"),
                           Case((1, 4096, 4096, 2, 2), "one token"),
                           Case((rng.randrange(1, 4096), rng.randrange(64, 8192), rng.randrange(64, 8192),
                                 rng.choice([0.5, 1, 2, 4]), rng.choice([1, 2, 4])), "random shape")],
        expected=lambda M, N, K, i, o: hw.gemm_intensity(M, N, K, i, i, o), rtol=1e-9,
        mistakes=[
            Mistake("a multiply-add is 2 FLOPs: you counted 1", ratio=0.5),
            Mistake("C is written once, not read and written",
                    value=lambda M, N, K, i, o: 2 * M * N * K / ((M * K + K * N) * i + 2 * M * N * o)),
            Mistake("you forgot the bytes of C", value=lambda M, N, K, i, o: 2 * M * N * K / ((M * K + K * N) * i)),
            Mistake("you counted elements, not bytes (the element sizes are missing)",
                    value=lambda M, N, K, i, o: 2 * M * N * K / (M * K + K * N + M * N)),
            Mistake("in_bytes and out_bytes are swapped: A and B are the inputs, C the output",
                    value=lambda M, N, K, i, o: 2 * M * N * K / ((M * K + K * N) * o + M * N * i)),
            Mistake("C is written in out_bytes per element, not in_bytes",
                    value=lambda M, N, K, i, o: 2 * M * N * K / ((M * K + K * N + M * N) * i)),
            Mistake("that is the shortcut 2M / in_bytes (weights only, M << N, K): count the bytes of A, B and C",
                    value=lambda M, N, K, i, o: 2 * M / i),
            Mistake("keep the fraction: // cut it off (use /)",
                    when=lambda got, want, *a: isinstance(got, (int, float)) and got != want
                    and got == math.floor(want)),
        ],
        hint="FLOPs = 2·M·N·K; bytes = (M·K + K·N)·in_bytes + M·N·out_bytes."),

    Exercise.single(
        "00.3", "attainable throughput",
        reads=Function("attainable_tflops", "(peak_tflops: float, bandwidth_tbps: float, intensity: float) -> float",
                       "TFLOP/s"),
        cases=lambda rng: [Case((hw.get_spec("H200").peak_tflops["bf16"], hw.get_spec("H200").hbm_tbps, 31.8),
                                "H200 bf16, I=31.8"),
                           Case((hw.get_spec("B200").peak_tflops["fp8"], hw.get_spec("B200").hbm_tbps, 2000.0),
                                "B200 fp8, I=2000"),
                           Case((hw.get_spec("B200").peak_tflops["fp4"], hw.get_spec("B200").hbm_tbps, 100.0),
                                "B200 fp4, I=100"),
                           Case((hw.get_spec("B200").peak_tflops["fp8"], hw.get_spec("B200").hbm_tbps, 0.5),
                                "B200 fp8, I=0.5 (an elementwise op)"),   # bandwidth x 1000 < peak: GB/s shows
                           Case((round(rng.uniform(100, 5000), 1), round(rng.uniform(1, 8), 2),
                                 round(rng.uniform(1, 2000), 1)), "a made-up GPU")],
        expected=lambda pk, bw, ai: min(pk, bw * ai), rtol=1e-9,
        mistakes=[
            Mistake("you took the max of the two limits; the lower one wins",
                    value=lambda pk, bw, ai: max(pk, bw * ai)),
            Mistake("you returned bandwidth x intensity without capping at the peak",
                    value=lambda pk, bw, ai: bw * ai),
            Mistake("the bandwidth is in TB/s: you took it as GB/s (x 1000), so the bandwidth limit came out 1000x "
                    "too high and the peak nearly always wins; TB/s x FLOP/byte is already TFLOP/s",
                    value=lambda pk, bw, ai: min(pk, bw * 1e3 * ai)),
            Mistake("you returned the peak without the bandwidth limit", value=lambda pk, bw, ai: pk),
            Mistake("you divided bandwidth by intensity; TB/s x FLOP/byte = TFLOP/s",
                    value=lambda pk, bw, ai: min(pk, bw / ai)),
            wrong_unit("FLOP/s", "TFLOP/s", 1e12),
            wrong_unit("GFLOP/s", "TFLOP/s", 1e3),
            wrong_unit("PFLOP/s", "TFLOP/s", 1e-3),
            Mistake("the bandwidth is in bytes per second: TB/s x FLOP/byte = TFLOP/s, no factor of 8 (bits)",
                    value=lambda pk, bw, ai: min(pk, bw * ai / 8)),
            Mistake("TB/s is 10^12 bytes/s (decimal, like TFLOP/s), not 2^40 (TiB/s)",
                    value=lambda pk, bw, ai: min(pk, bw * 2**40 / 1e12 * ai)),
        ],
        hint="TB/s x FLOP/byte = TFLOP/s; the lower of the two limits wins."),
)


def _ratio(precision: str | None) -> float:
    """H200 / B200 ratio of a peak (`precision`) or, for None, of the HBM bandwidth."""
    h, b = hw.get_spec("H200"), hw.get_spec("B200")
    return h.hbm_tbps / b.hbm_tbps if precision is None else h.peak_tflops[precision] / b.peak_tflops[precision]


def _truth_004() -> str:
    ai64 = hw.gemm_intensity(64, 4096, 7168, 1, 1, 2)
    return "memory" if ai64 < hw.ridge_point("B200", "fp8") else "compute"


register(
    Exercise.choice(
        "00.4", "memory- or compute-bound", "answer", ["memory", "compute"], answer=_truth_004,
        wrong={"compute": "I ≈ 2M = 128 FLOP/byte for 1-byte weights, far left of the B200 FP8 ridge point (~560): "
                          "the expert's weights dominate the bytes"}),

    Exercise.single(
        "00.5", "decode speed-up",
        reads=Value("b200_ms", "float", "ms"),
        expected=lambda: 10 * _ratio(None), rtol=1e-3,
        mistakes=[
            Mistake("you scaled by the BF16 compute ratio; a bandwidth-bound step scales with bandwidth",
                    value=lambda: 10 * _ratio("bf16")),
            Mistake("you scaled by the FP8 compute ratio; a bandwidth-bound step scales with bandwidth",
                    value=lambda: 10 * _ratio("fp8")),
            Mistake("the ratio is upside down: the faster memory must give a shorter time",
                    value=lambda: 10 / _ratio(None)),
            Mistake("that is the speed-up (a ratio), not the time in ms",
                    value=lambda: 1 / _ratio(None)),
            Mistake("that is H100's bandwidth (3.35 TB/s): the step runs on an H200 (4.8 TB/s)",
                    value=lambda: 10 * hw.get_spec("H100 SXM").hbm_tbps / hw.get_spec("B200").hbm_tbps),
            Mistake("that is the ratio of HBM capacities (GB); a bandwidth-bound step scales with TB/s",
                    value=lambda: 10 * hw.get_spec("H200").hbm_gb / hw.get_spec("B200").hbm_gb),
            wrong_unit("seconds", "ms", 1e-3),
            Mistake("write the time as a Python float: a bfloat16/float16 keeps only 8/11 significant bits, and "
                    "this value is off by more than its rounding",
                    when=lambda got, want: narrow_float(got) is not None),
        ],
        hint="Bandwidth-bound: time = bytes / bandwidth, and the bytes do not change."),
)
