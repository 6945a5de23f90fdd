"""Every efficiency and overhead of the perfmodel (`Factors`), each with its source, and the per-GPU helpers.

`Factors` validates its values; `Factors.naive()` turns every efficiency and overhead off (the roofline). The
helpers at the end pick the peak, attention rate, per-kernel cost and link efficiency that apply on a given GPU
(Blackwell, sm_100a, has its own published figures). Taught in lab 08.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields, replace

from bwkit import hw
from bwkit.kit.args import check_flag_fields, check_number
from bwkit.perfmodel.derived import deepgemm_efficiency, ep_balance_cv, mla_decode_frac, nvlink_a2a_frac
from bwkit.perfmodel.parameters import ADP_SCHEDULES, KERNEL_S_B200, MATH_PRECISION, Recipe, Workload, check_real
from bwkit.perfmodel.published import FLASHMLA_H800_TFLOPS, FP8_ATTENTION_SPEEDUP, PREFILL_ATTENTION_TFLOPS

__all__ = ["Factors"]


@dataclass(frozen=True)
class Factors:
    """Every efficiency and overhead of the model, each with its source. `naive()` switches all of them off.

    bw_frac: achievable fraction of peak HBM bandwidth for streaming kernels (the KV-cache reads of attention,
        activations). MEASURED here on an H200: device copy ~4.3 of 4.8 TB/s -> 0.90; PUBLISHED: FlashMLA reads its
        cache at 3000 of 3350 GB/s on H800 (0.90). Assumed to transfer.
    gemm_bw_frac: fraction of peak HBM bandwidth a weight-streaming GEMM reaches at decode batch sizes. PUBLISHED:
        DeepGEMM README, six DeepSeek-V3 shapes at M = 64 on H800: 0.73 over the table. Assumed to transfer.
    gemm_frac: fraction of Tensor Core peak of large dense GEMMs (the compute roof of decode GEMMs). PUBLISHED:
        CUTLASS 3.8 on B200 (NVFP4 88.5 %, FP8 91.2 %, BF16 94.2 %). Assumed to hold for Hopper too.
    prefill_gemm_frac: fraction of peak of dense GEMMs on DeepSeek's shapes at prefill size. PUBLISHED: DeepGEMM
        README, the six shapes at M = 4,096 on H800: 0.57 over the table. Assumed to transfer to Blackwell.
    grouped_gemm: routed-expert GEMMs compute at DeepGEMM's grouped efficiency for their tokens per expert
        (`derived.grouped_gemm_efficiency`: 0.45 of peak at 256 rows per expert ... 0.62 at 8,192, H800), not at
        the large-GEMM fraction. PUBLISHED (DeepGEMM README grouped tables); assumed to transfer to FP4.
    attn_frac: fraction of the math peak of compute-bound MLA decode on Hopper (and any GPU not sm_100a), also used
        for Hopper prefill attention. PUBLISHED: FlashMLA README, dense decode 660 of 989 TFLOP/s on H800 (0.667).
    attn_frac_sm100: the same on Blackwell, BF16 math. DERIVED from a published microbenchmark of TensorRT-LLM's
        MLA kernel (trtllm-gen, the kernel TensorRT-LLM and SGLang's FP8 path run): 502 TFLOP/s FP8 with 64 query
        rows (vLLM PR #41778); tcgen05 MMA tiles hold 128 rows, so 128 heads fill them: x2 = 1,004 TFLOP/s FP8;
        BF16 math 1.8x slower (LMSYS GB200 Part II) -> 558 TFLOP/s = 0.248 of 2,250 (`derived.mla_decode_frac`).
        The bracket of every published B200 figure (`published.MLA_DECODE_SM100`): 0.11 (trtllm-gen as measured,
        half-filled tiles) ... 0.156 (FlashMLA sparse, "not really optimized yet") ... 0.435 (CUTLASS MLA, batch
        256, BF16).
    fp8_attention_math: with an FP8 KV cache the Blackwell decode kernel multiplies in FP8 (TensorRT-LLM blog 3:
        "both Q and KV are quantized to FP8, and FP8 MQA is used"; SGLang Part II) at 1.8x the BF16 rate (FP8
        attention 1.8x faster than BF16, LMSYS GB200 Part II). False: BF16 math on a dequantized FP8 cache (FlashMLA).
    prefill_attn_frac_sm100: fraction of BF16 peak of prefill (causal MHA) attention on Blackwell. PUBLISHED:
        FlashMLA README, dense MHA prefill forward 1460 TFLOP/s on B200 -> 0.649.
    nvlink_frac: fraction of one-way NVLink bandwidth reached by collectives on Hopper. PUBLISHED: DeepEP V1
        intranode 153 of ~160 GB/s on H800 (0.95). nvlink_frac_sm100: the same on Blackwell. PUBLISHED: DeepEP V2
        EP8 on B200, 726 GB/s logical (7/8 remote) of 900 -> 0.71.
    kernel_s: fixed cost of one dependent kernel (launch, ramp-up, tail) under CUDA Graphs on GPUs other than
        sm_100a. DERIVED from Hazy Research's H100 measurement ("Look Ma, No Bubbles", 2025) -> 6.5 us.
    kernel_s_sm100: the same on Blackwell. DERIVED from TensorRT-LLM blog 1's batch-1 B200 run without MTP (111
        tok/s/user) -> `KERNEL_S_B200` (`derive_kernel_s()`); the one input fitted to a serving measurement.
    comm_latency_s: fixed latency of one NVLink collective beyond its bandwidth time. ASSUMED (5 us).
    ep_imbalance_cv / eplb_imbalance_cv: spread of routed tokens across EP ranks at EP32 as a coefficient of
        variation, without / with EPLB. PUBLISHED: TensorRT-LLM blog 4, Table 1 (DeepSeek-R1, 32 GB200s): std
        491.6 of 1,024 tokens per rank without EPLB (0.48), 52.0 with EPLB and 288 slots (0.051). Scaled by
        sqrt(moe_ep / 32) (DERIVED, assuming independent rank loads); the hottest of moe_ep ranks sets the pace.
    adp_schedule: how prefills land on attention-DP groups (in-flight batching only). 'random': Poisson per group,
        a step waits for the busiest (DERIVED); 'lockstep': all groups prefill in the same steps (no waiting);
        'measured': lockstep work / 0.649 (PUBLISHED: TensorRT-LLM blog 10, default round-robin scheduler, 25,664 of
        its balanced 39,552 tok/s; the blog's own analysis shows the loss with equal-length contexts too, as they
        arrive one per iteration); 'balanced': / 0.900 (the same blog's ADP balance strategy, 34,140 of 37,912);
        'auto' (default): 'measured' with the round-robin scheduler; with `adp_balance` (TensorRT-LLM's
        attention_dp_config.enable_balance) 'lockstep' for fixed-length workloads, 'balanced' for long-tail ones.
    adp_balance: the scheduler synchronises context phases across attention-DP ranks (blog 10's strategy).
    kv_attention / mtp / prefill / kernels / comm / activations: switch the KV-cache reads and attention FLOPs,
        multi-token prediction, in-flight prefill, per-kernel cost, communication and the non-GEMM activation
        traffic (`ACTIVATION_BYTES`) on or off (for the waterfall).
    """

    bw_frac: float = 0.90
    gemm_bw_frac: float = field(default_factory=lambda: round(deepgemm_efficiency("decode"), 3))
    gemm_frac: dict[str, float] = field(default_factory=lambda: {"fp4": 0.885, "fp8": 0.912, "bf16": 0.942})
    prefill_gemm_frac: float = field(default_factory=lambda: round(deepgemm_efficiency("prefill"), 3))
    grouped_gemm: bool = True
    attn_frac: float = FLASHMLA_H800_TFLOPS["dense decode (2025-04-22)"] / 989
    attn_frac_sm100: float = field(default_factory=lambda: round(mla_decode_frac("bf16"), 4))
    fp8_attention_math: bool = True
    prefill_attn_frac_sm100: float = PREFILL_ATTENTION_TFLOPS["sm_100a"][0] / PREFILL_ATTENTION_TFLOPS["sm_100a"][1]
    nvlink_frac: float = 0.95
    nvlink_frac_sm100: float = field(default_factory=lambda: round(nvlink_a2a_frac("sm_100a"), 4))
    kernel_s: float = 6.5e-6
    kernel_s_sm100: float = KERNEL_S_B200
    comm_latency_s: float = 5e-6
    ep_imbalance_cv: float = field(default_factory=lambda: ep_balance_cv(False))
    eplb_imbalance_cv: float = field(default_factory=lambda: ep_balance_cv(True))
    adp_schedule: str = "auto"
    adp_balance: bool = False
    kv_attention: bool = True
    mtp: bool = True
    prefill: bool = True
    kernels: bool = True
    comm: bool = True
    activations: bool = True

    def __post_init__(self) -> None:
        check_flag_fields(self)
        for f in ("bw_frac", "gemm_bw_frac", "prefill_gemm_frac", "attn_frac", "attn_frac_sm100",
                  "prefill_attn_frac_sm100", "nvlink_frac", "nvlink_frac_sm100"):
            v = getattr(self, f)
            check_real(f"Factors.{f}", v)
            if not 0 < v <= 1:
                raise ValueError(f"Factors.{f} is a fraction of a peak: it must be in (0, 1], got {v!r}")
        if not isinstance(self.gemm_frac, dict):
            raise TypeError(f"Factors.gemm_frac must be a dict of fractions by precision (e.g. "
                            f"{{'fp4': 0.885, 'fp8': 0.912, 'bf16': 0.942}}), got {type(self.gemm_frac).__name__}")
        for p, v in self.gemm_frac.items():
            if p not in hw.PRECISIONS or isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v <= 1:
                raise ValueError(f"Factors.gemm_frac[{p!r}]={v!r}: keys must be in {hw.PRECISIONS}, values in (0, 1]")
        missing = [p for p in dict.fromkeys(MATH_PRECISION.values()) if p not in self.gemm_frac]
        if missing:
            raise ValueError(f"Factors.gemm_frac needs a fraction for every precision the recipes compute at "
                             f"({', '.join(dict.fromkeys(MATH_PRECISION.values()))}); missing "
                             f"{', '.join(map(repr, missing))}, got {self.gemm_frac!r}")
        if self.adp_schedule not in ADP_SCHEDULES:
            raise ValueError(f"Factors.adp_schedule must be one of {', '.join(ADP_SCHEDULES)}, "
                             f"got {self.adp_schedule!r}")
        for f in ("kernel_s", "kernel_s_sm100", "comm_latency_s", "ep_imbalance_cv", "eplb_imbalance_cv"):
            check_number(f"Factors.{f}", getattr(self, f), integer=False, zero_ok=True)

    @classmethod
    def naive(cls) -> Factors:
        """The plain roofline: peak bandwidth and FLOP/s, weights only, no overheads, no MTP, no prefill."""
        return cls(bw_frac=1.0, gemm_bw_frac=1.0, gemm_frac={"fp4": 1.0, "fp8": 1.0, "bf16": 1.0},
                   prefill_gemm_frac=1.0, grouped_gemm=False, attn_frac=1.0, attn_frac_sm100=1.0,
                   fp8_attention_math=True, prefill_attn_frac_sm100=1.0, nvlink_frac=1.0, nvlink_frac_sm100=1.0,
                   kernel_s=0.0, kernel_s_sm100=0.0, comm_latency_s=0.0, ep_imbalance_cv=0.0, eplb_imbalance_cv=0.0,
                   adp_schedule="lockstep", kv_attention=False, mtp=False, prefill=False, kernels=False, comm=False,
                   activations=False)

    def with_(self, **changes) -> Factors:
        """A copy with some factors changed."""
        return replace(self, **changes)

    def schedule(self, workload: Workload) -> str:
        """The attention-DP schedule in force: `adp_schedule`, 'auto' resolved by the scheduler and workload kind."""
        if self.adp_schedule != "auto":
            return self.adp_schedule
        if not self.adp_balance:
            return "measured"
        return "lockstep" if workload.kind == "fixed" else "balanced"


# The default factors, one instance shared by every function that takes `factors` (and by WATERFALL_STEPS).
_DEFAULT_FACTORS = Factors()


# --------------------------------------------------------------------------------------------------------------
# Which peak, attention rate, per-kernel cost and link efficiency apply on a given GPU
# --------------------------------------------------------------------------------------------------------------
def _spec(system: str | hw.GPUSpec) -> hw.GPUSpec:
    """The bwkit.hw spec of `system` (a name such as 'B200', or a spec)."""
    return hw.get_spec(system)


def _peak(spec: hw.GPUSpec, fmt: str) -> float:
    """Dense Tensor Core peak (FLOP/s) at which weights stored as `fmt` compute; ValueError if `spec` has none."""
    prec = MATH_PRECISION[fmt]
    if prec not in spec.peak_tflops:
        raise ValueError(f"{spec.name} has no {prec} Tensor Cores for {fmt} weights (it has: "
                         f"{', '.join(spec.peak_tflops)}); use a recipe it supports, e.g. RECIPE_FP8 on Hopper")
    return spec.peak(prec)


def _attn_frac(spec: hw.GPUSpec, f: Factors, phase: str = "decode") -> float:
    """Attention-kernel efficiency for `phase` ('decode' or 'prefill'): Blackwell (sm_100a) has its own figures."""
    if spec.arch == "sm_100a":
        return f.attn_frac_sm100 if phase == "decode" else f.prefill_attn_frac_sm100
    return f.attn_frac


def _attn_flops(spec: hw.GPUSpec, recipe: Recipe, f: Factors) -> float:
    """FLOP/s of MLA decode attention.

    On sm_100a: BF16 math at attn_frac_sm100 of the BF16 peak, or, with an FP8 cache and a kernel that multiplies in
    FP8 (`fp8_attention_math`), that rate x 1.8 (`FP8_ATTENTION_SPEEDUP`; capped at the FP8 peak).
    Elsewhere an FP8 cache computes at the FP8 peak times attn_frac (FlashMLA's fraction, assumed to transfer).
    """
    fp8 = recipe.kv_cache == "fp8" and "fp8" in spec.peak_tflops
    if spec.arch == "sm_100a":
        rate = spec.peak("bf16") * f.attn_frac_sm100
        if fp8 and f.fp8_attention_math:
            rate = min(spec.peak("fp8"), rate * FP8_ATTENTION_SPEEDUP)
        return rate
    return spec.peak("fp8" if fp8 else "bf16") * f.attn_frac


def _kernel_s(spec: hw.GPUSpec, f: Factors) -> float:
    """Fixed cost per dependent kernel: the B200-derived figure on sm_100a, the H100-derived one elsewhere."""
    return f.kernel_s_sm100 if spec.arch == "sm_100a" else f.kernel_s


def _nvlink_frac(spec: hw.GPUSpec, f: Factors) -> float:
    """Fraction of one-way NVLink bandwidth that collectives reach on this GPU (DeepEP figures, by generation)."""
    return f.nvlink_frac_sm100 if spec.arch == "sm_100a" else f.nvlink_frac


def _check_recipe(spec: hw.GPUSpec, recipe: Recipe) -> None:
    """Raise ValueError when `spec` has no Tensor Cores for one of the recipe's weight formats."""
    for fl in fields(recipe):
        if fl.name in ("name", "kv_cache"):
            continue
        _peak(spec, getattr(recipe, fl.name))
