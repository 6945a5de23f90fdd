"""Counting for the perfmodel: parameters, weight and KV-cache bytes, experts touched, and what HBM holds.

Pure functions of the model config, the recipe and the layout (no timing): `component_params` and
`weight_bytes_per_gpu` count weights (redundant expert slots included), `unique_experts` and `expected_max_normal` the
experts a batch reads and its load imbalance, `kv_bytes_per_token` the MLA latent cache, `activation_bytes` the
non-GEMM traffic per token, and `max_concurrency` the requests whose cache fits in HBM beside the weights, sized by
occupancy (paged caches) or by reservation. Taught in lab 08, steps 2-4.
"""

from __future__ import annotations

import numbers
from functools import lru_cache
from statistics import NormalDist

from bwkit import hw
from bwkit.kit.args import check_flag, check_number
from bwkit.moe import DEEPSEEK_V3, DeepSeekMoEConfig
from bwkit.perfmodel.factors import _spec
from bwkit.perfmodel.parameters import (
    KV_BYTES,
    LAYOUT_MAX_THROUGHPUT,
    RECIPE_NVFP4,
    Layout,
    Recipe,
    Workload,
    check_kinds,
)

__all__ = ["unique_experts", "expected_max_normal", "component_params", "active_params_per_token",
           "kv_bytes_per_token", "weight_bytes_per_gpu", "max_concurrency", "activation_bytes"]

_DEFAULT_WORKLOAD = Workload()                   # ISL 1K / OSL 2K, no MTP


def unique_experts(num_experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts one MoE layer reads for `tokens` tokens routed independently and uniformly.

    Each expert is missed by one token with probability 1 - top_k/num_experts, so
    E[unique] = num_experts * (1 - (1 - top_k/num_experts)^tokens). Taught in lab 08, step 3.
    """
    check_number("unique_experts: num_experts", num_experts)
    check_number("unique_experts: top_k", top_k)
    if top_k > num_experts:
        raise ValueError(f"unique_experts: need top_k <= num_experts, got {top_k!r}, {num_experts!r}")
    check_number("unique_experts: tokens", tokens, integer=False, zero_ok=True)
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** tokens)


@lru_cache(maxsize=64)
def expected_max_normal(n: int) -> float:
    """E[max of n independent standard normals] = integral of x * n * pdf(x) * cdf(x)^(n-1) (load imbalance)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"expected_max_normal: n must be an int >= 1, got {n!r}")
    if n == 1:
        return 0.0
    nd = NormalDist()
    h, total = 0.005, 0.0
    for i in range(-2000, 2001):                 # x in [-10, 10], midpoint rule
        x = i * h
        total += x * n * nd.pdf(x) * nd.cdf(x) ** (n - 1) * h
    return total


def _mla_params(cfg: DeepSeekMoEConfig) -> dict[str, int]:
    h, H = cfg.hidden, cfg.num_heads
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
    return {
        "wq_a": h * cfg.q_lora_rank,
        "wq_b": cfg.q_lora_rank * H * qk,
        "wkv_a": h * (cfg.kv_lora_rank + cfg.qk_rope_head_dim),
        "wkv_b": cfg.kv_lora_rank * H * (cfg.qk_nope_head_dim + cfg.v_head_dim),
        "wo": H * cfg.v_head_dim * h,
    }


def component_params(cfg: DeepSeekMoEConfig = DEEPSEEK_V3) -> dict[str, int]:
    """Parameter count of each component of the main model (all layers), plus the MTP module.

    Keys: attention, dense_ffn, shared_expert, routed_experts, router, embedding, head, mtp (one MTP module:
    its attention, its MoE with all experts, and its 2h x h projection; it shares embedding and head).
    Taught in lab 08, step 2.
    """
    check_kinds(cfg=cfg)
    mla = sum(_mla_params(cfg).values())
    expert = 3 * cfg.hidden * cfg.expert_inter
    moe_layers = cfg.num_moe_layers
    p = {
        "attention": cfg.num_layers * mla,
        "dense_ffn": cfg.num_dense_layers * 3 * cfg.hidden * cfg.dense_inter,
        "shared_expert": moe_layers * cfg.num_shared_experts * expert,
        "routed_experts": moe_layers * cfg.num_experts * expert,
        "router": moe_layers * cfg.num_experts * cfg.hidden,
        "embedding": cfg.vocab * cfg.hidden,
        "head": cfg.vocab * cfg.hidden,
    }
    p["mtp"] = cfg.num_mtp_layers * (mla + (cfg.num_experts + cfg.num_shared_experts) * expert
                                     + cfg.num_experts * cfg.hidden + 2 * cfg.hidden * cfg.hidden)
    return p


def active_params_per_token(cfg: DeepSeekMoEConfig = DEEPSEEK_V3) -> int:
    """Parameters one decoded token multiplies through (main model: top_k routed experts, no embedding table)."""
    check_kinds(cfg=cfg)
    p = component_params(cfg)
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"]
            + p["routed_experts"] * cfg.top_k // cfg.num_experts)


def kv_bytes_per_token(cfg: DeepSeekMoEConfig = DEEPSEEK_V3, kv_cache: str = "bf16") -> float:
    """Bytes of MLA latent cache one token keeps: num_layers x (kv_lora_rank + qk_rope_head_dim) elements."""
    check_kinds(cfg=cfg)
    if kv_cache not in ("bf16", "fp8"):
        raise ValueError(f"kv_cache must be 'bf16' or 'fp8', got {kv_cache!r}")
    return cfg.num_layers * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * KV_BYTES[kv_cache]


def weight_bytes_per_gpu(layout: Layout, recipe: Recipe = RECIPE_NVFP4, cfg: DeepSeekMoEConfig = DEEPSEEK_V3,
                         include_mtp: bool = True) -> dict[str, float]:
    """Bytes of weights each GPU stores, per component, under `layout` (attention-side parts split over attn_tp).

    Routed experts: the layout's expert slots (experts + redundant replicas) spread over all GPUs.
    """
    check_kinds(layout=layout, recipe=recipe, cfg=cfg)
    check_flag("weight_bytes_per_gpu: include_mtp", include_mtp)
    layout.check(cfg)
    p = component_params(cfg)
    tp = layout.attn_tp
    slots = layout.slots(cfg) / cfg.num_experts
    out = {
        "attention": p["attention"] * recipe.bytes("attention") / tp,
        "dense_ffn": p["dense_ffn"] * recipe.bytes("dense_ffn") / tp,
        "shared_expert": p["shared_expert"] * recipe.bytes("shared_expert") / tp,
        "routed_experts": p["routed_experts"] * slots * recipe.bytes("routed_experts") / layout.num_gpus,
        "router": p["router"] * recipe.bytes("router"),
        "embedding": p["embedding"] * recipe.bytes("embedding") / tp,
        "head": p["head"] * recipe.bytes("head") / tp,
    }
    if include_mtp:
        out["mtp"] = p["mtp"] * recipe.bytes("mtp") / layout.num_gpus
    return out


# --------------------------------------------------------------------------------------------------------------
# HBM capacity: the KV pool beside the weights, and the requests it holds
# --------------------------------------------------------------------------------------------------------------
def activation_bytes(cfg: DeepSeekMoEConfig = DEEPSEEK_V3) -> float:
    """Bytes the non-GEMM kernels (norms, residuals, expert permute/activation/combine) move per token and step.

    Four BF16 hidden vectors per layer, and per MoE layer top_k x (FP8 token copy + BF16 gate-up output read and
    written + FP8 activation output + BF16 down output written and read) — `ACTIVATION_BYTES` for DeepSeek-V3.
    """
    check_kinds(cfg=cfg)
    moe = cfg.top_k * (cfg.hidden + 2 * 2 * cfg.expert_inter * 2 + cfg.expert_inter + 2 * cfg.hidden * 2)
    return cfg.num_layers * 4 * cfg.hidden * 2 + cfg.num_moe_layers * moe


def max_concurrency(system: str | hw.GPUSpec = "B200", layout: Layout = LAYOUT_MAX_THROUGHPUT,
                    recipe: Recipe = RECIPE_NVFP4, workload: Workload = _DEFAULT_WORKLOAD,
                    cfg: DeepSeekMoEConfig = DEEPSEEK_V3, activation_gb: float = 5.0, kv_fraction: float = 0.85,
                    kv_policy: str = "paged") -> int:
    """Most requests the node can hold: KV space per GPU / KV tokens per request, by `kv_policy`.

    'paged' (default; TensorRT-LLM, SGLang and vLLM page their caches): a running request holds on average the
    cache of its context so far, ISL + OSL/2 tokens (E[ISL] + E[OSL^2]/2E[OSL] with spread lengths); 'reserve':
    ISL + OSL tokens reserved from the start (a guaranteed-no-evict scheduler).

    Free memory = HBM - weights - `activation_gb` (workspace; ~5 GB so that weights + activations make the
    "about 80 GB" per B200 GPU of TensorRT-LLM blog 3 — derived); the KV pool takes `kv_fraction` of it
    (TensorRT-LLM's kv_cache_free_gpu_mem_fraction, set per run: 0.85 in the published B200 max-throughput command,
    0.8 in the H200 one — `KV_FRACTION`). Under attention
    TP every GPU of a group holds the latent cache of all the group's requests (MLA's latent is shared by heads).
    Raises ValueError when the weights alone do not fit. Taught in lab 08, step 4.
    """
    spec = _spec(system)
    free = _free_kv_bytes(spec, layout, recipe, cfg, workload, activation_gb, kv_fraction)
    return _requests_that_fit(free, _kv_per_request(cfg, recipe, workload, kv_policy), layout)


def _kv_tok(cfg: DeepSeekMoEConfig, recipe: Recipe, workload: Workload) -> float:
    """KV bytes per token, plus the MTP module's own layer of cache when MTP is used."""
    kv = kv_bytes_per_token(cfg, recipe.kv_cache)
    if workload.mtp_drafts:
        kv *= (cfg.num_layers + cfg.num_mtp_layers) / cfg.num_layers
    return kv


def _kv_per_request(cfg: DeepSeekMoEConfig, recipe: Recipe, workload: Workload, kv_policy: str = "paged") -> float:
    """KV bytes per request: its average context ('paged') or ISL + OSL ('reserve'), plus the MTP draft tokens."""
    return (workload.kv_tokens(kv_policy) + workload.mtp_drafts) * _kv_tok(cfg, recipe, workload)


def _requests_that_fit(free: float, per_req: float, layout: Layout) -> int:
    """Requests the node holds: whole requests per GPU's KV pool, times the attention-DP groups."""
    return int(free // per_req) * layout.attn_dp


def _free_kv_bytes(spec: hw.GPUSpec, layout: Layout, recipe: Recipe, cfg: DeepSeekMoEConfig, workload: Workload,
                   activation_gb: float, kv_fraction: float) -> float:
    """Bytes of KV pool per GPU: `kv_fraction` of HBM minus weights and activations; ValueError if none is left."""
    check_kinds(workload=workload)
    check_kv_fraction(kv_fraction)
    check_number("activation_gb", activation_gb, integer=False, zero_ok=True)
    w = sum(weight_bytes_per_gpu(layout, recipe, cfg, include_mtp=workload.mtp_drafts > 0).values())
    hbm = spec.hbm_gb * 1e9
    need = w + activation_gb * 1e9
    if need > hbm:
        raise ValueError(f"{cfg.name} with {recipe.name} does not fit {spec.name} x{layout.num_gpus} "
                         f"({layout.describe()}): weights {w / 1e9:.1f} GB + activations {activation_gb:.1f} GB "
                         f"per GPU > {spec.hbm_gb:.0f} GB HBM, short by {(need - hbm) / 1e9:.1f} GB per GPU")
    return (hbm - need) * kv_fraction


def check_kv_fraction(kv_fraction) -> None:
    """Raise ValueError unless `kv_fraction` (the share of free HBM the KV pool takes) is a number in (0, 1]."""
    if isinstance(kv_fraction, bool) or not isinstance(kv_fraction, numbers.Real) or not 0 < kv_fraction <= 1:
        raise ValueError(f"kv_fraction must be in (0, 1], got {kv_fraction!r}")


def _kv_bytes_needed(spec: hw.GPUSpec, layout: Layout, recipe: Recipe, cfg: DeepSeekMoEConfig, workload: Workload,
                     concurrency: int, activation_gb: float, kv_fraction: float, kv_policy: str = "paged") -> float:
    """KV bytes per GPU that `concurrency` requests hold; ValueError, with the max concurrency, if they don't fit."""
    free = _free_kv_bytes(spec, layout, recipe, cfg, workload, activation_gb, kv_fraction)
    per_req = _kv_per_request(cfg, recipe, workload, kv_policy)
    kv_need = (concurrency // layout.attn_dp) * per_req
    if kv_need > free:
        cap = _requests_that_fit(free, per_req, layout)
        raise ValueError(f"concurrency {concurrency} does not fit on {spec.name} x{layout.num_gpus} "
                         f"({layout.describe()}): its KV cache needs {kv_need / 1e9:.1f} GB per GPU ({kv_policy}), "
                         f"the KV pool has {free / 1e9:.1f} GB; short by {(kv_need - free) / 1e9:.1f} GB "
                         f"(max concurrency {cap})")
    return kv_need
