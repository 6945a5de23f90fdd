"""bwkit.tensorcores: shape rules, the TMEM budget/allocator/layout model and the functional tcgen05.mma model.

References here are written independently of the library: element codes are decoded through torch's float8
dtypes and ml_dtypes, scale factors by their definitions, block scaling by an explicit loop over K blocks.
"""

import math

import ml_dtypes
import numpy as np
import pytest
import torch

from bwkit import tensorcores as tc

# ---------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("kind,cta_group,count,k", [
    ("f16", 1, 64, 16), ("f16", 2, 32, 16), ("f8f6f4", 1, 64, 32), ("mxf8f6f4", 1, 32, 32),
    ("mxf8f6f4", 2, 16, 32), ("mxf4", 1, 32, 64), ("mxf4nvf4", 2, 32, 64), ("i8", 1, 34, 32), ("i8", 2, 16, 32),
])
def test_legal_shape_counts(kind, cta_group, count, k):
    shapes = tc.legal_shapes(kind, cta_group)
    assert len(shapes) == count
    assert {s[2] for s in shapes} == {k}
    assert tc.k_per_instruction(kind) == k


@pytest.mark.parametrize("kind,shape,cta_group,ok", [
    ("f16", (64, 8, 16), 1, True),          # PTX ISA: M=64, N from 8 in steps of 8
    ("f16", (128, 256, 16), 1, True),
    ("f16", (128, 12, 16), 1, False),       # N not a multiple of 8
    ("f16", (128, 264, 16), 1, False),      # N above 256
    ("f16", (256, 128, 16), 1, False),      # M=256 needs a CTA pair
    ("f16", (256, 16, 16), 2, True),
    ("f16", (256, 8, 16), 2, False),        # pairs step N by 16
    ("f16", (128, 64, 32), 1, False),       # K is 16 for f16
    ("f8f6f4", (64, 64, 32), 1, True),
    ("mxf8f6f4", (64, 64, 32), 1, False),   # block-scaled kinds: M=128 for one CTA
    ("mxf8f6f4", (128, 8, 32), 1, True),
    ("mxf4nvf4", (128, 128, 64), 1, True),
    ("mxf4nvf4", (128, 128, 32), 1, False),
    ("mxf4", (128, 32, 64), 2, True),
    ("i8", (64, 8, 32), 1, True),           # CUTLASS SM100_MMA_S8: N = 8 or a multiple of 16
    ("i8", (64, 24, 32), 1, False),
])
def test_check_shape(kind, shape, cta_group, ok):
    if ok:
        tc.check_shape(kind, *shape, cta_group=cta_group)
    else:
        with pytest.raises(ValueError, match="Legal shapes"):
            tc.check_shape(kind, *shape, cta_group=cta_group)


def test_illegal_shape_message_lists_the_kinds_shapes():
    a = torch.zeros(128, 32, dtype=torch.float16)
    b = torch.zeros(32, 64, dtype=torch.float16)
    with pytest.raises(ValueError) as e:
        tc.tcgen05_mma(a, b, kind="f16")
    msg = str(e.value)
    assert "128x64x32" in msg and "64xNx16" in msg and "128xNx16" in msg and "step 8" in msg
    with pytest.raises(ValueError, match=r"128xNx64 with N = 8, 16, \.\.\., 256"):
        tc.check_shape("mxf4nvf4", 64, 64, 64)


def test_bad_kind_and_group():
    with pytest.raises(ValueError, match="kinds: f16"):
        tc.legal_shapes("fp8")
    with pytest.raises(ValueError, match="cta_group"):
        tc.legal_shapes("f16", 4)


def test_generation_table_has_sources():
    text = tc.generation_table()
    assert text.count("\n") == len(tc.GENERATIONS) + 1
    for g in tc.GENERATIONS:
        assert g.sources and all(s in tc.SOURCES for s in g.sources)
    assert "tcgen05.mma" in text and "wgmma.mma_async" in text and "sm_120a" in text

# ---------------------------------------------------------------------------------------------- TMEM


@pytest.mark.parametrize("M,N,g,bits,cols", [
    (128, 256, 1, 32, 256), (128, 8, 1, 32, 8), (64, 64, 1, 32, 64), (256, 256, 2, 32, 256),
    (128, 128, 2, 32, 64), (128, 256, 1, 16, 128),
])
def test_accumulator_columns(M, N, g, bits, cols):
    assert tc.accumulator_columns(M, N, cta_group=g, acc_bits=bits) == cols


def test_accumulator_columns_bad_input():
    with pytest.raises(ValueError, match="rows per CTA"):
        tc.accumulator_columns(32, 64)
    with pytest.raises(ValueError, match="acc_bits"):
        tc.accumulator_columns(128, 64, acc_bits=8)
    with pytest.raises(ValueError, match="positive int"):
        tc.accumulator_columns(128, 0)


@pytest.mark.parametrize("req,got", [(1, 32), (32, 32), (33, 64), (200, 256), (257, 512), (512, 512)])
def test_alloc_columns_power_of_two(req, got):
    assert tc.alloc_columns(req) == got


def test_alloc_columns_over_capacity():
    with pytest.raises(ValueError, match="512 columns"):
        tc.alloc_columns(513)


def test_round_alloc_is_the_uncapped_rule():
    # the rule alloc_columns applies (and mistake models reuse): next power of two, at least 32, no 512 cap
    for n in range(1, 513):
        assert tc.round_alloc(n) == tc.alloc_columns(n) == max(32, 2 ** math.ceil(math.log2(n)))
    assert (tc.round_alloc(513), tc.round_alloc(2048), tc.round_alloc(0), tc.round_alloc(-5)) == (1024, 2048, 32, 32)
    assert [tc.round_alloc(n, minimum=1) for n in (1, 2, 3, 16, 17)] == [1, 2, 4, 16, 32]


def test_every_mma_m_has_an_accumulator_of_64_or_128_rows():
    # tmem_budget checks M against the kind's shapes and then sizes the accumulator without re-checking it:
    # that holds because each legal M gives 64 or 128 rows per CTA (accumulator_columns' rule)
    for kind, spec in tc.KINDS.items():
        for g, shapes in spec.shapes.items():
            for M in shapes:
                assert M % g == 0 and M // g in (64, 128), (kind, g, M)
                assert tc.tmem_budget(M, 64, cta_group=g, kind=kind).acc_columns == \
                    tc.accumulator_columns(M, 64, cta_group=g)


def test_tmem_budget():
    b = tc.tmem_budget(128, 256, acc_buffers=2)
    assert (b.acc_columns, b.needed, b.allocated, b.fits, b.free) == (256, 512, 512, True, 0)
    b3 = tc.tmem_budget(128, 256, acc_buffers=3)
    assert not b3.fits and b3.free == 512 - 768 and "does NOT fit" in b3.summary()
    # a tile wider than one MMA (N=600: several MMAs side by side) that does not fit: the summary names the
    # power-of-two allocation it would need (it once said "alloc 600 of 512", no legal tcgen05.alloc size)
    b6 = tc.tmem_budget(128, 600)
    assert (b6.needed, b6.fits) == (600, False)
    assert "= 600 -> would need alloc 1024 > 512: does NOT fit" in b6.summary() and "alloc 600" not in b6.summary()
    b1 = tc.tmem_budget(128, 96)
    assert (b1.needed, b1.allocated) == (96, 128)
    # NVFP4: A 128 rows, B 256 rows (2 lane groups); 256 K / 16 per scale = 16 bytes = 4 cells per row
    s = tc.tmem_budget(128, 256, kind="mxf4nvf4", block_k=256, sf_vec=16, sf_stages=2)
    assert s.sf_columns == 2 * (1 * 4 + 2 * 4)
    assert s.needed == 256 + 24 and s.allocated == 512
    with pytest.raises(ValueError, match="sf_vec=16 is not legal for kind::mxf8f6f4"):
        tc.tmem_budget(128, 128, kind="mxf8f6f4", sf_vec=16)


def test_tmem_budget_refuses_tiles_no_mma_has():
    with pytest.raises(ValueError, match=r"M=256 \(legal M: 64, 128\); M=256 needs a CTA pair"):
        tc.tmem_budget(256, 128)                       # one CTA: M is 64 or 128
    assert tc.tmem_budget(256, 128, cta_group=2).acc_columns == 128    # the pair: 128 rows in each CTA
    with pytest.raises(ValueError, match="legal M: 128"):
        tc.tmem_budget(64, 128, kind="mxf4")           # block-scaled kinds: M = 128 on one CTA
    with pytest.raises(ValueError, match="N=12 is not a multiple of 8"):
        tc.tmem_budget(128, 12)
    with pytest.raises(ValueError, match="multiple of 16"):
        tc.tmem_budget(256, 24, cta_group=2)
    assert tc.tmem_budget(64, 8, kind="i8").needed == 8     # i8: N = 8 is one of the extras
    with pytest.raises(ValueError, match="cta_group"):
        tc.tmem_budget(128, 64, cta_group=3)
    with pytest.raises(ValueError, match="positive int"):
        tc.tmem_budget(128, -8)


@pytest.mark.parametrize("target,shape,count", [
    ("sm_80", (128, 128, 64), 128),      # each of 2x2 warps: 64x64 of C in m16n8k16, 4 k16 slices
    ("sm_120", (128, 128, 64), 128),
    ("sm_90a", (128, 128, 64), 8),       # one warpgroup: two m64 halves x 4 k16 slices
    ("sm_100a", (128, 128, 64), 4),      # one thread: M=128 x N=128 per instruction
    ("sm_100a", (64, 256, 32), 2),
    ("sm_80", (64, 64, 32), 16),         # 2x2 warps of 32x32: 2 x 4 x 2 k16 slices
])
def test_mma_per_k_step(target, shape, count):
    assert tc.mma_per_k_step(target, *shape) == count


def test_mma_per_k_step_bad_input():
    with pytest.raises(ValueError, match="unknown target 'sm_75'"):
        tc.mma_per_k_step("sm_75", 128, 128, 64)
    with pytest.raises(ValueError, match="not a multiple of the instruction's K=16"):
        tc.mma_per_k_step("sm_100a", 128, 128, 40)
    with pytest.raises(ValueError, match="warp grid"):
        tc.mma_per_k_step("sm_80", 128, 128, 64, warps=(4, 2))
    with pytest.raises(ValueError, match="up to 256"):
        tc.mma_per_k_step("sm_90a", 128, 512, 64)


def test_generation_of():
    assert [tc.generation_of(t) for t in ("sm_80", "sm_90a", "sm_100a", "sm_120", "sm_120a")] == [
        "Ampere", "Hopper", "Blackwell", "Blackwell", "Blackwell"]
    assert {tc.generation_of(t) for t in tc.MYSTERY_TARGETS.values()} == {"Ampere", "Hopper", "Blackwell"}
    with pytest.raises(ValueError, match="unknown target"):
        tc.generation_of("sm_75")
    with pytest.raises(TypeError):
        tc.generation_of(90)


def test_allocator():
    al = tc.TmemAllocator()
    a0 = al.alloc(256, "acc0")
    a1 = al.alloc(200, "acc1")          # rounds up to 256
    assert (a0, a1, al.used) == (0, 256, 512)
    with pytest.raises(MemoryError, match="acc0: cols 0-255"):
        al.alloc(1, "sf")
    al.dealloc(a0)
    assert al.alloc(40, "sf") == 0 and al.used == 256 + 64
    with pytest.raises(ValueError, match="no TMEM block"):
        al.dealloc(7)


@pytest.mark.parametrize("M,N,g", [(128, 64, 1), (64, 32, 1), (256, 32, 2), (128, 64, 2)])
def test_tmem_address_is_a_bijection_into_the_allocation(M, N, g):
    cols = tc.accumulator_columns(M, N, cta_group=g)
    seen = set()
    for m in range(M):
        for n in range(N):
            cta, lane, col = tc.tmem_address(m, n, M, N, g)
            assert 0 <= cta < g and 0 <= lane < 128 and 0 <= col < cols
            seen.add((cta, lane, col))
    assert len(seen) == M * N


def test_tmem_layouts():
    assert tc.tmem_address(77, 5, 128, 64) == (0, 77, 5)                    # M=128: lane = row
    lanes64 = {tc.tmem_address(m, 0, 64, 8)[1] for m in range(64)}
    assert lanes64 == {q * 32 + i for q in range(4) for i in range(16)}     # 16 lanes per sub-partition
    assert tc.tmem_address(200, 3, 256, 32, 2) == (1, 72, 3)                # pair, M=256: 128 rows each
    assert tc.tmem_address(10, 40, 128, 64, 2) == (0, 74, 8)                # pair, M=128: N halves stacked
    d = torch.arange(64 * 16, dtype=torch.float32).reshape(64, 16)
    (img,) = tc.tmem_image(d)
    assert img.shape == (128, 16) and int(torch.isnan(img).sum()) == 64 * 16
    assert img[33, 2] == d[17, 2]


# ---------------------------------------------------------------------------------------------- functional model
def _rand_codes(shape, bits, gen):
    return torch.randint(0, 2 ** bits, shape, generator=gen, dtype=torch.uint8)


def _np_decode(codes: torch.Tensor, fmt: str) -> torch.Tensor:
    """Independent decoder: torch's float8 dtypes and ml_dtypes' narrow floats."""
    if fmt == "e4m3":
        return codes.view(torch.float8_e4m3fn).to(torch.float64)
    if fmt == "e5m2":
        return codes.view(torch.float8_e5m2).to(torch.float64)
    dt = {"e2m1": ml_dtypes.float4_e2m1fn, "e2m3": ml_dtypes.float6_e2m3fn, "e3m2": ml_dtypes.float6_e3m2fn}[fmt]
    nbits = 4 if fmt == "e2m1" else 6
    vals = np.arange(2 ** nbits, dtype=np.uint8).view(dt).astype(np.float64)
    return torch.from_numpy(vals)[codes.long()]


def _finite(codes: torch.Tensor, fmt: str) -> torch.Tensor:
    """Replace the NaN/Inf codes of e4m3 (S.1111.111) and e5m2 (S.11111.xx) by 0."""
    codes = codes.clone()
    if fmt == "e4m3":
        codes[(codes & 0x7F) == 0x7F] = 0
    if fmt == "e5m2":
        codes[(codes & 0x7C) == 0x7C] = 0
    return codes


def _block_ref(av, bv, sa, sb, vec):
    """sum over K blocks j: (A[:, j] @ B[j, :]) * sa[:, j] * sb[:, j]^T, in float64."""
    out = torch.zeros(av.shape[0], bv.shape[1], dtype=torch.float64)
    for j in range(av.shape[1] // vec):
        part = av[:, j * vec:(j + 1) * vec] @ bv[j * vec:(j + 1) * vec, :]
        out += part * sa[:, j:j + 1] * sb[:, j:j + 1].T
    return out


def test_f16_matches_torch():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(128, 16, generator=g).half()
    b = torch.randn(16, 96, generator=g).half()
    d0 = torch.randn(128, 96, generator=g)
    out = tc.tcgen05_mma(a, b, kind="f16", d=d0)
    assert out.dtype == torch.float32 and out.shape == (128, 96)
    ref = torch.matmul(a.float(), b.float()) + d0
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    # small integers: every product and sum exact, so the model must be exact
    ai = torch.randint(-8, 8, (64, 16), generator=g).half()
    bi = torch.randint(-8, 8, (16, 8), generator=g).half()
    assert torch.equal(tc.tcgen05_mma(ai, bi, kind="f16"), (ai.float() @ bi.float()))
    bf = tc.tcgen05_mma(ai.bfloat16(), bi.bfloat16(), kind="f16")
    assert torch.equal(bf, ai.float() @ bi.float())


@pytest.mark.parametrize("a_fmt,b_fmt", [("e4m3", "e4m3"), ("e5m2", "e2m1"), ("e2m3", "e3m2")])
def test_f8f6f4_codes(a_fmt, b_fmt):
    g = torch.Generator().manual_seed(1)
    bits = {"e4m3": 8, "e5m2": 8, "e2m3": 6, "e3m2": 6, "e2m1": 4}
    ca = _rand_codes((128, 32), bits[a_fmt], g)
    cb = _rand_codes((32, 64), bits[b_fmt], g)
    ca, cb = _finite(ca, a_fmt), _finite(cb, b_fmt)
    ref = _np_decode(ca, a_fmt) @ _np_decode(cb, b_fmt)
    out = tc.tcgen05_mma(ca, cb, kind="f8f6f4", a_fmt=a_fmt, b_fmt=b_fmt)
    assert torch.equal(out, ref.to(torch.float32))


def test_f8f6f4_torch_float8_and_values():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(64, 32, generator=g).to(torch.float8_e4m3fn)
    b = torch.randn(32, 16, generator=g).to(torch.float8_e5m2)
    out = tc.tcgen05_mma(a, b, kind="f8f6f4")
    assert torch.equal(out, (a.double() @ b.double()).float())
    vals = torch.tensor([0.0, 0.5, -1.5, 6.0]).repeat(64, 8)      # e2m1 values as floats
    out2 = tc.tcgen05_mma(vals, vals.T[:32, :16].contiguous(), kind="f8f6f4", a_fmt="e2m1", b_fmt="e2m1")
    assert torch.equal(out2, (vals.double() @ vals.T[:32, :16].double()).float())


def test_mxf8f6f4_block_scaled():
    g = torch.Generator().manual_seed(3)
    ca = _finite(_rand_codes((128, 32), 8, g), "e4m3")
    cb = _rand_codes((32, 40), 6, g)
    sa = torch.randint(120, 135, (128, 1), generator=g, dtype=torch.uint8)
    sb = torch.randint(120, 135, (40, 1), generator=g, dtype=torch.uint8)
    ref = _block_ref(_np_decode(ca, "e4m3"), _np_decode(cb, "e3m2"), 2.0 ** (sa.double() - 127),
                     2.0 ** (sb.double() - 127), 32)
    out = tc.tcgen05_mma(ca, cb, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e3m2", sf_a=sa, sf_b=sb)
    assert torch.equal(out, ref.to(torch.float32))
    # the same scales given as values
    out_v = tc.tcgen05_mma(ca, cb, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e3m2",
                           sf_a=2.0 ** (sa.double() - 127), sf_b=2.0 ** (sb.double() - 127))
    assert torch.equal(out_v, out)


@pytest.mark.parametrize("vec,sf_fmt", [(32, "ue8m0"), (16, "ue8m0"), (16, "ue4m3")])
def test_mxf4nvf4(vec, sf_fmt):
    g = torch.Generator().manual_seed(4)
    ca = _rand_codes((128, 64), 4, g)
    cb = _rand_codes((64, 24), 4, g)
    if sf_fmt == "ue8m0":
        sa = torch.randint(110, 140, (128, 64 // vec), generator=g, dtype=torch.uint8)
        sb = torch.randint(110, 140, (24, 64 // vec), generator=g, dtype=torch.uint8)
        dec = lambda s: 2.0 ** (s.double() - 127)  # noqa: E731
    else:
        sa = torch.randint(1, 127, (128, 64 // vec), generator=g, dtype=torch.uint8)
        sb = torch.randint(1, 127, (24, 64 // vec), generator=g, dtype=torch.uint8)
        dec = lambda s: s.view(torch.float8_e4m3fn).double()  # noqa: E731  (ue4m3 = e4m3 with sign 0)
    ref = _block_ref(_np_decode(ca, "e2m1"), _np_decode(cb, "e2m1"), dec(sa), dec(sb), vec)
    out = tc.tcgen05_mma(ca, cb, kind="mxf4nvf4", a_fmt="e2m1", b_fmt="e2m1", sf_a=sa, sf_b=sb,
                         sf_vec=vec, sf_fmt=sf_fmt)
    torch.testing.assert_close(out, ref.to(torch.float32), rtol=0, atol=0)
    if vec == 32:  # kind::mxf4 is the same arithmetic with ue8m0 / 32
        out4 = tc.tcgen05_mma(ca, cb, kind="mxf4", a_fmt="e2m1", b_fmt="e2m1", sf_a=sa, sf_b=sb)
        assert torch.equal(out4, out)


def test_functional_model_bad_inputs():
    a16 = torch.zeros(128, 16, dtype=torch.float16)
    b16 = torch.zeros(16, 64, dtype=torch.float16)
    c8 = torch.zeros(128, 32, dtype=torch.uint8)
    b8 = torch.zeros(32, 64, dtype=torch.uint8)
    sfa, sfb = torch.full((128, 1), 127, dtype=torch.uint8), torch.full((64, 1), 127, dtype=torch.uint8)
    with pytest.raises(ValueError, match="not modelled"):
        tc.tcgen05_mma(a16, b16, kind="tf32")
    with pytest.raises(ValueError, match="K dimensions differ"):
        tc.tcgen05_mma(a16, b16[:8], kind="f16")
    with pytest.raises(TypeError, match="a_fmt"):
        tc.tcgen05_mma(torch.zeros(128, 32), b8, kind="f8f6f4", b_fmt="e4m3")
    with pytest.raises(ValueError, match="sf_a is required"):
        tc.tcgen05_mma(c8, b8, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e4m3")
    with pytest.raises(ValueError, match=r"shape \(64, 1\)"):
        tc.tcgen05_mma(c8, b8, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e4m3", sf_a=sfa, sf_b=sfa)
    with pytest.raises(ValueError, match="sf_vec, sf_fmt"):
        tc.tcgen05_mma(c8, b8, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e4m3", sf_a=sfa, sf_b=sfb, sf_vec=16)
    with pytest.raises(ValueError, match="takes no scale factors"):
        tc.tcgen05_mma(c8, b8, kind="f8f6f4", a_fmt="e4m3", b_fmt="e4m3", sf_a=sfa)
    with pytest.raises(ValueError, match=r"elements in \['e2m1'\]"):
        tc.tcgen05_mma(torch.zeros(128, 64, dtype=torch.uint8), torch.zeros(64, 64, dtype=torch.uint8),
                       kind="mxf4", a_fmt="e4m3", b_fmt="e2m1", sf_a=sfa.repeat(1, 2), sf_b=sfb.repeat(1, 2))
    with pytest.raises(ValueError, match="0.7 is not representable in e2m1"):
        tc.tcgen05_mma(torch.full((128, 32), 0.7), torch.zeros(32, 64), kind="f8f6f4", a_fmt="e2m1",
                       b_fmt="e2m1")
    with pytest.raises(ValueError, match="not a ue8m0 scale"):
        tc.tcgen05_mma(c8, b8, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e4m3", sf_a=torch.full((128, 1), 3.0),
                       sf_b=sfb)
    with pytest.raises(ValueError, match="NaN"):
        tc.tcgen05_mma(c8, b8, kind="mxf8f6f4", a_fmt="e4m3", b_fmt="e4m3",
                       sf_a=torch.full((128, 1), 255, dtype=torch.uint8), sf_b=sfb)
    with pytest.raises(ValueError, match="same type"):
        tc.tcgen05_mma(a16, b16.bfloat16(), kind="f16")
    with pytest.raises(ValueError, match="d must be"):
        tc.tcgen05_mma(a16, b16, kind="f16", d=torch.zeros(64, 64))


def test_reference_mma_matches_model():
    g = torch.Generator().manual_seed(5)
    a = torch.randn(128, 32, generator=g).to(torch.float8_e4m3fn)
    b = torch.randn(32, 16, generator=g).to(torch.float8_e4m3fn)
    sa = 2.0 ** torch.randint(-4, 4, (128, 1), generator=g).double()
    sb = 2.0 ** torch.randint(-4, 4, (16, 1), generator=g).double()
    out = tc.tcgen05_mma(a, b, kind="mxf8f6f4", sf_a=sa, sf_b=sb)
    assert torch.equal(out, tc.reference_mma(a.float(), b.float(), sa, sb).float())
    ref = _block_ref(a.double(), b.double(), sa, sb, 32)
    assert math.isclose(float(out.abs().sum()), float(ref.abs().sum()), rel_tol=1e-6)
