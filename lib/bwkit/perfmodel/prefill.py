"""Prefill in the perfmodel: the compute-bound time to prefill one request, and how prefills land on groups.

In-flight batching mixes each request's prefill (ISL tokens, once per request) into decode steps; the decode
step (`bwkit.perfmodel.decode`) charges the expected share of it per step, using `prefill_time` and, when
attention-DP groups start requests at random, `_expected_max_poisson` (the busiest group sets the pace).
Taught in lab 08, step 6.
"""

from __future__ import annotations

import math

from bwkit import hw
from bwkit.moe import DeepSeekMoEConfig
from bwkit.perfmodel.counting import component_params
from bwkit.perfmodel.parameters import Factors, Layout, Recipe, Workload, _attn_frac, _peak

__all__ = ["prefill_time"]


def prefill_time(spec: hw.GPUSpec, layout: Layout, recipe: Recipe, cfg: DeepSeekMoEConfig, workload: Workload,
                 f: Factors) -> float:
    """Seconds one attention group spends prefilling one request (compute-bound; experts spread over EP)."""
    p = component_params(cfg)
    n, tp, G = workload.isl, layout.attn_tp, layout.num_gpus
    expert_params = 3 * cfg.hidden * cfg.expert_inter

    def c(fl: float, fmt: str) -> float:
        """Seconds for `fl` FLOPs of GEMM on `fmt` weights at prefill efficiency."""
        return fl / (_peak(spec, fmt) * f.prefill_gemm_frac)

    t = c(2 * n * p["attention"] / tp, recipe.attention)
    causal = cfg.num_layers * 2 * (cfg.num_heads / tp) * (n * n / 2) * (
        cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim)
    t += causal / (spec.peak("bf16") * _attn_frac(spec, f, "prefill"))
    t += c(2 * n * (p["dense_ffn"] + p["shared_expert"]) / tp, recipe.dense_ffn)
    t += c(2 * n * cfg.num_moe_layers * cfg.top_k * expert_params / G, recipe.routed_experts)
    return t


def _expected_max_poisson(mean: float, n: int) -> float:
    """E[max of n independent Poisson(mean) counts] (summing P(max >= k))."""
    if mean <= 0:
        return 0.0
    total, k = 0.0, 1
    pmf, cdf = math.exp(-mean), math.exp(-mean)                      # P(N=0), P(N<=0)
    while True:
        term = 1.0 - cdf ** n
        total += term
        if term < 1e-12 or k > 10_000:
            return total
        pmf *= mean / k
        cdf += pmf
        k += 1
