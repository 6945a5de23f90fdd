"""The perfmodel's inputs: number formats, recipes, layouts, workloads and the model's counting constants.

A `Layout` says how GPUs split the model (attention TP/DP, experts TP x EP with optional redundant expert slots),
how they talk (NVLink domain size, InfiniBand beyond it, the all-to-all style, two-batch overlap) and whether EPLB
balances the experts; a `Workload` gives request lengths (fixed, or normally distributed), MTP drafts and the kind
of traffic (fixed-length synthetic or long-tail real). Bad values raise ValueError naming the field. The efficiency
factors are in `bwkit.perfmodel.factors` (`Factors`, re-exported here). Taught in lab 08.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

from bwkit.kit.args import check_flag_fields, check_number
from bwkit.moe import DeepSeekMoEConfig
from bwkit.perfmodel.derived import deepgemm_efficiency
from bwkit.perfmodel.published import MTP_ACCEPTED

__all__ = [
    "STORAGE_BYTES", "KV_BYTES", "MATH_PRECISION", "deepgemm_efficiency", "Recipe", "RECIPE_NVFP4", "RECIPE_FP8",
    "Layout", "LAYOUT_MIN_LATENCY", "LAYOUT_MIN_LATENCY_DOCS", "LAYOUT_MAX_THROUGHPUT", "KERNEL_S_B200",
    "ADP_SCHEDULES", "KERNELS", "EP_IMBALANCE_REF", "A2A_MODES", "WORKLOAD_KINDS", "KV_POLICIES",
    "ACTIVATION_BYTES", "Workload",
]



def check_real(name: str, v) -> None:
    """Raise ValueError naming `name` unless `v` is a finite real number (not a bool, a string, NaN or infinity).

    The caller checks the range itself (its own message); this only refuses what no comparison should see."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        hint = " (a number typed as text: drop the quotes)" if isinstance(v, str) else \
            " (not infinity or NaN)" if isinstance(v, numbers.Real) and not isinstance(v, bool) else ""
        raise ValueError(f"{name} must be a finite number, got {v!r}{hint}")


# --------------------------------------------------------------------------------------------------------------
# Number formats: bytes per stored weight element, including block scales
# --------------------------------------------------------------------------------------------------------------
STORAGE_BYTES: dict[str, float] = {
    "bf16": 2.0,
    "fp8": 1.0 + 4 / (128 * 128),   # DeepSeek FP8: one FP32 scale per 128x128 weight block
    "nvfp4": 0.5 + 1 / 16,          # E2M1 (half a byte) + one UE4M3 byte per 16 elements
    "mxfp4": 0.5 + 1 / 32,          # E2M1 + one E8M0 byte per 32 elements
}
# KV cache elements carry no block scales here (per-tensor scale for FP8, as in TensorRT-LLM's FP8 KV cache).
KV_BYTES: dict[str, float] = {"bf16": 2.0, "fp8": 1.0}
# Which Tensor Core peak (bwkit.hw precision) a stored format computes at.
MATH_PRECISION: dict[str, str] = {"bf16": "bf16", "fp8": "fp8", "nvfp4": "fp4", "mxfp4": "fp4"}


@dataclass(frozen=True)
class Recipe:
    """Storage format per component ('bf16', 'fp8', 'nvfp4', 'mxfp4'); `kv_cache` is 'bf16' or 'fp8'."""

    attention: str = "bf16"
    dense_ffn: str = "nvfp4"
    shared_expert: str = "nvfp4"
    routed_experts: str = "nvfp4"
    router: str = "bf16"
    embedding: str = "bf16"
    head: str = "bf16"
    mtp: str = "bf16"
    kv_cache: str = "bf16"
    name: str = "NVFP4 MoE, BF16 attention (TensorRT-LLM blog 1 recipe)"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "name":
                continue
            v = getattr(self, f.name)
            ok = ("bf16", "fp8") if f.name == "kv_cache" else tuple(STORAGE_BYTES)
            if v not in ok:
                raise ValueError(f"Recipe.{f.name} must be one of {', '.join(ok)}; got {v!r}")

    def bytes(self, component: str) -> float:
        """Bytes per stored element of `component` (a field name), scales included."""
        return STORAGE_BYTES[getattr(self, component)]


RECIPE_NVFP4 = Recipe()
RECIPE_FP8 = Recipe(attention="fp8", dense_ffn="fp8", shared_expert="fp8", routed_experts="fp8", mtp="fp8",
                    name="DeepSeek FP8 checkpoint (128x128 block scales), BF16 embedding/head")

# All-to-all styles: 'dedup' sends a token once to each distinct remote GPU (TensorRT-LLM's NVLink all-to-all,
# DeepEP normal kernels); 'per_expert' sends one copy per routed expert (DeepEP low-latency kernels, SGLang decode).
A2A_MODES = ("dedup", "per_expert")


@dataclass(frozen=True)
class Layout:
    """How `num_gpus` GPUs split the model and talk to each other.

    Attention (with the dense FFN, shared expert, embedding and head) runs tensor-parallel over `attn_tp` GPUs in
    `attn_dp = num_gpus / attn_tp` data-parallel groups (attention DP: each group serves its own requests).
    Routed experts: `moe_ep` expert-parallel groups, each expert split tensor-parallel over `moe_tp` GPUs; with
    `redundant_experts` extra slots (replicas of hot experts, as EPLB places them) the `num_experts +
    redundant_experts` slots must split over `moe_ep`, so EP sizes that do not divide 256 work (EP48 + 32 = 288).
    GPUs talk over NVLink inside an `nvlink_domain` (8 for DGX/HGX, 72 for GB200 NVL72) and over InfiniBand across
    domains; tensor-parallel groups must stay inside a domain. `a2a` is the all-to-all style (`A2A_MODES`),
    `two_batch_overlap` splits each step in two micro-batches that overlap communication with computation, `eplb`
    says the experts are placed by a load balancer (blog 4's measured balance instead of its raw imbalance).
    """

    num_gpus: int = 8
    attn_tp: int = 8
    moe_tp: int = 1
    moe_ep: int = 8
    name: str = ""
    redundant_experts: int = 0
    nvlink_domain: int = 8
    a2a: str = "dedup"
    two_batch_overlap: bool = False
    eplb: bool = False

    def __post_init__(self) -> None:
        for f in ("num_gpus", "attn_tp", "moe_tp", "moe_ep", "nvlink_domain"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Layout.{f} must be a positive int, got {v!r}")
        check_flag_fields(self)
        if not isinstance(self.redundant_experts, int) or isinstance(self.redundant_experts, bool) \
                or self.redundant_experts < 0:
            raise ValueError(f"Layout.redundant_experts must be an int >= 0, got {self.redundant_experts!r}")
        if self.num_gpus % self.attn_tp:
            raise ValueError(f"attn_tp={self.attn_tp} does not divide num_gpus={self.num_gpus} "
                             f"(attention DP groups = num_gpus / attn_tp must be whole)")
        if self.moe_tp * self.moe_ep != self.num_gpus:
            raise ValueError(f"moe_tp x moe_ep = {self.moe_tp} x {self.moe_ep} = {self.moe_tp * self.moe_ep} "
                             f"must equal num_gpus={self.num_gpus}")
        if self.a2a not in A2A_MODES:
            raise ValueError(f"Layout.a2a must be one of {', '.join(A2A_MODES)}, got {self.a2a!r}")
        for what, tp in (("attn_tp", self.attn_tp), ("moe_tp", self.moe_tp)):
            if tp > self.nvlink_domain:
                raise ValueError(f"{what}={tp} spans more than one NVLink domain of {self.nvlink_domain} GPUs: "
                                 f"tensor parallelism over InfiniBand is not modelled (keep TP inside a domain)")

    @property
    def attn_dp(self) -> int:
        """Attention data-parallel groups."""
        return self.num_gpus // self.attn_tp

    @property
    def domains(self) -> int:
        """NVLink domains the layout spans (nodes of 8 GPUs, or NVL72 racks)."""
        return -(-self.num_gpus // self.nvlink_domain)

    def slots(self, cfg: DeepSeekMoEConfig) -> int:
        """Expert slots of one MoE layer: the routed experts plus the redundant replicas."""
        return cfg.num_experts + self.redundant_experts

    def check(self, cfg: DeepSeekMoEConfig) -> None:
        """Raise ValueError when this layout does not divide the model `cfg`."""
        problems = []
        if cfg.num_heads % self.attn_tp:
            problems.append(f"{cfg.num_heads} attention heads do not split over attn_tp={self.attn_tp} GPUs "
                            f"({cfg.num_heads} % {self.attn_tp} = {cfg.num_heads % self.attn_tp})")
        slots = self.slots(cfg)
        if slots % self.moe_ep:
            what = (f"{cfg.num_experts} experts" if not self.redundant_experts else
                    f"{cfg.num_experts} + {self.redundant_experts} redundant = {slots} expert slots")
            fix = "" if self.redundant_experts else (
                f"; add redundant experts so that the slots divide (e.g. redundant_experts="
                f"{-cfg.num_experts % self.moe_ep})")
            problems.append(f"{what} do not split over moe_ep={self.moe_ep} GPUs ({slots} % {self.moe_ep} = "
                            f"{slots % self.moe_ep}){fix}")
        if cfg.expert_inter % self.moe_tp:
            problems.append(f"expert width {cfg.expert_inter} does not split over moe_tp={self.moe_tp} "
                            f"({cfg.expert_inter} % {self.moe_tp} = {cfg.expert_inter % self.moe_tp})")
        if cfg.dense_inter % self.attn_tp:
            problems.append(f"dense FFN width {cfg.dense_inter} does not split over attn_tp={self.attn_tp}")
        if problems:
            raise ValueError(f"layout {self.describe()} does not divide {cfg.name}: " + "; ".join(problems))

    def describe(self) -> str:
        """Short text such as 'TP8 attention, TP2xEP4 experts' or 'ADP48 attention, EP48+32 experts, 1 domain'."""
        att = f"TP{self.attn_tp}" if self.attn_dp == 1 else f"ADP{self.attn_dp}" + (
            f"xTP{self.attn_tp}" if self.attn_tp > 1 else "")
        moe = f"EP{self.moe_ep}" if self.moe_tp == 1 else f"TP{self.moe_tp}xEP{self.moe_ep}"
        moe += f"+{self.redundant_experts}" if self.redundant_experts else ""
        extra = f", {self.domains} NVLink domains (InfiniBand)" if self.domains > 1 else ""
        return f"{att} attention, {moe} experts{extra}"


# The GTC 2025 min-latency run (blog 1: "Introduce EP4TP2 ... 253" tok/s/user): attention TP8, experts EP4 x TP2.
LAYOUT_MIN_LATENCY = Layout(8, attn_tp=8, moe_tp=2, moe_ep=4, name="TP8, experts EP4xTP2 (blog 1, GTC 2025)")
# The later documented run (274.7 tok/s/user, TRTLLM MoE backend): experts EP2 x TP4.
LAYOUT_MIN_LATENCY_DOCS = Layout(8, attn_tp=8, moe_tp=4, moe_ep=2, name="TP8, experts EP2xTP4 (docs)")
LAYOUT_MAX_THROUGHPUT = Layout(8, attn_tp=1, moe_tp=1, moe_ep=8, name="ADP8 EP8 (blog 3 / docs max-throughput)")


# Fixed cost per dependent kernel on B200 in TensorRT-LLM, derived from its published batch-1 figure without MTP
# (blog 1: 111 tok/s/user). `derive_kernel_s()` recomputes it from the other factors; a test keeps the two equal.
KERNEL_S_B200 = 8.27e-6
# Dependent kernels per layer on the critical path, counted from the modules of a decode iteration in TensorRT-LLM
# tech blog 1 ("Everything in one diagram"): attention = Fuse_A GEMM, grouped RMSNorm, UQ_QR GEMM, UK BGEMM,
# concat KV + RoPE, MLA generation kernel, UV BGEMM, WO GEMM, fused all-reduce + RMSNorm + quantize (9);
# MoE = router GEMM, top-k, expert FC1 (+ activation), FC2, fused reduce + all-reduce + RMSNorm (5; the shared
# expert overlaps on a second stream); dense FFN = FC1, FC2, fused all-reduce + norm (3); head = norm, GEMM,
# sampling (3); all-to-all = dispatch + combine (2) when attention is data-parallel.
KERNELS: dict[str, int] = {"attention": 9, "moe": 5, "dense_ffn": 3, "head": 3, "all_to_all": 2}
# EP size at which the load spreads of blog 4 were measured (Table 1: EP32).
EP_IMBALANCE_REF = 32
# Attention-DP scheduling models (Factors.adp_schedule): blog 10's measured round-robin balance is
# ADP_ROUND_ROBIN_BALANCE, its ADP-balance strategy's ADP_BALANCED; 'auto' picks by scheduler and workload kind.
ADP_SCHEDULES = ("random", "lockstep", "measured", "balanced", "auto")
# Kinds of traffic: 'fixed' = synthetic requests of equal lengths (trtllm-bench token-norm-dist, std 0; requests that
# start together finish together, so attention-DP ranks prefill in the same steps); 'long-tail' = real datasets.
WORKLOAD_KINDS = ("fixed", "long-tail")
# KV-cache sizing: 'paged' holds what requests have written (ISL + OSL/2 on average over a request's life: paged
# caches of TensorRT-LLM, SGLang, vLLM); 'reserve' reserves ISL + OSL for every request from the start.
KV_POLICIES = ("paged", "reserve")

# Bytes of activations that the non-GEMM kernels of one decode token read and write per layer, counted from the
# tensors they move: four BF16 hidden vectors (two RMSNorms, two residual adds) per layer, and per MoE layer the
# top-k token copies (FP8 in), the gate-up outputs (BF16 out, read by the activation), the activation outputs (FP8)
# and the down outputs (BF16, written then read by the finalize/combine), for top_k = 8: 8 x (7168 + 2 x 4096 x 2 +
# 2048 + 2 x 7168 x 2) bytes. Derived for DeepSeek-V3's shapes; `activation_bytes` recomputes it for other configs.
ACTIVATION_BYTES = {"per_layer": 4 * 7168 * 2, "per_moe_layer": 8 * (7168 + 2 * 4096 * 2 + 2048 + 2 * 7168 * 2)}


@dataclass(frozen=True)
class Workload:
    """Requests: input (ISL) and output (OSL) lengths in tokens, MTP draft tokens per step, length spreads, kind.

    `isl_std` / `osl_std` make the lengths normal with that standard deviation (trtllm-bench's token-norm-dist);
    `kind` is 'fixed' (synthetic, equal lengths) or 'long-tail' (real traffic), which picks the attention-DP
    schedule when `Factors.adp_schedule` is 'auto'.
    """

    isl: int = 1024
    osl: int = 2048
    mtp_drafts: int = 0
    isl_std: float = 0.0
    osl_std: float = 0.0
    kind: str = "fixed"

    def __post_init__(self) -> None:
        check_number("Workload.isl", self.isl), check_number("Workload.osl", self.osl)
        if isinstance(self.mtp_drafts, bool) or self.mtp_drafts not in MTP_ACCEPTED:
            raise ValueError(f"Workload.mtp_drafts must be one of {sorted(MTP_ACCEPTED)} (published acceptance "
                             f"data), got {self.mtp_drafts!r}")
        for f in ("isl_std", "osl_std"):
            check_number(f"Workload.{f} (tokens)", getattr(self, f), integer=False, zero_ok=True)
        if self.kind not in WORKLOAD_KINDS:
            raise ValueError(f"Workload.kind must be one of {', '.join(WORKLOAD_KINDS)}, got {self.kind!r}")

    @property
    def accepted(self) -> float:
        """Tokens accepted per step (published, see MTP_ACCEPTED)."""
        return MTP_ACCEPTED[self.mtp_drafts]

    @property
    def ctx_mean(self) -> float:
        """Average context over all decoded tokens: E[ISL] + E[OSL^2] / (2 E[OSL]) (ISL + OSL/2 if fixed)."""
        return self.isl + (self.osl ** 2 + self.osl_std ** 2) / (2 * self.osl)

    @property
    def isl_sq_mean(self) -> float:
        """E[ISL^2] (sets the causal attention work of prefill)."""
        return self.isl ** 2 + self.isl_std ** 2

    def kv_tokens(self, policy: str = "paged") -> float:
        """Cache tokens one running request holds on average: its context ('paged') or ISL + OSL ('reserve')."""
        if policy not in KV_POLICIES:
            raise ValueError(f"kv_policy must be one of {', '.join(KV_POLICIES)}, got {policy!r}")
        return self.ctx_mean if policy == "paged" else float(self.isl + self.osl)


def __getattr__(name: str):
    """`Factors` and the per-GPU helpers moved to `bwkit.perfmodel.factors`; keep the old import path working."""
    from bwkit.perfmodel import factors as _factors  # noqa: PLC0415  (circular: factors imports this module)
    if name in ("Factors", "_DEFAULT_FACTORS", "_spec", "_peak", "_attn_frac", "_attn_flops", "_kernel_s",
                "_check_recipe"):
        return getattr(_factors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_KINDS = {"layout": (Layout, "pm.LAYOUT_MIN_LATENCY or pm.Layout(...)"),
          "recipe": (Recipe, "pm.RECIPE_NVFP4 or pm.Recipe(...)"),
          "workload": (Workload, "pm.Workload(isl=1024, osl=2048)"),
          "cfg": (DeepSeekMoEConfig, "bwkit.moe.DEEPSEEK_V3")}


def check_kinds(**args) -> None:
    """TypeError naming the argument unless each `layout=`, `recipe=`, `workload=`, `cfg=` given is of its class
    (a swapped pair of arguments, or a name where an object belongs, otherwise fails deep inside a cost term)."""
    for name, v in args.items():
        cls, example = _KINDS[name]
        if not isinstance(v, cls):
            raise TypeError(f"{name} must be a {cls.__name__} (e.g. {example}), got {type(v).__name__} {v!r:.60}")
