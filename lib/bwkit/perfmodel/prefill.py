"""Prefill in the perfmodel: the work of prefilling prompts, split by where it runs, and prefill-only pools.

A request's prefill has an attention side (MLA projections, causal attention, dense FFN and shared expert: on its
own attention group) and an expert side (its routed-expert GEMMs: spread over every GPU of the EP group), plus the
communication of its tokens (expert all-to-all under attention DP, all-reduces under attention TP). The decode step
(`bwkit.perfmodel.decode`) charges the in-flight share per step (`prefill_share_s`); `prefill_pool` models a
disaggregated prefill-only pool (input tokens/s per GPU), optionally streaming weights that do not fit from host
memory. Taught in lab 08, steps 6 and "the model against the world".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from bwkit import hw
from bwkit.kit.args import check_flag, check_number
from bwkit.moe import DEEPSEEK_V3, DeepSeekMoEConfig
from bwkit.perfmodel.comm import all_to_all_s, attention_all_reduce_s, moe_all_reduce_s
from bwkit.perfmodel.counting import activation_bytes, component_params, kv_bytes_per_token, weight_bytes_per_gpu
from bwkit.perfmodel.derived import grouped_gemm_efficiency, prefill_attention_frac_sm100
from bwkit.perfmodel.factors import _DEFAULT_FACTORS, Factors, _attn_frac, _kernel_s, _peak, _spec
from bwkit.perfmodel.parameters import MATH_PRECISION, Layout, Recipe, Workload, check_kinds
from bwkit.perfmodel.published import FP8_ATTENTION_SPEEDUP, HOST_LINK_GBS, PREFILL_COMM_SMS
from bwkit.perfmodel.step import StepContext

__all__ = ["PrefillParts", "prefill_parts", "prefill_time", "prefill_share_s", "PrefillPoolResult", "prefill_pool",
           "mha_prefill_bytes", "DEFAULT_MAX_NUM_TOKENS"]

# Tokens one attention group prefills per step when a scheduler cap is not given (TensorRT-LLM's default
# max_num_tokens and SGLang's default chunked_prefill_size are both 8,192).
DEFAULT_MAX_NUM_TOKENS = 8192


@dataclass(frozen=True)
class PrefillParts:
    """Seconds to prefill one request of `tokens` tokens: attention side (its group), expert side (per GPU, spread
    over all GPUs), communication (its group's sends); plus its FLOPs."""

    attention_s: float
    experts_s: float
    comm_s: float
    flops: float


def mha_prefill_bytes(cfg: DeepSeekMoEConfig = DEEPSEEK_V3) -> float:
    """Bytes per prompt token and layer that non-absorbed (MHA) prefill attention moves besides its GEMMs' weights.

    Per head, BF16: Q written and read (192 x 2), the kv_b output written (k_nope + v, 256), k_nope read and K
    written by the RoPE concat (128 + 192), K and V read by the attention kernel (192 + 128), its output written and
    read by the output projection (128 x 2): 1,536 elements, x 128 heads x 2 bytes = 393,216 bytes for DeepSeek-V3.
    """
    qk, nope, v = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, cfg.qk_nope_head_dim, cfg.v_head_dim
    return cfg.num_heads * 2 * (2 * qk + (nope + v) + nope + qk + qk + v + 2 * v)


def _prefill_attention_rate(s: StepContext) -> float:
    """FLOP/s of causal prefill attention: Blackwell by prompt length (FlashAttention-4 / FlashMLA figures, x1.8 with
    an FP8 cache and FP8 math), elsewhere attn_frac of the BF16 peak."""
    spec, f = s.spec, s.factors
    if spec.arch != "sm_100a":
        return spec.peak("bf16") * _attn_frac(spec, f, "prefill")
    frac = min(f.prefill_attn_frac_sm100, prefill_attention_frac_sm100(s.workload.isl))
    rate = spec.peak("bf16") * frac
    if s.recipe.kv_cache == "fp8" and f.fp8_attention_math:
        rate = min(spec.peak("fp8"), rate * FP8_ATTENTION_SPEEDUP)
    return rate


def _expert_prefill_eff(f: Factors, tokens_per_expert: float, fmt: str) -> float:
    """Efficiency of prefill expert GEMMs: DeepGEMM's grouped figure for the rows per expert (or the dense one)."""
    if not f.grouped_gemm:
        return f.prefill_gemm_frac
    return min(grouped_gemm_efficiency(tokens_per_expert), f.gemm_frac[MATH_PRECISION[fmt]])


def prefill_parts(s: StepContext, tokens: float, tokens_per_expert: float) -> PrefillParts:
    """The parts of prefilling one request of `tokens` tokens on the layout of `s`.

    Attention side on its attention group (split over attn_tp), at prefill GEMM efficiency; the causal attention
    over its own prompt (n^2/2 pairs per head, E[ISL^2]/2 with a spread) at the prefill attention efficiency, and
    the activation traffic of its tokens (`mha_prefill_bytes` + `counting.activation_bytes`); the
    routed experts spread over all num_gpus GPUs at the grouped efficiency for `tokens_per_expert` rows; the
    all-to-all of its tokens (attention DP) or the all-reduces of its activations (attention TP).
    """
    spec, lay, r, cfg, f = s.spec, s.layout, s.recipe, s.cfg, s.factors
    p = component_params(cfg)
    n, tp = tokens, lay.attn_tp

    def c(fl: float, fmt: str) -> float:
        return fl / (_peak(spec, fmt) * f.prefill_gemm_frac)

    lin = 2 * n * p["attention"] / tp
    sq = n * n if tokens != s.workload.isl else s.workload.isl_sq_mean
    causal = cfg.num_layers * 2 * (cfg.num_heads / tp) * (sq / 2) * (
        cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim)
    dense = 2 * n * (p["dense_ffn"] + p["shared_expert"]) / tp
    t_att = c(lin, r.attention) + causal / _prefill_attention_rate(s) + c(dense, r.dense_ffn)
    if f.activations:                          # MHA prefill tensors + norms / expert permute and combine traffic
        moved = cfg.num_layers * mha_prefill_bytes(cfg) / tp + activation_bytes(cfg)
        t_att += n * moved / (spec.bandwidth * f.bw_frac)
    experts = 2 * n * cfg.num_moe_layers * cfg.top_k * 3 * cfg.hidden * cfg.expert_inter
    eff = _expert_prefill_eff(f, tokens_per_expert, r.routed_experts)
    t_exp = experts / lay.num_gpus / (_peak(spec, r.routed_experts) * eff)
    comm = 0.0
    if f.comm and lay.num_gpus > 1:
        if lay.attn_dp > 1:
            comm = all_to_all_s(s, n, 1.0, "normal")
        comm += attention_all_reduce_s(s, n) + moe_all_reduce_s(s, n)
    return PrefillParts(t_att, t_exp, comm, lin + causal + dense + experts / lay.num_gpus * tp)


def prefill_time(spec: hw.GPUSpec, layout: Layout, recipe: Recipe, cfg: DeepSeekMoEConfig, workload: Workload,
                 f: Factors) -> float:
    """Seconds one attention group spends prefilling one request alone: its attention side + expert side + comm."""
    s = StepContext(spec, layout, recipe, cfg, workload, f, layout.attn_dp, 0)
    pp = prefill_parts(s, workload.isl, workload.isl * cfg.top_k / cfg.num_experts * layout.attn_dp)
    return pp.attention_s + pp.experts_s + pp.comm_s


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


def prefill_share_s(s: StepContext, max_num_tokens: int = DEFAULT_MAX_NUM_TOKENS) -> float:
    """Seconds per step of in-flight prefill (aggregated pools): lambda = concurrency x accepted / E[OSL] requests.

    Each attention group prefills lambda / dp requests per step on its own GPUs (with 'random' scheduling a step
    waits for the busiest group, E[max of dp Poisson counts]); every request's expert work lands on every GPU of
    the EP group, so each GPU carries lambda x (one request's expert FLOPs / num_gpus) — all groups' prefills, not
    1 / dp of them. Prefill chunks of up to `max_num_tokens` per group run through the expert GEMMs together.
    """
    if s.pool == "decode" or not s.factors.prefill:
        return 0.0
    dp, wl = s.layout.attn_dp, s.workload
    lam = s.concurrency * s.accepted / wl.osl
    chunk = min(wl.isl, max_num_tokens)
    pp = prefill_parts(s, wl.isl, chunk * dp * s.cfg.top_k / s.layout.slots(s.cfg))
    groups = _expected_max_poisson(lam / dp, dp) if (s.factors.schedule(wl) == "random" and dp > 1) else lam / dp
    return groups * (pp.attention_s + pp.comm_s) + lam * pp.experts_s


@dataclass
class PrefillPoolResult:
    """One prefill-only forward per GPU: its time by cause and the input tokens/s it implies."""

    system: str
    layout: Layout
    tokens_per_gpu: int
    times: dict[str, float]
    offloaded_gb_per_gpu: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def step_s(self) -> float:
        """Seconds of one forward."""
        return sum(self.times.values())

    @property
    def input_tokens_per_s_gpu(self) -> float:
        """Prompt tokens prefilled per second per GPU (a group's tokens x groups / GPUs / forward time)."""
        return self.tokens_per_gpu * self.layout.attn_dp / self.layout.num_gpus / self.step_s

    def summary(self) -> str:
        """Rounded one-line description (stable for stored notebook outputs)."""
        parts = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in self.times.items() if v > 0)
        return (f"{self.system} x{self.layout.num_gpus}, {self.layout.describe()}, {self.tokens_per_gpu:,} tokens "
                f"per GPU: forward {self.step_s * 1e3:.0f} ms ({parts}) -> {self.input_tokens_per_s_gpu:,.0f} "
                f"input tok/s/GPU")


def prefill_pool(system: str | hw.GPUSpec, layout: Layout, recipe: Recipe, workload: Workload,
                 tokens_per_gpu: int = 16384, factors: Factors = _DEFAULT_FACTORS, cfg: DeepSeekMoEConfig = DEEPSEEK_V3,
                 offload: bool = False, activation_gb: float = 5.0) -> PrefillPoolResult:
    """A disaggregated prefill pool: every attention group prefills `tokens_per_gpu` prompt tokens per forward.

    Per GPU: attention side of its tokens, expert side of all GPUs' tokens (the hottest EP rank's share, blog 4's
    spread), the all-to-all of its tokens (NVLink / InfiniBand), activations, per-kernel cost; with two-batch
    overlap the communication hides behind computation. Weights that do not fit in HBM raise ValueError unless
    `offload` (Grace-Blackwell: they stream from host memory over the 900 GB/s C2C link, prefetched, overlapped).
    """
    spec = _spec(system)
    check_flag("prefill_pool: offload", offload)
    check_number("prefill_pool: activation_gb", activation_gb, integer=False, zero_ok=True)
    if not isinstance(factors, Factors):
        raise TypeError(f"prefill_pool: factors must be a Factors (e.g. pm.Factors()), got {type(factors).__name__}")
    check_kinds(workload=workload)
    f = replace(factors, prefill=True)
    s = StepContext(spec, layout, recipe, cfg, workload, f, layout.attn_dp, 0, "aggregated")  # checks the system
    if not isinstance(tokens_per_gpu, int) or tokens_per_gpu < workload.isl:
        raise ValueError(f"prefill_pool: tokens_per_gpu must be an int >= the prompt length {workload.isl}, "
                         f"got {tokens_per_gpu!r}")
    from bwkit.perfmodel.decode import dependent_kernels, expert_hot_factor  # noqa: PLC0415  (decode imports us)
    dp, reqs = layout.attn_dp, tokens_per_gpu / workload.isl           # requests per attention group per forward
    pp = prefill_parts(s, workload.isl, dp * tokens_per_gpu * cfg.top_k / layout.slots(cfg))
    hot = expert_hot_factor(s)
    times = {"attention side": reqs * pp.attention_s, "routed experts": hot * dp * reqs * pp.experts_s}
    if f.kernels:
        times["kernel fixed cost"] = dependent_kernels(cfg, layout) * _kernel_s(spec, f) * (
            2 if layout.two_batch_overlap else 1)
    comm = hot * reqs * pp.comm_s if f.comm else 0.0
    if layout.two_batch_overlap and comm:
        # DeepSeek's prefill profile: while they overlap, the all-to-all holds 24 SMs and the computation the rest
        slow = spec.sms / (spec.sms - PREFILL_COMM_SMS)
        compute = sum(v for k, v in times.items() if k != "kernel fixed cost")
        times["overlap: compute on fewer SMs"] = compute * (slow - 1)
        times["communication"] = max(0.0, comm - compute * slow)
    else:
        times["communication"] = comm
    w = sum(weight_bytes_per_gpu(layout, recipe, cfg, include_mtp=False).values())
    kv = tokens_per_gpu * kv_bytes_per_token(cfg, recipe.kv_cache)
    need = w + kv + activation_gb * 1e9
    off = max(0.0, need - spec.hbm_gb * 1e9)
    if off and not offload:
        raise ValueError(f"prefill pool on {spec.name} x{layout.num_gpus} ({layout.describe()}): weights "
                         f"{w / 1e9:.1f} GB + KV {kv / 1e9:.1f} GB + activations {activation_gb:.1f} GB per GPU exceed "
                         f"{spec.hbm_gb:.0f} GB HBM by {off / 1e9:.1f} GB (offload=True streams them from host memory)")
    notes = []
    if off:
        stream = off / (HOST_LINK_GBS * 1e9 / 2)
        busy = sum(times.values())
        times["host offload (not hidden)"] = max(0.0, stream - busy)
        notes.append(f"{off / 1e9:.1f} GB of weights per GPU stream from host memory ({stream * 1e3:.0f} ms, "
                     "prefetched under the forward)")
    return PrefillPoolResult(spec.name, layout, tokens_per_gpu, times, off / 1e9, notes)
