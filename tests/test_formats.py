"""bwkit.formats: element formats against ml_dtypes and torch, block schemes against a scalar spec model.

The scalar references below are written from the specs (OCP MX v1.0, NVIDIA's NVFP4 recipe, DeepSeek-V3) with
Python floats, `fractions.Fraction` and numpy float32 where the recipe says FP32; they share no code with bwkit.
"""

from __future__ import annotations

import bisect
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import torch

from bwkit import formats as F
from bwkit.formats import mx

ELEMENT = ["e2m1", "e2m3", "e3m2", "e4m3", "e5m2"]
ALL = ELEMENT + ["ue4m3", "ue8m0"]
ML = {"e2m1": ml_dtypes.float4_e2m1fn, "e2m3": ml_dtypes.float6_e2m3fn, "e3m2": ml_dtypes.float6_e3m2fn,
      "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "ue4m3": ml_dtypes.float8_e4m3fn,
      "ue8m0": ml_dtypes.float8_e8m0fnu}
# (ebits, mbits, bias) from the OCP MX spec table 1 / IEEE-style definitions
GEOM = {"e2m1": (2, 1, 1), "e2m3": (2, 3, 1), "e3m2": (3, 2, 3), "e4m3": (4, 3, 7), "e5m2": (5, 2, 15)}
MAXV = {"e2m1": 6.0, "e2m3": 7.5, "e3m2": 28.0, "e4m3": 448.0, "e5m2": 57344.0}


def ml_codes(x: np.ndarray, fmt: str) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(ML[fmt]).view(np.uint8)


# ---------------------------------------------------------------------------------------------- decode


@pytest.mark.parametrize("fmt", ALL)
def test_decode_every_code_matches_ml_dtypes(fmt):
    n = {"e2m1": 16, "e2m3": 64, "e3m2": 64, "ue4m3": 128}.get(fmt, 256)
    codes = torch.arange(n, dtype=torch.uint8)
    got = F.decode(codes, fmt).numpy()
    ref = codes.numpy().view(ML[fmt]).astype(np.float32)
    got_table = F.decode(codes.to(torch.int32), fmt).numpy()     # the table path (uint8 may use torch casts)
    both_nan = np.isnan(got_table) & np.isnan(got)
    np.testing.assert_array_equal(got_table.view(np.uint32)[~both_nan], got.view(np.uint32)[~both_nan])
    np.testing.assert_array_equal(np.isnan(got_table), np.isnan(got))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    fin = ~np.isnan(ref)
    np.testing.assert_array_equal(got[fin], ref[fin])
    np.testing.assert_array_equal(np.signbit(got[fin]), np.signbit(ref[fin]))   # -0.0 codes too
    assert F.FORMATS[fmt].num_codes == n


@pytest.mark.parametrize("fmt,tdt", [("e4m3", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2),
                                     ("ue8m0", torch.float8_e8m0fnu)])
def test_decode_every_code_matches_torch(fmt, tdt):
    codes = torch.arange(256, dtype=torch.uint8)
    got = F.decode(codes, fmt)
    ref = codes.view(tdt).to(torch.float32)
    assert torch.equal(torch.isnan(got), torch.isnan(ref))
    fin = ~torch.isnan(ref)
    assert torch.equal(got[fin], ref[fin])


def test_format_facts():
    f = F.FORMATS
    assert (f["e2m1"].max, f["e2m1"].min_normal, f["e2m1"].min_subnormal, f["e2m1"].bias) == (6, 1, 0.5, 1)
    assert (f["e2m3"].max, f["e2m3"].min_subnormal) == (7.5, 0.125)
    assert (f["e3m2"].max, f["e3m2"].min_normal, f["e3m2"].min_subnormal) == (28, 0.25, 0.0625)
    assert (f["e4m3"].max, f["e4m3"].min_normal, f["e4m3"].min_subnormal) == (448, 2 ** -6, 2 ** -9)
    assert (f["e5m2"].max, f["e5m2"].min_normal, f["e5m2"].min_subnormal) == (57344, 2 ** -14, 2 ** -16)
    assert (f["ue8m0"].max, f["ue8m0"].min_normal, f["ue8m0"].min_subnormal) == (2.0 ** 127, 2.0 ** -127, None)
    assert f["e4m3"]["bits"] == 8 and f["e2m1"]["bits"] == 4 and f["e3m2"]["bias"] == 3
    for name in ELEMENT:   # the largest finite code decodes to max
        spec = f[name]
        assert F.decode(torch.tensor([spec.max_code], dtype=torch.uint8), name).item() == spec.max
    with pytest.raises(KeyError, match="fields"):
        f["e4m3"]["maximum"]


def test_decode_bad_codes():
    with pytest.raises(ValueError, match="not a e2m1 code"):
        F.decode(torch.tensor([3, 16], dtype=torch.uint8), "e2m1")
    with pytest.raises(ValueError, match="ue4m3 has no sign bit"):
        F.decode(torch.tensor([0x80], dtype=torch.uint8), "ue4m3")
    with pytest.raises(ValueError, match="not a e3m2 code"):
        F.decode(torch.tensor([-1], dtype=torch.int32), "e3m2")
    with pytest.raises(TypeError, match="integer codes"):
        F.decode(torch.tensor([1.0]), "e4m3")
    with pytest.raises(ValueError, match="valid formats: e2m1, e2m3"):
        F.decode(torch.tensor([1], dtype=torch.uint8), "fp4")


# ---------------------------------------------------------------------------------------------- encode


def boundary_values(fmt: str) -> np.ndarray:
    """Every representable value, every midpoint (tie), and their float32 neighbours, both signs."""
    vals = F.value_table(fmt).numpy()
    pos = np.unique(vals[np.isfinite(vals) & (vals >= 0)]).astype(np.float64)
    mids = (pos[:-1] + pos[1:]) / 2
    top = pos[-1] + (pos[-1] - pos[-2]) / 2          # the tie at the overflow boundary
    pts = np.concatenate([pos, mids, [top, 2 * pos[-1], pos[0] / 2 if pos[0] > 0 else pos[1] / 2]])
    if fmt == "ue8m0":
        pts = np.concatenate([pts, pos * 1.5])        # linear midpoints between powers of two
    p32 = pts[pts < 3.4e38].astype(np.float32)
    near = np.concatenate([p32, np.nextafter(p32, np.float32(np.inf)), np.nextafter(p32, np.float32(0))])
    near = near[np.isfinite(near)]
    if fmt == "ue8m0":   # ml_dtypes mis-rounds float32 subnormals to e8m0 (1.25 * 2^-127 -> 2^-126): see below
        return near[near >= 2.0 ** -126]
    if fmt.startswith("u"):
        return near
    return np.concatenate([near, -near])


@pytest.mark.parametrize("fmt", ALL)
def test_encode_boundaries_and_ties_match_ml_dtypes(fmt):
    x = boundary_values(fmt)
    spec = F.FORMATS[fmt]
    if spec.has_nan or spec.has_inf:   # ml_dtypes does not saturate these: compare the non-saturating mode
        got = F.encode(torch.from_numpy(x), fmt, saturate=False).numpy()
        np.testing.assert_array_equal(got, ml_codes(x, fmt))
    # saturating mode == ml_dtypes after clamping to ±max (RNE never rounds past max by more than it)
    got = F.encode(torch.from_numpy(x), fmt, saturate=True).numpy()
    lo = 0 if fmt.startswith("u") else -spec.max
    ref = ml_codes(np.clip(x, lo, spec.max), fmt)
    np.testing.assert_array_equal(got, ref)
    # float64 input takes bwkit's own rounding path (float32 e4m3/e5m2 use torch's casts): same codes
    got64 = F.encode(torch.from_numpy(x.astype(np.float64)), fmt, saturate=True).numpy()
    np.testing.assert_array_equal(got64, ref)


@pytest.mark.parametrize("fmt", ALL)
def test_encode_million_random_values_match_ml_dtypes(fmt):
    gen = torch.Generator().manual_seed(1234)
    spec = F.FORMATS[fmt]
    n = 1 << 20
    # log-uniform magnitudes from below the smallest subnormal to above max, random signs, plus plain normals
    lo = math.log2(spec.min_subnormal or spec.min_normal) - 3
    hi = math.log2(spec.max) + 2
    mag = torch.exp2(torch.rand(n, generator=gen, dtype=torch.float64) * (hi - lo) + lo).float()
    sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    x = mag * sign if spec.signed else mag
    x[: n // 4] = torch.randn(n // 4, generator=gen) * spec.max / 8
    if not spec.signed:
        x = x.abs()
    if fmt == "ue8m0":
        x = x.clamp(min=2.0 ** -126)
    sat_ref = ml_codes(np.clip(x.numpy(), 0 if fmt.startswith("u") else -spec.max, spec.max), fmt)
    np.testing.assert_array_equal(F.encode(x, fmt, saturate=True).numpy(), sat_ref)
    if spec.has_nan or spec.has_inf:
        np.testing.assert_array_equal(F.encode(x, fmt, saturate=False).numpy(), ml_codes(x.numpy(), fmt))
    # half-precision inputs go through the same rounding (their float32 value is exact)
    for dt in (torch.float16, torch.bfloat16):
        xs = x[:4096].to(dt)
        ref = ml_codes(np.clip(xs.float().numpy(), 0 if fmt.startswith("u") else -spec.max, spec.max), fmt)
        np.testing.assert_array_equal(F.encode(xs, fmt).numpy() if fmt != "e5m2" else
                                      F.encode(xs, fmt, saturate=True).numpy(), ref)


def test_encode_matches_torch_float8_casts():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1 << 18, generator=gen) * 100
    x[:8] = torch.tensor([500.0, -1e6, 464.0, 465.0, float("inf"), float("-inf"), 1e-9, -0.0])
    # torch saturates e4m3fn casts (Inf too), as bwkit's default does
    assert torch.equal(F.encode(x, "e4m3"), x.to(torch.float8_e4m3fn).view(torch.uint8))
    y = x[8:] * 100
    assert torch.equal(F.encode(y, "e5m2"), y.to(torch.float8_e5m2).view(torch.uint8))


def test_encode_float64_is_rounded_once():
    # 1.0625 is the e4m3 tie between 1.0 and 1.125; a hair above it must round up. Through float32 the hair
    # is lost (double rounding) and the tie goes to even (1.0): bwkit must not do that.
    x = torch.tensor([1.0625 + 2.0 ** -40, 1.0625 - 2.0 ** -40, 1.0625], dtype=torch.float64)
    assert F.round_to_format(x, "e4m3").tolist() == [1.125, 1.0, 1.0]
    assert F.round_to_format(torch.tensor([5.0 + 2.0 ** -45], dtype=torch.float64), "e2m1").item() == 6.0


def test_encode_ties_go_to_even():
    t = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, -5.0])
    assert F.round_to_format(t, "e2m1").tolist() == [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, -4.0]
    assert F.encode(torch.tensor([1.5, 3.0, 0.75]), "ue8m0").tolist() == [128, 129, 127]   # 2, 4, 1
    # below 2^-126 (float32 subnormals) the nearest power of two, computed exactly; ml_dtypes 0.6 says 2^-126
    # for 1.25 * 2^-127, which is nearer to 2^-127
    tiny = torch.tensor([1.25 * 2.0 ** -127, 1.5 * 2.0 ** -127, 1.49 * 2.0 ** -127, 2.0 ** -128, 2.0 ** -149])
    assert F.encode(tiny, "ue8m0").tolist() == [0, 1, 0, 0, 0]


def test_encode_special_values_policy():
    nan, inf = float("nan"), float("inf")
    for fmt in ("e2m1", "e2m3", "e3m2"):
        with pytest.raises(ValueError, match="has no NaN"):
            F.encode(torch.tensor([1.0, nan]), fmt)
        mx_ = F.FORMATS[fmt].max_code
        assert F.encode(torch.tensor([inf, -inf, 1e30]), fmt).tolist() == [mx_, mx_ | (1 << (F.FORMATS[fmt].bits - 1)),
                                                                            mx_]
        with pytest.raises(ValueError, match="always saturates"):
            F.encode(torch.tensor([1.0]), fmt, saturate=False)
        sign = 1 << (F.FORMATS[fmt].bits - 1)
        assert F.encode(torch.tensor([-0.0, 0.0, -1e-30]), fmt).tolist() == [sign, 0, sign]
    assert F.encode(torch.tensor([nan, -nan, inf, -inf, 1e9]), "e4m3").tolist() == [0x7F, 0xFF, 0x7E, 0xFE, 0x7E]
    assert F.encode(torch.tensor([inf, 1e9]), "e4m3", saturate=False).tolist() == [0x7F, 0x7F]
    assert F.encode(torch.tensor([nan, inf, -inf, 1e9, -0.0]), "e5m2").tolist() == [0x7E, 0x7C, 0xFC, 0x7C, 0x80]
    assert F.encode(torch.tensor([inf, -1e9]), "e5m2", saturate=True).tolist() == [0x7B, 0xFB]
    assert F.encode(torch.tensor([nan, inf, 1e9, -0.0, 0.0]), "ue4m3").tolist() == [0x7F, 0x7E, 0x7E, 0, 0]
    with pytest.raises(ValueError, match="unsigned"):
        F.encode(torch.tensor([1.0, -2.0]), "ue4m3")
    assert F.encode(torch.tensor([nan, inf, 3e38, 1e38, 2.0 ** -140]), "ue8m0").tolist() == [255, 254, 254, 253, 0]
    assert F.encode(torch.tensor([inf, 2.0 ** 127 * 1.5]), "ue8m0", saturate=False).tolist() == [255, 255]
    for bad in (0.0, -0.0, -1.0):
        with pytest.raises(ValueError, match="no sign and no zero"):
            F.encode(torch.tensor([1.0, bad]), "ue8m0")


def test_encode_bad_input():
    with pytest.raises(ValueError, match="valid formats: e2m1, e2m3, e3m2, e4m3, e5m2, ue4m3, ue8m0"):
        F.encode(torch.tensor([1.0]), "e4m4")
    with pytest.raises(TypeError, match="floating-point"):
        F.encode(torch.tensor([1, 2]), "e4m3")
    with pytest.raises(TypeError, match="integers"):
        F.encode(3, "e2m1")
    with pytest.raises(TypeError, match="complex"):
        F.encode(torch.tensor([1 + 2j]), "e2m1")


def test_encode_shapes_and_roundtrip_every_value():
    x = torch.randn(3, 4, 5)
    assert F.encode(x, "e4m3").shape == (3, 4, 5) and F.encode(x, "e4m3").dtype == torch.uint8
    for fmt in ALL:
        vals = F.value_table(fmt)
        codes = torch.arange(len(vals), dtype=torch.uint8)
        fin = torch.isfinite(vals)
        if fmt == "e5m2":   # Inf codes round-trip too
            fin = ~torch.isnan(vals)
        back = F.encode(vals[fin], fmt, saturate=False if fmt == "e5m2" else None)
        assert torch.equal(back, codes[fin]), fmt


def test_pack_unpack_fp4():
    codes = torch.tensor([[0x1, 0x2, 0xF, 0x0], [0x7, 0x8, 0x3, 0xC]], dtype=torch.uint8)
    packed = F.pack_fp4(codes)
    assert packed.tolist() == [[0x21, 0x0F], [0x87, 0xC3]]   # element 0 in the low nibble
    assert torch.equal(F.unpack_fp4(packed), codes)
    r = torch.randint(0, 16, (5, 64), dtype=torch.uint8)
    assert torch.equal(F.unpack_fp4(F.pack_fp4(r)), r)
    with pytest.raises(ValueError, match="even"):
        F.pack_fp4(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="4 bits"):
        F.pack_fp4(torch.tensor([16, 0], dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        F.pack_fp4(torch.zeros(4))


# ---------------------------------------------------------------------------------------------- scalar spec model


def grid(fmt: str) -> list[float]:
    """Non-negative finite values of an element format, in code order, from (ebits, mbits, bias)."""
    eb, mb, bias = GEOM[fmt]
    out = []
    for c in range(1 << (eb + mb)):
        e, f = c >> mb, c & ((1 << mb) - 1)
        v = (f / 2 ** mb) * 2.0 ** (1 - bias) if e == 0 else (1 + f / 2 ** mb) * 2.0 ** (e - bias)
        if v <= MAXV[fmt]:
            out.append(v)
    return out


GRIDS = {f: grid(f) for f in ELEMENT}


def ref_round(v: float, fmt: str) -> tuple[int, float]:
    """(code, value) of v in an element format: nearest, ties to the even code, saturating to ±max."""
    g = GRIDS[fmt]
    neg = math.copysign(1.0, v) < 0
    a = min(abs(v), g[-1])
    i = bisect.bisect_left(g, a)
    if i == len(g):
        c = len(g) - 1
    elif g[i] == a or i == 0:
        c = i
    else:
        lo, hi = g[i - 1], g[i]
        c = i - 1 if (a - lo < hi - a or (a - lo == hi - a and (i - 1) % 2 == 0)) else i
    bits = sum(GEOM[fmt][:2]) + 1
    return (c | (1 << (bits - 1)) if neg else c), (-g[c] if neg else g[c])


def ref_mx_block(block: list[float], fmt: str, mode: str):
    """OCP MX v1.0 on one block: (scale code, element codes, dequantized values)."""
    if any(math.isnan(v) or math.isinf(v) for v in block):
        return 0xFF, [0] * len(block), [math.nan] * len(block)
    amax = max(abs(v) for v in block)
    if amax == 0:
        e = -127
    elif mode == "floor":
        emax = {"e2m1": 2, "e2m3": 2, "e3m2": 4, "e4m3": 8, "e5m2": 15, "int8": 0}[fmt]
        e = math.frexp(amax)[1] - 1 - emax
    else:   # smallest e with amax <= max_elem * 2^e, in exact rational arithmetic
        mx_ = Fraction(127, 64) if fmt == "int8" else Fraction(MAXV[fmt])
        q = Fraction(amax) / mx_
        e = 0
        while q > Fraction(2) ** e:
            e += 1
        while q <= Fraction(2) ** (e - 1):
            e -= 1
    e = max(-127, min(127, e))
    scale = 2.0 ** e
    codes, deq = [], []
    for v in block:
        if fmt == "int8":
            r = max(-127, min(127, round(v / scale * 64)))   # Python's round: half to even
            codes.append(r & 0xFF)
            deq.append(r / 64 * scale)
        else:
            c, val = ref_round(v / scale, fmt)
            codes.append(c)
            deq.append(val * scale)
    return e + 127, codes, deq


def ref_nvfp4(x: np.ndarray):
    """NVFP4 (blocks of 16 along the last axis of a 2-D array) with the FP32 steps done in numpy float32."""
    f32 = np.float32
    amax_t = f32(np.max(np.abs(x)))
    s_enc = f32(448.0 * 6.0) / amax_t if (np.isfinite(amax_t) and amax_t > 0) else f32(1.0)
    ts = amax_t / f32(448.0 * 6.0) if (np.isfinite(amax_t) and amax_t > 0) else f32(1.0)
    rows, cols = x.shape
    nb = -(-cols // 16)
    scodes = np.zeros((rows, nb), np.uint8)
    codes = np.zeros((rows, cols), np.uint8)
    deq = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        for b in range(nb):
            blk = [f32(v) for v in x[r, b * 16:(b + 1) * 16]]
            if any(not np.isfinite(v) for v in blk):
                scodes[r, b] = 0x7F
                deq[r, b * 16:b * 16 + len(blk)] = np.nan
                continue
            amax_b = max(abs(v) for v in blk)
            sc, sf = ref_round(float(f32(amax_b * s_enc) / f32(6.0)), "e4m3")
            scodes[r, b] = sc
            inv = f32(s_enc / f32(sf)) if sf > 0 else f32(0.0)
            for j, v in enumerate(blk):
                c, q = ref_round(float(f32(v * inv)), "e2m1")
                codes[r, b * 16 + j] = c
                deq[r, b * 16 + j] = f32(f32(q * f32(sf)) * ts)
    return codes, scodes, deq, ts


def mx_test_data() -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 70, generator=gen) * torch.exp2(torch.randint(-20, 20, (6, 1), generator=gen).float())
    x[0, :32] = 0.0                                  # all-zero block
    x[1, 0] = 6.0 * 2 ** 3                           # amax exactly max_elem * 2^k
    x[1, 32:64] = torch.linspace(-7, 7, 32)          # FP4 floor scaling clips 7 -> 6
    x[2, 5] = float("nan")                           # NaN block
    x[3, 40] = float("-inf")                         # Inf block
    x[4] = x[4] * 1e-38                              # tiny values: E8M0 clamp at 2^-127, subnormals
    x[5, :3] = torch.tensor([-0.0, 3e38, -1e38])     # huge values, -0
    return x


@pytest.mark.parametrize("scheme", ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8"])
@pytest.mark.parametrize("mode", ["floor", "rceil"])
def test_mx_matches_scalar_spec_model(scheme, mode):
    x = mx_test_data()
    fmt = {"mxint8": "int8"}.get(scheme, F.SCHEMES[scheme].elem)
    q = F.quantize(x, scheme, scale_mode=mode)
    deq = q.dequantize()
    assert q.codes.shape == x.shape and q.scales.shape == (6, 3) and q.codes.dtype == torch.uint8
    for r in range(6):
        for b in range(3):
            blk = x[r, b * 32:(b + 1) * 32].tolist()
            sc, codes, vals = ref_mx_block(blk, fmt, mode)
            assert q.scales[r, b].item() == sc, (r, b)
            assert q.codes[r, b * 32:b * 32 + len(blk)].tolist() == codes, (r, b)
            got = deq[r, b * 32:b * 32 + len(blk)].numpy()
            with np.errstate(over="ignore"):   # 3e38 rounds up to 4 * 2^126: Inf in float32, for both
                np.testing.assert_array_equal(got, np.asarray(vals, np.float32))


def test_floor_vs_rceil_on_a_clipping_block():
    x = torch.tensor([[7.0] + [0.5] * 31])
    fl, rc = F.quantize(x, "mxfp4"), F.quantize(x, "mxfp4", scale_mode="rceil")
    assert fl.scales.item() == 127 and fl.dequantize()[0, 0].item() == 6.0      # 7 clipped to 6
    assert rc.scales.item() == 128 and rc.dequantize()[0, 0].item() == 8.0      # 7/2 = 3.5 -> 4 (tie to even)
    assert rc.dequantize()[0, 1].item() == 0.0 and fl.dequantize()[0, 1].item() == 0.5


def test_nvfp4_matches_scalar_model():
    x = mx_test_data()[:, :64].clone()
    x[4] *= 1e30                                     # undo the tiny row: keep S_enc finite in this tensor
    x[5, 1:3] = torch.tensor([3.0, -1.0])
    q = F.quantize(x, "nvfp4")
    codes, scodes, deq, ts = ref_nvfp4(x.numpy())
    assert q.scales.shape == (6, 4) and q.block_size == 16
    assert q.tensor_scale.item() == float(ts)
    np.testing.assert_array_equal(q.scales.numpy(), scodes)
    fin = ~np.isnan(deq)
    np.testing.assert_array_equal(q.codes.numpy()[fin], codes[fin])
    got = q.dequantize().numpy()
    np.testing.assert_array_equal(np.isnan(got), ~fin)
    np.testing.assert_array_equal(got[fin], deq[fin])
    # a clean tensor, no NaN, every row; and a ragged one (cols 40 -> 3 blocks of 16)
    y = torch.randn(4, 40, generator=torch.Generator().manual_seed(5)) * 3
    qy = F.quantize(y, "nvfp4")
    c2, s2, d2, _ = ref_nvfp4(y.numpy())
    np.testing.assert_array_equal(qy.codes.numpy(), c2)
    np.testing.assert_array_equal(qy.scales.numpy(), s2)
    np.testing.assert_array_equal(qy.dequantize().numpy(), d2)


def test_axis_and_padding_never_leak():
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(40, 5, generator=gen)            # blocks along axis 0: 40 = 32 + 8 (ragged)
    q = F.quantize(x, "mxfp4", axis=0)
    qt = F.quantize(x.t().contiguous(), "mxfp4")     # the same blocks along the last axis
    assert q.scales.shape == (2, 5) and q.axis == 0
    assert torch.equal(q.codes, qt.codes.t()) and torch.equal(q.scales, qt.scales.t())
    assert torch.equal(q.dequantize(), qt.dequantize().t())
    xp = torch.cat([x, torch.zeros(24, 5)])          # explicit zero padding gives the same blocks
    qp = F.quantize(xp, "mxfp4", axis=0)
    assert torch.equal(qp.codes[:40], q.codes) and torch.equal(qp.scales, q.scales)
    # 3-D, middle axis, every scheme, dequantize returns the input shape
    z = torch.randn(2, 50, 3, generator=gen)
    for s in F.SCHEMES:
        qz = F.quantize(z, s, axis=1)
        assert qz.dequantize().shape == z.shape and qz.scales.shape[1] == -(-50 // qz.block_size)


def test_mx_roundtrip_is_idempotent_and_error_bounded():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(8, 256, generator=gen) * 10
    for s in ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8"]:
        # floor: the rounded block max keeps floor(log2 amax), so requantizing changes nothing. (Not so for
        # rceil: a block max of 224.5 * 2^e rounds to 224 * 2^e, and rceil then picks 2^(e-1).)
        q = F.quantize(x, s)
        q2 = F.quantize(q.dequantize(), s)
        assert torch.equal(q2.codes, q.codes) and torch.equal(q2.scales, q.scales), s
    # rceil never clips: |x - x_hat| <= half a step of the element grid times the block scale
    q = F.quantize(x, "mxfp4", scale_mode="rceil")
    scale = F.decode(q.scales, "ue8m0").repeat_interleave(32, dim=1)
    err = (x - q.dequantize()).abs() / scale
    assert float(err.max()) <= 1.0                   # largest E2M1 gap is 2 (4 -> 6): half is 1
    assert F.sqnr_db(x, q.dequantize()) > 15


def test_mx_float64_input_is_rounded_once():
    # block max 4 -> scale 2^0; 5 + 2^-40 is above the E2M1 tie at 5 and must round up to 6 (through float32 it
    # would be exactly 5 and go to even, 4)
    x = torch.zeros(1, 32, dtype=torch.float64)
    x[0, :2] = torch.tensor([4.0, 5.0 + 2.0 ** -40], dtype=torch.float64)
    assert F.quantize(x, "mxfp4").dequantize()[0, :2].tolist() == [4.0, 6.0]
    assert F.quantize(x.float(), "mxfp4").dequantize()[0, :2].tolist() == [4.0, 4.0]


def test_quantize_bad_input():
    x = torch.randn(4, 64)
    with pytest.raises(ValueError, match="valid schemes: mxfp8_e4m3, mxfp8_e5m2, mxfp6_e2m3"):
        F.quantize(x, "mxfp3")
    with pytest.raises(ValueError, match="not a multiple of the block size 32, and pad=False"):
        F.quantize(torch.randn(4, 40), "mxfp4", pad=False)
    with pytest.raises(ValueError, match="scale_mode"):
        F.quantize(x, "mxfp4", scale_mode="round")
    with pytest.raises(ValueError, match="MX schemes only"):
        F.quantize(x, "nvfp4", scale_mode="rceil")
    with pytest.raises(ValueError, match="out of range"):
        F.quantize(x, "mxfp4", axis=2)
    with pytest.raises(ValueError, match="block_size"):
        F.quantize(x, "mxfp4", block_size=0)
    with pytest.raises(TypeError, match="floating-point"):
        F.quantize(torch.ones(4, 64, dtype=torch.int32), "mxfp4")
    with pytest.raises(TypeError, match="complex"):
        F.quantize(torch.ones(4, 64, dtype=torch.complex64), "mxfp4")
    with pytest.raises(ValueError, match="1-D"):
        F.quantize(torch.tensor(1.0), "mxfp4")


# ---------------------------------------------------------------------------------------------- scale layout


def closed_form_offset(m: int, kb: int, cols: int) -> int:
    n_ktiles = -(-cols // 4)
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4


@pytest.mark.parametrize("rows,cols", [(128, 4), (200, 7), (300, 9), (1, 1)])
def test_blocked_scales_match_closed_form(rows, cols):
    gen = torch.Generator().manual_seed(rows * 31 + cols)
    sf = torch.randint(1, 256, (rows, cols), generator=gen, dtype=torch.int32).to(torch.uint8)
    blocked = F.to_blocked_scales(sf)
    n_r, n_c = -(-rows // 128), -(-cols // 4)
    assert blocked.shape == (n_r * 128 * n_c * 4,)
    expect = torch.zeros_like(blocked)
    for m in range(rows):
        for kb in range(cols):
            expect[closed_form_offset(m, kb, cols)] = sf[m, kb]
    assert torch.equal(blocked, expect)              # data where the formula says, zeros in the padding
    assert torch.equal(F.from_blocked_scales(blocked, rows, cols), sf)


def test_blocked_scales_batch_dtype_and_errors():
    sf = torch.randint(0, 256, (3, 130, 6), dtype=torch.int32).to(torch.uint8)
    b = F.to_blocked_scales(sf)
    assert b.shape == (3, 2 * 2 * 512)
    for i in range(3):
        assert torch.equal(b[i], F.to_blocked_scales(sf[i]))
    assert torch.equal(F.from_blocked_scales(b, 130, 6), sf)
    f8 = sf[0].view(torch.float8_e8m0fnu)
    assert F.to_blocked_scales(f8).dtype == torch.float8_e8m0fnu
    assert torch.equal(F.to_blocked_scales(f8).view(torch.uint8), F.to_blocked_scales(sf[0]))
    with pytest.raises(ValueError, match="rows, cols"):
        F.to_blocked_scales(torch.zeros(5, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected a last dim of 1024"):
        F.from_blocked_scales(torch.zeros(512, dtype=torch.uint8), 130, 4)


# ---------------------------------------------------------------------------------------------- DeepSeek FP8


def ref_fp8_tile(vals: list[float], pow2: bool):
    f32 = np.float32
    amax = max(abs(f32(v)) for v in vals)
    s = f32(max(amax, f32(1e-4))) / f32(448.0)
    if pow2:
        e = math.frexp(float(s))[1]
        s = f32(2.0 ** (e - 1) if math.frexp(float(s))[0] == 0.5 else 2.0 ** e)
    out = []
    for v in vals:
        c, q = ref_round(float(f32(v) / s), "e4m3")
        out.append((c, f32(f32(q) * s)))
    return s, out


@pytest.mark.parametrize("pow2", [False, True])
def test_deepseek_fp8_act_and_weight_match_scalar_model(pow2):
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(3, 300, generator=gen) * 5
    x[1, 128:256] = 0.0                              # an all-zero tile: scale from the 1e-4 floor
    a = F.quantize_fp8_act(x, pow2_scales=pow2)
    assert a.scales.shape == (3, 3) and a.scales.dtype == torch.float32 and a.block == (1, 128)
    deq = a.dequantize()
    for r in range(3):
        for t in range(3):
            vals = x[r, t * 128:(t + 1) * 128].tolist()
            s, out = ref_fp8_tile(vals, pow2)
            assert a.scales[r, t].item() == float(s)
            assert a.codes[r, t * 128:t * 128 + len(vals)].tolist() == [c for c, _ in out]
            assert deq[r, t * 128:t * 128 + len(vals)].tolist() == [float(v) for _, v in out]
    w = torch.randn(200, 130, generator=gen)
    qw = F.quantize_fp8_weight(w, pow2_scales=pow2)
    assert qw.scales.shape == (2, 2) and qw.fp8.dtype == torch.float8_e4m3fn
    wd = qw.dequantize()
    for bi in range(2):
        for bj in range(2):
            blk = w[bi * 128:(bi + 1) * 128, bj * 128:(bj + 1) * 128]
            s, out = ref_fp8_tile(blk.flatten().tolist(), pow2)
            assert qw.scales[bi, bj].item() == float(s)
            got = wd[bi * 128:(bi + 1) * 128, bj * 128:(bj + 1) * 128].flatten().tolist()
            assert got == [float(v) for _, v in out]
    assert F.sqnr_db(w, wd) > 25


def test_deepseek_fp8_bad_input_and_nan():
    with pytest.raises(ValueError, match="2-D"):
        F.quantize_fp8_weight(torch.randn(4, 4, 4))
    with pytest.raises(ValueError, match="tile"):
        F.quantize_fp8_act(torch.randn(4, 128), tile=0)
    with pytest.raises(TypeError, match="floating-point"):
        F.quantize_fp8_act(torch.ones(2, 128, dtype=torch.int64))
    x = torch.randn(2, 256)
    x[0, 3] = float("nan")
    a = F.quantize_fp8_act(x)
    d = a.dequantize()
    assert torch.isnan(d[0, :128]).all() and torch.isfinite(d[0, 128:]).all() and torch.isfinite(d[1]).all()


def test_mx_module_reexported():
    assert F.quantize is mx.quantize and F.SCHEMES is mx.SCHEMES and F.Quantized is mx.Quantized
    assert {"quantize", "pack_fp4", "to_blocked_scales", "quantize_fp8_act"} <= set(F.__all__)
    assert F.SCHEMES["mxfp4"].bits_per_element == 4.25 and F.SCHEMES["nvfp4"].bits_per_element == 4.5


def test_nvfp4_gemm_case_matches_the_decoded_operands():
    """The GPU checks' NVFP4 case: packed operands + swizzled scales, and the FP32 product of their decoded values."""
    torch.manual_seed(0)
    (pa, pb, sa, sb), ref = F.nvfp4_gemm_case(128, 64, 64, device="cpu")
    assert pa.shape == (128, 32) and pb.shape == (64, 32) and pa.dtype == torch.uint8
    torch.manual_seed(0)
    qa, qb = F.quantize(torch.randn(128, 64), "nvfp4"), F.quantize(torch.randn(64, 64), "nvfp4")
    assert torch.equal(pa, F.pack_fp4(qa.codes)) and torch.equal(sb, F.to_blocked_scales(qb.scales))
    expected = (qa.dequantize() / qa.tensor_scale) @ (qb.dequantize() / qb.tensor_scale).t()
    assert float((ref - expected).norm() / expected.norm()) < 1e-6
    with pytest.raises(ValueError, match="multiple of NVFP4's block of 16"):
        F.nvfp4_gemm_case(16, 16, 40, device="cpu")


def test_nvfp4_gemm_case_without_reference_gives_the_same_operands():
    """`reference=False` (ladder_bench's timed 8192^3 case): the same operands from the same seed, no CPU matmul."""
    torch.manual_seed(1)
    ops, ref = F.nvfp4_gemm_case(128, 64, 64, device="cpu")
    torch.manual_seed(1)
    ops2, none = F.nvfp4_gemm_case(128, 64, 64, device="cpu", reference=False)
    assert none is None and ref.shape == (128, 64)
    assert len(ops2) == 4 and all(torch.equal(x, y) and y.is_contiguous() for x, y in zip(ops, ops2, strict=True))
    with pytest.raises(ValueError, match="multiple of NVFP4's block of 16"):
        F.nvfp4_gemm_case(16, 16, 40, device="cpu", reference=False)
