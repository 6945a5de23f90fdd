"""Exercises of lab 02 (number formats): what each check reads, the inputs it tries, the mistakes it names."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Mapping
from typing import Any

import torch

from bwkit import formats as F
from bwkit.kit.checks import compare, compare_exact_dtype
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import Case, Exercise, Function, Mistake, Part

E2M1_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)   # magnitudes, index = code (the prompt of 02.2 gives them)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _numel(x: Any) -> int | None:
    if hasattr(x, "shape"):
        return int(math.prod(x.shape))
    if isinstance(x, (list, tuple)):
        return len(x)
    return None


def _compare_signed(got: Any, want: Any) -> tuple[bool, list[str]]:
    """Exact comparison in which -0.0 and +0.0 differ (lab 02 makes a point of it: code 1000 is -0, and
    -0.1 rounds to -0: the sign survives underflow)."""
    ok, lines = compare(got, want, atol=0, rtol=0)
    if not ok or not _is_num(want) or want != 0:
        return ok, lines
    try:
        g = float(got)
    except (TypeError, ValueError, RuntimeError):
        return ok, lines
    if math.copysign(1.0, g) == math.copysign(1.0, want):
        return True, []
    return False, [f"got {g!r}, expected {want!r}: the sign of zero differs (the sign bit survives a zero "
                   "magnitude)"]


# ------------------------------------------------------------------------------------------------ 02.1
def _e2m1(code: int) -> float:
    return float(F.decode(torch.tensor([code], dtype=torch.uint8), "e2m1")[0])


def _e2m1_wrong(kind: str):
    """What a classic wrong decoder returns for `code`."""
    def value(c: int) -> float:
        s, e, m = (c >> 3) & 1, (c >> 1) & 3, c & 1
        if kind == "no_subnormal":
            mag = (1 + m / 2) * 2.0 ** (e - 1) if c & 7 else 0.0
        elif kind == "normal_all":
            mag = (1 + m / 2) * 2.0 ** (e - 1)
        elif kind == "no_bias_sub0":
            mag = (m / 2) if e == 0 else (1 + m / 2) * 2.0 ** e
        elif kind == "no_bias":
            mag = (m / 2) * 2.0 if e == 0 else (1 + m / 2) * 2.0 ** e
        elif kind == "mantissa_int":
            mag = m * 1.0 if e == 0 else (1 + m) * 2.0 ** (e - 1)
        elif kind == "sub_exp":
            mag = (m / 2) * 2.0 ** -1 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
        elif kind == "e_unshifted":                 # e = code & 6: the exponent bits left in place
            e = c & 6
            mag = (m / 2) if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
        elif kind == "sub_m":                       # subnormal taken as m, not 0.m
            mag = float(m) if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
        elif kind == "fields":                      # read as s m e e
            m, e = (c >> 2) & 1, c & 3
            mag = (m / 2) if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
        else:
            mag = (m / 2) if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
        return -mag if (s and kind != "no_sign") else mag
    return value


# ------------------------------------------------------------------------------------------------ 02.2
def _round_ref(x: float) -> float:
    return float(F.round_to_format(torch.tensor([x], dtype=torch.float64), "e2m1")[0])


def _grid_pick(x: float, key) -> float:
    a = min(abs(x), 6.0)
    i = key(a)
    return -E2M1_GRID[i] if x < 0 else E2M1_GRID[i]


def _away(x: float) -> float:
    return _grid_pick(x, lambda a: min(range(8), key=lambda c: (abs(a - E2M1_GRID[c]), -c)))


def _tie_low(x: float) -> float:
    return _grid_pick(x, lambda a: min(range(8), key=lambda c: (abs(a - E2M1_GRID[c]), c)))


def _trunc(x: float) -> float:
    return _grid_pick(x, lambda a: max(c for c in range(8) if E2M1_GRID[c] <= a))


def _round_cases(rng: random.Random) -> list[Case]:
    tests = [0.2, 0.25, 0.3, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 5.5, 6.5, 100.0, -0.75, -5.0, -7.0, -0.1]
    cases = [Case((x,), "") for x in tests]
    i = rng.randrange(7)
    tie = (E2M1_GRID[i] + E2M1_GRID[i + 1]) / 2 * rng.choice([1, -1])
    cases += [Case((round(rng.uniform(-9, 9), 3),), "random") for _ in range(3)]
    cases += [Case((tie,), "a random tie"), Case((round(rng.uniform(6.2, 1e4), 2) * rng.choice([1, -1]),), "big")]
    return cases


def _ceil_grid(x: float) -> float:
    return _grid_pick(x, lambda a: min(c for c in range(8) if E2M1_GRID[c] >= a))


def _tie_odd(x: float) -> float:
    return _grid_pick(x, lambda a: min(range(8), key=lambda c: (abs(a - E2M1_GRID[c]), 1 - c % 2)))


def _off_grid(got, want, x) -> bool | None:
    if not _is_num(got) or not math.isfinite(got) or abs(got) > 6:
        return None
    return abs(got) not in E2M1_GRID


def _saturated_unsigned(got, want, x) -> bool:
    return x < -6 and _is_num(got) and got == 6.0


def _overflow_nonfinite(got, want, x) -> bool:
    return abs(x) > 6 and _is_num(got) and not math.isfinite(got)


def _overflow_kept(got, want, x) -> bool:
    return abs(x) > 6 and _is_num(got) and math.isfinite(got) and abs(got) > 6


# ------------------------------------------------------------------------------------------------ 02.3 / 02.8
_MX_BY_EMAX = {2: "mxfp4", 4: "mxfp6_e3m2", 8: "mxfp8_e4m3", 15: "mxfp8_e5m2"}
_MX_BY_MAX = {F.SCHEMES[s].max_elem: s for s in ("mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2")}


def _lib_exponent(amax: float, scheme: str, mode: str) -> int:
    """The shared exponent `bwkit.formats.quantize` picks for a block whose largest magnitude is `amax`."""
    block = torch.zeros(1, 32, dtype=torch.float64)
    block[0, 0] = amax
    return int(F.quantize(block, scheme, scale_mode=mode).scales.item()) - 127


def _far_from_integer(v: float) -> bool:
    return abs(v - round(v)) > 1e-6


def _floor_cases(rng: random.Random) -> list[Case]:
    fixed = [(1.0, 2), (5.9, 2), (7.0, 2), (0.3, 2), (1000.0, 2), (448.0, 8), (500.0, 8), (1e-3, 8)]
    cases = [Case(c, _MX_BY_EMAX[c[1]]) for c in fixed]
    while len(cases) < len(fixed) + 2:
        amax, emax = 2.0 ** rng.uniform(-20, 20), rng.choice(sorted(_MX_BY_EMAX))
        if _far_from_integer(math.log2(amax)):
            cases.append(Case((amax, emax), f"random, {_MX_BY_EMAX[emax]}"))
    return cases


def _rceil_cases(rng: random.Random) -> list[Case]:
    fixed = [(7.0, 6.0), (6.0, 6.0), (5.9, 6.0), (0.3, 6.0), (1000.0, 6.0), (448.0, 448.0), (500.0, 448.0),
             (1e-3, 448.0), (30.0, 28.0), (10.0, 6.0), (7.25, 7.5)]
    cases = [Case(c, _MX_BY_MAX[c[1]]) for c in fixed]
    while len(cases) < len(fixed) + 2:
        mx = rng.choice(sorted(_MX_BY_MAX))
        amax = mx * 2.0 ** rng.uniform(-15, 15)
        if _far_from_integer(math.log2(amax / mx)):
            cases.append(Case((amax, mx), f"random, {_MX_BY_MAX[mx]}"))
    return cases


def _log2(x: float) -> float:
    return math.log2(x)


def _library_rule(by: Mapping[Any, str], mode: str):
    """The reference of 02.3 / 02.8: the exponent the library picks, the scheme looked up from the second input."""
    return lambda amax, key: _lib_exponent(amax, by[key], mode)


def _ocp(amax: float, emax_elem: int, how=math.floor) -> int:
    """OCP's rule, floor(log2 amax) - emax_elem (`how`: the rounding a mistake uses instead)."""
    return how(_log2(amax)) - emax_elem


def _rceil(amax: float, max_elem: float, how=math.ceil) -> int:
    """RCEIL, ceil(log2(amax / max_elem)) (`how`: the rounding a mistake uses instead)."""
    return how(_log2(amax / max_elem))


def _not_the_exponent(rule) -> list[Mistake]:
    """Two answers that return the right exponent e in another form: the scale 2^e, the E8M0 code e + 127."""
    return [Mistake("that is the scale 2^e; the check wants the exponent e (an int)",
                    value=lambda a, x: 2.0 ** rule(a, x)),
            Mistake("that is the E8M0 code (e + 127); return the exponent e", value=lambda a, x: rule(a, x) + 127)]


# ------------------------------------------------------------------------------------------------ 02.4
def _nvfp4_cases(rng: random.Random) -> list[Case]:
    xn = torch.randn(128, generator=torch.Generator().manual_seed(4)) * torch.exp2(torch.arange(128) / 16.0) * 1e-3
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    n = 16 * rng.randrange(2, 12)
    xr = (torch.randn(n, generator=g) * 10.0 ** rng.uniform(-4, 3)).float()
    xz = torch.cat([torch.zeros(16), torch.randn(32, generator=g) * 3])
    return [Case((xn,), "the notebook's growing magnitudes"), Case((xr,), f"random, {n} values"),
            Case((xz,), "a zero block first")]


def _blocks(x: torch.Tensor, size: int = 16) -> torch.Tensor:
    return x.reshape(-1, size).abs().amax(1)


def _s_enc(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(448.0 * 6.0) / x.abs().max()


# ------------------------------------------------------------------------------------------------ 02.5
@functools.lru_cache(maxsize=1)
def _fp4_sqnr_student() -> dict[str, float]:
    """SQNR (dB) of the three 4-bit schemes on the lab's Student-t(3) data (step 7: seed 7, 256 x 1024)."""
    gen = torch.Generator().manual_seed(7)
    n_rows, n_cols = 256, 1024
    torch.randn(n_rows, n_cols, generator=gen)                       # the Gaussian set comes first
    student = torch.randn(n_rows, n_cols, generator=gen) / torch.sqrt(
        torch.randn(n_rows, n_cols, 3, generator=gen).pow(2).sum(-1) / 3)
    return {label: F.sqnr_db(student, F.quantize(student, s, scale_mode=m).dequantize())
            for label, s, m in (("mxfp4 floor", "mxfp4", "floor"), ("mxfp4 rceil", "mxfp4", "rceil"),
                                ("nvfp4", "nvfp4", "floor"))}


def _best_fp4() -> str:
    sq = _fp4_sqnr_student()
    return max(sq, key=sq.get)


# ------------------------------------------------------------------------------------------------ 02.6
def _pack_cases(rng: random.Random) -> list[Case]:
    cq = F.quantize(torch.randn(4, 64, generator=torch.Generator().manual_seed(5)), "mxfp4").codes
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    rows, cols = 2 * rng.randrange(1, 5), 2 * rng.randrange(3, 33)
    return [Case((cq,), "MXFP4 codes, 4 x 64"),
            Case((torch.randint(0, 16, (rows, cols), generator=g, dtype=torch.uint8),), f"random {rows} x {cols}"),
            Case((torch.randint(0, 16, (2 * rng.randrange(1, 20),), generator=g, dtype=torch.uint8),), "1-D"),
            Case((torch.randint(0, 16, (2, 3, 8), generator=g, dtype=torch.uint8),), "3-D")]


def _pack_rows(c: torch.Tensor) -> torch.Tensor:
    return c[0::2] | (c[1::2] << 4)


def _pack_halves(c: torch.Tensor) -> torch.Tensor:
    h = c.shape[-1] // 2
    return c[..., :h] | (c[..., h:] << 4)


def _flattened(got, want, codes) -> bool:
    return (hasattr(got, "shape") and _numel(got) == _numel(want) and tuple(got.shape) != tuple(want.shape))


# ------------------------------------------------------------------------------------------------ 02.7
def _offset_cases(rng: random.Random) -> list[Case]:
    every = "called for every (m, kb) of a scale matrix of that many rows and K-blocks"
    return [Case(label=every, kwargs={"rows": 256, "n_kb": 6}),
            Case(label=every, kwargs={"rows": 256, "n_kb": 8}),   # whole K tiles: ceil(8 / 4) != 8 // 4 + 1
            # n_kb % 4 == 1: round(n_kb / 4) and int(n_kb / 4 + 0.5) are below ceil(n_kb / 4) there
            Case(label=every, kwargs={"rows": rng.randrange(129, 400), "n_kb": rng.choice([1, 5, 9])})]


def _offsets_reference(rows: int, n_kb: int) -> dict[str, Any]:
    ids = torch.arange(1, rows * n_kb + 1, dtype=torch.int32).reshape(rows, n_kb)
    blocked = F.to_blocked_scales(ids)
    where = torch.zeros(rows * n_kb, dtype=torch.int64)
    where[blocked[blocked > 0].long() - 1] = torch.nonzero(blocked > 0).flatten()
    return {"n_kb": n_kb, "offsets": where.tolist()}


def _probe_offsets(answers: Mapping[str, Any], case: Case) -> dict[str, Any]:
    rows, n_kb = case.kwargs["rows"], case.kwargs["n_kb"]
    fn = answers["scale_offset"]
    return {"n_kb": n_kb, "offsets": [fn(m, kb, n_kb) for m in range(rows) for kb in range(n_kb)]}


def _compare_offsets(got: Any, want: Any) -> tuple[bool, list[str]]:
    if not isinstance(got, Mapping) or "offsets" not in got:
        return compare(got, want)
    g, w, n_kb = got["offsets"], want["offsets"], want["n_kb"]
    ok, lines = compare(g, w, atol=0, rtol=0)
    if ok:
        return True, []
    bad = []
    for i, (a, b) in enumerate(zip(g, w, strict=False)):
        try:
            same = not isinstance(a, (str, bytes)) and float(a) == float(b)     # float('0') is no offset
        except (TypeError, ValueError):
            same = False
        if not same:
            bad.append((i, a, b))
    if not bad:
        return False, lines
    i, a, b = bad[0]
    m, kb = divmod(i, n_kb)
    return False, [f"scale_offset({m}, {kb}, {n_kb}) returned {a!r}, expected {b} ({len(bad)} of {len(w)} "
                   "offsets wrong)"]


def _grid(f):
    def value(rows: int, n_kb: int) -> dict[str, Any]:
        return {"n_kb": n_kb, "offsets": [f(m, kb, n_kb) for m in range(rows) for kb in range(n_kb)]}
    return value


def _inner(m: int, kb: int) -> int:
    """Byte offset of scale (m, kb) inside its 512-byte tile: 32-row group, then K-block."""
    return (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4


def _tiled(m: int, kb: int, n_kb: int, inner=_inner, n_ktiles=lambda n_kb: -(-n_kb // 4)) -> int:
    """The blocked offset with the knobs the mistakes turn: the offset inside a tile, the K tiles per row block."""
    return (m // 128) * n_ktiles(n_kb) * 512 + (kb // 4) * 512 + inner(m, kb)


register(
    Exercise.single(
        "02.1", "decode E2M1",
        reads=Function("e2m1_value", "(code: int) -> float"),
        cases=lambda rng: [Case((c,), f"code {c:04b}") for c in range(16)] + [
            Case((rng.randrange(16),), "a random code")],
        expected=_e2m1, compare=_compare_signed,
        mistakes=[
            Mistake("exponent field 0 is subnormal: no implicit leading 1 there (0.m x 2^0)",
                    value=_e2m1_wrong("no_subnormal")),
            Mistake("exponent field 0 is subnormal: no implicit leading 1 there (0.m x 2^0)",
                    value=_e2m1_wrong("normal_all")),
            Mistake("you forgot the bias (E2M1's bias is 1)", value=_e2m1_wrong("no_bias")),
            Mistake("you forgot the bias (E2M1's bias is 1)", value=_e2m1_wrong("no_bias_sub0")),
            Mistake("the mantissa bit is worth 1/2, not 1", value=_e2m1_wrong("mantissa_int")),
            Mistake("codes 8..15 are negative: bit 3 is the sign", value=_e2m1_wrong("no_sign")),
            Mistake("code 1000 is -0.0: give the sign even when the magnitude is 0 (-0.0, not 0.0; "
                    "`-mag if s and mag` drops it)", value=lambda c: _e2m1(c) + 0.0),
            Mistake("subnormals use the smallest normal exponent, 1 - bias = 0 (0.m x 2^0), not -bias",
                    value=_e2m1_wrong("sub_exp")),
            Mistake("the bits are s e e m: the mantissa is bit 0, the exponent bits 1-2",
                    value=_e2m1_wrong("fields")),
            Mistake("shift the exponent bits down: e = (code >> 1) & 3 (code & 6 is twice the field)",
                    value=_e2m1_wrong("e_unshifted")),
            Mistake("the sign is inverted: bit 3 set (codes 8..15) means negative", ratio=-1),
            Mistake("E2M1's bias is 1, not 2: normal values are (1 + m/2) x 2^(e - 1), subnormals (m/2) x 2^0",
                    ratio=0.5),
            Mistake("a subnormal is 0.m, i.e. m / 2 (code 0001 is 0.5, not 1)", value=_e2m1_wrong("sub_m")),
        ],
        hint="s = code >> 3, e = (code >> 1) & 3, m = code & 1; e == 0 is subnormal: (m / 2) x 2^0."),

    Exercise.single(
        "02.2", "round to E2M1",
        reads=Function("round_e2m1", "(x: float) -> float"),
        cases=_round_cases, expected=_round_ref, compare=_compare_signed,
        mistakes=[
            Mistake("values above 6 came back as NaN/inf: E2M1 saturates to ±6", when=_overflow_nonfinite),
            Mistake("values above 6 must saturate to ±6 (E2M1's largest value)", when=_overflow_kept),
            Mistake("saturate to ±6: a large negative x gives -6.0, not 6.0 (keep the sign)", when=_saturated_unsigned),
            Mistake("that value is not on the E2M1 grid (0, 0.5, 1, 1.5, 2, 3, 4, 6): the step is 0.5 below 2, 1 "
                    "from 2 to 4 and 2 above 4; round(2 * x) / 2 fits only the first binade", when=_off_grid),
            Mistake("ties go to the even code (5 -> 4, 2.5 -> 2), not away from zero", value=_away),
            Mistake("ties go to the even code (0.75 -> 1, 3.5 -> 4): min() keeps the first, smaller neighbour",
                    value=_tie_low),
            Mistake("you truncated (rounded toward zero) instead of rounding to nearest", value=_trunc),
            Mistake("you rounded up (away from zero, a ceiling) instead of to nearest", value=_ceil_grid),
            Mistake("ties go to the even code (0.25 -> 0, 0.75 -> 1, 5 -> 4): you sent them to the odd one",
                    value=_tie_odd),
            Mistake("the sign was lost: round |x|, then give the result x's sign", value=lambda x: abs(_round_ref(x))),
            Mistake("-0.1 rounds to -0.0: the sign survives underflow, so give a zero result x's sign too "
                    "(math.copysign(r, x), or -r for x < 0)", value=lambda x: _round_ref(x) + 0.0),
            Mistake("return the value (e.g. 1.5), not its code (3)",
                    value=lambda x: float(E2M1_GRID.index(abs(_round_ref(x))))),
        ],
        hint="Clamp |x| to 6, take the nearest grid value; on a tie prefer the even code (index)."),

    Exercise.single(
        "02.3", "choose an MX scale",
        reads=Function("mx_shared_exponent", "(amax: float, emax_elem: int) -> int"),
        cases=_floor_cases, expected=_library_rule(_MX_BY_EMAX, "floor"), rtol=0,
        mistakes=[
            Mistake("ceil instead of floor: that is neither OCP's rule nor rceil",
                    value=lambda a, em: _ocp(a, em, math.ceil)),
            Mistake("round where floor is meant: OCP floors log2(amax), so the block max lands in the top binade "
                    "[2^emax, 2^(emax+1)) after scaling", value=lambda a, em: _ocp(a, em, round)),
            Mistake("int() truncates toward zero, which is ceil for amax < 1: use math.floor",
                    value=lambda a, em: _ocp(a, em, int)),
            Mistake("you forgot to subtract emax_elem", value=lambda a, em: _ocp(a, 0)),
            Mistake("math.frexp's exponent is one more than floor(log2 amax) (frexp gives amax = m x 2^e with m in "
                    "[0.5, 1)): subtract 1", value=lambda a, em: math.frexp(a)[1] - em),
            Mistake("subtract emax_elem, the argument: 2 is E2M1's only (E3M2 4, E4M3 8, E5M2 15)",
                    value=lambda a, em: _ocp(a, 2)),
            Mistake("the binade is a power of two: use math.log2 (math.log is base e, math.log10 base 10)",
                    value=lambda a, em: math.floor(math.log(a)) - em),
            Mistake("the binade is a power of two: use math.log2 (math.log is base e, math.log10 base 10)",
                    value=lambda a, em: math.floor(math.log10(a)) - em),
            Mistake("subtract emax_elem (the block max must land in the element's top binade), do not add it",
                    value=lambda a, em: _ocp(a, -em)),
            *_not_the_exponent(_ocp),
            Mistake("that is RCEIL, ceil(log2(amax / max_elem)) (exercise 02.8); OCP's rule is "
                    "floor(log2 amax) - emax_elem",
                    value=lambda a, em: _rceil(a, F.SCHEMES[_MX_BY_EMAX[em]].max_elem)),
        ],
        hint="math.floor(math.log2(amax)) is the binade of amax; subtract emax_elem."),

    Exercise.single(
        "02.4", "NVFP4 block scales",
        reads=Function("nvfp4_block_scales", "(x: torch.Tensor) -> torch.Tensor"),
        cases=_nvfp4_cases, expected=lambda x: F.quantize(x, "nvfp4").scale_values(), rtol=0,
        mistakes=[
            Mistake("NVFP4 blocks hold 16 (4 block scales for 64 values), not 32",
                    when=lambda got, want, x: _numel(got) == x.numel() // 32),
            Mistake("NVFP4 blocks hold 16 (4 block scales for 64 values), not 32", error="[-1, 32]"),
            Mistake("you left out the tensor-level S_enc: amax_b / 6 alone underflows E4M3 for small tensors",
                    value=lambda x: F.round_to_format(_blocks(x) / 6, "ue4m3")),
            Mistake("S_enc is 448 * 6 / amax (E4M3 max times E2M1 max), not 448 / amax",
                    value=lambda x: F.round_to_format(_blocks(x) * (448.0 / x.abs().max()) / 6, "ue4m3")),
            Mistake("S_enc uses the amax of the whole tensor, not of each block (every scale became 448)",
                    value=lambda x: F.round_to_format(_blocks(x) * (448.0 * 6 / _blocks(x)) / 6, "ue4m3")),
            Mistake("the block scale maps the block's amax to E2M1's max: amax_b * S_enc / 6 (the / 6 is missing)",
                    value=lambda x: F.round_to_format(_blocks(x) * _s_enc(x), "ue4m3")),
            Mistake("return the decoded scales (float values, F.round_to_format), not their UE4M3 codes (F.encode)",
                    value=lambda x: F.encode(_blocks(x) * _s_enc(x) / 6, "ue4m3")),
            Mistake("amax is the largest magnitude: take .abs() before the max (a block of mostly negative values "
                    "has a small or negative max)",
                    value=lambda x: F.round_to_format(x.reshape(-1, 16).amax(1) * (448.0 * 6 / x.max()) / 6, "ue4m3")),
            Mistake("amax is the largest magnitude: take .abs() before the max (a block of mostly negative values "
                    "has a small or negative max)",
                    value=lambda x: F.round_to_format(x.reshape(-1, 16).amax(1) * _s_enc(x) / 6, "ue4m3")),
            Mistake("S_enc = 448 * 6 / amax multiplies the block amax; amax / (448 * 6) is the decode scale",
                    value=lambda x: F.round_to_format(_blocks(x) * (x.abs().max() / (448.0 * 6)) / 6, "ue4m3")),
            Mistake("round the scales to UE4M3 (F.round_to_format(..., \"ue4m3\")): a block scale is stored in 8 bits",
                    value=lambda x: _blocks(x) * _s_enc(x) / 6),
            Mistake("return the UE4M3 block scale itself (amax_b * S_enc / 6 rounded), not divided by S_enc",
                    value=lambda x: F.round_to_format(_blocks(x) * _s_enc(x) / 6, "ue4m3") / _s_enc(x)),
            Mistake("return a 1-D tensor, one scale per block (amax(1) without keepdim=True)",
                    when=lambda got, want, x: _flattened(got, want, x)),
            Mistake("that is a power-of-two (E8M0-style) scale; NVFP4 rounds to E4M3",
                    value=lambda x: torch.exp2(torch.ceil(torch.log2(_blocks(x) * _s_enc(x) / 6)))),
        ],
        hint="S_enc = 448 * 6 / amax of the tensor; per block of 16, amax_b * S_enc / 6 rounded to UE4M3."),

    Exercise.choice(
        "02.5", "predict the best FP4 scheme", "answer_025", ["mxfp4 floor", "mxfp4 rceil", "nvfp4"],
        answer=_best_fp4,
        wrong={
            "mxfp4 floor": "mxfp4 floor: power-of-two E8M0 scales leave each 32-value block's max anywhere in [4, 8) "
                           "and clip it above 6; NVFP4's E4M3 scales and 16-value blocks follow heavy tails far "
                           "better",
            "mxfp4 rceil": "mxfp4 rceil: no clipping, but its power-of-two scale coarsens every other value of the "
                           "32-value block; NVFP4's E4M3 scales and 16-value blocks follow heavy tails far better",
        }),

    Exercise.single(
        "02.6", "pack nibbles",
        reads=Function("pack_pairs", "(codes: torch.Tensor) -> torch.Tensor"),
        cases=_pack_cases, expected=F.pack_fp4, rtol=0,
        compare=compare_exact_dtype(why=" (one byte holds a pair of codes)"),
        mistakes=[
            Mistake("element 0 goes in the LOW nibble (you put it in the high one, as PTX cvt ... e2m1x2 d, a, b "
                    "does with a)", value=lambda c: c[..., 1::2] | (c[..., 0::2] << 4)),
            Mistake("a nibble is 4 bits: shift by 4 (<< 8 pushes the second code out of the byte)",
                    value=lambda c: c[..., 0::2] | (c[..., 1::2] << 8)),
            Mistake("pair neighbours 2i and 2i+1 of the last dimension, not its two halves", value=_pack_halves),
            Mistake("pack along the last dimension (codes[..., 0::2]), not along the rows", value=_pack_rows),
            Mistake("index the last dimension with ...: codes[..., 0::2] (codes[:, 0::2] is the second dimension, "
                    "and fails on 1-D codes)", error="too many indices"),
            Mistake("operator precedence: + binds tighter than <<, so a + b << 4 is (a + b) << 4; parenthesise "
                    "(codes[..., 1::2] << 4)", value=lambda c: (c[..., 0::2] + c[..., 1::2]) << 4),
            Mistake("combine the nibbles with | (or +): & keeps only the bits both have",
                    value=lambda c: c[..., 0::2] & (c[..., 1::2] << 4)),
            Mistake("keep the leading dimensions: pack along the last one and keep the shape [..., n / 2]",
                    when=_flattened),
            Mistake("packed FP4 is one uint8 byte per pair (what torch.float4_e2m1fn_x2 and tl.dot_scaled read): "
                    "keep the codes' uint8 (a .long() or .int() on the way?)",
                    when=lambda got, want, c: str(getattr(got, "dtype", "uint8")).replace("torch.", "") != "uint8"),
        ],
        hint="Even elements codes[..., 0::2] in the low nibble, odd ones codes[..., 1::2] << 4 in the high one."),

    Exercise("02.7", "swizzle a scale index", (Part(
        reads=(Function("scale_offset", "(m: int, kb: int, n_kb: int) -> int", "bytes"),),
        cases=_offset_cases, expected=_offsets_reference, probe=_probe_offsets, compare=_compare_offsets,
        mistakes=(
            Mistake("that is plain row-major (m * n_kb + kb): the layout is tiled and interleaved",
                    value=_grid(lambda m, kb, n: m * n + kb)),
            Mistake("the 32-row group goes in the 4-byte slot and m % 32 in the 16-byte one (you swapped them)",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, lambda m, kb: (m % 32) * 4 + ((m % 128) // 32) * 16
                                                        + kb % 4))),
            Mistake("n_ktiles = ceil(n_kb / 4): a partial K tile still takes 512 bytes",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, n_ktiles=lambda n_kb: n_kb // 4))),
            Mistake("n_ktiles = ceil(n_kb / 4): n_kb // 4 + 1 is one K tile too many when n_kb is a multiple of 4 "
                    "(use -(-n_kb // 4) or (n_kb + 3) // 4)",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, n_ktiles=lambda n_kb: n_kb // 4 + 1))),
            Mistake("n_ktiles = ceil(n_kb / 4): round() rounds a quarter tile down (n_kb = 5 needs 2 K tiles)",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, n_ktiles=lambda n_kb: round(n_kb / 4)))),
            Mistake("n_ktiles = ceil(n_kb / 4): round() rounds a quarter tile down (n_kb = 5 needs 2 K tiles)",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, n_ktiles=lambda n_kb: int(n_kb / 4 + 0.5)))),
            Mistake("a row block of 128 rows spans n_ktiles = ceil(n_kb / 4) tiles: multiply m // 128 by it",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, n_ktiles=lambda n_kb: 1))),
            Mistake("n_ktiles counts K tiles of 4 scale columns: ceil(n_kb / 4), not n_kb",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, n_ktiles=lambda n_kb: n_kb))),
            Mistake("you left out the tile index: (m // 128) * n_ktiles + kb // 4 tiles of 512 bytes come first",
                    value=_grid(lambda m, kb, n: _inner(m, kb))),
            Mistake("the 32-row group is (m % 128) // 32: rows past 128 start a new tile",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, lambda m, kb: (m % 32) * 16 + (m // 32) * 4
                                                        + kb % 4))),
            Mistake("inside a tile the K-block is kb % 4 (kb // 4 picks the tile)",
                    value=_grid(lambda m, kb, n: _tiled(m, kb, n, lambda m, kb: (m % 32) * 16 + ((m % 128) // 32) * 4
                                                        + kb))),
        ),
        hint="Tiles first: (m // 128) * ceil(n_kb / 4) + kb // 4 tiles of 512 bytes; then 16 bytes per m % 32, "
             "4 per (m % 128) // 32, 1 per kb % 4."),),
        hint="Tiles of 512 bytes first, then m % 32 (16 bytes), (m % 128) // 32 (4 bytes), kb % 4 (1 byte)."),

    Exercise.single(
        "02.8", "the RCEIL scale rule",
        reads=Function("mx_shared_exponent_rceil", "(amax: float, max_elem: float) -> int"),
        cases=_rceil_cases, expected=_library_rule(_MX_BY_MAX, "rceil"), rtol=0,
        mistakes=[
            Mistake("that is OCP's FLOOR rule, floor(log2 amax) - emax (exercise 02.3): RCEIL divides by the element "
                    "max and rounds up, e = ceil(log2(amax / max_elem))",
                    value=lambda a, mx: _ocp(a, math.floor(_log2(mx)))),
            Mistake("rounding down lets the block max exceed max_elem and clip: RCEIL rounds up (math.ceil)",
                    value=lambda a, mx: _rceil(a, mx, math.floor)),
            Mistake("round where ceil is meant: RCEIL rounds log2(amax / max_elem) up, so amax / 2^e <= max_elem",
                    value=lambda a, mx: _rceil(a, mx, round)),
            Mistake("int() truncates toward zero, which rounds down above 1: use math.ceil",
                    value=lambda a, mx: _rceil(a, mx, int)),
            Mistake("ceil(log2 amax) - emax is neither rule: RCEIL divides by the element max first, "
                    "e = ceil(log2(amax / max_elem))", value=lambda a, mx: _ocp(a, math.floor(_log2(mx)), math.ceil)),
            Mistake("divide amax by max_elem before the log: e = ceil(log2(amax / max_elem))",
                    value=lambda a, mx: math.ceil(_log2(a))),
            Mistake("the ratio is upside down: amax / max_elem, not max_elem / amax",
                    value=lambda a, mx: math.ceil(_log2(mx / a))),
            Mistake("frexp's exponent (or floor + 1) is ceil only when the ratio is not a power of two: amax == "
                    "max_elem gives e = 0, not 1", value=lambda a, mx: math.frexp(a / mx)[1]),
            Mistake("divide by max_elem, the argument: 6 is E2M1's only (E4M3 448, E3M2 28, E2M3 7.5)",
                    value=lambda a, mx: _rceil(a, 6.0)),
            Mistake("max_elem is a float: E2M3's largest value is 7.5 (int() or round() changes it)",
                    value=lambda a, mx: _rceil(a, int(mx))),
            *_not_the_exponent(_rceil),
        ],
        hint="e = math.ceil(math.log2(amax / max_elem)): the smallest power of two that brings amax down to "
             "max_elem or below."),
)
