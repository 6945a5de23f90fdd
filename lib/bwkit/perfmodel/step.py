"""What one decode step of the perfmodel reads (`StepContext`) and returns (`Cost` per term, `StepResult`).

`bwkit.perfmodel.decode` evaluates its cost terms on a `StepContext` and collects them into a `StepResult`, whose
properties turn the step time into tokens/s per user, per node and per GPU. A `StepContext` checks on creation
(`check_context`) that the system can run the layout and recipe at all, for decode and prefill alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from bwkit import hw
from bwkit.kit.args import check_number
from bwkit.moe import DeepSeekMoEConfig
from bwkit.perfmodel.counting import check_kv_fraction
from bwkit.perfmodel.factors import Factors, _check_recipe, _nvlink_frac
from bwkit.perfmodel.parameters import KV_POLICIES, Layout, Recipe, Workload, check_kinds

__all__ = ["StepResult", "StepContext", "check_context", "check_step_kw", "Cost", "POOLS"]

# Where prefill runs: 'aggregated' (in-flight batching mixes each request's prefill into the decode steps) or
# 'decode' (a disaggregated decode-only pool: prompts are prefilled elsewhere and their caches arrive ready).
POOLS = ("aggregated", "decode")


@dataclass
class StepResult:
    """One operating point: step time split by cause (seconds) and the serving figures it implies."""

    system: str
    layout: Layout
    recipe: Recipe
    workload: Workload
    concurrency: int
    times: dict[str, float]          # seconds per decode step, by cause (they add up to step_s)
    bytes_per_gpu: dict[str, float]  # HBM bytes read per GPU per step, by component
    flops_per_gpu: dict[str, float]  # FLOPs per GPU per step, by component
    experts_touched: float           # distinct routed experts read per MoE layer per step (whole system)
    tokens_per_step: float           # output tokens per request per step (accepted)
    weights_gb_per_gpu: float
    kv_gb_per_gpu: float
    notes: list[str] = field(default_factory=list)

    @property
    def step_s(self) -> float:
        """Average wall time of one step, prefill share included (seconds)."""
        return sum(self.times.values())

    @property
    def tokens_per_s_user(self) -> float:
        """Output tokens per second seen by one user (time to first token included, as published)."""
        return self.tokens_per_step / self.step_s

    @property
    def tokens_per_s(self) -> float:
        """Output tokens per second of the whole node."""
        return self.concurrency * self.tokens_per_s_user

    @property
    def tokens_per_s_gpu(self) -> float:
        """Output tokens per second per GPU."""
        return self.tokens_per_s / self.layout.num_gpus

    def summary(self) -> str:
        """Rounded one-paragraph description (stable for stored notebook outputs)."""
        parts = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in self.times.items() if v > 0)
        return (f"{self.system} x{self.layout.num_gpus}, {self.layout.describe()}, concurrency {self.concurrency}, "
                f"MTP {self.workload.mtp_drafts if self.tokens_per_step > 1 else 0}: step {self.step_s * 1e3:.2f} ms "
                f"({parts}) -> {self.tokens_per_s_user:,.0f} tok/s/user, {self.tokens_per_s:,.0f} tok/s "
                f"({self.tokens_per_s_gpu:,.0f} tok/s/GPU)")


def check_context(spec: hw.GPUSpec, layout: Layout, recipe: Recipe, cfg: DeepSeekMoEConfig) -> None:
    """Raise ValueError when `spec` x layout.num_gpus cannot run `cfg` split by `layout` with `recipe`.

    The layout must divide the model (`Layout.check`), the GPU needs Tensor Cores for every weight format of the
    recipe, and a layout of more than one GPU needs NVLink (the communication terms divide by its bandwidth).
    """
    check_kinds(layout=layout, recipe=recipe, cfg=cfg)
    layout.check(cfg)
    _check_recipe(spec, recipe)
    if layout.num_gpus > 1 and not spec.nvlink_tbps:
        raise ValueError(f"{spec.name} has no NVLink in bwkit.hw: a {layout.num_gpus}-GPU layout needs one")


# Keyword arguments of `decode.decode_step` that the operating points and regimes pass through.
STEP_KW = ("cfg", "activation_gb", "kv_fraction", "kv_policy", "pool", "max_num_tokens")


def check_step_kw(where: str, kw: dict, allowed: tuple[str, ...] = STEP_KW) -> None:
    """Check the pass-through keyword arguments of `where` before any step runs: unknown names raise TypeError,
    bad values ValueError naming the argument (so that a caller's typo is never taken for an infeasible point)."""
    unknown = [k for k in kw if k not in allowed]
    if unknown:
        raise TypeError(f"{where}: unexpected keyword argument(s) {', '.join(unknown)}; it passes on "
                        f"{', '.join(allowed)}")
    if "cfg" in kw:
        check_kinds(cfg=kw["cfg"])
    if "layout" in kw:
        check_kinds(layout=kw["layout"])
    if "factors" in kw and not isinstance(kw["factors"], Factors):
        raise TypeError(f"{where}: factors must be a Factors (e.g. pm.Factors()), got {type(kw['factors']).__name__}")
    if "activation_gb" in kw:
        check_number(f"{where}: activation_gb", kw["activation_gb"], integer=False, zero_ok=True)
    if "kv_fraction" in kw:
        check_kv_fraction(kw["kv_fraction"])
    if "kv_policy" in kw and kw["kv_policy"] not in KV_POLICIES:
        raise ValueError(f"{where}: kv_policy must be one of {', '.join(KV_POLICIES)}, got {kw['kv_policy']!r}")
    if "pool" in kw and kw["pool"] not in POOLS:
        raise ValueError(f"{where}: pool must be one of {', '.join(POOLS)}, got {kw['pool']!r}")
    for k in ("max_num_tokens", "concurrency"):
        if k in kw:
            check_number(f"{where}: {k}", kw[k])
    if "mtp_drafts" in kw:
        Workload(mtp_drafts=kw["mtp_drafts"])                   # raises naming Workload.mtp_drafts


@dataclass(frozen=True)
class StepContext:
    """What every cost term of one decode step reads: system, split, recipe, model, requests, factors.

    Creating one runs `check_context` (ValueError when the system cannot run the layout and recipe).
    """

    spec: hw.GPUSpec
    layout: Layout
    recipe: Recipe
    cfg: DeepSeekMoEConfig
    workload: Workload
    factors: Factors
    concurrency: int
    drafts: int                      # MTP draft passes per step (0 when MTP is off)
    pool: str = "aggregated"         # 'aggregated' or 'decode' (POOLS)

    def __post_init__(self) -> None:
        check_context(self.spec, self.layout, self.recipe, self.cfg)

    @property
    def accepted(self) -> float:
        """Output tokens per request per step: the published MTP acceptance, or 1 without MTP."""
        return self.workload.accepted if self.drafts else 1.0

    @property
    def reqs_per_group(self) -> int:
        """Requests each attention-DP group serves."""
        return self.concurrency // self.layout.attn_dp

    @property
    def t_group(self) -> int:
        """Tokens an attention group processes in the main forward (1 + drafts per request)."""
        return self.reqs_per_group * (1 + self.drafts)

    @property
    def t_sys(self) -> int:
        """Tokens the whole node routes per MoE layer."""
        return self.concurrency * (1 + self.drafts)

    @property
    def ctx(self) -> float:
        """Average context during decode (tokens): ISL + OSL / 2 (E[ISL] + E[OSL^2] / 2E[OSL] with spreads)."""
        return self.workload.ctx_mean

    @property
    def slots_per_rank(self) -> float:
        """Expert slots each EP rank holds (experts + redundant replicas) / moe_ep."""
        return self.layout.slots(self.cfg) / self.layout.moe_ep

    @property
    def expert_params(self) -> int:
        """Parameters of one expert (three hidden x expert_inter matrices)."""
        return 3 * self.cfg.hidden * self.cfg.expert_inter

    @property
    def kv_bw(self) -> float:
        """Bytes/s of streaming reads (the KV cache): bw_frac x HBM bandwidth."""
        return self.spec.bandwidth * self.factors.bw_frac

    @property
    def nvl(self) -> float:
        """Bytes/s one GPU sends over NVLink one way: the DeepEP fraction x half the bidirectional figure."""
        return (self.spec.nvlink_tbps or 0) * 1e12 / 2 * _nvlink_frac(self.spec, self.factors)


class Cost(NamedTuple):
    """One cost term per GPU per step: HBM bytes read, FLOPs done, seconds charged."""

    hbm_bytes: float
    flops: float
    seconds: float
