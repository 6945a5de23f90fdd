"""Exercises of lab 01 (Tensor Cores): what each check reads, the inputs it tries, the mistakes it names."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from bwkit import formats
from bwkit import pipeline as pl
from bwkit import tensorcores as tc
from bwkit.kit.checks import compare, describe_value, narrow_float
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import Case, Exercise, Function, Mistake, Part


@dataclass(frozen=True)
class RaisedValueError:
    """What a check records when the answer raised ValueError, as it must for bad tiles (a bwkit dataclass the
    codec carries: no value a learner's function returns by accident, unlike the text "raises ValueError")."""


RAISES = RaisedValueError()


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _raised(x: Any) -> bool:
    return isinstance(x, RaisedValueError)


def _probe_raising(name: str):
    """A probe that calls answer `name` and records a ValueError as RAISES (other exceptions stay errors)."""
    def probe(answers: Mapping[str, Any], case: Case) -> Any:
        try:
            return answers[name](*case.args, **dict(case.kwargs))
        except ValueError:
            return RAISES
    return probe


def _probe_bad_m(answers: Mapping[str, Any], case: Case) -> Any:
    """`_probe_raising` for the BLOCK_M no 1-CTA MMA has: a bare `raise NotImplementedError` there is the learner's
    "not supported", not the exercise stub (a stub raises on the legal tiles first, whose part comes first), so it
    gets a message and is told as the wrong exception, not as "not answered yet"."""
    try:
        return _probe_raising("tmem_alloc_columns")(answers, case)
    except NotImplementedError as e:
        if str(e).strip():
            raise
        raise NotImplementedError(f"(no message) for BLOCK_M={case.args[0]}") from None


def _compare_raising(got: Any, want: Any) -> tuple[bool, list[str]]:
    if _raised(want):
        if _raised(got):
            return True, []
        shown = repr(got) if _is_num(got) or got is None else describe_value(got)
        return False, [f"returned {shown} instead of raising ValueError: no single CTA's tcgen05.mma has this "
                       "BLOCK_M"]
    if _raised(got):
        return False, ["raised ValueError, but this is a legal 1-CTA tile (BLOCK_M 64 or 128)"]
    return compare(got, want, atol=0, rtol=0)


# ------------------------------------------------------------------------------------------------ 01.1
def _alloc_reference(M: int, N: int, buffers: int) -> Any:
    try:
        return tc.tmem_budget(M, N, acc_buffers=buffers).allocated
    except ValueError:
        return RAISES


def _legal_tiles(rng: random.Random) -> list[Case]:
    fixed = [Case((128, 256, 2), "128x256, double-buffered"), Case((64, 128, 1), "M=64"),
             Case((128, 96, 1), "N=96"), Case((128, 16, 1), "N=16"), Case((128, 48, 3), "three buffers")]
    drawn = []
    for _ in range(2):
        buffers = rng.choice([1, 2])
        n = 8 * rng.randrange(3, 256 // (8 * buffers) + 1)
        drawn.append(Case((rng.choice([64, 128]), n, buffers), "a random tile"))
    return fixed + drawn


def _bytes_not_columns(got, want, M, N, buffers) -> bool | None:
    if not _is_num(got) or _raised(want):
        return None
    return got in (4 * N * buffers, tc.round_alloc(4 * N * buffers), 4 * want)


_CELLS = "a TMEM column is 128 lanes x 32 bits"
PART_LEGAL = Part(
    reads=(Function("tmem_alloc_columns", "(BLOCK_M: int, BLOCK_N: int, acc_buffers: int) -> int", "columns"),),
    cases=_legal_tiles, expected=_alloc_reference, probe=_probe_raising("tmem_alloc_columns"),
    compare=_compare_raising, name="legal 1-CTA tile",
    mistakes=(
        Mistake("M=64 is a legal 1-CTA MMA (its rows use half the lanes): raise only for a BLOCK_M other than 64 "
                "or 128", when=lambda got, want, M, N, b: _raised(got) and M == 64),
        Mistake("TMEM columns counted in bytes (2048 vs 512: a TMEM column is 32 bits, a CTA has 512 columns): "
                "an fp32 output column takes one TMEM column", when=_bytes_not_columns),
        Mistake("tcgen05.alloc rounds up to a power of two, at least 32 columns: round N x acc_buffers up",
                when=lambda got, want, M, N, b: _is_num(got) and got in (N * b, max(32, N * b))),
        Mistake("round the total, not each buffer: one tcgen05.alloc holds all acc_buffers accumulators "
                "(N x acc_buffers, then the power of two)", value=lambda M, N, b: tc.round_alloc(N) * b),
        Mistake("M=64 still takes N columns (its rows use half the lanes, not half the columns)",
                value=lambda M, N, b: tc.round_alloc(N * b * M // 128)),
        Mistake("acc_buffers multiplies the columns (double buffering = two accumulators)",
                value=lambda M, N, b: tc.round_alloc(N)),
        Mistake("the columns follow N (one per output column); the M rows sit in the 128 lanes",
                value=lambda M, N, b: tc.round_alloc(M * b)),
        Mistake("tcgen05.alloc allocates at least 32 columns", value=lambda M, N, b: tc.round_alloc(N * b, minimum=1)),
        Mistake("an exact power of two is already a legal allocation: round with (n - 1).bit_length(), not "
                "n.bit_length() (that doubles 256 to 512)", value=lambda M, N, b: max(32, 1 << (N * b).bit_length())),
        Mistake("tcgen05.alloc takes a power of two (32, 64, 128, 256, 512), not any multiple of 32",
                value=lambda M, N, b: max(32, -(-(N * b) // 32) * 32)),
        Mistake("round the column count up (math.ceil of the log2), not to the nearest power of two",
                value=lambda M, N, b: max(32, 2 ** round(math.log2(N * b)))),
    ),
    hint=f"Columns follow N ({_CELLS}, one per fp32 output column): N x acc_buffers, then a power of two >= 32.")

_NEEDS_PAIR = ("a 1-CTA tcgen05.mma has M in {64, 128}: M=256 needs a CTA pair (cta_group::2, its accumulator "
               "spread over both CTAs' TMEM), so for one CTA raise ValueError")
PART_BAD_M = Part(
    reads=PART_LEGAL.reads,
    cases=(Case((256, 128, 1), "M=256 on one CTA"), Case((32, 64, 1), "M=32")),
    expected=_alloc_reference, probe=_probe_bad_m, compare=_compare_raising,
    name="no 1-CTA MMA has this M",
    mistakes=(
        Mistake("raise for every BLOCK_M other than 64 or 128: M=32 is no tcgen05.mma shape either (not only "
                "M > 128)", when=lambda got, want, M, N, b: not _raised(got) and M == 32),
        Mistake(_NEEDS_PAIR, when=lambda got, want, *a: not _raised(got)),
        Mistake("raise ValueError, not assert: an assert raises AssertionError (and vanishes under python -O)",
                error="AssertionError"),
        Mistake("raise ValueError (it names a bad argument); a bare Exception or RuntimeError is not one",
                error="Exception:"),
        Mistake("raise ValueError (it names a bad argument); a bare Exception or RuntimeError is not one",
                error="RuntimeError"),
        Mistake("raise ValueError: BLOCK_M has the right type but a bad value (TypeError is for a wrong type)",
                error="TypeError"),
        Mistake("raise ValueError: NotImplementedError says a feature is missing, not that an argument is bad",
                error="NotImplementedError"),
    ),
    hint="BLOCK_M must be 64 or 128 for one CTA: check it first and raise ValueError otherwise.")


# ------------------------------------------------------------------------------------------------ 01.2
_CONTAINER_BITS = {"f16": 16, "tf32": 32, "f8f6f4": 8, "mxf8f6f4": 8, "mxf4": 4, "mxf4nvf4": 4}
_KIND_ELEMENTS = [("f16", "f16"), ("f16", "bf16"), ("tf32", "tf32"), ("f8f6f4", "e4m3"), ("f8f6f4", "e2m1"),
                  ("f8f6f4", "e3m2"), ("mxf8f6f4", "e5m2"), ("mxf8f6f4", "e2m1"), ("mxf4", "e2m1"),
                  ("mxf4nvf4", "e2m1")]


def _k_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((128, "f16", "bf16"), "kind::f16"), Case((128, "f8f6f4", "e4m3"), "FP8"),
             Case((128, "f8f6f4", "e2m1"), "FP4 in kind::f8f6f4"), Case((128, "mxf4nvf4", "e2m1"), "NVFP4"),
             Case((64, "tf32", "tf32"), "tf32"), Case((128, "mxf8f6f4", "e3m2"), "FP6 in kind::mxf8f6f4"),
             Case((256, "mxf4", "e2m1"), "MXFP4"), Case((128, "mxf8f6f4", "e2m1"), "FP4 in kind::mxf8f6f4")]
    return fixed + [Case((rng.choice([64, 128, 256]), *rng.choice(_KIND_ELEMENTS)), "random") for _ in range(3)]


def _sub_byte_in_byte_kind(got, want, bk, kind, element) -> bool:
    """Failing inputs are all sub-byte elements of f8f6f4/mxf8f6f4 counted at their own width."""
    bits = tc.ELEMENT_BITS[element]
    return kind in ("f8f6f4", "mxf8f6f4") and bits < 8 and got in (bk * bits // 256, bk // (256 // bits))


def _by_kind(kind_wanted: str, wrong_bits: int):
    def when(got, want, bk, kind, element) -> bool:
        return kind == kind_wanted and got == bk * wrong_bits // 256
    return when


# ------------------------------------------------------------------------------------------------ 01.3
_TARGETS = ("sm_80", "sm_90a", "sm_100a", "sm_120")


def _mma_counts() -> dict[str, int]:
    return {t: tc.mma_per_k_step(t, 128, 128, 64) for t in _TARGETS}


def _key_is(target: str, wrong):
    def when(got, want) -> bool:
        if not isinstance(got, Mapping) or set(got) != set(want):
            return False
        w = wrong(want)
        return _is_num(got[target]) and got[target] == w and got[target] != want[target]
    return when


def _keys_differ(got, want) -> bool:
    return isinstance(got, Mapping) and set(got) != set(want)


# ------------------------------------------------------------------------------------------------ 01.4
def _nvfp4_case(seed: int, n: int, label: str) -> Case:
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 16, (128, 64), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 16, (64, n), generator=g, dtype=torch.uint8)
    sf_a = torch.randint(0x30, 0x40, (128, 4), generator=g, dtype=torch.uint8)   # UE4M3 0.5 .. 1.875
    sf_b = torch.randint(0x38, 0x48, (n, 4), generator=g, dtype=torch.uint8)     # UE4M3 1.0 .. 3.75
    return Case((a, sf_a, b, sf_b), label)


def _nvfp4_cases(rng: random.Random) -> list[Case]:
    n = rng.choice([16, 24, 40, 48, 80, 96, 136])
    return [_nvfp4_case(4, 32, "seed 4, N=32"), _nvfp4_case(rng.randrange(2**31), n, f"random, N={n}")]


def _nvfp4_mma(a, sf_a, b, sf_b):
    return tc.tcgen05_mma(a, b, kind="mxf4nvf4", a_fmt="e2m1", b_fmt="e2m1", sf_a=sf_a, sf_b=sf_b, sf_vec=16,
                          sf_fmt="ue4m3")


def _scaled(a, sa, b, sb, vec=16):
    av = formats.decode(a, "e2m1").double() * sa.repeat_interleave(vec, 1)[:, :a.shape[1]]
    bv = formats.decode(b, "e2m1").double() * sb.repeat_interleave(vec, 1)[:, :b.shape[0]].T
    return (av @ bv).float()


def _dec(sf, fmt="ue4m3"):
    return formats.decode(sf, fmt).double()


def _tiled_scales(a, sa, b, sb):
    """D with the scales tiled (`repeat`) instead of repeated element-wise (`repeat_interleave`)."""
    av = formats.decode(a, "e2m1").double() * _dec(sa).repeat(1, 16)
    bv = formats.decode(b, "e2m1").double() * _dec(sb).repeat(1, 16).T
    return (av @ bv).float()


def _compare_fp32_d(got: Any, want: Any) -> tuple[bool, list[str]]:
    """The numeric comparison (atol 1e-3, rtol 1e-5), and D must be float32 as the prompt says: tcgen05.mma
    accumulates in fp32, and a float16/bfloat16 D would be checked only to its own, far coarser, rounding."""
    ok, lines = compare(got, want, atol=1e-3, rtol=1e-5)
    narrow = narrow_float(got)
    if narrow is None or not ok:
        return ok, lines
    return False, [f"D is {narrow}, expected float32 (tcgen05.mma accumulates in fp32): return it without the "
                   f"cast to {narrow}"]


def _right_but_narrow(got: Any, want: Any, *args: Any) -> bool:
    """D is right to its own rounding, but float16/bfloat16 (a wrong D in a narrow dtype is told by `compare`)."""
    return narrow_float(got) is not None and compare(got, want, atol=1e-3, rtol=1e-5)[0]


# ------------------------------------------------------------------------------------------------ 01.5
def _stage_cases(rng: random.Random) -> list[Case]:
    c = pl.PipelineConfig()
    fixed = [Case((c.load_latency_ns, c.transfer_ns, c.mma_ns), "the B200 numbers of step 6"),
             Case((500.0, 100.0, 200.0), "latency 500, transfer 100, MMA 200 ns")]
    drawn, seen = [], set()
    for lo, hi in ((0.1, 0.45), (0.55, 0.9)):      # one fraction below 1/2, one above: round() != ceil()
        while True:
            lat, mma = round(rng.uniform(200, 1500), 1), round(rng.uniform(150, 500), 1)
            tr = round(rng.uniform(20, 0.6 * mma), 1)
            r = (lat + tr + mma) / mma
            # the two differ in the answer and in ceil(latency / MMA): no constant fits both, nor a wrong model
            if r <= 12 and lo < r - math.floor(r) < hi and not seen & {("r", math.ceil(r)), ("l", -(-lat // mma))}:
                break
        seen |= {("r", math.ceil(r)), ("l", -(-lat // mma))}
        drawn.append(Case((lat, tr, mma), "a random pipeline"))
    return fixed + drawn


def _stages_reference(lat, tr, mma) -> int:
    return pl.min_stages(pl.PipelineConfig.from_times(lat, tr, mma))


def _not_whole(got, want, *args) -> bool:
    return _is_num(got) and float(got) != int(float(got))


# ------------------------------------------------------------------------------------------------ 01.6
_GENERATIONS = ("Ampere", "Hopper", "Blackwell")


def _generations() -> dict[str, str]:
    return {label: tc.generation_of(t) for label, t in tc.MYSTERY_TARGETS.items()}


def _swapped(a: str, b: str):
    def value():
        want = _generations()
        inv = {v: k for k, v in want.items()}
        out = dict(want)
        out[inv[a]], out[inv[b]] = b, a
        return out
    return value


def _rotated(k: int):
    def value():
        want = _generations()
        labels = sorted(want)
        return {lab: want[labels[(i + k) % 3]] for i, lab in enumerate(labels)}
    return value


_ALL_WRONG = ("all three labels are wrong (they follow no order, release order neither): read each kernel's MMA "
              "instruction (mma.sync: Ampere, wgmma: Hopper, tcgen05: Blackwell)")


def _values(got) -> list:
    return list(got.values()) if isinstance(got, Mapping) else []


# ------------------------------------------------------------------------------------------------ 01.7
def _pair_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((256, 256, 2), "M=256 on a CTA pair"), Case((128, 256, 1), "M=128 on one CTA"),
             Case((256, 96, 2), "M=256, N=96 on a pair"), Case((64, 128, 1), "M=64 on one CTA"),
             Case((128, 16, 1), "M=128, N=16 on one CTA")]
    return fixed + [Case((256, 16 * rng.randrange(2, 17), 2), "a random pair tile"),
                    Case((128, 8 * rng.randrange(2, 33), 1), "a random 1-CTA tile")]


def _footprint(M: int, N: int, g: int) -> tuple[int, int]:
    """(accumulator rows one CTA holds, TMEM columns they take) for an fp32 M x N accumulator."""
    return M // g, tc.accumulator_columns(M, N, cta_group=g)


register(
    Exercise("01.1", "TMEM columns for a tile", (PART_LEGAL, PART_BAD_M),
             hint="Columns follow N (one 32-bit column per fp32 output column); BLOCK_M must be 64 or 128."),

    Exercise.single(
        "01.2", "MMA K for a kind",
        reads=Function("mmas_per_k_step", "(BLOCK_K: int, kind: str, element: str) -> int", "instructions"),
        cases=_k_cases, expected=lambda bk, kind, element: bk // tc.k_per_instruction(kind), rtol=0,
        mistakes=[
            Mistake("in kind::f8f6f4 / kind::mxf8f6f4 an FP4 or FP6 element still occupies a byte: K = 32 "
                    "(only kind::mxf4 / kind::mxf4nvf4 pack two FP4 per byte, K = 64)", when=_sub_byte_in_byte_kind),
            Mistake("tf32 elements are 32 bits: K = 8", when=_by_kind("tf32", 16)),
            Mistake("kind::mxf4 and kind::mxf4nvf4 pack two FP4 per byte: K = 64, not 32",
                    when=lambda got, want, bk, kind, el: kind in ("mxf4", "mxf4nvf4") and got == bk // 32),
            Mistake("that is K per instruction; the check wants instructions per K step: BLOCK_K / K",
                    value=lambda bk, kind, el: tc.k_per_instruction(kind)),
            Mistake("every kind reads 256 bits of operand per row: K = 256 / bits per stored element "
                    "(16 f16, 8 tf32, 32 bytes, 64 packed FP4)",
                    when=lambda got, want, bk, kind, el: _is_num(got) and got == bk // 16 and want != got),
            Mistake("integer division first: BLOCK_K // 256 is 0 for BLOCK_K < 256; multiply before dividing "
                    "(BLOCK_K * bits // 256)", value=lambda bk, kind, el: bk // 256 * _CONTAINER_BITS[kind]),
            Mistake("bits and bytes mixed: the rule is 256 bits = 32 bytes of operand per row (x8 off)",
                    ratio=(8, 1 / 8)),
        ],
        hint="K per instruction = 256 bits / bits per element as stored; in f8f6f4/mxf8f6f4 every element is a "
             "byte."),

    Exercise.single(
        "01.3", "MMAs per K step per target",
        reads=Function("predict_mma_per_k_step", "() -> dict[str, int]", "instructions per K step"),
        expected=_mma_counts, rtol=0,
        mistakes=[
            Mistake('the keys are the four targets "sm_80", "sm_90a", "sm_100a", "sm_120"', when=_keys_differ),
            Mistake("count the mma.sync of one warp (the PTX is one warp's program), not of all 4",
                    when=_key_is("sm_80", lambda w: 4 * w["sm_80"])),
            Mistake("a K step of 64 is four k16 slices: multiply by BLOCK_K / 16",
                    when=_key_is("sm_80", lambda w: w["sm_80"] // 4)),
            Mistake("wgmma is m64: the 128-row tile takes two of them per K slice",
                    when=_key_is("sm_90a", lambda w: w["sm_90a"] // 2)),
            Mistake("wgmma's N goes up to 256: one m64n128k16 covers the tile's whole N=128 (not two n64)",
                    when=_key_is("sm_90a", lambda w: 2 * w["sm_90a"])),
            Mistake("a K step of 64 is four k16 slices for wgmma too: (128 / 64) x (64 / 16)",
                    when=_key_is("sm_90a", lambda w: w["sm_90a"] // 4)),
            Mistake("fp16 mma.sync is m16n8k16 (K=16 per instruction, not 8)",
                    when=_key_is("sm_80", lambda w: 2 * w["sm_80"])),
            Mistake("the sm_100a kernel holds 8 tcgen05.mma, but 4 are the peeled first iteration",
                    when=_key_is("sm_100a", lambda w: 2 * w["sm_100a"])),
            Mistake("sm_100a: one tcgen05.mma covers M=128 x N=128; a K step of 64 is four of them (K=16 each)",
                    when=_key_is("sm_100a", lambda w: w["sm_100a"] // 4)),
            Mistake("sm_120 (consumer Blackwell) has no tcgen05: its fp16 GEMM is Ampere's mma.sync, the same "
                    "count as sm_80", when=_key_is("sm_120", lambda w: w["sm_100a"])),
            Mistake("sm_120 (consumer Blackwell) has no wgmma either: its fp16 GEMM is Ampere's mma.sync, the same "
                    "count as sm_80", when=_key_is("sm_120", lambda w: w["sm_90a"])),
        ],
        hint="mma.sync: one warp's 64x64 share in m16n8k16; wgmma: m64 x N=128; tcgen05: M=128 x N=128; "
             "K=16 each."),

    Exercise.single(
        "01.4", "functional NVFP4 tcgen05.mma",
        reads=Function("my_mma_nvfp4", "(a_codes, sf_a, b_codes, sf_b) -> torch.Tensor [128, N] float32"),
        cases=_nvfp4_cases, expected=_nvfp4_mma, compare=_compare_fp32_d,
        mistakes=[
            Mistake("return D as float32, as the prompt asks: tcgen05.mma accumulates in fp32 (a float16/bfloat16 D "
                    "keeps only 11/8 significant bits)", when=_right_but_narrow),
            Mistake("the scale factors were not applied",
                    value=lambda a, sa, b, sb: (formats.decode(a, "e2m1").double()
                                                @ formats.decode(b, "e2m1").double()).float()),
            Mistake("scales are codes: decode them (UE4M3) before multiplying",
                    value=lambda a, sa, b, sb: _scaled(a, sa.double(), b, sb.double())),
            Mistake("NVFP4 scales are UE4M3 (E4M3 without a sign), not UE8M0 (that is MX)",
                    value=lambda a, sa, b, sb: _scaled(a, _dec(sa, "ue8m0"), b, _dec(sb, "ue8m0"))),
            Mistake("NVFP4 blocks hold 16 (4 block scales for 64 values), not 32",
                    value=lambda a, sa, b, sb: _scaled(a, _dec(sa), b, _dec(sb), vec=32)),
            Mistake("repeat(1, 16) tiles the 4 scales (element k takes scale k % 4); repeat_interleave(16, 1) "
                    "repeats each one 16 times (scale k // 16)", value=_tiled_scales),
            Mistake("sf_b was not applied: scale B's columns too (sf_b[n, k // 16])",
                    value=lambda a, sa, b, sb: _scaled(a, _dec(sa), b, torch.ones_like(_dec(sb)))),
            Mistake("sf_a was not applied: scale A's rows too (sf_a[m, k // 16])",
                    value=lambda a, sa, b, sb: _scaled(a, torch.ones_like(_dec(sa)), b, _dec(sb))),
            Mistake("multiply by the decoded scales: value = element x scale (you divided)",
                    value=lambda a, sa, b, sb: _scaled(a, 1 / _dec(sa), b, 1 / _dec(sb))),
            Mistake("NVFP4 blocks hold 16 (4 block scales for 64 values), not 32",
                    error="(64) must match the size of tensor b (128)"),
            Mistake("sf_b is N x 4 (one row of scales per column of B): expand it to N x 64 and transpose it "
                    "(.T) before scaling B's columns", error="the size of tensor b (64) at non-singleton dimension 1"),
        ],
        hint="Element (m, k) of A takes sf_a[m, k // 16], element (k, n) of B takes sf_b[n, k // 16]."),

    Exercise.single(
        "01.5", "stages to cover latency",
        reads=Function("stages_to_hide_latency", "(load_latency_ns: float, transfer_ns: float, mma_ns: float) "
                       "-> int", "stages"),
        cases=_stage_cases, expected=_stages_reference, rtol=0,
        mistakes=[
            Mistake("the answer is a whole number of stages: round up with math.ceil", when=_not_whole),
            Mistake("latency / MMA counts only the wait: a slot is also busy during its transfer and while its "
                    "own MMA reads it", value=lambda lat, tr, mma: math.ceil(lat / mma)),
            Mistake("latency / MMA + 1 leaves out the transfer time",
                    value=lambda lat, tr, mma: math.ceil(lat / mma) + 1),
            Mistake("(latency + transfer) / MMA forgets that the slot stays busy during the MMA that reads it",
                    value=lambda lat, tr, mma: math.ceil((lat + tr) / mma)),
            Mistake("round up: a fraction of a stage still needs a whole slot (math.ceil, not round/int)",
                    value=lambda lat, tr, mma: round((lat + tr + mma) / mma)),
            Mistake("round up: a fraction of a stage still needs a whole slot (math.ceil, not round/int)",
                    value=lambda lat, tr, mma: int((lat + tr + mma) / mma)),
            Mistake("floor + 1 is math.ceil only when the ratio has a fraction: (500 + 100 + 200) / 200 is exactly "
                    "4 stages, not 5", value=lambda lat, tr, mma: int((lat + tr + mma) // mma) + 1),
            Mistake("divide by mma_ns: the Tensor Core takes a full slot every MMA, not every transfer",
                    value=lambda lat, tr, mma: math.ceil((lat + tr + mma) / tr)),
            Mistake("round the whole (latency + transfer + MMA) / MMA up once: a ceil per term (or ceil(latency / "
                    "MMA) + 2) can be one stage too many", value=lambda lat, tr, mma: math.ceil(lat / mma) + 2),
        ],
        hint="A slot is busy for latency + transfer + one MMA; the Tensor Core needs a full slot every mma_ns."),

    Exercise.single(
        "01.6", "name the generation",
        reads=Function("name_generations", '() -> dict[str, str] ("Ampere" | "Hopper" | "Blackwell")'),
        expected=_generations,
        mistakes=[
            Mistake('name the generation ("Ampere", "Hopper", "Blackwell"), not the target it was compiled for',
                    when=lambda got, want: any(isinstance(v, str) and v.strip().lower().startswith("sm_")
                                               for v in _values(got))),
            Mistake('write exactly one of "Ampere", "Hopper", "Blackwell" for each label',
                    when=lambda got, want: isinstance(got, Mapping) and any(
                        not isinstance(v, str) or v.strip().lower() not in [g.lower() for g in _GENERATIONS]
                        for v in _values(got))),
            Mistake('return a dict {label: generation}, e.g. {"X": ..., "Y": ..., "Z": ...}',
                    when=lambda got, want: not isinstance(got, Mapping)),
            Mistake('the keys are the labels "X", "Y", "Z"', when=_keys_differ),
            Mistake("wgmma (warpgroup MMA) is Hopper's; tcgen05 is Blackwell's", value=_swapped("Hopper", "Blackwell")),
            Mistake("mma.sync + ldmatrix is Ampere's warp-level MMA; wgmma is Hopper's",
                    value=_swapped("Ampere", "Hopper")),
            Mistake("mma.sync is Ampere's warp-level MMA; tcgen05 (Tensor Memory) is Blackwell's",
                    value=_swapped("Ampere", "Blackwell")),
            Mistake(_ALL_WRONG, value=_rotated(1)),
            Mistake(_ALL_WRONG, value=_rotated(2)),
        ],
        hint="mma.sync + ldmatrix: a warp, registers. wgmma: a warpgroup, shared memory. tcgen05: Tensor Memory."),

    Exercise.single(
        "01.7", "TMEM per CTA: M=256 on a CTA pair vs M=128 on one",
        reads=Function("tmem_footprint_per_cta", "(M: int, N: int, cta_group: int) -> tuple[int, int]",
                       "(rows, columns)"),
        cases=_pair_cases, expected=_footprint, rtol=0,
        mistakes=[
            Mistake("return (rows, columns) in that order", value=lambda M, N, g: _footprint(M, N, g)[::-1]),
            Mistake("a CTA pair splits M: each CTA holds M / 2 = 128 rows of the 256 in its own TMEM (and N "
                    "columns), not all 256", value=lambda M, N, g: (M, N)),
            Mistake("a CTA pair splits M, not N: with M=256 each CTA holds a 128-row half x N, so N columns per "
                    "CTA (not N/2)", value=lambda M, N, g: (M // g, N // g)),
            Mistake("a CTA pair splits M, not N: with M=256 each CTA holds a 128-row half x N, so N columns per "
                    "CTA (not N/2)", value=lambda M, N, g: (M, N // g)),
            Mistake("TMEM columns counted in bytes: a column is 32 bits, so an fp32 output column is one column",
                    value=lambda M, N, g: (M // g, 4 * N)),
            Mistake("M=64 still takes N columns (its 64 rows use half the lanes, not half the columns)",
                    value=lambda M, N, g: (M // g, N * (M // g) // 128)),
            Mistake("M=64 holds 64 rows (half of the 128 lanes): rows per CTA = M / cta_group",
                    value=lambda M, N, g: (128, N)),
            Mistake("that is tcgen05.alloc's power-of-two rounding; the check wants the accumulator's columns (N)",
                    value=lambda M, N, g: (M // g, tc.round_alloc(N))),
            Mistake("the 32-column minimum is tcgen05.alloc's (exercise 01.1); the accumulator itself takes N "
                    "columns, even below 32", value=lambda M, N, g: (M // g, max(32, N))),
            Mistake("only a CTA pair splits M: rows per CTA = M / cta_group (M=128 on one CTA keeps all 128)",
                    value=lambda M, N, g: (M // 2, N)),
            Mistake("a TMEM column is 32 bits wide: an fp32 output column takes one column, not 32",
                    value=lambda M, N, g: (M // g, 32 * N)),
            Mistake("a CTA pair splits M, not N: each CTA still takes N columns (not N x cta_group)",
                    value=lambda M, N, g: (M // g, N * g)),
            Mistake("return the pair (rows, columns), not one number",
                    when=lambda got, want, *a: _is_num(got)),
        ],
        hint="A CTA pair splits the M rows over the two CTAs' lanes; the N columns stay N in each CTA."),
)
