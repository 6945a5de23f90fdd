"""Multi-token prediction terms of the perfmodel: `drafts` autoregressive passes through the MTP module + head.

Each draft pass runs one layer's attention over its own layer of cache, the MoE of the MTP module (touched +
shared experts), its 2h x h projection and the output head, one token per request, with its own kernels and two
all-reduces. Taught in lab 08, step 5 (MTP acceptance from TensorRT-LLM blog 1).
"""

from __future__ import annotations

from bwkit.perfmodel.comm import all_reduce_s
from bwkit.perfmodel.counting import component_params, unique_experts
from bwkit.perfmodel.factors import _attn_flops, _kernel_s
from bwkit.perfmodel.gemm import gemm_cost
from bwkit.perfmodel.parameters import KERNELS, KV_BYTES
from bwkit.perfmodel.step import Cost, StepContext

__all__ = ["mtp_pass_linear", "mtp_pass_kv_attention", "mtp_pass_kernels_s", "mtp_pass_comm_s", "mtp_draft_passes"]


def mtp_pass_linear(s: StepContext) -> Cost:
    """One MTP draft pass's GEMMs: its attention, touched + shared experts, 2h x h projection and the head.

    Weights in the recipe's `mtp` format (head in `head`); one token per request; GEMM seconds in the `mtp` format.
    """
    cfg, r, p = s.cfg, s.recipe, component_params(s.cfg)
    tp, G = s.layout.attn_tp, s.layout.num_gpus
    mla = p["attention"] / cfg.num_layers
    mtp_expert_touched = unique_experts(cfg.num_experts, cfg.top_k, s.concurrency)
    b = (mla * r.bytes("mtp") / tp
         + (mtp_expert_touched + cfg.num_shared_experts) * s.expert_params * r.bytes("mtp") / G
         + 2 * cfg.hidden * cfg.hidden * r.bytes("mtp") / tp
         + p["head"] * r.bytes("head") / tp)
    fl = 2 * s.reqs_per_group * (mla + 2 * cfg.hidden ** 2 + p["head"]) / tp \
        + 2 * s.concurrency * (cfg.top_k + cfg.num_shared_experts) * s.expert_params / G
    return gemm_cost(s.spec, s.factors, b, fl, r.mtp)


def mtp_pass_kv_attention(s: StepContext) -> Cost:
    """One MTP pass's attention over its own layer of KV cache: bytes, FLOPs, max of the two times (0 if off)."""
    if not s.factors.kv_attention:
        return Cost(0.0, 0.0, 0.0)
    cfg, tp = s.cfg, s.layout.attn_tp
    b = s.reqs_per_group * s.ctx * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * KV_BYTES[s.recipe.kv_cache]
    fl = s.reqs_per_group * 2 * (cfg.num_heads / tp) * s.ctx * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    return Cost(b, fl, max(b / s.kv_bw, fl / _attn_flops(s.spec, s.recipe, s.factors)))


def mtp_pass_kernels_s(s: StepContext) -> float:
    """Seconds of fixed cost of one MTP pass: one layer's attention, MoE and head kernels + 2, x kernel_s (0 if off)."""
    if not s.factors.kernels:
        return 0.0
    return (KERNELS["attention"] + KERNELS["moe"] + KERNELS["head"] + 2) * _kernel_s(s.spec, s.factors)


def mtp_pass_comm_s(s: StepContext) -> float:
    """Seconds of one MTP pass's two all-reduces of one BF16 token per request over all GPUs (0 if off or 1 GPU)."""
    G = s.layout.num_gpus
    if not (s.factors.comm and G > 1):
        return 0.0
    return 2 * all_reduce_s(s, min(G, s.layout.nvlink_domain), s.reqs_per_group * s.cfg.hidden * 2)


def mtp_draft_passes(s: StepContext) -> Cost:
    """All MTP draft passes of a step: drafts x (GEMMs + own KV attention + kernel cost + communication)."""
    lin, kv = mtp_pass_linear(s), mtp_pass_kv_attention(s)
    t_pass = lin.seconds + kv.seconds + mtp_pass_kernels_s(s) + mtp_pass_comm_s(s)
    return Cost(s.drafts * (lin.hbm_bytes + kv.hbm_bytes), s.drafts * (lin.flops + kv.flops), s.drafts * t_pass)
