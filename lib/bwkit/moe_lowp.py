"""Low-precision MoE experts, emulated: the routed experts with BF16, FP8 (DeepSeek's 128x128 weight blocks and
1x128 activation tiles, fp32 or power-of-two scales) or NVFP4 GEMM inputs, bit-exact codes and scales from
`bwkit.formats`, fp32 arithmetic.

    from bwkit import moe, moe_lowp
    q = moe_lowp.quantize_expert_weights(w.w1, w.w3, w.w2, "nvfp4")
    y = moe_lowp.experts_lowp(x, weights, ids, *q, scheme="nvfp4")    # compare with moe.experts_reference

Taught in lab 07, step 6.
"""

from __future__ import annotations

from bwkit.moe import _check_experts_inputs, _check_tensors

__all__ = ["LOWP_SCHEMES", "fake_quant_weight", "fake_quant_act", "quantize_expert_weights", "experts_lowp"]

LOWP_SCHEMES = ("bf16", "fp8_block", "fp8_block_ue8m0", "nvfp4")


def _check_scheme(scheme: str) -> None:
    if scheme not in LOWP_SCHEMES:
        raise ValueError(f"scheme must be one of {LOWP_SCHEMES}, got {scheme!r}")


def _fake_quant(where: str, name: str, t, scheme: str, fp8):
    """`t` quantized then dequantized with `scheme` (fp32): bf16 rounding, `fp8(t, pow2_scales)` for the FP8
    schemes, NVFP4 (16-element blocks along the last dimension) for 'nvfp4'."""
    import torch

    from bwkit import formats

    _check_scheme(scheme)
    _check_tensors(where, **{name: t})
    if scheme == "bf16":
        return t.to(torch.bfloat16).float()
    if scheme.startswith("fp8_block"):
        return fp8(t, scheme.endswith("ue8m0")).dequantize()
    return formats.quantize(t, "nvfp4").dequantize()


def fake_quant_weight(w2d, scheme: str):
    """Quantize then dequantize one expert matrix [N, K] (fp32 out): 'fp8_block' = DeepSeek's 128x128 blocks with
    fp32 scales, 'fp8_block_ue8m0' the same with power-of-two scales, 'nvfp4' 16-element E2M1 blocks along K."""
    from bwkit import formats

    return _fake_quant("fake_quant_weight", "w2d", w2d, scheme,
                       lambda t, pow2: formats.quantize_fp8_weight(t, block=128, pow2_scales=pow2))


def fake_quant_act(x, scheme: str):
    """Quantize then dequantize activations [T, K] as the expert GEMMs see them: FP8 per 1x128 tile for the
    fp8 schemes, NVFP4 (16-element blocks, per-tensor fp32 scale) for 'nvfp4', bf16 rounding for 'bf16'."""
    from bwkit import formats

    return _fake_quant("fake_quant_act", "x", x, scheme,
                       lambda t, pow2: formats.quantize_fp8_act(t, tile=128, pow2_scales=pow2))


def quantize_expert_weights(w1, w3, w2, scheme: str) -> tuple:
    """(w1, w3, w2) of all experts after quantize -> dequantize with `scheme` (fp32). Taught in lab 07, step 6."""
    import torch

    return tuple(torch.stack([fake_quant_weight(m.float(), scheme) for m in t]) for t in (w1, w3, w2))


def experts_lowp(x, topk_weights, topk_ids, w1q, w3q, w2q, *, scheme: str):
    """Routed experts with low-precision GEMM inputs, emulated: weights already fake-quantized
    (`quantize_expert_weights`), activations fake-quantized before each GEMM (x before w1/w3, h before w2),
    fp32 accumulation, routing weights applied in fp32. Same signature as `experts_reference` plus `scheme`.
    Taught in lab 07, step 6."""
    import torch
    import torch.nn.functional as F

    _check_scheme(scheme)
    _check_experts_inputs(x, topk_weights, topk_ids, w1q, w3q, w2q)
    x = x.float()
    xq = fake_quant_act(x, scheme)
    y = torch.zeros_like(x)
    for e in torch.unique(topk_ids).tolist():
        tok, slot = torch.where(topk_ids == e)
        xe = xq[tok]
        h = F.silu(F.linear(xe, w1q[e])) * F.linear(xe, w3q[e])
        out = F.linear(fake_quant_act(h, scheme), w2q[e])
        y.index_add_(0, tok, out * topk_weights[tok, slot, None].float())
    return y
