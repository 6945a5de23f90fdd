"""Bad input to bwkit.formats, bwkit.gemm, bwkit.scaled_gemm and bwkit.kit.interp: a clear error naming the
argument, never a silent result or a raw Triton/torch error (audit findings 3, 7-10, 12, 15, 16)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import bwkit.gemm.plan
from bwkit import formats as F
from bwkit import gemm
from bwkit import scaled_gemm as sg
from bwkit.kit import interp


@pytest.fixture(scope="module")
def ops():
    g = torch.Generator().manual_seed(0)
    return {"aq": F.quantize(torch.randn(16, 64, generator=g), "mxfp4"),
            "bq": F.quantize(torch.randn(16, 64, generator=g), "mxfp4"),
            "na": F.quantize(torch.randn(16, 64, generator=g), "nvfp4"),
            "nb": F.quantize(torch.randn(16, 64, generator=g), "nvfp4"),
            "a": torch.randn(40, 16, generator=g), "b": torch.randn(16, 24, generator=g),
            "a32": torch.randn(32, 32, generator=g), "b32": torch.randn(32, 32, generator=g)}


@pytest.mark.parametrize("M, N, K", [(16, 16, 32), (16, 64, 48), (128, 128, 64), (256, 128, 512)])
def test_check_nvfp4_operands_takes_the_kits_own_operands(M, N, K):
    """#12: the blocked layout pads rows to 128 and the K/16 scale columns to 4 (tcgen05 / cuBLAS 128x4 tiles):
    a (16, 2) scale matrix is 512 bytes, not 16*32/16 = 32. The checker now expects what to_blocked_scales makes."""
    a4, b4, sfa, sfb = F.nvfp4_gemm_case(M, N, K, device="cpu", reference=False)[0]
    for rows, sf in ((M, sfa), (N, sfb)):
        assert sf.numel() == -(-rows // 128) * 128 * -(-(K // 16) // 4) * 4
    F.check_nvfp4_operands(a4, b4, sfa, sfb, M, N, K)
    F.check_nvfp4_operands(a4, b4, sfa.view(torch.float8_e4m3fn), sfb.view(torch.float8_e4m3fn), M, N, K)
    cols = K // 16
    want = (rf"sfa must be a uint8 tensor of 512 \(rows 16 padded to 128, scale columns {cols} to 4\)" if M == 16
            else rf"sfa must be a uint8 tensor of {M}\*K/16 = {M * cols} ")
    with pytest.raises(ValueError, match=want):
        F.check_nvfp4_operands(a4, b4, sfa[:-1], sfb, M, N, K)


def test_check_nvfp4_operands_refuses_bad_sizes():
    a4, b4, sfa, sfb = F.nvfp4_gemm_case(16, 16, 32, device="cpu", reference=False)[0]
    with pytest.raises(ValueError, match="check_nvfp4_operands: K must be a positive int, got 32.0"):
        F.check_nvfp4_operands(a4, b4, sfa, sfb, 16, 16, 32.0)
    with pytest.raises(ValueError, match="K = 24 is not a multiple of NVFP4's block of 16"):
        F.check_nvfp4_operands(a4, b4, sfa, sfb, 16, 16, 24)


def test_check_operand_compares_shapes_as_tuples():
    """#12: a list shape equal to the tensor's used to fail with 'has shape (4, 4), expected [4, 4]'."""
    F.check_operand("a", torch.zeros(4, 4), [4, 4], torch.float32)
    with pytest.raises(ValueError, match=r"a has shape \(4, 4\), expected \(4, 5\)"):
        F.check_operand("a", torch.zeros(4, 4), [4, 5], torch.float32)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the default device='cuda' is valid on a GPU machine")
def test_nvfp4_gemm_case_default_device_without_a_gpu_says_so():
    with pytest.raises(ValueError, match="no CUDA GPU; pass device='cpu'"):
        F.nvfp4_gemm_case(16, 16, 32)
    with pytest.raises(ValueError, match="random_operands: device='cuda', but this machine has no CUDA GPU"):
        gemm.random_operands(8, 8, 8, device="cuda")


def test_grids_of_ints_and_numpy_ints_still_launch(ops):
    a, b = ops["a32"], ops["b32"]
    c = gemm.launch(gemm.matmul_kernel_kloop, a, b, (np.int64(1), 1), BLOCK_M=32, BLOCK_N=32, BLOCK_K=32)
    assert torch.allclose(c.float(), a @ b, atol=5e-2, rtol=1e-2)


def test_plan_table_takes_one_dtype_name():
    """#15: dtypes='bf16' used to be iterated by character ("unknown dtype 'b'")."""
    rows = gemm.plan_table(dtypes="bf16", targets="sm_100a")
    assert {(r["dtype"], r["target"]) for r in rows} == {("bf16", "sm_100a")} and len(rows) == len(gemm.LADDER)
    assert rows == [r for r in gemm.plan_table() if r["dtype"] == "bf16" and r["target"] == "sm_100a"]


def test_empty_sqnr_and_cases_now_raise():
    """#10: silent results (inf dB, empty operands, {} constexprs, a compile at K=-64) are errors now."""
    with pytest.raises(ValueError, match="sqnr_db: x and x_hat are empty"):
        F.sqnr_db(torch.empty(0), torch.empty(0))
    assert F.sqnr_db(torch.ones(4), torch.ones(4)) == math.inf         # exact is still inf


CASES = [
    # 3: dtype names where a torch dtype belongs
    ("dequantize bf16", lambda o: o["aq"].dequantize(dtype="bf16"), TypeError,
     "Quantized.dequantize: dtype must be a torch floating-point dtype"),
    ("fp8 dequantize 'fp32'", lambda o: F.quantize_fp8_act(torch.randn(4, 256)).dequantize("fp32"), TypeError,
     "FP8Blockwise.dequantize: dtype must be"),
    # 7: truthy strings and True as flags / sizes
    ("pow2_scales 'no'", lambda o: F.quantize_fp8_act(torch.randn(4, 256), pow2_scales="no"), ValueError,
     "quantize_fp8_act: pow2_scales must be True or False, got 'no'"),
    ("weight pow2_scales 1", lambda o: F.quantize_fp8_weight(torch.randn(128, 128), pow2_scales=1), ValueError,
     "quantize_fp8_weight: pow2_scales must be True or False"),
    ("min_amax inf", lambda o: F.quantize_fp8_act(torch.randn(4, 256), min_amax=math.inf), ValueError,
     "min_amax must be > 0"),
    ("dequant 'False'", lambda o: sg.nvfp4_matmul(o["na"], o["nb"], dequant="False"), ValueError,
     "nvfp4_matmul: dequant must be True or False, got 'False'"),
    ("GROUP_M True", lambda o: gemm.matmul_grouped(o["a"], o["b"], GROUP_M=True), ValueError,
     "matmul_grouped: GROUP_M must be a positive int, got True"),
    ("num_warps 0", lambda o: gemm.matmul_grouped(o["a"], o["b"], num_warps=0), ValueError,
     "matmul_grouped: num_warps must be a positive int, got 0"),
    ("M True", lambda o: gemm.random_operands(True, 8, 8), ValueError, "random_operands: M must be a positive int"),
    # 8: grids that are not ints
    ("grid 2.5", lambda o: gemm.launch(gemm.matmul_kernel_kloop, o["a"], o["b"], (2.5, 1), BLOCK_M=16, BLOCK_N=32,
                                       BLOCK_K=16), TypeError, r"grid entries must be ints, got 2.5 \(float\)"),
    ("grid '1'", lambda o: gemm.launch(gemm.matmul_kernel_kloop, o["a32"], o["b32"], "1", BLOCK_M=32, BLOCK_N=32,
                                       BLOCK_K=32), TypeError, "grid entries must be ints, got '1'"),
    ("grid -1", lambda o: interp.safe_launch(gemm.matmul_kernel_kloop, (-1,)), ValueError,
     "grid entries must be >= 0, got -1"),
    ("grid 4-D", lambda o: interp.safe_launch(gemm.matmul_kernel_kloop, (1, 1, 1, 1)), ValueError,
     "grid must have 1 to 3 entries"),
    # 9: block size 0 no longer means the default
    ("block_m 0", lambda o: sg.mxfp4_matmul(o["aq"], o["bq"], block_m=0), ValueError,
     "block_m must be a power of two >= 16, got 0"),
    ("BLOCK_K 0", lambda o: sg.nvfp4_matmul(o["na"], o["nb"], BLOCK_K=0), ValueError,
     "nvfp4_matmul: BLOCK_K must be a power of two >= 16 .*got 0"),
    # 10: silent results
    ("case K 0", lambda o: F.nvfp4_gemm_case(16, 16, 0, device="cpu"), ValueError,
     "nvfp4_gemm_case: K must be a positive int, got 0"),
    ("constexprs wss", lambda o: bwkit.gemm.plan.default_constexprs("wss", "sm_100a"), ValueError,
     "unknown ladder step 'wss'"),
    ("compile K -64", lambda o: gemm.compile_step("kloop", shape=(8192, 8192, -64)), ValueError,
     "compile_step: shape's K must be a positive int, got -64"),
    # 16: raw errors from Triton / torch / Python
    ("compile_step 2-D shape", lambda o: gemm.compile_step("kloop", shape=(8192, 8192)), ValueError,
     r"compile_step: shape must be \(M, N, K\)"),
    ("step_args 2-D shape", lambda o: bwkit.gemm.plan.step_args("kloop", "bf16", (8192, 8192)), ValueError,
     r"step_args: shape must be \(M, N, K\)"),
    ("block_scaled 2-D shape", lambda o: sg.compile_block_scaled(shape=(8192, 8192)), ValueError,
     r"compile_block_scaled: shape must be \(M, N, K\)"),
    ("compile block_k 48", lambda o: sg.compile_block_scaled(block_k=48), ValueError,
     "block_k must be a power of two >= 16, got 48"),
    ("compile block_k 32", lambda o: sg.compile_block_scaled(block_k=32), ValueError,
     "block_k must be a multiple of 64"),
    ("compile_nvfp4 BLOCK_K 100", lambda o: sg.compile_nvfp4(BLOCK_K=100), ValueError,
     "compile_nvfp4: BLOCK_K must be a power of two >= 16 .*got 100"),
    ("compile_nvfp4 2-D shape", lambda o: sg.compile_nvfp4(shape=(64, 64)), ValueError,
     r"compile_nvfp4: shape must be \(M, N, K\)"),
    ("tma no GROUP_M", lambda o: gemm.matmul_persistent_tma(o["a32"], o["b32"], config={
        "BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32}), ValueError, r"config needs the keys .*missing \['GROUP_M'\]"),
    ("tma only BLOCK_M", lambda o: gemm.matmul_persistent_tma(o["a32"], o["b32"], config={"BLOCK_M": 32}),
     ValueError, r"missing \['BLOCK_N', 'BLOCK_K', 'GROUP_M'\]"),
    ("tma unknown key", lambda o: gemm.matmul_persistent_tma(o["a32"], o["b32"], config={
        "BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 4, "STAGES": 3}), ValueError,
     r"unknown \['STAGES'\]"),
    ("ws config 'fast'", lambda o: gemm.matmul_ws(o["a32"], o["b32"], config="fast"), TypeError,
     "matmul_ws: config must be a dict"),
    ("tolerance out fp8", lambda o: gemm.gemm_tolerance("fp16", 64, out_dtype="fp8"), ValueError,
     "gemm_tolerance: out_dtype .* must be fp32, fp16 or bf16, got 'fp8'"),
    ("block_m 32.0", lambda o: sg.mxfp4_matmul(o["aq"], o["bq"], block_m=32.0), ValueError,
     "block_m must be a power of two >= 16, got 32.0"),
    ("block_n '32'", lambda o: sg.mxfp4_matmul(o["aq"], o["bq"], block_n="32"), ValueError,
     "block_n must be a power of two >= 16, got '32'"),
    ("case K 32.0", lambda o: F.nvfp4_gemm_case(16, 16, 32.0, device="cpu"), ValueError,
     "nvfp4_gemm_case: K must be a positive int, got 32.0"),
    ("case M -16", lambda o: F.nvfp4_gemm_case(-16, 16, 32, device="cpu"), ValueError,
     "nvfp4_gemm_case: M must be a positive int, got -16"),
    ("case reference 'no'", lambda o: F.nvfp4_gemm_case(16, 16, 32, device="cpu", reference="no"), ValueError,
     "nvfp4_gemm_case: reference must be True or False"),
    ("encode None", lambda o: F.encode(None, "e2m1"), TypeError, "encode needs a floating-point tensor .*NoneType"),
    ("encode '0.5'", lambda o: F.encode("0.5", "e2m1"), TypeError, "drop the quotes"),
    ("check_matmul name", lambda o: gemm.check_matmul("matmul_kloop", 40, 24, 16), TypeError,
     "check_matmul: fn must be a GEMM wrapper .*got str 'matmul_kloop'"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(ops, call, exc, match):
    with pytest.raises(exc, match=match):
        call(ops)
