"""The decode step of the perfmodel: one function per cost term, and `decode_step`, which adds them up.

Every term charges seconds per GPU per decode step, in the order `StepResult.times` lists them: the
weight-streaming GEMMs (`attention_linear`, `dense_ffn_shared_expert`, `head_router`, `routed_experts`), the KV-cache
reads with the MLA attention core (`kv_cache_attention`), the non-GEMM activation traffic (`activation_traffic`), a
fixed cost per dependent kernel (`kernel_fixed_cost_s`), communication (`bwkit.perfmodel.comm`), the MTP draft
passes (`bwkit.perfmodel.mtp`), the in-flight prefill share (`bwkit.perfmodel.prefill.prefill_share_s`) and the
measured attention-DP imbalance (`adp_imbalance_s`). Terms that read HBM or compute return a `Cost`. Every term reads
one `StepContext` (`bwkit.perfmodel.step`). Taught in lab 08, steps 5-6.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from bwkit import hw
from bwkit.kit.args import check_number
from bwkit.moe import DEEPSEEK_V3, DeepSeekMoEConfig
from bwkit.perfmodel.comm import (  # noqa: F401  (re-exported: the cost terms of one step)
    all_reduce_s,
    attention_all_reduce_s,
    expert_all_to_all_s,
    moe_all_reduce_s,
)
from bwkit.perfmodel.counting import (
    _kv_bytes_needed,
    _mla_params,
    activation_bytes,
    component_params,
    expected_max_normal,
    kv_bytes_per_token,
    unique_experts,
    weight_bytes_per_gpu,
)
from bwkit.perfmodel.factors import (
    _DEFAULT_FACTORS,
    Factors,
    _attn_flops,
    _kernel_s,
    _spec,
)
from bwkit.perfmodel.gemm import expert_gemm_cost, gemm_cost
from bwkit.perfmodel.mtp import (  # noqa: F401  (re-exported)
    mtp_draft_passes,
    mtp_pass_comm_s,
    mtp_pass_kernels_s,
    mtp_pass_kv_attention,
    mtp_pass_linear,
)
from bwkit.perfmodel.parameters import (
    EP_IMBALANCE_REF,
    KERNELS,
    KV_POLICIES,
    LAYOUT_MIN_LATENCY,
    RECIPE_NVFP4,
    Layout,
    Recipe,
    Workload,
    check_kinds,
)
from bwkit.perfmodel.prefill import DEFAULT_MAX_NUM_TOKENS, prefill_share_s
from bwkit.perfmodel.published import ADP_BALANCED, ADP_ROUND_ROBIN_BALANCE
from bwkit.perfmodel.step import POOLS, Cost, StepContext, StepResult

__all__ = [
    "ExpertLoad", "decode_step", "expert_hot_factor",
    "attention_linear", "dense_ffn_shared_expert", "head_router", "expert_load", "routed_experts",
    "kv_cache_attention", "activation_traffic", "dependent_kernels", "kernel_fixed_cost_s", "attention_all_reduce_s",
    "expert_all_to_all_s", "moe_all_reduce_s", "mtp_pass_linear", "mtp_pass_kv_attention", "mtp_pass_kernels_s",
    "mtp_pass_comm_s", "mtp_draft_passes", "prefill_share_s", "adp_imbalance_s",
]

_MTP3_WORKLOAD = Workload(mtp_drafts=3)          # decode_step's default: ISL 1K / OSL 2K, 3 MTP drafts


class ExpertLoad(NamedTuple):
    """How routed tokens load the experts in one MoE layer (whole node, and its hottest EP rank)."""

    touched: float                   # distinct routed experts read, whole node
    touched_max: float               # distinct expert slots the busiest EP rank reads
    pairs_max: float                 # (token, expert) pairs the busiest EP rank computes
    hot: float                       # hottest rank's load / mean, systematic (hot-expert) part


# --------------------------------------------------------------------------------------------------------------
# Weight-streaming GEMMs
# --------------------------------------------------------------------------------------------------------------
def attention_linear(s: StepContext) -> Cost:
    """Attention-side linears (MLA projections): weight bytes, 2 FLOPs per weight per token, GEMM seconds.

    Split over attn_tp; every group computes its own tokens. The Fuse_A GEMM (wq_a + wkv_a) is replicated on every
    GPU of a TP group, as in TensorRT-LLM blog 1 ("Fuse_A GEMM: DP8").
    """
    cfg, p = s.cfg, component_params(s.cfg)
    fuse_a = cfg.num_layers * (_mla_params(cfg)["wq_a"] + _mla_params(cfg)["wkv_a"])
    att_params = fuse_a + (p["attention"] - fuse_a) / s.layout.attn_tp
    return gemm_cost(s.spec, s.factors, att_params * s.recipe.bytes("attention"), 2 * s.t_group * att_params,
                     s.recipe.attention)


def dense_ffn_shared_expert(s: StepContext) -> Cost:
    """Dense FFN layers + shared experts, split over attn_tp: weight bytes, FLOPs, GEMM seconds (dense_ffn format)."""
    p, r, tp = component_params(s.cfg), s.recipe, s.layout.attn_tp
    b = (p["dense_ffn"] * r.bytes("dense_ffn") + p["shared_expert"] * r.bytes("shared_expert")) / tp
    fl = 2 * s.t_group * (p["dense_ffn"] + p["shared_expert"]) / tp
    return gemm_cost(s.spec, s.factors, b, fl, r.dense_ffn)


def head_router(s: StepContext) -> Cost:
    """Output head (split over attn_tp) + MoE routers (whole on every GPU): bytes, FLOPs, seconds (head format)."""
    p, r, tp = component_params(s.cfg), s.recipe, s.layout.attn_tp
    b = p["head"] * r.bytes("head") / tp + p["router"] * r.bytes("router")
    fl = 2 * s.t_group * (p["head"] / tp + p["router"])
    return gemm_cost(s.spec, s.factors, b, fl, r.head)


def expert_hot_factor(s: StepContext) -> float:
    """Hottest EP rank's load / mean, systematic part: 1 + E[max of moe_ep normals] x cv at this EP size.

    cv = blog 4's spread at EP32 (0.48 without EPLB, 0.051 with it, `Layout.eplb`) x sqrt(moe_ep / 32).
    """
    ep = s.layout.moe_ep
    if ep == 1:
        return 1.0
    cv = (s.factors.eplb_imbalance_cv if s.layout.eplb else s.factors.ep_imbalance_cv) * math.sqrt(
        ep / EP_IMBALANCE_REF)
    return 1 + expected_max_normal(ep) * cv


def expert_load(s: StepContext) -> ExpertLoad:
    """Distinct experts touched and the busiest EP rank's experts, pairs and hot factor (feeds two cost terms).

    No cost itself: `routed_experts` charges the busiest rank's slots and pairs, the all-to-all its `hot`.
    Multinomial noise of independent routing, plus the hot-expert spread of `expert_hot_factor`; each rank holds
    `slots_per_rank` expert slots (replicas of hot experts share their tokens).
    """
    cfg, ep, t_sys = s.cfg, s.layout.moe_ep, s.t_sys
    touched = unique_experts(cfg.num_experts, cfg.top_k, t_sys)
    p_touch = touched / cfg.num_experts
    per_rank = s.slots_per_rank
    sd = math.sqrt(per_rank * p_touch * (1 - p_touch))
    touched_max = min(per_rank, per_rank * p_touch + expected_max_normal(ep) * sd)
    pairs = t_sys * cfg.top_k / ep
    hot = expert_hot_factor(s)
    cv_ep = hot - 1 if ep == 1 else (hot - 1) / expected_max_normal(ep)
    pairs_max = pairs + expected_max_normal(ep) * math.sqrt(
        t_sys * cfg.top_k * (1 / ep) * (1 - 1 / ep) + (cv_ep * pairs) ** 2)
    return ExpertLoad(touched, touched_max, pairs_max, hot)


def routed_experts(s: StepContext, load: ExpertLoad) -> Cost:
    """Routed experts on the busiest EP rank, split over moe_tp: its distinct slots' bytes, its pairs' FLOPs.

    Seconds of a grouped expert GEMM (`gemm.expert_gemm_cost`): bandwidth roof, or DeepGEMM's grouped efficiency
    for the rank's tokens per expert slot.
    """
    b = s.cfg.num_moe_layers * load.touched_max * s.expert_params * s.recipe.bytes("routed_experts") / s.layout.moe_tp
    fl = s.cfg.num_moe_layers * 2 * load.pairs_max * s.expert_params / s.layout.moe_tp
    m = load.pairs_max / max(s.slots_per_rank, 1.0)
    return expert_gemm_cost(s.spec, s.factors, b, fl, s.recipe.routed_experts, m)


# --------------------------------------------------------------------------------------------------------------
# KV cache and attention core; activations
# --------------------------------------------------------------------------------------------------------------
def kv_cache_attention(s: StepContext) -> Cost:
    """KV-cache reads and absorbed-MLA attention over the average context: max(bytes / (bw_frac x HBM), FLOPs / rate).

    Bytes: the group's requests x context x the MLA latent (num_layers x (kv_lora_rank + qk_rope_head_dim)
    elements). FLOPs: 2 x heads per GPU x context x (2 kv_lora_rank + qk_rope_head_dim) per token and layer, at the
    published MLA-decode rate of this GPU and cache format (`factors._attn_flops`).
    """
    cfg = s.cfg
    b = s.reqs_per_group * s.ctx * kv_bytes_per_token(cfg, s.recipe.kv_cache)
    per_tok = 2 * (cfg.num_heads / s.layout.attn_tp) * s.ctx * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    fl = cfg.num_layers * s.t_group * per_tok
    return Cost(b, fl, max(b / s.kv_bw, fl / _attn_flops(s.spec, s.recipe, s.factors)))


def activation_traffic(s: StepContext) -> Cost:
    """Bytes the non-GEMM kernels move for the group's tokens (`counting.activation_bytes`), at bw_frac x HBM."""
    b = s.t_group * activation_bytes(s.cfg) / s.layout.attn_tp
    return Cost(b, 0.0, b / s.kv_bw)


# --------------------------------------------------------------------------------------------------------------
# Fixed cost per dependent kernel
# --------------------------------------------------------------------------------------------------------------
def dependent_kernels(cfg: DeepSeekMoEConfig, layout: Layout) -> int:
    """Dependent kernels of one main-model step on the critical path (per-layer counts in `KERNELS`, blog 1)."""
    n = (cfg.num_layers * KERNELS["attention"] + cfg.num_moe_layers * KERNELS["moe"]
         + cfg.num_dense_layers * KERNELS["dense_ffn"] + KERNELS["head"])
    if layout.attn_dp > 1:
        n += cfg.num_moe_layers * KERNELS["all_to_all"]
    return n


def kernel_fixed_cost_s(s: StepContext) -> float:
    """Seconds of fixed cost per step: dependent kernels x the per-kernel cost of this GPU (x2 with two micro-batches).

    The cost is `kernel_s_sm100` on sm_100a (derived from TensorRT-LLM blog 1's B200 run without MTP) and `kernel_s`
    elsewhere (derived from Hazy Research's H100 measurement); the kernel count is `dependent_kernels`.
    """
    return dependent_kernels(s.cfg, s.layout) * _kernel_s(s.spec, s.factors) * (
        2 if s.layout.two_batch_overlap else 1)


# --------------------------------------------------------------------------------------------------------------
# Attention-DP imbalance
# --------------------------------------------------------------------------------------------------------------
def adp_imbalance_s(times: dict[str, float], schedule: str = "measured") -> float:
    """Seconds added by attention-DP scheduling: the step so far / balance - the step (blog 10: 0.649 for the
    round-robin scheduler, 'measured'; 0.900 with its ADP balance strategy on long-tail data, 'balanced')."""
    balance = ADP_ROUND_ROBIN_BALANCE if schedule == "measured" else ADP_BALANCED
    return sum(times.values()) * (1 / balance - 1)


# --------------------------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------------------------
def _check_step(layout: Layout, concurrency: int, kv_policy: str, pool: str) -> None:
    """Raise ValueError when the concurrency, KV policy or pool cannot serve this step (the layout, recipe and
    interconnect are `bwkit.perfmodel.step.check_context`'s, run when the step's `StepContext` is made)."""
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency <= 0:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    if concurrency % layout.attn_dp:
        raise ValueError(f"concurrency {concurrency} does not split evenly over {layout.attn_dp} attention-DP "
                         f"groups ({concurrency} % {layout.attn_dp} = {concurrency % layout.attn_dp})")
    if kv_policy not in KV_POLICIES:
        raise ValueError(f"kv_policy must be one of {', '.join(KV_POLICIES)}, got {kv_policy!r}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")


def decode_step(system: str | hw.GPUSpec = "B200", layout: Layout = LAYOUT_MIN_LATENCY,
                recipe: Recipe = RECIPE_NVFP4, concurrency: int = 1, workload: Workload = _MTP3_WORKLOAD,
                factors: Factors = _DEFAULT_FACTORS, cfg: DeepSeekMoEConfig = DEEPSEEK_V3, activation_gb: float = 5.0,
                kv_fraction: float = 0.85, kv_policy: str = "paged", pool: str = "aggregated",
                max_num_tokens: int = DEFAULT_MAX_NUM_TOKENS) -> StepResult:
    """Model one average decode step of `concurrency` requests on `system` x layout.num_gpus.

    Per GPU: each kernel group costs max(bytes / (bw_frac or gemm_bw_frac x HBM), FLOPs / (frac x peak)); add
    `kernel_s` per dependent kernel, communication (NVLink / InfiniBand), MTP draft passes, and — in an 'aggregated'
    pool — the share of in-flight prefill per step (prefill chunks of up to `max_num_tokens` per group); a 'decode'
    pool (disaggregated) has no prefill. With two-batch overlap the communication hides behind the computation.
    The KV cache is sized by `kv_policy` ('paged' occupancy or 'reserve'). Each term is one function. Raises
    ValueError if the layout does not divide the model or the requests' KV cache does not fit. Taught in lab 08.
    """
    spec = _spec(system)
    check_kinds(layout=layout, recipe=recipe, workload=workload, cfg=cfg)
    if not isinstance(factors, Factors):
        raise TypeError(f"factors must be a Factors (e.g. pm.Factors()), got {type(factors).__name__}")
    check_number("max_num_tokens", max_num_tokens)
    f = factors
    drafts = workload.mtp_drafts if f.mtp and workload.mtp_drafts > 0 else 0
    s = StepContext(spec, layout, recipe, cfg, workload, f, concurrency, drafts, pool)  # checks layout, recipe, NVLink
    _check_step(layout, concurrency, kv_policy, pool)
    kv_need = _kv_bytes_needed(spec, layout, recipe, cfg, workload, concurrency, activation_gb, kv_fraction,
                               kv_policy)
    times: dict[str, float] = {}
    nbytes: dict[str, float] = {}
    flops: dict[str, float] = {}

    def charge(keys: tuple[str, str, str], cost: Cost) -> None:
        """Record a term's bytes, FLOPs and seconds under its (bytes, FLOPs, time) keys."""
        nbytes[keys[0]], flops[keys[1]], times[keys[2]] = cost

    load = expert_load(s)
    charge(("attention weights", "attention linear", "attention linear"), attention_linear(s))
    charge(("dense FFN + shared expert",) * 3, dense_ffn_shared_expert(s))
    charge(("head + router",) * 3, head_router(s))
    charge(("routed experts",) * 3, routed_experts(s, load))
    if f.kv_attention:
        charge(("KV cache", "attention core", "KV cache + attention core"), kv_cache_attention(s))
    if f.activations:
        charge(("activations",) * 3, activation_traffic(s))
    if f.kernels:
        times["kernel fixed cost"] = kernel_fixed_cost_s(s)
    if f.comm and layout.num_gpus > 1:
        comm = attention_all_reduce_s(s) + expert_all_to_all_s(s, load.hot) + moe_all_reduce_s(s)
        if layout.two_batch_overlap:
            comm = max(0.0, comm - sum(v for k, v in times.items() if k != "kernel fixed cost"))
        times["NVLink communication" if layout.domains == 1 else "communication (NVLink + InfiniBand)"] = comm
    if drafts:
        charge(("MTP draft passes",) * 3, mtp_draft_passes(s))
    if f.prefill and pool == "aggregated":
        times["prefill share"] = prefill_share_s(s, max_num_tokens)
        sched = f.schedule(workload)
        if sched in ("measured", "balanced") and layout.attn_dp > 1:   # blog 10: 64.9 % / 90.0 % of balance
            times[f"ADP imbalance ({sched})"] = adp_imbalance_s(times, sched)

    weights_gb = sum(weight_bytes_per_gpu(layout, recipe, cfg, include_mtp=drafts > 0).values()) / 1e9
    notes = [f"{dependent_kernels(cfg, layout)} dependent kernels per step" if f.kernels else "kernel cost off"]
    return StepResult(spec.name, layout, recipe, workload, concurrency, times, nbytes, flops, load.touched,
                      s.accepted, weights_gb, kv_need / 1e9, notes)
