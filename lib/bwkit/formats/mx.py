"""Block-scaled quantization, bit-exact: OCP MX (MXFP8/MXFP6/MXFP4/MXINT8), NVIDIA NVFP4, DeepSeek-V3 FP8.

    from bwkit import formats as F          # bwkit.formats re-exports everything here
    q = F.quantize(x, "mxfp4")              # blocks of 32 along the last axis, one E8M0 scale each
    q.codes, q.scales                       # uint8 element codes (x's shape), uint8 scale codes
    x_hat = q.dequantize()                  # float32, x's shape
    F.sqnr_db(x, x_hat)                     # signal-to-quantization-noise ratio in dB
    sf_tiled = F.to_blocked_scales(q.scales)    # the 128x4 tiled layout tcgen05 / cuBLAS read

Schemes (`SCHEMES`): mxfp8_e4m3, mxfp8_e5m2, mxfp6_e2m3, mxfp6_e3m2, mxfp4 (32 elements, UE8M0 scale),
mxint8 (32 int8 elements with an implicit 2^-6, UE8M0 scale), nvfp4 (16 E2M1 elements, UE4M3 scale, and an
FP32 scale per tensor).

MX rules (OCP Microscaling Formats v1.0, section 6.3). Per block, amax = max |x|;
  * ``scale_mode="floor"`` (the spec): shared exponent e = floor(log2 amax) - emax_elem. The block max then
    lands in [2^emax, 2^(emax+1)) and may exceed the element max: it saturates (for FP4 a 7 becomes 6).
  * ``scale_mode="rceil"``: e = ceil(log2(amax / max_elem)), computed exactly, so the block max never clips
    (it costs up to one binade of resolution). This is the rule NVIDIA states for cuDNN's block-scale quantize
    (cuDNN frontend docs, "Block Scaling": scale = quantize_round_up(amax / vmax_otype)) and the one
    TransformerEngine's MXFP8 recipe uses; cuBLAS only consumes the scales, it does not define a rule.
  * e is clamped to the E8M0 range [-127, 127]. An all-zero block gets e = -127 (code 0) and zero codes.
  * A block holding NaN or ±Inf gets the NaN scale (0xFF) and zero element codes: it dequantizes to NaN in
    every element, as the spec says a NaN scale does.
  * Elements: x / 2^e rounded to nearest-even and saturated to ±max_elem (MXINT8: round(x / 2^e * 64),
    nearest-even, clamped to ±127, symmetric).
NVFP4 (the recipe of NVIDIA's TransformerEngine / ModelOpt): S_enc = 448 * 6 / amax_tensor in fp32 (1 when
amax is 0 or not finite; the largest float32 if it would overflow); per block of 16,
sf = ue4m3_rne(amax_b * S_enc / 6); elements q = e2m1_rne(x * (S_enc / sf)) (all zero when sf is 0);
``tensor_scale`` = fp32(amax_tensor / (448 * 6)) (1 when S_enc is 1), the decode scale as torchao and
TransformerEngine store it; decode x_hat = (q * sf) * tensor_scale. A block with NaN/Inf gets the NaN
scale 0x7F. ``scale_mode`` must stay "floor" (the UE4M3 scale is rounded to nearest, not floored or ceiled).

Layout: ``axis`` is the blocked axis. If its length does not divide into blocks, the tail block is padded with
zeros (``pad=True``, the default; zeros never change a block's amax, and codes are cropped back), or a
ValueError is raised (``pad=False``). ``codes`` has x's shape; ``scales`` has x's shape with ``axis``
replaced by the number of blocks. float64 input is rounded once, directly, by the MX schemes; NVFP4 and the
DeepSeek recipes compute in FP32 and convert it first. ``dequantize`` returns float32 (or ``dtype``): a decoded
value beyond float32's range (e.g. E5M2 57344 x 2^127) becomes ±Inf there.

DeepSeek-V3 FP8 (deepseek-ai/DeepSeek-V3 inference/kernel.py): activations in 1x128 tiles along the last dim,
weights in 128x128 blocks; scale s = max(amax, 1e-4) / 448 in FP32 (``pow2_scales=True`` rounds s up to a
power of two, the UE8M0 variant); elements e4m3(x / s), saturating. The 1e-4 floor is DeepSeek's for
activations; its weight kernel divides by amax as it is, and the kit floors weight blocks too, so that an all-zero
block keeps a finite scale.

Taught in lab 02 (steps 4-9); the reference that the GEMM (04) and MoE (07) labs check their kernels against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as tnf

from bwkit.formats.elements import FORMATS, _as_float_tensor, decode, encode, pack_fp4, value_table
from bwkit.kit.args import check_flag, check_number

__all__ = [
    "SchemeSpec", "SCHEMES", "Quantized", "quantize", "to_blocked_scales", "from_blocked_scales",
    "FP8Blockwise", "quantize_fp8_act", "quantize_fp8_weight", "sqnr_db", "nvfp4_gemm_case",
    "check_operand", "check_nvfp4_operands",
]

SCALE_MODES = ("floor", "rceil")


@dataclass(frozen=True)
class SchemeSpec:
    """One block-scaled scheme: element format, block size, scale format, and the element's emax and max."""

    name: str
    elem: str            # an element format of FORMATS, or "int8"
    block_size: int
    scale_fmt: str       # "ue8m0" (MX) or "ue4m3" (NVFP4)
    emax_elem: int       # exponent of the element's largest binade (OCP table 1)
    max_elem: float
    elem_bits: int
    tensor_scale: bool = False

    @property
    def bits_per_element(self) -> float:
        """Storage cost per element including the block scale (4.25 for MXFP4, 4.5 for NVFP4)."""
        return self.elem_bits + 8 / self.block_size


def _mx(name: str, elem: str) -> SchemeSpec:
    f = FORMATS[elem]
    return SchemeSpec(name, elem, 32, "ue8m0", f.emax, f.max, f.bits)


SCHEMES: dict[str, SchemeSpec] = {
    "mxfp8_e4m3": _mx("mxfp8_e4m3", "e4m3"),
    "mxfp8_e5m2": _mx("mxfp8_e5m2", "e5m2"),
    "mxfp6_e2m3": _mx("mxfp6_e2m3", "e2m3"),
    "mxfp6_e3m2": _mx("mxfp6_e3m2", "e3m2"),
    "mxfp4": _mx("mxfp4", "e2m1"),
    "mxint8": SchemeSpec("mxint8", "int8", 32, "ue8m0", 0, 127 / 64, 8),
    "nvfp4": SchemeSpec("nvfp4", "e2m1", 16, "ue4m3", 2, 6.0, 4, tensor_scale=True),
}


def _get_scheme(scheme: str) -> SchemeSpec:
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    return SCHEMES[scheme]


def _check_int(v: object, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{what} must be a positive int, got {v!r}")
    return v


def _check_float_dtype(dtype: object, what: str) -> None:
    """Raise TypeError unless `dtype` is a torch floating-point dtype (a name such as 'bf16' is not one)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{what}: dtype must be a torch floating-point dtype (e.g. torch.float32, torch.bfloat16), "
                        f"got {dtype!r}")


def _to_blocks(x: torch.Tensor, axis: int, block: int, pad: bool, what: str) -> tuple[torch.Tensor, int]:
    """x with `axis` moved last and split into blocks: [..., n_blocks, block]; also the axis length."""
    xm = x.movedim(axis, -1)
    n = xm.shape[-1]
    nb = -(-n // block)
    if n % block:
        if not pad:
            raise ValueError(f"{what}: axis {axis} has length {n}, not a multiple of the block size {block}, "
                             "and pad=False; pad the data or pass pad=True (zeros fill the last block)")
        xm = tnf.pad(xm, (0, nb * block - n))
    return xm.reshape(*xm.shape[:-1], nb, block), n


def _from_blocks(yb: torch.Tensor, n: int, axis: int) -> torch.Tensor:
    y = yb.reshape(*yb.shape[:-2], yb.shape[-2] * yb.shape[-1])[..., :n]
    return y.movedim(-1, axis)


def _floor_log2(a: torch.Tensor) -> torch.Tensor:
    """floor(log2 a) for a > 0 (exact, via frexp); int64."""
    _, ex = torch.frexp(a)
    return ex.to(torch.int64) - 1


def _ceil_log2(a: torch.Tensor) -> torch.Tensor:
    """ceil(log2 a) for a > 0 (exact, via frexp); int64."""
    m, ex = torch.frexp(a)
    return ex.to(torch.int64) - (m == 0.5).to(torch.int64)


@dataclass
class Quantized:
    """A block-scaled tensor: element codes, scale codes (NVFP4: a tensor scale too); `.dequantize()`."""

    codes: torch.Tensor                # uint8, same shape as the input (mxint8: int8 bits)
    scales: torch.Tensor               # uint8 scale codes: input shape with `axis` -> number of blocks
    tensor_scale: torch.Tensor | None  # nvfp4: fp32 scalar decode multiplier, amax/(448*6); None for MX
    scheme: str
    shape: tuple[int, ...]
    axis: int = -1
    block_size: int = 32
    scale_mode: str = "floor"
    spec: SchemeSpec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.spec = _get_scheme(self.scheme)
        self.axis = self.axis % max(len(self.shape), 1)

    def element_values(self) -> torch.Tensor:
        """The elements' values without their scales (float32, input shape)."""
        if self.spec.elem == "int8":
            return self.codes.view(torch.int8).to(torch.float32) * 2.0 ** -6
        return decode(self.codes, self.spec.elem)

    def scale_values(self) -> torch.Tensor:
        """The block scales as float32 (NaN for a NaN scale), shaped like `scales`."""
        return decode(self.scales, self.spec.scale_fmt)

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Decode to `dtype` (float32 by default): element * block scale (* tensor_scale for NVFP4)."""
        _check_float_dtype(dtype, "Quantized.dequantize")
        elem = self.element_values()
        eb, n = _to_blocks(elem, self.axis, self.block_size, True, "dequantize")
        sf = self.scale_values().movedim(self.axis, -1)
        y = eb * sf.unsqueeze(-1)                       # exact: narrow element x power of two / e4m3
        if self.tensor_scale is not None:
            y = y * self.tensor_scale
        return _from_blocks(y, n, self.axis).to(dtype)


def quantize(x: torch.Tensor, scheme: str, *, axis: int = -1, scale_mode: str = "floor",
             block_size: int | None = None, pad: bool = True) -> Quantized:
    """Quantize `x` to block-scaled `scheme` along `axis`; return a `Quantized` (see the module docstring).

    `scale_mode` is "floor" (OCP v1.0) or "rceil" (cuDNN block-scale quantize, TransformerEngine) for MX; NVFP4 takes
    "floor" only. `block_size` overrides the scheme's (32 for MX, 16 for NVFP4) for experiments; hardware uses
    the default. `pad=False` refuses a blocked axis that is not a multiple of the block size.
    Taught in lab 02, steps 4-7.
    """
    spec = _get_scheme(scheme)
    x = _as_float_tensor(x, "quantize")
    if x.dim() == 0:
        raise ValueError("quantize needs at least a 1-D tensor (blocks run along `axis`)")
    if isinstance(axis, bool) or not isinstance(axis, int) or not -x.dim() <= axis < x.dim():
        raise ValueError(f"axis {axis!r} is out of range for a {x.dim()}-D tensor")
    if scale_mode not in SCALE_MODES:
        raise ValueError(f"unknown scale_mode {scale_mode!r}; valid: {', '.join(SCALE_MODES)}")
    if spec.tensor_scale and scale_mode != "floor":
        raise ValueError("nvfp4 rounds its UE4M3 block scale to nearest: scale_mode applies to MX schemes "
                         "only (leave it at 'floor')")
    bs = spec.block_size if block_size is None else _check_int(block_size, "block_size")
    if not isinstance(pad, bool):
        raise ValueError(f"quantize: pad must be True or False, got {pad!r}")
    axis = axis % x.dim()
    if spec.tensor_scale:            # NVFP4's recipe computes in FP32; MX rounds float64 input directly
        x = x.to(torch.float32)
    xb, n = _to_blocks(x, axis, bs, pad, f"quantize({scheme!r})")
    if xb.shape[-1] and xb.numel():
        lo, hi = torch.aminmax(xb, dim=-1)              # one pass; NaN propagates, -(-Inf) is Inf
        amax = torch.maximum(-lo, hi)
    else:
        amax = torch.zeros(xb.shape[:-1], dtype=xb.dtype, device=xb.device)
    bad = ~torch.isfinite(amax)                         # NaN or Inf somewhere in the block
    any_bad = bool(bad.any())
    if spec.tensor_scale:
        codes, scales, ts = _quantize_nvfp4(xb, amax, bad, any_bad)
    else:
        codes, scales = _quantize_mx(spec, xb, amax, bad, any_bad, scale_mode)
        ts = None
    return Quantized(_from_blocks(codes, n, axis).contiguous(), scales.movedim(-1, axis).contiguous(), ts,
                     spec.name, tuple(x.shape), axis, bs, scale_mode)


def _quantize_mx(spec: SchemeSpec, xb, amax, bad, any_bad, scale_mode):
    safe = torch.where(bad | (amax == 0), 1.0, amax)
    if scale_mode == "floor":
        e = _floor_log2(safe) - spec.emax_elem
    else:  # exact ceil(log2(amax / max_elem)): the float64 quotient cannot land on a power of two by rounding
        e = _ceil_log2(safe.to(torch.float64) / spec.max_elem)
    e = torch.where(amax == 0, -127, e).clamp(-127, 127)
    scale_codes = (e + 127).to(torch.uint8)
    scale = value_table("ue8m0").to(xb.device)[scale_codes.to(torch.int64)]   # exact powers of two, 2^-127 too
    v = xb / scale.unsqueeze(-1)                                   # exact
    if any_bad:
        v = torch.where(bad.unsqueeze(-1), 0.0, v)
        scale_codes = torch.where(bad, 0xFF, scale_codes.to(torch.int32)).to(torch.uint8)
    if spec.elem == "int8":
        codes = torch.round(v * 64.0).clamp(-127, 127).to(torch.int8).view(torch.uint8)
    else:
        codes = _encode_finite(v, spec.elem)
    return codes, scale_codes


def _encode_finite(v: torch.Tensor, fmt: str) -> torch.Tensor:
    """encode(v, fmt, saturate=True) for v known to hold no NaN (FP8 from float32: torch's cast, no scan)."""
    spec = FORMATS[fmt]
    if fmt in ("e4m3", "e5m2") and v.dtype == torch.float32:
        v = v.clamp(-spec.max, spec.max) if fmt == "e5m2" else v     # torch's e4m3 cast saturates by itself
        return v.to(getattr(torch, spec.torch_dtype)).view(torch.uint8)
    return encode(v, fmt, saturate=True)


def _quantize_nvfp4(xb, amax, bad, any_bad):
    amax_t = amax.max() if amax.numel() else torch.tensor(0.0)     # the tensor's amax (padding is zeros)
    if bool(torch.isfinite(amax_t)) and float(amax_t) > 0:
        s_enc = torch.tensor(448.0 * 6.0, dtype=torch.float32) / amax_t
        s_enc = s_enc.clamp(max=torch.finfo(torch.float32).max)
        tensor_scale = amax_t.to(torch.float32) / (448.0 * 6.0)      # the decode scale, stored as torchao does
        if float(tensor_scale) == 0:                                   # amax below ~1e-42: keep it invertible
            tensor_scale = 1.0 / s_enc
    else:
        s_enc = torch.tensor(1.0, dtype=torch.float32)
        tensor_scale = torch.tensor(1.0, dtype=torch.float32)
    tensor_scale = tensor_scale.reshape(())
    target = torch.where(bad, 0.0, amax) * s_enc / 6.0
    sf_codes = encode(target, "ue4m3")
    sf = decode(sf_codes, "ue4m3")
    inv = torch.where(sf > 0, s_enc / torch.where(sf > 0, sf, 1.0), 0.0)
    v = xb * inv.unsqueeze(-1)
    if any_bad:
        v = torch.where(bad.unsqueeze(-1), 0.0, v)
        sf_codes = torch.where(bad, 0x7F, sf_codes.to(torch.int32)).to(torch.uint8)
    return encode(v, "e2m1"), sf_codes, tensor_scale


def sqnr_db(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Signal-to-quantization-noise ratio 10*log10(sum x^2 / sum (x - x_hat)^2) in dB (inf if exact)."""
    if not isinstance(x, torch.Tensor) or not isinstance(x_hat, torch.Tensor):
        raise TypeError("sqnr_db takes two torch tensors")
    if x.shape != x_hat.shape:
        raise ValueError(f"sqnr_db: shapes differ, {list(x.shape)} vs {list(x_hat.shape)}")
    if x.numel() == 0:
        raise ValueError(f"sqnr_db: x and x_hat are empty (shape {list(x.shape)}): there is no signal to compare")
    xd = x.to(torch.float64)
    if not bool(torch.isfinite(xd).all() and torch.isfinite(x_hat.to(torch.float64)).all()):
        raise ValueError("sqnr_db: x and x_hat must be finite (a NaN or Inf has no signal-to-noise ratio); "
                         "an overflow to Inf is what saturate=True formats avoid")
    noise = float(((xd - x_hat.to(torch.float64)) ** 2).sum())
    signal = float((xd ** 2).sum())
    if noise == 0:
        return math.inf
    return 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf


# ----------------------------------------------------------------------------------------------------------
# The 128x4 tiled scale-factor layout of tcgen05 block-scaled MMA and cuBLAS.


def to_blocked_scales(sf: torch.Tensor) -> torch.Tensor:
    """Rearrange scale factors [..., rows, cols] (rows = M or N, cols = K / block) into the tiled layout.

    Rows are padded to a multiple of 128 and columns to a multiple of 4 (with zeros); the result is flat
    per matrix: [..., ceil(rows/128) * 128 * ceil(cols/4) * 4]. Scale (m, kb) lands at
    (m//128)*nKtiles*512 + (kb//4)*512 + (m%32)*16 + ((m%128)//32)*4 + kb%4, nKtiles = ceil(cols/4).
    Any dtype (uint8 codes, float8). Taught in lab 02, step 8.
    """
    if not isinstance(sf, torch.Tensor):
        raise TypeError(f"to_blocked_scales needs a torch tensor, got {type(sf).__name__}")
    if sf.dim() < 2:
        raise ValueError("to_blocked_scales needs [..., rows, cols] scale factors, "
                         f"got shape {list(sf.shape)}")
    rows, cols = sf.shape[-2], sf.shape[-1]
    n_r, n_c = -(-rows // 128), -(-cols // 4)
    batch = sf.shape[:-2]
    work = sf.view(torch.uint8) if sf.element_size() == 1 and sf.dtype != torch.uint8 else sf
    padded = work.new_zeros(*batch, n_r * 128, n_c * 4)
    padded[..., :rows, :cols] = work
    t = padded.reshape(*batch, n_r, 4, 32, n_c, 4)      # (r, i, j, c, l): m = 128r + 32i + j, kb = 4c + l
    nb = len(batch)
    t = t.permute(*range(nb), nb + 0, nb + 3, nb + 2, nb + 1, nb + 4)   # -> (r, c, j, i, l)
    out = t.reshape(*batch, n_r * n_c * 512)
    return out.view(sf.dtype) if work is not sf else out


def from_blocked_scales(blocked: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Inverse of `to_blocked_scales`: flat tiled scales [..., L] -> [..., rows, cols] (padding dropped)."""
    if not isinstance(blocked, torch.Tensor):
        raise TypeError(f"from_blocked_scales needs a torch tensor, got {type(blocked).__name__}")
    rows, cols = _check_int(rows, "rows"), _check_int(cols, "cols")
    n_r, n_c = -(-rows // 128), -(-cols // 4)
    if blocked.dim() < 1 or blocked.shape[-1] != n_r * n_c * 512:
        raise ValueError(f"from_blocked_scales: expected a last dim of {n_r * n_c * 512} "
                         f"(= {n_r}x128 rows x {n_c}x4 cols) for rows={rows}, cols={cols}; "
                         f"got shape {list(blocked.shape)}")
    batch = blocked.shape[:-1]
    nb = len(batch)
    t = blocked.reshape(*batch, n_r, n_c, 32, 4, 4)     # (r, c, j, i, l)
    t = t.permute(*range(nb), nb + 0, nb + 3, nb + 2, nb + 1, nb + 4)   # -> (r, i, j, c, l)
    return t.reshape(*batch, n_r * 128, n_c * 4)[..., :rows, :cols].contiguous()


# ----------------------------------------------------------------------------------------------------------
# DeepSeek-V3 FP8: 1x128 activation tiles, 128x128 weight blocks, FP32 (or power-of-two) scales.


@dataclass
class FP8Blockwise:
    """FP8 E4M3 codes with one FP32 scale per tile/block; `.dequantize()` gives codes * scale in FP32."""

    codes: torch.Tensor        # uint8 e4m3 codes, input shape (`.fp8` views them as torch.float8_e4m3fn)
    scales: torch.Tensor       # float32: activations [..., ceil(K/tile)], weights [ceil(N/b), ceil(K/b)]
    block: tuple[int, int]     # (1, tile) for activations, (block, block) for weights
    shape: tuple[int, ...]
    pow2_scales: bool = False

    @property
    def fp8(self) -> torch.Tensor:
        """The codes as a torch.float8_e4m3fn tensor (no copy)."""
        return self.codes.view(torch.float8_e4m3fn)

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """codes * scale in float32, cast to `dtype`."""
        _check_float_dtype(dtype, "FP8Blockwise.dequantize")
        vals = decode(self.codes, "e4m3")
        bm, bk = self.block
        s = self.scales
        if bm != 1:
            s = s.repeat_interleave(bm, dim=-2)[: vals.shape[-2]]
        s = s.repeat_interleave(bk, dim=-1)[..., : vals.shape[-1]]
        return (vals * s).to(dtype)


def _fp8_scale(amax: torch.Tensor, min_amax: float, pow2: bool) -> torch.Tensor:
    bad = ~torch.isfinite(amax)
    s = torch.clamp(amax, min=min_amax) / 448.0
    if pow2:
        e = _ceil_log2(torch.where(bad | (s == 0), 1.0, s)).clamp(-126, 127)
        s = ((e.to(torch.int32) + 127) << 23).view(torch.float32)      # exact 2^e
    return torch.where(bad, float("nan"), s)


def quantize_fp8_act(x: torch.Tensor, tile: int = 128, pow2_scales: bool = False, *,
                     min_amax: float = 1e-4) -> FP8Blockwise:
    """DeepSeek-V3 activation quantization: per 1 x `tile` tile of the last dim, s = max(amax, min_amax)/448.

    A ragged last tile is padded with zeros. A tile with NaN/Inf gets a NaN scale (dequantizes to NaN).
    Taught in lab 02, step 9; used by lab 07.
    """
    x = _as_float_tensor(x, "quantize_fp8_act").to(torch.float32)
    tile = _check_int(tile, "tile")
    check_flag("quantize_fp8_act: pow2_scales", pow2_scales)
    if x.dim() == 0:
        raise ValueError("quantize_fp8_act needs at least a 1-D tensor [..., K]")
    if not (isinstance(min_amax, float | int) and not isinstance(min_amax, bool) and 0 < min_amax < math.inf):
        raise ValueError(f"min_amax must be > 0 (and finite), got {min_amax!r}")
    xb, n = _to_blocks(x, -1, tile, True, "quantize_fp8_act")
    s = _fp8_scale(xb.abs().amax(-1), float(min_amax), bool(pow2_scales))
    y = xb / s.unsqueeze(-1)
    codes = encode(y, "e4m3")
    return FP8Blockwise(_from_blocks(codes, n, x.dim() - 1).contiguous(), s, (1, tile), tuple(x.shape),
                        bool(pow2_scales))


def quantize_fp8_weight(w: torch.Tensor, block: int = 128, pow2_scales: bool = False, *,
                        min_amax: float = 1e-4) -> FP8Blockwise:
    """DeepSeek-V3 weight quantization: per `block` x `block` block of w [N, K], s = max(amax, min_amax)/448.

    DeepSeek's weight kernel has no floor (s = amax / 448); the kit uses the activations' 1e-4 here as well, so
    that an all-zero block gets a finite scale.

    Ragged edges are padded with zeros; scales are [ceil(N/block), ceil(K/block)]. Taught in lab 02, step 9.
    """
    w = _as_float_tensor(w, "quantize_fp8_weight").to(torch.float32)
    block = _check_int(block, "block")
    check_flag("quantize_fp8_weight: pow2_scales", pow2_scales)
    if w.dim() != 2:
        raise ValueError(f"quantize_fp8_weight needs a 2-D weight [N, K], got shape {list(w.shape)}")
    if not (isinstance(min_amax, float | int) and not isinstance(min_amax, bool) and 0 < min_amax < math.inf):
        raise ValueError(f"min_amax must be > 0 (and finite), got {min_amax!r}")
    N, K = w.shape
    nn_, nk = -(-N // block), -(-K // block)
    wp = tnf.pad(w, (0, nk * block - K, 0, nn_ * block - N))
    wb = wp.reshape(nn_, block, nk, block)
    amax = wb.abs().amax(dim=(1, 3)) if w.numel() else torch.zeros(nn_, nk)
    s = _fp8_scale(amax, float(min_amax), bool(pow2_scales))
    y = wb / s[:, None, :, None]
    codes = encode(y, "e4m3").reshape(nn_ * block, nk * block)[:N, :K].contiguous()
    return FP8Blockwise(codes, s, (block, block), (N, K), bool(pow2_scales))


def _check_device_exists(device, what: str) -> None:
    """Raise ValueError when `device` is a CUDA device and this machine has no GPU (say: pass device='cpu')."""
    try:
        kind = torch.device(device).type
    except (TypeError, RuntimeError) as e:
        raise ValueError(f"{what}: device must be 'cpu', 'cuda' or a torch.device, got {device!r}") from e
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{what}: device={device!r}, but this machine has no CUDA GPU; pass device='cpu'")


def nvfp4_gemm_case(M: int, N: int, K: int, device: str = "cuda",
                    reference: bool = True) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """A random NVFP4 GEMM test: ([packed A (M, K/2), packed B (N, K/2), blocked A scales, blocked B scales] on
    `device`, FP32 reference (M, N) on the CPU), the operands every kit NVFP4 kernel takes before M, N, K.

    The reference is the FP4 values times their block scales in FP32: the per-tensor scales are applied outside.
    `reference=False` skips it (None in its place): operands only, for timing at sizes where a CPU matmul is slow.
    On a machine without a GPU pass device='cpu' (the default 'cuda' then raises, saying so).
    """
    for name, v in (("M", M), ("N", N), ("K", K)):
        check_number(f"nvfp4_gemm_case: {name}", v)
    if K % 16:
        raise ValueError(f"nvfp4_gemm_case: K = {K} is not a multiple of NVFP4's block of 16")
    check_flag("nvfp4_gemm_case: reference", reference)
    _check_device_exists(device, "nvfp4_gemm_case")
    qa, qb = quantize(torch.randn(M, K), "nvfp4"), quantize(torch.randn(N, K), "nvfp4")
    ops = [pack_fp4(qa.codes), pack_fp4(qb.codes), to_blocked_scales(qa.scales), to_blocked_scales(qb.scales)]
    ops = [t.contiguous().to(device) for t in ops]
    if not reference:
        return ops, None
    ea = (qa.element_values().view(M, K // 16, 16) * qa.scale_values().unsqueeze(-1)).view(M, K)
    eb = (qb.element_values().view(N, K // 16, 16) * qb.scale_values().unsqueeze(-1)).view(N, K)
    return ops, ea @ eb.t()


def check_operand(name: str, t, shape: tuple[int, int], dtype) -> None:
    """Raise (naming `name`) unless `t` is a contiguous torch.Tensor of `shape` and `dtype`: one GEMM operand."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)}")
    if t.dtype != dtype:
        raise TypeError(f"{name} has dtype {t.dtype}, expected {dtype}")
    if not t.is_contiguous():
        raise ValueError(f"{name} must be contiguous (row-major, K-major for A and B); call .contiguous()")


def check_nvfp4_operands(a_fp4, b_fp4, sfa, sfb, M: int, N: int, K: int) -> None:
    """Raise (naming the operand and the rule) unless the four NVFP4 operands are what `nvfp4_gemm_case` builds
    for (M, N, K): the one contract of the kit's NVFP4 GEMMs (`bwkit.cute_gemm.gemm_nvfp4`,
    `bwkit.cute_ladder_nvfp4.run_nvfp4`, `bwkit.gluon_gemm.matmul_nvfp4`).

    a_fp4 (M, K/2) and b_fp4 (N, K/2): contiguous uint8 tensors of packed E2M1 codes (`pack_fp4`); sfa and sfb:
    contiguous tensors of the UE4M3 scales in the blocked layout (`to_blocked_scales`: rows padded to a multiple
    of 128 and the K/16 scale columns to a multiple of 4, so M*K/16 and N*K/16 bytes when M, N % 128 == 0 and
    K % 64 == 0, as every kit kernel needs), as uint8 codes or float8_e4m3fn (the same bytes), any shape. Nothing
    is copied or converted. Sizes against the tiles and the device are each kernel's own checks. Torch only: usable
    where the CuTe DSL is not installed.
    """
    for name, v in (("M", M), ("N", N), ("K", K)):
        check_number(f"check_nvfp4_operands: {name}", v)
    if K % 16:
        raise ValueError(f"check_nvfp4_operands: K = {K} is not a multiple of NVFP4's block of 16")
    check_operand("a_fp4", a_fp4, (M, K // 2), torch.uint8)
    check_operand("b_fp4", b_fp4, (N, K // 2), torch.uint8)
    cols = K // 16
    for name, t, rows in (("sfa", sfa, M), ("sfb", sfb, N)):
        n = -(-rows // 128) * 128 * (-(-cols // 4) * 4)          # what to_blocked_scales of (rows, cols) holds
        count = f"{rows}*K/16 = {n}" if n == rows * cols else \
            f"{n} (rows {rows} padded to {-(-rows // 128) * 128}, scale columns {cols} to {-(-cols // 4) * 4})"
        if not isinstance(t, torch.Tensor) or t.dtype not in (torch.uint8, torch.float8_e4m3fn) or t.numel() != n:
            raise ValueError(f"{name} must be a uint8 tensor of {count} UE4M3 scale bytes (float8_e4m3fn "
                             f"also taken) in the blocked layout (bwkit.formats.to_blocked_scales of a ({rows}, "
                             f"{cols}) tensor), got {getattr(t, 'dtype', type(t).__name__)} with "
                             f"{getattr(t, 'numel', lambda: '?')()} elements")
        if not t.is_contiguous():
            raise ValueError(f"{name} must be contiguous (the blocked layout is read as flat bytes); call "
                             ".contiguous()")
