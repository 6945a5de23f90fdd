"""Lab 04 (block-scaled GEMM): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "04.1": [
        Wrong("scale bits times the block", """
def bits_per_element(elem_bits, scale_bits, block):
    return elem_bits + scale_bits * block
""", "multiplied the scale bits"),
        Wrong("scale left out", """
def bits_per_element(elem_bits, scale_bits, block):
    return float(elem_bits)
""", "has no scale in it"),
        Wrong("integer division", """
def bits_per_element(elem_bits, scale_bits, block):
    return elem_bits + scale_bits // block
""", "integer division"),
        Wrong("bits of a whole block", """
def bits_per_element(elem_bits, scale_bits, block):
    return elem_bits * block + scale_bits
""", "whole block"),
        Wrong("bytes", """
def bits_per_element(elem_bits, scale_bits, block):
    return (elem_bits + scale_bits / block) / 8
""", "in bytes"),
        Wrong("8-bit scales hard-coded", """
def bits_per_element(elem_bits, scale_bits, block):
    return elem_bits + 8 / block           # E8M0 and UE4M3 scales are 8 bits
""", "hard-coded 8 scale bits"),
        Wrong("rounded for display", """
def bits_per_element(elem_bits, scale_bits, block):
    return round(elem_bits + scale_bits / block, 2)
""", "you rounded the result"),
        Wrong("share upside down", """
def bits_per_element(elem_bits, scale_bits, block):
    return elem_bits + block / scale_bits
""", "not block / scale_bits"),
        Wrong("the scale's share only", """
def bits_per_element(elem_bits, scale_bits, block):
    return scale_bits / block
""", "only the scale's share"),
        Right("fractions", """
from fractions import Fraction
def bits_per_element(elem_bits, scale_bits, block):
    return float(Fraction(elem_bits * block + scale_bits, block))
"""),
        Right("numpy", """
import numpy as np
def bits_per_element(elem_bits, scale_bits, block):
    return np.float64(elem_bits) + np.divide(scale_bits, block)
"""),
    ],
    "04.2": [
        Wrong("multiplied in half precision", """
def dequant_matmul(a_q, w_q):
    return a_q.dequantize().half() @ w_q.dequantize().half().T
""", "C is float16/bfloat16"),
        Wrong("W not transposed", """
def dequant_matmul(a_q, w_q):
    return a_q.dequantize().double() @ w_q.dequantize().double()
""", "transpose it"),
        Wrong("element values only", """
def dequant_matmul(a_q, w_q):
    return a_q.element_values().double() @ w_q.element_values().double().T
""", "left out the block scales"),
        Wrong("block scales by hand, tensor scale forgotten", """
def dequant_matmul(a_q, w_q):
    def dq(q):
        rows, k = q.codes.shape
        e = q.element_values().double().reshape(rows, k // q.block_size, q.block_size)
        return (e * q.scale_values().double()[:, :, None]).reshape(rows, k)
    return dq(a_q) @ dq(w_q).T
""", "per-tensor scale"),
        Wrong("raw codes", """
def dequant_matmul(a_q, w_q):
    return a_q.codes.double() @ w_q.codes.double().T
""", "raw codes"),
        Wrong("float32 product cast to float64", """
def dequant_matmul(a_q, w_q):
    return (a_q.dequantize() @ w_q.dequantize().T).double()
""", "cast the product to float64"),
        Wrong("W @ Aᵀ", """
def dequant_matmul(a_q, w_q):
    return w_q.dequantize().double() @ a_q.dequantize().double().T
""", "C transposed"),
        Wrong("by hand, dividing by the tensor scale", """
def dequant_matmul(a_q, w_q):
    def dq(q):
        rows, k = q.codes.shape
        e = q.element_values().double().reshape(rows, k // q.block_size, q.block_size)
        x = (e * q.scale_values().double()[:, :, None]).reshape(rows, k)
        if q.tensor_scale is not None:
            x = x / q.tensor_scale.double()            # x = e2m1 * sf / S_enc
        return x
    return dq(a_q) @ dq(w_q).T
""", "divided by NVFP4's tensor scale"),
        Right("einsum", """
import torch
def dequant_matmul(a_q, w_q):
    return torch.einsum("mk,nk->mn", a_q.dequantize(torch.float64), w_q.dequantize(torch.float64))
"""),
        Right("numpy", """
import numpy as np
def dequant_matmul(a_q, w_q):
    a = np.asarray(a_q.dequantize(), dtype=np.float64)
    w = np.asarray(w_q.dequantize(), dtype=np.float64)
    return a @ w.T
"""),
    ],
    "04.3": [
        Wrong("the fp16 kind", 'nvfp4_kind = "kind::f16"', "dequantize-then-fp16"),
        Wrong("MXFP4's kind", 'nvfp4_kind = "kind::mxf4"', "MXFP4's kind"),
        Wrong("the unscaled kind", 'nvfp4_kind = "kind::f8f6f4"', "unscaled"),
        Wrong("without the kind:: prefix", 'nvfp4_kind = "mxf4nvf4"', "not one of"),
        Right("capitalised", 'nvfp4_kind = "KIND::MXF4NVF4"'),
        Right("padded", 'nvfp4_kind = "  kind::mxf4nvf4"'),
    ],
    "04.4": [
        Wrong("B's scales transposed", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if scheme in ("mxfp4", "nvfp4") else 1
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M, BLOCK_K // pack), (BLOCK_M, BLOCK_K // blk), (BLOCK_K // pack, BLOCK_N), (BLOCK_K // blk, BLOCK_N)
""", "transposed B's scales"),
        Wrong("scale columns from the packed K", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if scheme in ("mxfp4", "nvfp4") else 1
    blk = 16 if scheme == "nvfp4" else 32
    k = BLOCK_K // pack
    return (BLOCK_M, k), (BLOCK_M, k // blk), (k, BLOCK_N), (BLOCK_N, k // blk)
""", "not `block` packed bytes"),
        Wrong("FP4 codes not packed", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M, BLOCK_K), (BLOCK_M, BLOCK_K // blk), (BLOCK_K, BLOCK_N), (BLOCK_N, BLOCK_K // blk)
""", "packed two per byte"),
        Wrong("B as W's [N, K] rows", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if scheme in ("mxfp4", "nvfp4") else 1
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M, BLOCK_K // pack), (BLOCK_M, BLOCK_K // blk), (BLOCK_N, BLOCK_K // pack), (BLOCK_N, BLOCK_K // blk)
""", "[K, N] tile"),
        Wrong("32-element blocks for NVFP4 too", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if "fp4" in scheme else 1
    kb = BLOCK_K // 32
    return (BLOCK_M, BLOCK_K // pack), (BLOCK_M, kb), (BLOCK_K // pack, BLOCK_N), (BLOCK_N, kb)
""", "one scale per 16"),
        Wrong("'4' in the scheme name taken for FP4", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if "4" in scheme else 1
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M, BLOCK_K // pack), (BLOCK_M, BLOCK_K // blk), (BLOCK_K // pack, BLOCK_N), (BLOCK_N, BLOCK_K // blk)
""", "the 4 in E4M3"),
        Wrong("code tiles first, then the scales", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if "fp4" in scheme else 1
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M, BLOCK_K // pack), (BLOCK_K // pack, BLOCK_N), (BLOCK_M, BLOCK_K // blk), (BLOCK_N, BLOCK_K // blk)
""", "you put both code tiles first"),
        Wrong("both scale tiles transposed", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack = 2 if "fp4" in scheme else 1
    kb = BLOCK_K // (16 if scheme == "nvfp4" else 32)
    return (BLOCK_M, BLOCK_K // pack), (kb, BLOCK_M), (BLOCK_K // pack, BLOCK_N), (kb, BLOCK_N)
""", "transposed both scale tiles"),
        Right("from bwkit.formats, as lists", """
from bwkit import formats as F
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    spec = F.SCHEMES[scheme]
    k_bytes = BLOCK_K * spec.elem_bits // 8
    k_blocks = BLOCK_K // spec.block_size
    return [[BLOCK_M, k_bytes], [BLOCK_M, k_blocks], [k_bytes, BLOCK_N], [BLOCK_N, k_blocks]]
"""),
        Right("a table", """
def dot_scaled_shapes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    pack, block = {"mxfp4": (2, 32), "mxfp8_e4m3": (1, 32), "mxfp8_e5m2": (1, 32), "nvfp4": (2, 16)}[scheme]
    a = (BLOCK_M, BLOCK_K // pack)
    b = (BLOCK_K // pack, BLOCK_N)
    return a, (BLOCK_M, BLOCK_K // block), b, (BLOCK_N, BLOCK_K // block)
"""),
    ],
    "04.5": [
        Wrong("scales forgotten", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    bits = 4 if scheme in ("mxfp4", "nvfp4") else 8
    return (BLOCK_M + BLOCK_N) * BLOCK_K * bits // 8
""", "left out the scale bytes"),
        Wrong("one byte per FP4 code", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M + BLOCK_N) * (BLOCK_K + BLOCK_K // blk)
""", "half a byte"),
        Wrong("fp32 scales", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    bits = 4 if scheme in ("mxfp4", "nvfp4") else 8
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M + BLOCK_N) * (BLOCK_K * bits // 8 + 4 * BLOCK_K // blk)
""", "not 4"),
        Wrong("only A's tile", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    bits = 4 if scheme in ("mxfp4", "nvfp4") else 8
    blk = 16 if scheme == "nvfp4" else 32
    return BLOCK_M * (BLOCK_K * bits // 8 + BLOCK_K // blk)
""", "only A's tile"),
        Wrong("MX block for NVFP4", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    bits = 4 if "fp4" in scheme else 8
    return (BLOCK_M + BLOCK_N) * (BLOCK_K * bits // 8 + BLOCK_K // 32)
""", "scale per 16"),
        Wrong("'4' in the scheme name taken for FP4", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    bits = 4 if "4" in scheme else 8
    blk = 16 if scheme == "nvfp4" else 32
    return (BLOCK_M + BLOCK_N) * (BLOCK_K * bits // 8 + BLOCK_K // blk)
""", "the 4 in E4M3"),
        Wrong("16-element blocks for MXFP4 too", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    fp4 = "fp4" in scheme
    bits, blk = (4, 16) if fp4 else (8, 32)
    return (BLOCK_M + BLOCK_N) * (BLOCK_K * bits // 8 + BLOCK_K // blk)
""", "one scale per 32 elements"),
        Wrong("scales per packed byte", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    bits = 4 if "fp4" in scheme else 8
    blk = 16 if scheme == "nvfp4" else 32
    k_bytes = BLOCK_K * bits // 8
    return (BLOCK_M + BLOCK_N) * (k_bytes + k_bytes // blk)
""", "not `block` packed bytes"),
        Right("bits_per_element from bwkit.formats, a float", """
from bwkit import formats as F
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    return (BLOCK_M + BLOCK_N) * BLOCK_K * F.SCHEMES[scheme].bits_per_element / 8
"""),
        Right("codes and scales counted apart", """
def k_step_bytes(BLOCK_M, BLOCK_N, BLOCK_K, scheme):
    elem_bits = {"mxfp4": 4, "nvfp4": 4, "mxfp8_e4m3": 8, "mxfp8_e5m2": 8}[scheme]
    block = 16 if scheme == "nvfp4" else 32
    codes = (BLOCK_M * BLOCK_K + BLOCK_N * BLOCK_K) * elem_bits // 8
    scales = (BLOCK_M + BLOCK_N) * (BLOCK_K // block)
    return codes + scales
"""),
    ],
    "04.6": [
        Wrong("the FP4 peak", "dequant_peak_tflops = 9000.0", "FP4 peak"),
        Wrong("the FP8 rate", "dequant_peak_tflops = 4500.0", "FP8 rate"),
        Wrong("the ratio", "dequant_peak_tflops = 9000 / 2250", "ratio"),
        Wrong("PFLOP/s", "dequant_peak_tflops = 2.25", "PFLOP/s"),
        Wrong("FLOP/s", """
from bwkit import hw
dequant_peak_tflops = hw.peak_flops("B200", "bf16")
""", "that is in FLOP/s"),
        Wrong("the TF32 rate (dequantize() gives float32)", """
from bwkit import hw
dequant_peak_tflops = hw.get_spec("B200").peak_tflops["tf32"]
""", "TF32 rate"),
        Right("an int", "dequant_peak_tflops = 2250"),
        Right("from the FLOP/s", """
from bwkit import hw
dequant_peak_tflops = hw.peak_flops("B200", "bf16") / 1e12
"""),
    ],
    "04.7": [
        Wrong("mxfp4", 'better_fp4 = "mxfp4"', "power-of-two scale"),
        Wrong("MXFP4 capitalised", 'better_fp4 = "MXFP4"', "power-of-two scale"),
        Wrong("not an option", 'better_fp4 = "NVFP4 (UE4M3 scales)"', "not one of"),
        Right("capitalised", 'better_fp4 = "NVFP4"'),
        Right("padded", 'better_fp4 = " nvfp4\\n"'),
    ],
}
