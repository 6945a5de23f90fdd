"""Element formats, bit-exact (`bwkit.formats.elements`, re-exported by `bwkit.formats`): FP8, FP6, FP4, scales.

    from bwkit import formats as F
    codes = F.encode(torch.tensor([0.3, -5.0, 100.0]), "e2m1")    # 0x1 (0.5), 0xE (-4: tie to even), 0x7 (6)
    F.decode(codes, "e2m1")                                       # float32 values those codes mean
    F.FORMATS["e4m3"].max                                         # 448.0 (also F.FORMATS["e4m3"]["max"])
    q = F.quantize(x, "mxfp4")            # block-scaled schemes (MX, NVFP4) and DeepSeek FP8: bwkit.formats.mx
    x_hat = q.dequantize()

Element formats (`fmt`): ``e2m1`` (FP4), ``e2m3``/``e3m2`` (FP6), ``e4m3`` (FP8 "fn"), ``e5m2`` (FP8), and the
scale formats ``ue8m0`` (MX: a power of two 2^-127..2^127) and ``ue4m3`` (NVFP4: E4M3 without its sign bit).
A code is the format's bit pattern in the low bits of a ``torch.uint8`` (sign bit at bit ``bits - 1``).

Conversion policy of `encode` (round to nearest, ties to even, on the value; every row is tested):

====== ============ ================ ==================== ============= ===========================
fmt    NaN in       ±Inf in          |x| > max            tiny |x|      -0.0
====== ============ ================ ==================== ============= ===========================
e2m1   ValueError   ±max (6)         ±max (always)        subnormal/±0  -0 code (sign bit set)
e2m3   ValueError   ±max (7.5)       ±max (always)        subnormal/±0  -0 code
e3m2   ValueError   ±max (28)        ±max (always)        subnormal/±0  -0 code
e4m3   S.1111.111   ±448             ±448 (NaN if         subnormal/±0  -0 code
                                     saturate=False)
e5m2   S.11111.10   ±Inf (±57344 if  ±Inf (IEEE; ±57344   subnormal/±0  -0 code
                    saturate=True)   if saturate=True)
ue4m3  0x7F         +Inf: 448        448 (NaN if          subnormal/0   0x00; negatives: ValueError
                                     saturate=False)
ue8m0  0xFF         +Inf: 2^127      2^127 (NaN 0xFF if   2^-127 (no    zero/negatives: ValueError
                                     saturate=False)      zero exists)  (E8M0 has no zero, no sign)
====== ============ ================ ==================== ============= ===========================

"Saturate to max normal" is what OCP MX conversion and PTX ``cvt.rn.satfinite`` do; ``saturate=False`` gives
the conversion of ``ml_dtypes`` (NaN or Inf on overflow) for the formats that have NaN or Inf. Subnormals are
produced and decoded in every format that has them (all but ue8m0). `decode` refuses codes outside the
format (e.g. 16 for e2m1, or a sign bit for ue4m3) with a ValueError. Inputs may be float16/bfloat16/float32/
float64 tensors of any shape (float64 is rounded once, directly, never through float32); integer, bool or
complex input raises TypeError.

Taught in lab 02 (number formats); the emulators are the reference of labs 04 and 07.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "FormatSpec", "FORMATS", "encode", "decode", "round_to_format", "value_table", "pack_fp4", "unpack_fp4",
]


@dataclass(frozen=True)
class FormatSpec:
    """Facts about one element or scale format (attribute or item access: ``spec.max`` == ``spec["max"]``)."""

    name: str
    bits: int               # storage bits of one code
    ebits: int              # exponent bits
    mbits: int              # mantissa (fraction) bits
    bias: int
    signed: bool
    max: float              # largest finite value ("max normal")
    min_normal: float
    min_subnormal: float | None   # None: no subnormals (ue8m0)
    emax: int               # exponent of the largest binade (max = (2 - 2^-m') * 2^emax style)
    emin: int               # exponent of the smallest normal binade
    has_inf: bool
    has_nan: bool
    max_code: int           # magnitude code of `max`
    nan_code: int | None    # magnitude code used for NaN (None: no NaN)
    inf_code: int | None    # magnitude code of +Inf (None: no Inf)
    saturate: bool          # default of encode(..., saturate=None)
    ml_dtype: str           # the matching ml_dtypes type name
    torch_dtype: str | None  # the matching torch dtype name, where torch has one

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(f"FormatSpec has no field {key!r}; fields: {', '.join(self.__dataclass_fields__)}")
        return getattr(self, key)

    @property
    def num_codes(self) -> int:
        """How many codes the format has (16 for e2m1, 64 for FP6, 128 for ue4m3, 256 for 8-bit formats)."""
        return 1 << (self.bits - (0 if self.signed or self.name == "ue8m0" else 1))


def _spec(name, bits, ebits, mbits, bias, signed, emax, max_code, nan_code, inf_code, saturate, ml, td):
    emin = 1 - bias if name != "ue8m0" else -127
    max_val = (2.0 - 2.0 ** -mbits) * 2.0 ** emax if name not in ("e4m3", "ue4m3") else 448.0
    if name == "ue8m0":
        max_val = 2.0 ** 127
    min_sub = None if name == "ue8m0" else 2.0 ** (emin - mbits)
    return FormatSpec(name, bits, ebits, mbits, bias, signed, max_val, 2.0 ** emin, min_sub, emax, emin,
                      inf_code is not None, nan_code is not None, max_code, nan_code, inf_code, saturate,
                      ml, td)


FORMATS: dict[str, FormatSpec] = {
    "e2m1": _spec("e2m1", 4, 2, 1, 1, True, 2, 0x7, None, None, True, "float4_e2m1fn", None),
    "e2m3": _spec("e2m3", 6, 2, 3, 1, True, 2, 0x1F, None, None, True, "float6_e2m3fn", None),
    "e3m2": _spec("e3m2", 6, 3, 2, 3, True, 4, 0x1F, None, None, True, "float6_e3m2fn", None),
    "e4m3": _spec("e4m3", 8, 4, 3, 7, True, 8, 0x7E, 0x7F, None, True, "float8_e4m3fn", "float8_e4m3fn"),
    "e5m2": _spec("e5m2", 8, 5, 2, 15, True, 15, 0x7B, 0x7E, 0x7C, False, "float8_e5m2", "float8_e5m2"),
    "ue4m3": _spec("ue4m3", 8, 4, 3, 7, False, 8, 0x7E, 0x7F, None, True, "float8_e4m3fn", "float8_e4m3fn"),
    "ue8m0": _spec("ue8m0", 8, 8, 0, 127, False, 127, 0xFE, 0xFF, None, True, "float8_e8m0fnu",
                   "float8_e8m0fnu"),
}


def _get_spec(fmt: str) -> FormatSpec:
    if isinstance(fmt, FormatSpec):
        return fmt
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    return FORMATS[fmt]


def _magnitude_value(spec: FormatSpec, c: int) -> float:
    """Value of magnitude code `c` (no sign bit), from the format's definition."""
    if spec.nan_code is not None and c == spec.nan_code:
        return float("nan")
    if spec.name == "ue8m0":
        return 2.0 ** (c - 127)
    if spec.name == "e5m2" and c >= 0x7C:
        return float("inf") if c == 0x7C else float("nan")
    efield, mfield = c >> spec.mbits, c & ((1 << spec.mbits) - 1)
    if efield == 0:                                    # subnormal: 0.m * 2^emin
        return mfield * 2.0 ** (spec.emin - spec.mbits)
    return ((1 << spec.mbits) + mfield) * 2.0 ** (efield - spec.bias - spec.mbits)


_TABLES: dict[str, torch.Tensor] = {}


def value_table(fmt: str) -> torch.Tensor:
    """float32 tensor of the value of every code of `fmt` (index = code; NaN where the code means NaN)."""
    spec = _get_spec(fmt)
    if spec.name not in _TABLES:
        n = spec.num_codes
        half = n // 2 if spec.signed else n
        vals = [_magnitude_value(spec, c) for c in range(half)]
        if spec.signed:
            vals = vals + [-v for v in vals]
        _TABLES[spec.name] = torch.tensor(vals, dtype=torch.float32)
    return _TABLES[spec.name].clone()


def _as_float_tensor(x: Any, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        if isinstance(x, bool | int) or (isinstance(x, list | tuple) and x and
                                         all(isinstance(v, bool | int) for v in x)):
            raise TypeError(f"{what} needs floating-point input, got {type(x).__name__} of integers; "
                            "pass floats (e.g. torch.tensor([...], dtype=torch.float32))")
        if isinstance(x, complex):
            raise TypeError(f"{what} needs real floating-point input, got complex")
        if x is None or isinstance(x, str | bytes):
            raise TypeError(f"{what} needs a floating-point tensor (or a float, or a list of floats), got "
                            f"{type(x).__name__} {x!r}" + (" (a number typed as text: drop the quotes)"
                                                           if isinstance(x, str) else ""))
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{what} needs a floating-point tensor (or a float, or a list of floats), got "
                            f"{type(x).__name__}: {e}") from None
    if x.dtype.is_complex:
        raise TypeError(f"{what} needs real floating-point input, got {x.dtype}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{what} needs floating-point input (float16/bfloat16/float32/float64), "
                        f"got {x.dtype}")
    if x.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        x = x.to(torch.float32)                        # fp8 tensors etc.: exact upcast
    elif x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)                        # exact
    return x


def _float_parts(a: torch.Tensor):
    """(int view, mantissa bits = exponent shift, exponent bias, exponent mask) of a float32/float64 tensor."""
    if a.dtype == torch.float64:
        return a.view(torch.int64), 52, 1023, 0x7FF
    return a.view(torch.int32), 23, 127, 0xFF


_TORCH_FP8 = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}


def _encode_e8m0(x: torch.Tensor, saturate: bool) -> torch.Tensor:
    a = x.to(torch.float64)
    nan = torch.isnan(a)
    bad = (a <= 0) | (torch.signbit(a) & ~nan)
    if bool(bad.any()):
        v = a[bad][0].item()
        raise ValueError(f"ue8m0 encodes positive values only (it has no sign and no zero), got {v}")
    inf = torch.isinf(a)
    m, ex = torch.frexp(torch.where(inf | nan, 1.0, a))   # a = m * 2^ex, m in [0.5, 1)
    r = torch.round(m * 2.0)                            # 1 or 2: ties (1.5) go to the even significand, 2
    code = (ex.to(torch.int64) - 1) + 127 + (r.to(torch.int64) - 1)
    over = code > 254
    code = code.clamp(0, 254)                           # below 2^-127 the nearest code is 2^-127
    if not saturate:
        code = torch.where(over | inf, 255, code)
    code = torch.where(inf, 254 if saturate else 255, code)
    code = torch.where(nan, 255, code)
    return code.to(torch.uint8)


def encode(x: Any, fmt: str, *, saturate: bool | None = None) -> torch.Tensor:
    """Round `x` to format `fmt` (nearest, ties to even); return the codes as torch.uint8, same shape.

    `saturate=None` uses the format's default (True for all but e5m2): out-of-range values become ±max.
    `saturate=False` gives NaN (e4m3, ue4m3, ue8m0) or Inf (e5m2) on overflow; e2m1/e2m3/e3m2 have neither,
    so they always saturate and refuse `saturate=False`. See the module docstring for NaN/Inf/-0 policy.
    Taught in lab 02, step 3.
    """
    spec = _get_spec(fmt)
    x = _as_float_tensor(x, "encode")
    if saturate is not None and not isinstance(saturate, bool):
        raise ValueError(f"encode: saturate must be None, True or False, got {saturate!r}")
    sat = spec.saturate if saturate is None else saturate
    if not sat and not (spec.has_nan or spec.has_inf):
        raise ValueError(f"{spec.name} has no Inf or NaN: conversion to it always saturates; "
                         "saturate=False is only meaningful for e4m3, e5m2, ue4m3 and ue8m0")
    if spec.name == "ue8m0":
        return _encode_e8m0(x, sat)
    nan = torch.isnan(x)
    any_nan = bool(nan.any())
    if spec.name in _TORCH_FP8 and x.dtype == torch.float32 and not any_nan and (sat or spec.name == "e5m2"):
        # torch's own casts round to nearest-even, saturate e4m3 and overflow e5m2 to Inf: the same rules,
        # checked code for code against ml_dtypes by the tests; clamping first makes e5m2 saturate.
        xs = x.clamp(-spec.max, spec.max) if (sat and spec.name == "e5m2") else x
        return xs.to(_TORCH_FP8[spec.name]).view(torch.uint8)
    if any_nan and not spec.has_nan:
        raise ValueError(f"{spec.name} has no NaN, and the input holds {int(nan.sum())} NaN value(s); "
                         "remove them (MX quantization marks such blocks with a NaN scale instead)")
    sign = torch.signbit(x)
    if not spec.signed:
        neg = sign & (x != 0) & ~nan
        if bool(neg.any()):
            raise ValueError(f"{spec.name} is unsigned and encodes values >= 0 only, got {x[neg][0].item()}")
    a = x.abs()                                         # a fresh tensor: the steps below work in place
    if any_nan:
        a = torch.where(nan, 0.0, a)
    bits, shift, fbias, _ = _float_parts(a)
    # biased exponent field of a (a >= 0: no sign bit), clamped: below emin the grid is the subnormal one; at
    # emax + 1 and above everything saturates. Zero and float subnormals land on emin.
    eb = (bits >> shift).clamp_(spec.emin + fbias, spec.emax + 1 + fbias)
    # 2^(m - e) built from bits: exact, so a * 2^(m - e) puts a on the integer grid of its binade
    p = torch.sub(2 * fbias + spec.mbits, eb).bitwise_left_shift_(shift).view(a.dtype)
    y = a.mul_(p).clamp_(max=float(2 ** (spec.mbits + 2)))   # the clamp tames Inf before int conversion
    r = torch.round(y, out=y)                           # round half to even: the format's RNE
    # code = (e - emin) * 2^m + r: a carry out of the mantissa moves into the exponent field by itself
    mag = eb.sub_(spec.emin + fbias).bitwise_left_shift_(spec.mbits).add_(r.to(eb.dtype))
    if sat:
        mag = mag.clamp_(max=spec.max_code)
    elif spec.inf_code is not None:
        mag = mag.clamp_(max=spec.inf_code)             # e5m2: overflow (and Inf) -> Inf
    else:
        mag = mag.clamp_(max=spec.nan_code)             # e4m3/ue4m3: overflow (and Inf) -> NaN
    if any_nan:
        mag = torch.where(nan, spec.nan_code, mag)
    out = mag.to(torch.uint8)
    if spec.signed:
        out |= sign.to(torch.uint8) << (spec.bits - 1)
    return out


def decode(codes: torch.Tensor, fmt: str) -> torch.Tensor:
    """Values (float32, same shape) of integer `codes` in format `fmt`; codes outside the format raise.

    Taught in lab 02, step 2.
    """
    spec = _get_spec(fmt)
    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"decode needs a torch integer tensor of codes, got {type(codes).__name__}")
    if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
        raise TypeError(f"decode needs integer codes (torch.uint8), got {codes.dtype}; for a torch float8 "
                        "tensor pass t.view(torch.uint8)")
    if spec.name in _TORCH_FP8 or spec.name == "ue8m0":
        if codes.dtype == torch.uint8:      # every byte is a code: torch's own cast decodes it
            return codes.view(getattr(torch, spec.torch_dtype)).to(torch.float32)
    table = value_table(spec.name).to(codes.device)
    if codes.numel():
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= spec.num_codes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"code {bad} is not a {spec.name} code (valid: 0..{spec.num_codes - 1}"
                             + ("; ue4m3 has no sign bit" if spec.name == "ue4m3" else "") + ")")
    return table[codes.to(torch.int64)]


def round_to_format(x: Any, fmt: str, *, saturate: bool | None = None) -> torch.Tensor:
    """`decode(encode(x, fmt), fmt)`: the float32 value `x` becomes in `fmt` (fake quantization)."""
    return decode(encode(x, fmt, saturate=saturate), fmt)


def pack_fp4(codes: torch.Tensor) -> torch.Tensor:
    """Pack 4-bit codes two per byte along the last dim: element 2i in the low nibble, 2i+1 in the high one.

    This is the layout of torch.float4_e2m1fn_x2 and of Triton's `tl.dot_scaled` "e2m1" operands. The last
    dim must be even. (PTX `cvt.rn.satfinite.e2m1x2.f32 d, a, b` puts `a` in the *high* nibble.)
    Taught in lab 02, step 8.
    """
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.uint8:
        raise TypeError(f"pack_fp4 needs a torch.uint8 tensor of 4-bit codes, got "
                        f"{getattr(codes, 'dtype', type(codes).__name__)}")
    if codes.dim() == 0 or codes.shape[-1] % 2:
        raise ValueError("pack_fp4 packs pairs along the last dim, which must be even; "
                         f"shape {list(codes.shape)}")
    if codes.numel() and int(codes.max()) > 15:
        raise ValueError(f"pack_fp4: code {int(codes.max())} does not fit in 4 bits (valid 0..15)")
    return codes[..., 0::2] | (codes[..., 1::2] << 4)


def unpack_fp4(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of `pack_fp4`: uint8 bytes [..., n] -> uint8 codes [..., 2n] (low nibble first)."""
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8:
        raise TypeError("unpack_fp4 needs a torch.uint8 tensor, "
                        f"got {getattr(packed, 'dtype', type(packed))}")
    if packed.dim() == 0:
        raise ValueError("unpack_fp4 needs at least one dimension")
    out = torch.stack([packed & 0xF, packed >> 4], dim=-1)
    return out.reshape(*packed.shape[:-1], packed.shape[-1] * 2)
