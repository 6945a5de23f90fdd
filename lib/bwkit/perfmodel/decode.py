"""The decode step of the perfmodel: one function per cost term, and `decode_step`, which adds them up.

Every term charges seconds per GPU per decode step, in the order `StepResult.times` lists them: the
weight-streaming GEMMs (`attention_linear`, `dense_ffn_shared_expert`, `head_router`, `routed_experts`), the KV-cache
reads with the MLA attention core (`kv_cache_attention`), a fixed cost per dependent kernel (`kernel_fixed_cost_s`),
NVLink collectives (`attention_all_reduce_s` + `expert_all_to_all_s` + `moe_all_reduce_s`), the MTP draft passes
(`mtp_draft_passes`), the in-flight prefill share (`prefill_share_s`) and the measured attention-DP imbalance
(`adp_imbalance_s`). Terms that read HBM or compute return a `Cost` (bytes, FLOPs, seconds). Every term reads one
`StepContext` (`bwkit.perfmodel.step`). Taught in lab 08, steps 5-6.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from bwkit import hw
from bwkit.moe import DEEPSEEK_V3, DeepSeekMoEConfig
from bwkit.perfmodel.counting import (
    _kv_bytes_needed,
    _mla_params,
    component_params,
    expected_max_normal,
    kv_bytes_per_token,
    unique_experts,
    weight_bytes_per_gpu,
)
from bwkit.perfmodel.parameters import (
    _DEFAULT_FACTORS,
    EP_IMBALANCE_REF,
    KERNELS,
    KV_BYTES,
    LAYOUT_MIN_LATENCY,
    MATH_PRECISION,
    RECIPE_NVFP4,
    Factors,
    Layout,
    Recipe,
    Workload,
    _attn_flops,
    _check_recipe,
    _kernel_s,
    _peak,
    _spec,
)
from bwkit.perfmodel.prefill import _expected_max_poisson, prefill_time
from bwkit.perfmodel.published import ADP_ROUND_ROBIN_BALANCE
from bwkit.perfmodel.step import Cost, StepContext, StepResult

__all__ = [
    "ExpertLoad", "decode_step",
    "attention_linear", "dense_ffn_shared_expert", "head_router", "expert_load", "routed_experts",
    "kv_cache_attention", "dependent_kernels", "kernel_fixed_cost_s", "attention_all_reduce_s",
    "expert_all_to_all_s", "moe_all_reduce_s", "mtp_pass_linear", "mtp_pass_kv_attention", "mtp_pass_kernels_s",
    "mtp_pass_comm_s", "mtp_draft_passes", "prefill_share_s", "adp_imbalance_s",
]

_MTP3_WORKLOAD = Workload(mtp_drafts=3)          # decode_step's default: ISL 1K / OSL 2K, 3 MTP drafts


class ExpertLoad(NamedTuple):
    """How routed tokens load the experts in one MoE layer (whole node, and its hottest EP rank)."""

    touched: float                   # distinct routed experts read, whole node
    touched_max: float               # distinct experts the busiest EP rank reads
    pairs_max: float                 # (token, expert) pairs the busiest EP rank computes
    hot: float                       # hottest rank's load / mean, systematic (hot-expert) part


def _gemm_cost(s: StepContext, b: float, fl: float, fmt: str) -> Cost:
    """A weight-streaming GEMM: max(bytes / (gemm_bw_frac x HBM), FLOPs / (gemm_frac x peak of `fmt`)) seconds."""
    f = s.factors
    frac = f.gemm_frac[MATH_PRECISION[fmt]]
    return Cost(b, fl, max(b / (s.spec.bandwidth * f.gemm_bw_frac), fl / (_peak(s.spec, fmt) * frac)))


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
    return _gemm_cost(s, att_params * s.recipe.bytes("attention"), 2 * s.t_group * att_params, s.recipe.attention)


def dense_ffn_shared_expert(s: StepContext) -> Cost:
    """Dense FFN layers + shared experts, split over attn_tp: weight bytes, FLOPs, GEMM seconds (dense_ffn format)."""
    p, r, tp = component_params(s.cfg), s.recipe, s.layout.attn_tp
    b = (p["dense_ffn"] * r.bytes("dense_ffn") + p["shared_expert"] * r.bytes("shared_expert")) / tp
    fl = 2 * s.t_group * (p["dense_ffn"] + p["shared_expert"]) / tp
    return _gemm_cost(s, b, fl, r.dense_ffn)


def head_router(s: StepContext) -> Cost:
    """Output head (split over attn_tp) + MoE routers (whole on every GPU): bytes, FLOPs, seconds (head format)."""
    p, r, tp = component_params(s.cfg), s.recipe, s.layout.attn_tp
    b = p["head"] * r.bytes("head") / tp + p["router"] * r.bytes("router")
    fl = 2 * s.t_group * (p["head"] / tp + p["router"])
    return _gemm_cost(s, b, fl, r.head)


def expert_load(s: StepContext) -> ExpertLoad:
    """Distinct experts touched and the busiest EP rank's experts, pairs and hot factor (feeds two cost terms).

    No cost itself: `routed_experts` charges the busiest rank's experts and pairs, `expert_all_to_all_s` its `hot`.

    Multinomial noise of independent routing, plus the hot-expert spread `ep_imbalance_cv` measured at EP32 without
    EPLB (TensorRT-LLM blog 4, Table 1), scaled by sqrt(moe_ep / 32); the busiest of moe_ep ranks is
    E[max of moe_ep normals] standard deviations above the mean.
    """
    cfg, ep, t_sys = s.cfg, s.layout.moe_ep, s.t_sys
    touched = unique_experts(cfg.num_experts, cfg.top_k, t_sys)
    per_group = touched / ep
    p_touch = touched / cfg.num_experts
    sd = math.sqrt(cfg.num_experts / ep * p_touch * (1 - p_touch))
    touched_max = min(cfg.num_experts / ep, per_group + expected_max_normal(ep) * sd)
    pairs = t_sys * cfg.top_k / ep
    cv_ep = s.factors.ep_imbalance_cv * math.sqrt(ep / EP_IMBALANCE_REF) if ep > 1 else 0.0   # hot-expert spread
    hot = 1 + expected_max_normal(ep) * cv_ep                       # hottest rank / mean, systematic part
    pairs_max = pairs + expected_max_normal(ep) * math.sqrt(
        t_sys * cfg.top_k * (1 / ep) * (1 - 1 / ep) + (cv_ep * pairs) ** 2)
    return ExpertLoad(touched, touched_max, pairs_max, hot)


def routed_experts(s: StepContext, load: ExpertLoad) -> Cost:
    """Routed experts on the busiest EP rank, split over moe_tp: its distinct experts' bytes, its pairs' FLOPs.

    Bytes and FLOPs per GPU, seconds of one GEMM roof in the routed-expert format; the busiest rank from
    `expert_load` (multinomial routing plus TensorRT-LLM blog 4's hot-expert spread).
    """
    b = s.cfg.num_moe_layers * load.touched_max * s.expert_params * s.recipe.bytes("routed_experts") / s.layout.moe_tp
    fl = s.cfg.num_moe_layers * 2 * load.pairs_max * s.expert_params / s.layout.moe_tp
    return _gemm_cost(s, b, fl, s.recipe.routed_experts)


# --------------------------------------------------------------------------------------------------------------
# KV cache and attention core
# --------------------------------------------------------------------------------------------------------------
def kv_cache_attention(s: StepContext) -> Cost:
    """KV-cache reads and absorbed-MLA attention over the average context: max(bytes / (bw_frac x HBM), FLOPs / rate).

    Bytes: the group's requests x context x the MLA latent (num_layers x (kv_lora_rank + qk_rope_head_dim)
    elements). FLOPs: 2 x heads per GPU x context x (2 kv_lora_rank + qk_rope_head_dim) per token and layer, at the
    FlashMLA-derived fraction of peak (`_attn_flops`).
    """
    cfg = s.cfg
    b = s.reqs_per_group * s.ctx * kv_bytes_per_token(cfg, s.recipe.kv_cache)
    per_tok = 2 * (cfg.num_heads / s.layout.attn_tp) * s.ctx * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    fl = cfg.num_layers * s.t_group * per_tok
    return Cost(b, fl, max(b / s.kv_bw, fl / _attn_flops(s.spec, s.recipe, s.factors)))


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
    """Seconds of fixed cost per step: dependent kernels x the per-kernel cost of this GPU.

    The cost is `kernel_s_sm100` on sm_100a (derived from TensorRT-LLM blog 1's B200 run without MTP) and `kernel_s`
    elsewhere (derived from Hazy Research's H100 measurement); the kernel count is `dependent_kernels`.
    """
    return dependent_kernels(s.cfg, s.layout) * _kernel_s(s.spec, s.factors)


# --------------------------------------------------------------------------------------------------------------
# NVLink communication (added in this order: attention all-reduces, expert all-to-all, MoE all-reduce)
# --------------------------------------------------------------------------------------------------------------
def _all_reduce_s(s: StepContext, gpus: int, nbytes: int) -> float:
    """Seconds of one one-shot all-reduce of `nbytes` over `gpus` GPUs: latency + (gpus - 1) x bytes / NVLink."""
    return s.factors.comm_latency_s + (gpus - 1) * nbytes / s.nvl


def _activation_bytes(s: StepContext) -> int:
    """Bytes of the BF16 hidden activations of the tokens an attention group processes."""
    return s.t_group * s.cfg.hidden * 2


def attention_all_reduce_s(s: StepContext) -> float:
    """Seconds of the attention-TP all-reduces after every attention and every dense FFN (0 without attention TP).

    One-shot all-reduces of the group's BF16 activations: comm_latency_s (assumed 5 us) + (attn_tp - 1) x bytes
    at nvlink_frac of one-way NVLink (DeepEP's 0.95 of the link).
    """
    tp = s.layout.attn_tp
    if tp == 1:
        return 0.0
    ar = _activation_bytes(s)
    return s.cfg.num_layers * _all_reduce_s(s, tp, ar) + s.cfg.num_dense_layers * _all_reduce_s(s, tp, ar)


def expert_all_to_all_s(s: StepContext, hot: float) -> float:
    """Seconds of the expert-parallel dispatch (routed-expert format) + combine (BF16) per MoE layer, attention DP only.

    Each token goes to its distinct remote GPUs; the hottest rank (`hot` x the mean) receives the most. Two
    collectives' latency per layer; bytes at nvlink_frac of one-way NVLink (DeepEP: 0.95 of the link).
    """
    if s.layout.attn_dp == 1:
        return 0.0
    cfg, G = s.cfg, s.layout.num_gpus
    remote = (G - 1) * (1 - (1 - 1 / G) ** cfg.top_k)              # distinct remote GPUs per token
    disp = s.t_group * remote * cfg.hidden * s.recipe.bytes("routed_experts")
    comb = s.t_group * remote * cfg.hidden * 2
    return cfg.num_moe_layers * (2 * s.factors.comm_latency_s + hot * (disp + comb) / s.nvl)


def moe_all_reduce_s(s: StepContext) -> float:
    """Seconds of the all-reduce of each MoE layer's output over the attention-TP group (0 without attention TP).

    With attention DP it follows the combine inside each TP group; without (attn_tp = num_gpus) tokens are
    replicated on every GPU and this all-reduce replaces the all-to-all.
    """
    tp = s.layout.attn_tp
    if tp == 1:
        return 0.0
    return s.cfg.num_moe_layers * _all_reduce_s(s, tp, _activation_bytes(s))


# --------------------------------------------------------------------------------------------------------------
# Multi-token prediction: `drafts` autoregressive passes through the MTP module (1 token per request each) + head
# --------------------------------------------------------------------------------------------------------------
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
    return _gemm_cost(s, b, fl, r.mtp)


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
    return 2 * _all_reduce_s(s, G, s.reqs_per_group * s.cfg.hidden * 2)


def mtp_draft_passes(s: StepContext) -> Cost:
    """All MTP draft passes of a step: drafts x (GEMMs + own KV attention + kernel cost + communication)."""
    lin, kv = mtp_pass_linear(s), mtp_pass_kv_attention(s)
    t_pass = lin.seconds + kv.seconds + mtp_pass_kernels_s(s) + mtp_pass_comm_s(s)
    return Cost(s.drafts * (lin.hbm_bytes + kv.hbm_bytes), s.drafts * (lin.flops + kv.flops), s.drafts * t_pass)


# --------------------------------------------------------------------------------------------------------------
# In-flight prefill and attention-DP imbalance
# --------------------------------------------------------------------------------------------------------------
def prefill_share_s(s: StepContext) -> float:
    """Seconds per step of in-flight prefill: each request is prefilled once per osl / accepted steps.

    With 'random' scheduling (or one attention group) a step waits for the group with the most prefills,
    E[max of attn_dp Poisson counts]; otherwise every group prefills in the same steps.
    """
    dp = s.layout.attn_dp
    t_ctx = prefill_time(s.spec, s.layout, s.recipe, s.cfg, s.workload, s.factors)
    lam = s.concurrency * s.accepted / s.workload.osl              # new requests per step (steady state)
    if s.factors.adp_schedule == "random" or dp == 1:
        return t_ctx * _expected_max_poisson(lam / dp, dp)
    return t_ctx * lam / dp


def adp_imbalance_s(times: dict[str, float]) -> float:
    """Seconds added by round-robin attention-DP scheduling: the step so far / 0.649 - the step (blog 10)."""
    return sum(times.values()) * (1 / ADP_ROUND_ROBIN_BALANCE - 1)


# --------------------------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------------------------
def _check_step(spec: hw.GPUSpec, layout: Layout, recipe: Recipe, cfg: DeepSeekMoEConfig, concurrency: int) -> None:
    """Raise ValueError when the layout, recipe, concurrency or interconnect cannot serve this step."""
    layout.check(cfg)
    _check_recipe(spec, recipe)
    if not isinstance(concurrency, int) or concurrency <= 0:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    if concurrency % layout.attn_dp:
        raise ValueError(f"concurrency {concurrency} does not split evenly over {layout.attn_dp} attention-DP "
                         f"groups ({concurrency} % {layout.attn_dp} = {concurrency % layout.attn_dp})")
    if layout.num_gpus > 1 and not spec.nvlink_tbps:
        raise ValueError(f"{spec.name} has no NVLink in bwkit.hw: a {layout.num_gpus}-GPU layout needs one")


def decode_step(system: str | hw.GPUSpec = "B200", layout: Layout = LAYOUT_MIN_LATENCY,
                recipe: Recipe = RECIPE_NVFP4, concurrency: int = 1, workload: Workload = _MTP3_WORKLOAD,
                factors: Factors = _DEFAULT_FACTORS, cfg: DeepSeekMoEConfig = DEEPSEEK_V3, activation_gb: float = 5.0,
                kv_fraction: float = 0.85) -> StepResult:
    """Model one average decode step of `concurrency` requests on `system` x layout.num_gpus.

    Per GPU: each kernel group costs max(bytes / (bw_frac or gemm_bw_frac x HBM), FLOPs / (frac x peak)); add
    `kernel_s` per dependent kernel, NVLink collectives (latency + bytes / (nvlink_frac x one-way NVLink)), MTP draft
    passes, and the expected extra time that in-flight prefill adds to a step (the slowest attention group sets the
    pace). Each is one cost-term function of this module. Raises ValueError if the layout does not divide the model
    or the requests' KV cache does not fit in HBM. Taught in lab 08, steps 5-6.
    """
    spec = _spec(system)
    _check_step(spec, layout, recipe, cfg, concurrency)
    f = factors
    kv_need = _kv_bytes_needed(spec, layout, recipe, cfg, workload, concurrency, activation_gb, kv_fraction)
    drafts = workload.mtp_drafts if f.mtp and workload.mtp_drafts > 0 else 0
    s = StepContext(spec, layout, recipe, cfg, workload, f, concurrency, drafts)
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
    if f.kernels:
        times["kernel fixed cost"] = kernel_fixed_cost_s(s)
    if f.comm and layout.num_gpus > 1:
        times["NVLink communication"] = attention_all_reduce_s(s) + expert_all_to_all_s(s, load.hot) \
            + moe_all_reduce_s(s)
    if drafts:
        charge(("MTP draft passes",) * 3, mtp_draft_passes(s))
    if f.prefill:
        times["prefill share"] = prefill_share_s(s)
        if f.adp_schedule == "measured" and layout.attn_dp > 1:   # blog 10: round-robin reached 64.9 % of balance
            times["ADP imbalance (measured)"] = adp_imbalance_s(times)

    weights_gb = sum(weight_bytes_per_gpu(layout, recipe, cfg, include_mtp=drafts > 0).values()) / 1e9
    notes = [f"{dependent_kernels(cfg, layout)} dependent kernels per step" if f.kernels else "kernel cost off"]
    return StepResult(spec.name, layout, recipe, workload, concurrency, times, nbytes, flops, load.touched,
                      s.accepted, weights_gb, kv_need / 1e9, notes)
