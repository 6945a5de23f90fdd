"""bwkit.scaled_gemm: the MX (tl.dot_scaled) and NVFP4 GEMMs in the Triton interpreter (CPU) against an independent
decode, input checks, and the sm_100a compiles (tcgen05.mma ... kind::mxf4 / kind::mxf4nvf4 ... block_scale)."""

import pytest
import torch

from bwkit import formats as F
from bwkit import scaled_gemm as sg  # tests/conftest.py has run bwkit.setup(): the interpreter on a CPU
from bwkit.kit import runtime

DEV = "cpu" if runtime.interpreter_active() else "cuda"   # interpreter: CPU tensors; compiled: GPU tensors

E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]   # OCP MX table of E2M1 magnitudes


def ref_mxfp4_rows(q) -> torch.Tensor:
    """Dequantize an MXFP4 [rows, K] operand from its codes, written from the spec (not bwkit.decode)."""
    codes, sf = q.codes.cpu().to(torch.int64), q.scales.cpu().to(torch.int64)
    mag = torch.tensor(E2M1, dtype=torch.float64)[codes & 7]
    val = torch.where((codes & 8) != 0, -mag, mag)
    scale = torch.pow(torch.tensor(2.0, dtype=torch.float64), (sf - 127).to(torch.float64))
    return val * scale.repeat_interleave(32, dim=1)


def test_mxfp4_matmul_matches_independent_reference():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(40, 96, generator=gen) * 3
    w = torch.randn(24, 96, generator=gen) * torch.exp2(torch.randint(-4, 4, (24, 1), generator=gen).float())
    a_q, w_q = F.quantize(a.to(DEV), "mxfp4"), F.quantize(w.to(DEV), "mxfp4")
    c = sg.mxfp4_matmul(a_q, w_q)
    ref = ref_mxfp4_rows(a_q) @ ref_mxfp4_rows(w_q).t()
    assert c.shape == (40, 24) and c.dtype == torch.float32
    c = c.cpu()
    torch.testing.assert_close(c.double(), ref, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(c, sg.emulated_matmul(a_q, w_q).cpu(), rtol=1e-6, atol=1e-5)
    # the product is of the quantized operands, not of the originals: it differs from a @ w.T
    assert (c - a @ w.t()).abs().max() > 0.1


def test_b_as_k_by_n_and_other_tiles():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(16, 64, generator=gen)
    b = torch.randn(64, 20, generator=gen)                 # [K, N], blocked along axis 0 (K)
    a_q, b_q = F.quantize(a.to(DEV), "mxfp4"), F.quantize(b.to(DEV), "mxfp4", axis=0)
    c = sg.mxfp4_matmul(a_q, b_q, block_m=16, block_n=32, block_k=64)
    ref = a_q.dequantize().double() @ b_q.dequantize().double()
    torch.testing.assert_close(c.double(), ref, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("sa,sb", [("mxfp8_e4m3", "mxfp8_e4m3"), ("mxfp8_e4m3", "mxfp8_e5m2")])
def test_mxfp8_matmul(sa, sb):
    gen = torch.Generator().manual_seed(2)
    a, w = torch.randn(20, 64, generator=gen), torch.randn(18, 64, generator=gen)
    a_q, w_q = F.quantize(a.to(DEV), sa), F.quantize(w.to(DEV), sb)
    c = sg.mxfp8_matmul(a_q, w_q)
    ref = a_q.dequantize().double() @ w_q.dequantize().double().t()
    torch.testing.assert_close(c.double(), ref, rtol=1e-6, atol=1e-5)
    assert F.sqnr_db(a.double() @ w.double().t(), c.double().cpu()) > 20   # FP8 operands: close to the exact product


def test_input_checks():
    a_q = F.quantize(torch.randn(8, 64, device=DEV), "mxfp4")
    with pytest.raises(ValueError, match="multiple of 32"):
        sg.mxfp4_matmul(F.quantize(torch.randn(8, 40), "mxfp4"), F.quantize(torch.randn(8, 40), "mxfp4"))
    with pytest.raises(ValueError, match="takes mxfp4"):
        sg.mxfp4_matmul(a_q, F.quantize(torch.randn(8, 64), "nvfp4"))
    with pytest.raises(ValueError, match="takes mxfp8_e4m3, mxfp8_e5m2"):
        sg.mxfp8_matmul(a_q, a_q)
    with pytest.raises(ValueError, match="K mismatch"):
        sg.mxfp4_matmul(a_q, F.quantize(torch.randn(8, 96), "mxfp4"))
    with pytest.raises(ValueError, match="blocked along K"):
        sg.mxfp4_matmul(F.quantize(torch.randn(64, 8), "mxfp4", axis=0), a_q)
    with pytest.raises(ValueError, match="2-D"):
        sg.mxfp4_matmul(F.quantize(torch.randn(2, 8, 64), "mxfp4"), a_q)
    with pytest.raises(TypeError, match="Quantized"):
        sg.mxfp4_matmul(torch.randn(8, 64), a_q)
    with pytest.raises(ValueError, match="block_k"):
        sg.mxfp4_matmul(a_q, a_q, block_k=32)
    with pytest.raises(ValueError, match="valid: e2m1, e4m3, e5m2"):
        sg.compile_block_scaled("e3m2", "e2m1")


def test_compiles_to_tcgen05_block_scaled_mma_for_sm100a():
    k = sg.compile_block_scaled("e2m1", "e2m1", target="sm_100a")
    assert k.ptx_target() == "sm_100a"
    assert "tcgen05.mma.cta_group::1.kind::mxf4.block_scale.block32" in k.ptx
    assert k.cubin


# ---------------------------------------------------------------------------------------------------------
# NVFP4: E2M1 elements, UE4M3 scales per 16, an FP32 tensor scale (lab 04)
# ---------------------------------------------------------------------------------------------------------
def _nvfp4_dequant_reference(q):
    """Independent decode: E2M1 by table, UE4M3 through torch's float8_e4m3fn, times the tensor scale."""
    codes = q.codes.to(torch.int64)
    mag = torch.tensor(E2M1, dtype=torch.float64)[codes & 7]
    val = torch.where((codes & 8) != 0, -mag, mag)
    sf = q.scales.view(torch.float8_e4m3fn).to(torch.float64).repeat_interleave(16, dim=1)
    return val * sf * float(q.tensor_scale)


def test_nvfp4_matmul_matches_dequantized_reference():
    a = torch.randn(40, 128) * 3
    w = torch.randn(24, 128)
    a_q, w_q = F.quantize(a, "nvfp4"), F.quantize(w, "nvfp4")
    c = sg.nvfp4_matmul(a_q, w_q)
    ref = _nvfp4_dequant_reference(a_q) @ _nvfp4_dequant_reference(w_q).T
    assert c.dtype == torch.float32 and c.shape == (40, 24)
    # products are exact (fp16-representable); only fp32 accumulation and the final tensor-scale multiply round
    assert torch.allclose(c.double(), ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
    # and it is a quantized product: close to, but not equal to, the fp32 product
    exact = a.double() @ w.double().T
    rel = float((c.double() - exact).norm() / exact.norm())
    assert 0.01 < rel < 0.2


def test_nvfp4_bad_inputs():
    a_q = F.quantize(torch.randn(16, 64), "nvfp4")
    with pytest.raises(ValueError, match="scheme 'mxfp4'"):
        sg.nvfp4_matmul(a_q, F.quantize(torch.randn(16, 64), "mxfp4"))
    with pytest.raises(ValueError, match="K mismatch"):
        sg.nvfp4_matmul(a_q, F.quantize(torch.randn(16, 128), "nvfp4"))
    with pytest.raises(ValueError, match="multiple of BLOCK_K"):
        sg.nvfp4_matmul(F.quantize(torch.randn(16, 96), "nvfp4"), F.quantize(torch.randn(16, 96), "nvfp4"))
    with pytest.raises(TypeError, match="Quantized"):
        sg.nvfp4_matmul(torch.randn(16, 64), a_q)
    with pytest.raises(runtime.InterpreterBugError):
        sg.nvfp4_matmul(a_q, a_q, dequant=False)


def test_compile_nvfp4_after_a_kernel_that_calls_a_jit_helper():
    """`tl.zeros` is a @triton.jit helper; under the interpreter, calling one used to leave the language patched
    and break later compiles (bwkit.setup() fixes that). Compiling and the scaled sweep must still work."""
    import triton
    import triton.language as tl

    from bwkit import gemm_bench

    @triton.jit
    def leaky(x_ptr, N: tl.constexpr):
        offs = tl.arange(0, N)
        tl.store(x_ptr + offs, tl.zeros((N,), tl.float32) + 1.0)

    x = torch.zeros(16)
    leaky[(1,)](x, N=16)
    assert torch.equal(x, torch.ones(16))
    k = sg.compile_nvfp4("sm_100a")
    assert sum(n for op, n in k.histogram().items() if "kind::mxf4nvf4.block_scale.block16" in op) > 0
    rows = gemm_bench.run_cpu_scaled_sweep(shapes=((24, 16, 128),))
    assert [(r["dtype"], r["ok"]) for r in rows] == [("mxfp8_e4m3", True), ("mxfp4", True), ("nvfp4", True)]


def test_dot_scaled_tile_shapes_and_k_step_bytes():
    assert sg.dot_scaled_tile_shapes(128, 128, 128, "mxfp4") == ((128, 64), (128, 4), (64, 128), (128, 4))
    assert sg.dot_scaled_tile_shapes(16, 16, 64, "nvfp4") == ((16, 32), (16, 4), (32, 16), (16, 4))
    assert sg.dot_scaled_tile_shapes(128, 256, 128, "mxfp8_e4m3") == ((128, 128), (128, 4), (128, 256), (256, 4))
    assert sg.k_step_bytes(128, 128, 128, "mxfp4") == 256 * (64 + 4) == 17408
    assert sg.k_step_bytes(128, 128, 128, "nvfp4") == 256 * (64 + 8)
    assert sg.k_step_bytes(128, 128, 128, "mxfp8_e5m2") == 256 * (128 + 4)
    with pytest.raises(ValueError, match="multiple of nvfp4's block of 16"):
        sg.k_step_bytes(128, 128, 40, "nvfp4")
    with pytest.raises(ValueError, match="scheme must be one of"):
        sg.dot_scaled_tile_shapes(128, 128, 128, "mxint8")


def test_the_kernels_load_the_tiles_dot_scaled_tile_shapes_names():
    """The shapes the library states are the ones its kernels hand to tl.dot_scaled (recorded in the interpreter)."""
    if not runtime.interpreter_active():
        pytest.skip("records the interpreter's dot_scaled operands")
    from triton.runtime import interpreter as it

    seen = []
    orig = type(it.interpreter_builder).create_dot_scaled

    def record(self, lhs, lhs_scale, lf, rhs, rhs_scale, *rest):
        seen.append((lhs.data.shape, lhs_scale.data.shape, rhs.data.shape, rhs_scale.data.shape))
        return orig(self, lhs, lhs_scale, lf, rhs, rhs_scale, *rest)

    it.interpreter_builder.create_dot_scaled = record.__get__(it.interpreter_builder)
    try:
        for scheme, fn in (("mxfp4", sg.mxfp4_matmul), ("mxfp8_e4m3", sg.mxfp8_matmul)):
            seen.clear()
            fn(F.quantize(torch.randn(16, 64), scheme), F.quantize(torch.randn(16, 64), scheme))
            assert set(seen) == {sg.dot_scaled_tile_shapes(16, 16, 64, scheme)}
    finally:
        del it.interpreter_builder.create_dot_scaled


def test_nvfp4_dot_scaled_only_on_datacenter_blackwell(monkeypatch):
    """On a GPU that is not sm_100a/sm_103a (Hopper: no FP4 Tensor Cores) the UE4M3 block-16 dot_scaled path is
    refused with the reason; the default there is the in-register decode."""
    a_q = F.quantize(torch.randn(16, 64), "nvfp4")
    monkeypatch.setattr(sg.runtime, "interpreter_active", lambda: False)
    with pytest.raises(ValueError, match="datacenter Blackwell.*dequant=True"):
        sg.nvfp4_matmul(a_q, a_q, dequant=False)


def test_scaled_compiles_are_specialized_as_launches():
    k = sg.compile_nvfp4("sm_90a", dequant=True)
    sig = k.metadata["signature"]
    assert sig["a_ts_ptr"] == "*fp32/D" and sig["a_sf_ptr"] == "*fp8e4nv/D" and sig["K"] == "i32/D"
    assert "stride_ak" not in sig and k.metadata["shared"] <= 232_448
    assert any(op.startswith("wgmma.mma_async") for op in k.histogram())
    small = sg.compile_block_scaled("e4m3", "e4m3", "sm_100a", shape=(4096, 4112, 4096))
    assert small.metadata["signature"]["N"] == "i32/D" and small.metadata["signature"]["stride_bn"] == "i32/D"
