"""Narrow number formats, bit-exact: the element formats and the block-scaled schemes built on them.

    from bwkit import formats as F
    F.encode(x, "e2m1"), F.decode(codes, "e2m1")    # element formats: `bwkit.formats.elements`
    q = F.quantize(x, "mxfp4"); q.dequantize()       # MX, NVFP4 and DeepSeek FP8 blocks: `bwkit.formats.mx`

Both halves are re-exported here; `elements` knows nothing of `mx`, `mx` builds on `elements`.
Taught in lab 02 (number formats); the reference of labs 04 and 07.
"""

from bwkit.formats.elements import (
    FORMATS,
    FormatSpec,
    decode,
    encode,
    pack_fp4,
    round_to_format,
    unpack_fp4,
    value_table,
)
from bwkit.formats.mx import (
    SCHEMES,
    FP8Blockwise,
    Quantized,
    SchemeSpec,
    check_nvfp4_operands,
    check_operand,
    from_blocked_scales,
    nvfp4_gemm_case,
    quantize,
    quantize_fp8_act,
    quantize_fp8_weight,
    sqnr_db,
    to_blocked_scales,
)

__all__ = [
    "FormatSpec", "FORMATS", "encode", "decode", "round_to_format", "value_table", "pack_fp4", "unpack_fp4",
    "SchemeSpec", "SCHEMES", "Quantized", "quantize", "to_blocked_scales", "from_blocked_scales",
    "FP8Blockwise", "quantize_fp8_act", "quantize_fp8_weight", "sqnr_db", "nvfp4_gemm_case", "check_operand",
    "check_nvfp4_operands",
]
