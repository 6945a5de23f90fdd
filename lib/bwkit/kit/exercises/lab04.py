"""Exercises of lab 04 (block-scaled GEMM): what each check reads, the inputs it tries, the mistakes it names."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import torch

from bwkit import formats as F
from bwkit import hw
from bwkit import scaled_gemm as sg
from bwkit.kit.checks import as_int, compare_not_narrow, narrow_float, not_an_int
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import BadAnswer, Case, Exercise, Function, Mistake, Value, wrong_unit

NVFP4_KINDS = ("kind::f16", "kind::f8f6f4", "kind::mxf4", "kind::mxf4nvf4")
FP4_SCHEMES = ("mxfp4", "nvfp4")


# ------------------------------------------------------------------------------------------------------------
# 04.1 bits per element, 04.2 the reference product
# ------------------------------------------------------------------------------------------------------------
def _operands(scheme: str, M: int, N: int, K: int, seed: int):
    """(a, w, a_q, w_q): fresh fp32 A [M, K] and W [N, K] (scaled by 3 and 1) and their quantized forms."""
    g = torch.Generator().manual_seed(seed)
    a, w = 3 * torch.randn(M, K, generator=g), torch.randn(N, K, generator=g)
    return a, w, F.quantize(a, scheme), F.quantize(w, scheme)


def _dequant_probe(answers, case):
    _, _, a_q, w_q = _operands(*case.args)
    return answers["dequant_matmul"](a_q, w_q)


def _product(operand):
    """A model of A @ Wᵀ in float64, each operand taken as `operand(fp32 tensor, its quantized form)`."""
    def model(*args):
        a, w, a_q, w_q = _operands(*args)
        return operand(a, a_q).double() @ operand(w, w_q).double().T
    return model


def _scaled_elements(q) -> torch.Tensor:
    """Element values times their block scales, in float64, without NVFP4's tensor scale."""
    rows, k = q.codes.shape
    e = q.element_values().double().reshape(rows, k // q.block_size, q.block_size)
    return (e * q.scale_values().double()[:, :, None]).reshape(rows, k)


_dequant_ref = _product(lambda x, q: q.dequantize())
_unquantized = _product(lambda x, q: x)
_no_tensor_scale = _product(lambda x, q: _scaled_elements(q))
_no_block_scales = _product(lambda x, q: q.element_values())
_raw_codes = _product(lambda x, q: q.codes)


def _without_tensor_scale(got, want, scheme, *args) -> bool | None:
    """`got` is the product without NVFP4's tensor scale (None for MX schemes, which have none)."""
    if scheme != "nvfp4":
        return None
    if isinstance(got, np.ndarray):
        got = torch.from_numpy(got)
    if not isinstance(got, torch.Tensor):
        return False
    model = _no_tensor_scale(scheme, *args)
    return got.shape == model.shape and bool(torch.allclose(got.double(), model, rtol=1e-9, atol=1e-9))


def _rounded_float(got, want) -> bool | None:
    """`got` is `want` rounded to 0-3 decimals (a rounding the prompt does not ask for)."""
    try:
        g = float(got)
    except (TypeError, ValueError):
        return None
    return any(math.isclose(g, round(want, d), rel_tol=1e-12) for d in range(4))


def _transposed(got, want, *args) -> bool | None:
    """`got` is C transposed (W @ Aᵀ: [N, M])."""
    if isinstance(got, np.ndarray):
        got = torch.from_numpy(got)
    if not isinstance(got, torch.Tensor) or want.shape[0] == want.shape[1]:
        return None
    return got.shape == want.T.shape and bool(torch.allclose(got.double(), want.T, rtol=1e-6, atol=1e-6))


def _cast_after_float32(got, want, *args) -> bool | None:
    """`got` is float64 but only float32-accurate: the product was taken in float32, then cast."""
    if isinstance(got, np.ndarray):
        got = torch.from_numpy(got)
    if not isinstance(got, torch.Tensor) or got.dtype != torch.float64 or got.shape != want.shape:
        return None
    scale = float(want.abs().max()) or 1.0
    return bool(torch.allclose(got, want, rtol=1e-5, atol=1e-5 * scale))


_tensor_scale_divided = _product(lambda x, q: _scaled_elements(q) if q.tensor_scale is None else
                                 _scaled_elements(q) / q.tensor_scale.double())


def _dequant_cases(rng: random.Random) -> list[Case]:
    m, n = rng.randrange(8, 40), rng.randrange(8, 40)
    k = 32 * rng.randint(2, 6)
    n += 1 if n == k else 0
    return [Case(("mxfp8_e4m3", 16, 12, 64, 1), "MXFP8 16x12x64"), Case(("mxfp4", 16, 12, 64, 2), "MXFP4 16x12x64"),
            Case(("nvfp4", 16, 12, 64, 3), "NVFP4 16x12x64"),
            Case((rng.choice(["mxfp4", "nvfp4", "mxfp8_e4m3"]), m, n, k, rng.randrange(2**31)), "a random shape")]


register(
    Exercise.single(
        "04.1", "bits per element",
        reads=Function("bits_per_element", "(elem_bits: int, scale_bits: int, block: int) -> float", "bits"),
        cases=lambda rng: [Case((8, 8, 32), "MXFP8"), Case((4, 8, 32), "MXFP4"), Case((4, 8, 16), "NVFP4"),
                           Case((rng.choice([4, 6, 8]), rng.choice([12, 16]), rng.choice([128, 256])),
                                "a made-up format")],   # scales wider than 8 bits, shares of 3+ decimals
        expected=lambda e, s, b: e + s / b, rtol=1e-9,
        mistakes=[
            Mistake("you multiplied the scale bits by the block size instead of dividing",
                    value=lambda e, s, b: e + s * b),
            Mistake("your answer has no scale in it: each element also carries its share of the block's scale "
                    "(if you wrote scale_bits // block, that is integer division: 8 // 32 == 0; use /)",
                    value=lambda e, s, b: float(e)),
            Mistake("that is the bits of a whole block (block x element bits + the scale), not per element",
                    value=lambda e, s, b: e * b + s),
            wrong_unit("bytes", "bits", 1 / 8),
            Mistake("you divided the element bits by the block too: only the scale is shared",
                    value=lambda e, s, b: (e + s) / b),
            Mistake("you hard-coded 8 scale bits (E8M0/UE4M3): use scale_bits (the made-up format's scales are "
                    "wider)", value=lambda e, s, b: e + 8 / b),
            Mistake("the scale's share is scale_bits / block, not block / scale_bits",
                    value=lambda e, s, b: e + b / s),
            Mistake("that is only the scale's share: add the element's own bits", value=lambda e, s, b: s / b),
            Mistake("you rounded the result: return the exact float (round only when you print)",
                    when=lambda got, want, *a: _rounded_float(got, want)),
        ],
        hint="Each element carries its own bits plus its share of the block's scale: scale_bits / block."),

    Exercise.single(
        "04.2", "dequantize-then-matmul",
        reads=Function("dequant_matmul", "(a_q: Quantized, w_q: Quantized) -> torch.Tensor"),
        cases=_dequant_cases, probe=_dequant_probe, expected=_dequant_ref, rtol=1e-9, atol=1e-9,
        compare=compare_not_narrow(atol=1e-9, rtol=1e-9, wanted="float64"),
        mistakes=[
            Mistake("C is float16/bfloat16: multiply (and return) in float64, as the exercise asks",
                    when=lambda got, want, *a: narrow_float(got) is not None),
            Mistake("you multiplied the original fp32 tensors, not the quantized ones", value=_unquantized),
            Mistake("you dropped NVFP4's per-tensor scale (element x block scale only): dequantize() applies it",
                    when=_without_tensor_scale),
            Mistake("you left out the block scales (element values only): dequantize() multiplies them in",
                    value=_no_block_scales),
            Mistake("you multiplied the raw codes (uint8 bit patterns), not their values: dequantize() decodes them",
                    value=_raw_codes),
            Mistake("W is [N, K]: transpose it (C = A @ Wᵀ)", error="cannot be multiplied"),
            Mistake("that is W @ Aᵀ, C transposed ([N, M]): C = A @ Wᵀ is [M, N]", when=_transposed),
            Mistake("you multiplied in float32 (dequantize() returns float32) and cast the product to float64: cast "
                    "the operands first (dequantize(torch.float64), or .double() before the @)",
                    when=_cast_after_float32),
            Mistake("you divided by NVFP4's tensor scale: q.tensor_scale is the decode multiplier (amax / (448 x 6) "
                    "= 1 / S_enc), so multiply by it, as dequantize() does", value=_tensor_scale_divided),
        ],
        hint="a_q.dequantize() and w_q.dequantize() in float64, then A @ Wᵀ."),
)


# ------------------------------------------------------------------------------------------------------------
# 04.3 the NVFP4 MMA kind (a choice)
# ------------------------------------------------------------------------------------------------------------
register(
    Exercise.choice(
        "04.3", "NVFP4 MMA kind", "nvfp4_kind", NVFP4_KINDS, answer="kind::mxf4nvf4",
        wrong={
            "kind::f16": "kind::f16 is the dequantize-then-fp16 variant: no block scales in the MMA, and the 16-bit "
                         "rate",
            "kind::mxf4": "kind::mxf4 is MXFP4's kind: E8M0 scales per 32 only, it cannot take UE4M3 scales per 16",
            "kind::f8f6f4": "kind::f8f6f4 takes unscaled 8/6/4-bit elements (no per-block scales), at the FP8 rate",
        },
        hint="Read the `NVFP4 dot_scaled, sm_100a` line above; the kind is the part after `cta_group::1.`."),
)


# ------------------------------------------------------------------------------------------------------------
# 04.4 the tiles tl.dot_scaled takes, 04.5 bytes per K step, 04.6 the dequantize path's ceiling
# ------------------------------------------------------------------------------------------------------------
_SHAPE_NAMES = ("A", "A's scales", "B", "B's scales")


def _dims(s: Any, i: int) -> Any:
    """One returned shape as a tuple of ints (a non-integral size is `BadAnswer`, not truncated by int())."""
    if not isinstance(s, (list, tuple, torch.Size)):
        return s
    out = []
    for v in s:
        n = as_int(v)
        if n is None:
            what = _SHAPE_NAMES[i] if i < len(_SHAPE_NAMES) else f"item {i}"
            raise BadAnswer(f"the shape of {what} holds {not_an_int(v)}: expected an int in {tuple(s)!r}")
        out.append(n)
    return tuple(out)


def _shapes_probe(answers, case):
    got = answers["dot_scaled_shapes"](*case.args)
    if isinstance(got, (list, tuple)):
        return tuple(_dims(s, i) for i, s in enumerate(got))
    return got


def _blk(scheme):
    return F.SCHEMES[scheme].block_size


def _pack(scheme):
    return 8 // F.SCHEMES[scheme].elem_bits


def _tile_cases(rng: random.Random) -> list[Case]:
    return [Case((128, 128, 128, "mxfp4"), "MXFP4 128x128x128"), Case((128, 256, 128, "mxfp8_e4m3"), "MXFP8 128x256"),
            Case((16, 16, 64, "nvfp4"), "NVFP4 16x16x64 (the interpreter's tile)"),
            Case((rng.choice([16, 64, 128, 256]), rng.choice([32, 64, 128, 256]), rng.choice([64, 128, 256]),
                  rng.choice(sg.TILE_SCHEMES)), "a random tile")]


def _shapes_with(bm, bn, bk, scheme, *, pack=None, block=None, b_scale_t=False, b_nk=False, b_pack_n=False,
                 scales_of_bytes=False):
    p = _pack(scheme) if pack is None else pack
    kb = (bk // p if scales_of_bytes else bk) // (_blk(scheme) if block is None else block)
    b = (bn, bk // p) if b_nk else (bk, bn // p) if b_pack_n else (bk // p, bn)
    return (bm, bk // p), (bm, kb), b, ((kb, bn) if b_scale_t else (bn, kb))


def _fp4_only(fn):
    """A mistake model that differs from the truth only for FP4 (None: it cannot tell on an FP8 tile)."""
    def when(got, want, bm, bn, bk, scheme):
        if _pack(scheme) == 1:
            return None
        return got == fn(bm, bn, bk, scheme)
    return when


_E4M3_IS_8_BIT = ("mxfp8_e4m3 is an 8-bit format (the 4 in E4M3 is its exponent bits): one code per byte, no "
                  "packing; test the scheme for \"fp4\", not for \"4\"")


def _e4m3_only(fn):
    """A mistake model of the '4' in "mxfp8_e4m3" read as 4-bit elements (None on any other scheme)."""
    def when(got, want, bm, bn, bk, scheme):
        if scheme != "mxfp8_e4m3":
            return None
        model = fn(bm, bn, bk, scheme)
        if isinstance(model, tuple):
            return got == model
        return not isinstance(got, (bool, str)) and math.isclose(float(got), model, rel_tol=1e-9)
    return when


def _reordered(shapes):
    a, a_s, b, b_s = shapes
    return a, b, a_s, b_s


def _scales_transposed(shapes):
    a, a_s, b, b_s = shapes
    return a, a_s[::-1], b, b_s[::-1]


def _nvfp4_only(fn):
    """A mistake model of NVFP4's block size: it explains failures on NVFP4 tiles only (False on any other)."""
    def when(got, want, bm, bn, bk, scheme):
        return scheme == "nvfp4" and got == fn(bm, bn, bk, scheme)
    return when


def _bytes_with(bm, bn, bk, scheme, *, elem_bytes=None, scale_bytes=1, block=None, scales=True,
                scales_of_bytes=False):
    spec = F.SCHEMES[scheme]
    eb = spec.elem_bits / 8 if elem_bytes is None else elem_bytes
    sb = scale_bytes * (bk * eb if scales_of_bytes else bk) / (spec.block_size if block is None else block) \
        if scales else 0
    return (bm + bn) * (bk * eb + sb)


def _b200_peak(precision: str) -> float:
    return hw.get_spec("B200").peak_tflops[precision]


register(
    Exercise.single(
        "04.4", "dot_scaled tile shapes",
        reads=Function("dot_scaled_shapes",
                       "(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, scheme: str) -> tuple[tuple[int, int], ...]"),
        cases=_tile_cases, probe=_shapes_probe, expected=sg.dot_scaled_tile_shapes, rtol=0,
        mistakes=[
            Mistake("you transposed B's scales: tl.dot_scaled takes them as [BLOCK_N, BLOCK_K / block] (its docs: "
                    "do NOT transpose rhs_scale)",
                    value=lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, b_scale_t=True)),
            Mistake("FP4 codes are packed two per byte along K: the code tiles are BLOCK_K / 2 bytes deep",
                    when=_fp4_only(lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, pack=1))),
            Mistake("B's codes are packed along K, not N: [BLOCK_K / 2, BLOCK_N]",
                    when=_fp4_only(lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, b_pack_n=True))),
            Mistake("B goes in as a [K, N] tile ([BLOCK_K / pack, BLOCK_N]); [BLOCK_N, ...] is how W is stored",
                    value=lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, b_nk=True)),
            Mistake("a scale covers `block` elements of K, not `block` packed bytes: the scale tiles have "
                    "BLOCK_K / block columns (FP4's BLOCK_K / 2 is the depth of the code tiles only)",
                    value=lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, scales_of_bytes=True)),
            Mistake("NVFP4 has one scale per 16 elements of K, not 32",
                    when=_nvfp4_only(lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, block=32))),
            Mistake("MX formats have one scale per 32 elements of K (16 is NVFP4's block)",
                    when=lambda got, want, bm, bn, bk, s: None if s == "nvfp4" else
                    got == _shapes_with(bm, bn, bk, s, block=16)),
            Mistake(_E4M3_IS_8_BIT, when=_e4m3_only(lambda bm, bn, bk, s: _shapes_with(bm, bn, bk, s, pack=2))),
            Mistake("the four tiles go in the order A's codes, A's scales, B's codes, B's scales (you put both code "
                    "tiles first)", value=lambda *a: _reordered(sg.dot_scaled_tile_shapes(*a))),
            Mistake("you transposed both scale tiles: each is [rows, BLOCK_K / block] (BLOCK_M rows for A, BLOCK_N "
                    "for B)", value=lambda *a: _scales_transposed(sg.dot_scaled_tile_shapes(*a))),
        ],
        hint="pack = 2 for FP4; A [BLOCK_M, BLOCK_K/pack], B [BLOCK_K/pack, BLOCK_N]; both scale tiles have "
             "BLOCK_K/block columns, B's rows are BLOCK_N."),

    Exercise.single(
        "04.5", "bytes per K step",
        reads=Function("k_step_bytes", "(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, scheme: str) -> int", "bytes"),
        cases=_tile_cases, expected=sg.k_step_bytes, rtol=1e-9,
        mistakes=[
            Mistake("you left out the scale bytes: each block of the A and B tiles brings a 1-byte scale",
                    value=lambda bm, bn, bk, s: _bytes_with(bm, bn, bk, s, scales=False)),
            Mistake("FP4 codes are half a byte each (two per byte): you counted one byte per element",
                    when=_fp4_only(lambda bm, bn, bk, s: _bytes_with(bm, bn, bk, s, elem_bytes=1))),
            Mistake("NVFP4 has a scale per 16 elements, not 32: twice the scale bytes of MXFP4",
                    when=_nvfp4_only(lambda bm, bn, bk, s: _bytes_with(bm, bn, bk, s, block=32))),
            Mistake("scales are 1 byte each (E8M0 or UE4M3), not 4",
                    value=lambda bm, bn, bk, s: _bytes_with(bm, bn, bk, s, scale_bytes=4)),
            Mistake("you counted only A's tile; B's BLOCK_N x BLOCK_K tile and its scales are loaded too",
                    value=lambda bm, bn, bk, s: _bytes_with(bm, 0, bk, s)),
            wrong_unit("bits", "bytes", 8),
            Mistake(_E4M3_IS_8_BIT, when=_e4m3_only(lambda bm, bn, bk, s: _bytes_with(bm, bn, bk, s, elem_bytes=0.5))),
            Mistake("MX formats have one scale per 32 elements of K (16 is NVFP4's block)",
                    when=lambda got, want, bm, bn, bk, s: None if s == "nvfp4" else
                    math.isclose(float(got), _bytes_with(bm, bn, bk, s, block=16), rel_tol=1e-9)),
            Mistake("a scale covers `block` elements of K, not `block` packed bytes: BLOCK_K / block scales per row "
                    "(FP4's BLOCK_K / 2 is the bytes of its codes only)",
                    value=lambda bm, bn, bk, s: _bytes_with(bm, bn, bk, s, scales_of_bytes=True)),
        ],
        hint="(BLOCK_M + BLOCK_N) rows, each BLOCK_K x bits/8 bytes of codes plus BLOCK_K / block scale bytes."),

    Exercise.single(
        "04.6", "dequantize ceiling",
        reads=Value("dequant_peak_tflops", "float", "TFLOP/s"),
        expected=lambda: _b200_peak("bf16"), rtol=1e-3,
        mistakes=[
            Mistake("that is the FP4 peak: a kind::f16 MMA runs at the 16-bit rate, 4x below the block-scaled FP4 "
                    "kinds", value=lambda: _b200_peak("fp4")),
            Mistake("that is the FP8 rate (kind::f8f6f4, or the 16-bit figure with 2:4 sparsity): the decoded "
                    "operands are fp16, so kind::f16 at the dense 16-bit rate sets the ceiling",
                    value=lambda: _b200_peak("fp8")),
            Mistake("that is the TF32 rate: dequantize() returns float32, but the kernel casts the decoded operands "
                    "to fp16, so the MMA is kind::f16 at the dense 16-bit rate", value=lambda: _b200_peak("tf32")),
            Mistake("that is the ratio of the two peaks, not the ceiling in TFLOP/s",
                    value=lambda: _b200_peak("fp4") / _b200_peak("bf16")),
            wrong_unit("PFLOP/s", "TFLOP/s", 1e-3),
            wrong_unit("FLOP/s", "TFLOP/s", 1e12),
        ],
        hint="The decoded operands are fp16, so the MMA is kind::f16: the B200's dense 16-bit peak (bwkit.hw)."),
)


# ------------------------------------------------------------------------------------------------------------
# 04.7 the more accurate 4-bit format (a choice, computed)
# ------------------------------------------------------------------------------------------------------------
def _better_fp4() -> str:
    """The 4-bit scheme with the smaller GEMM error on the lab's unit-normal 64x48x256 product (emulated)."""
    g = torch.Generator().manual_seed(0)
    a, w = torch.randn(64, 256, generator=g), torch.randn(48, 256, generator=g)
    exact = a.double() @ w.double().T

    def err(s):
        c = sg.emulated_matmul(F.quantize(a, s), F.quantize(w, s)).double()
        return float((c - exact).norm() / exact.norm())

    return min(FP4_SCHEMES, key=err)


register(
    Exercise.choice(
        "04.7", "the better 4-bit format", "better_fp4", FP4_SCHEMES, answer=_better_fp4,
        wrong={"mxfp4": "MXFP4's power-of-two scale per 32 elements leaves up to a factor 2 of range unused in a "
                        "block; NVFP4's UE4M3 scale per 16 fits each block tightly"},
        hint="Compare the two rows; then think of block size 16 vs 32, and a scale with 3 mantissa bits vs a power "
             "of two."),
)
