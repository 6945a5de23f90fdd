"""A first-principles decode-step model of DeepSeek-R1 serving on one NVLink node (DGX B200 and friends).

The model adds up, per GPU and per decode step, the bytes each kernel reads from HBM (weights per component and
precision, the MLA latent KV cache), the FLOPs it does (linear layers, absorbed MLA attention over the context),
the NVLink traffic (tensor-parallel all-reduce, expert-parallel all-to-all), a fixed cost per dependent kernel,
the context (prefill) work that in-flight batching mixes into decode steps, and multi-token prediction (MTP).
Every efficiency is a named, sourced input in `Factors`; `Factors.naive()` turns them all off (the roofline). One
input, the B200 per-kernel cost, is derived from a published serving run (batch 1 without MTP), not a target.

    from bwkit import perfmodel as pm
    r = pm.min_latency()            # DGX B200, batch 1, ISL 1K / OSL 2K, TP8 (experts EP4 x TP2), MTP 3
    print(r.summary())              # model ~265 tok/s/user; published (TensorRT-LLM) 253 at GTC 2025
    pm.max_throughput().tokens_per_s          # model ~30,100 tok/s; NVIDIA's GTC 2025 claim: over 30,000
    pm.waterfall("min_latency")               # the factors added one at a time, each with its source

Constraints: one node (all GPUs on one NVLink switch); decode is modelled in detail, prefill as compute-bound
work; tokens are routed independently, plus a hot-expert spread across EP ranks measured without EPLB (blog 4).
Layouts are checked (heads, experts, expert width and GPUs must divide) and configurations are checked against
HBM; what does not fit raises `ValueError` saying what and by how much. Taught in lab 08.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from statistics import NormalDist

from bwkit import hw
from bwkit.moe import DEEPSEEK_V3, DeepSeekMoEConfig

__all__ = [
    "STORAGE_BYTES", "KV_BYTES", "MATH_PRECISION", "MTP_ACCEPTED", "PUBLISHED", "PUBLISHED_MTP_B200",
    "DEEPGEMM_H800", "deepgemm_efficiency", "KERNEL_S_B200", "derive_kernel_s", "ADP_SCHEDULES",
    "ADP_ROUND_ROBIN_BALANCE",
    "Recipe", "RECIPE_NVFP4", "RECIPE_FP8", "Layout", "LAYOUT_MIN_LATENCY", "LAYOUT_MIN_LATENCY_DOCS",
    "LAYOUT_MAX_THROUGHPUT", "Factors",
    "Workload", "StepResult",
    "unique_experts", "expected_max_normal", "component_params", "active_params_per_token",
    "weight_bytes_per_gpu", "kv_bytes_per_token", "max_concurrency", "decode_step", "min_latency",
    "max_throughput", "pareto", "pareto_front", "waterfall", "WATERFALL_STEPS", "KERNELS", "EP_IMBALANCE_REF",
    "predict_systems",
]

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

# DeepSeek's DeepGEMM README ("Performance": FP8 GEMMs with fine-grained scaling on DeepSeek-V3/R1's own layer shapes,
# measured on H800, whose HBM is 3.35 TB/s and FP8 dense peak 1,979 TFLOP/s). Decode-sized rows (M = 64 tokens) are
# (M, N, K, GB/s); prefill-sized rows (M = 4,096 tokens) are (M, N, K, TFLOP/s). Each time includes the kernel's own
# ramp-up and tail, so skinny real shapes reach less than a device copy (bandwidth) or a large square GEMM (FLOPs).
DEEPGEMM_H800: dict[str, list[tuple[int, int, int, float]]] = {
    "decode": [(64, 2112, 7168, 1688), (64, 24576, 1536, 2455), (64, 32768, 512, 2143),
               (64, 7168, 16384, 2668), (64, 4096, 7168, 2320), (64, 7168, 2048, 2470)],
    "prefill": [(4096, 2112, 7168, 1058), (4096, 24576, 1536, 990), (4096, 32768, 512, 590),
                (4096, 7168, 16384, 1358), (4096, 4096, 7168, 1304), (4096, 7168, 2048, 1025)],
}
H800_HBM_BYTES_S = 3.35e12
H800_FP8_FLOPS = 1979e12


def deepgemm_efficiency(kind: str) -> float:
    """Fraction of peak that DeepGEMM reaches on DeepSeek's layer shapes, over its whole published table.

    'decode': total bytes (FP8 A and B, BF16 C) / total time / HBM peak — the bandwidth a weight-streaming GEMM
    really gets at decode batch sizes. 'prefill': total FLOPs / total time / FP8 peak. Taught in lab 08, step 5.
    """
    if kind not in DEEPGEMM_H800:
        raise ValueError(f"deepgemm_efficiency: kind must be one of {sorted(DEEPGEMM_H800)}, got {kind!r}")
    work = time = 0.0
    for m, n, k, rate in DEEPGEMM_H800[kind]:
        w = (m * k + n * k + 2 * m * n) if kind == "decode" else 2 * m * n * k
        work += w
        time += w / (rate * (1e9 if kind == "decode" else 1e12))
    peak = H800_HBM_BYTES_S if kind == "decode" else H800_FP8_FLOPS
    return work / time / peak


# Accepted tokens per step vs number of MTP draft tokens, DeepSeek-R1 on 8xB200 (TensorRT-LLM tech blog 1,
# "Autoregressive MTP layers" table: 1.00 / 1.92 / 2.58 / 2.82 / 2.99 / 3.01; strict acceptance, real dataset).
MTP_ACCEPTED: dict[int, float] = {0: 1.0, 1: 1.92, 2: 2.58, 3: 2.82, 4: 2.99, 5: 3.01}

# Published serving figures, ISL 1K / OSL 2K. Per-user figures include the time to first token. The seed's two numbers
# are NVIDIA's GTC 2025 claims ("over 250 tokens per second per user or a maximum throughput of over 30,000 tokens
# per second", NVIDIA blog "Blackwell Delivers World-Record DeepSeek-R1 Inference Performance", quoted in the
# TensorRT-LLM doc Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md); the others are later runs of that doc.
PUBLISHED: dict[str, dict] = {
    "B200 min latency (GTC)": {"tokens_per_s_user": 253.0, "source": "TensorRT-LLM tech blog 1",
                               "setup": "batch 1, TP8, experts EP4xTP2, MTP 3 (2.82 accepted), NVFP4 FFNs"},
    "B200 max throughput (GTC)": {"tokens_per_s": 30000.0, "source": "NVIDIA GTC 2025 claim ('over 30,000')",
                                  "setup": "ADP8 EP8, NVFP4 MoE (concurrency not stated)"},
    "B200 min latency": {"tokens_per_s_user": 274.7, "source": "TensorRT-LLM docs (trtllm-bench)",
                         "setup": "batch 1, TP8, experts EP2xTP4, TRTLLM MoE backend, MTP 3"},
    "B200 max throughput": {"tokens_per_s": 36384.0, "concurrency": 3072, "source": "TensorRT-LLM docs",
                            "setup": "ADP8 EP8, no MTP, NVFP4 MoE, BF16 KV cache, max_batch_size 384 per GPU"},
    "H200 min latency": {"tokens_per_s_user": 158.1, "source": "TensorRT-LLM docs (trtllm-bench)",
                         "setup": "batch 1, TP8 EP4, MTP 3, FP8 checkpoint"},
    "H200 max throughput": {"tokens_per_s": 11489.0, "concurrency": 1024, "source": "TensorRT-LLM docs (trtllm-bench)",
                            "setup": "ADP8 EP8, no MTP, FP8 checkpoint, max_batch_size 128 per GPU"},
}

# Blog 1's MTP table, B200 at GTC 2025 (TP8, experts EP4xTP2): tokens/s/user against draft tokens (acceptance in
# MTP_ACCEPTED). The no-MTP point derives KERNEL_S_B200; the other five test the model.
PUBLISHED_MTP_B200: dict[int, float] = {0: 111.0, 1: 198.0, 2: 250.0, 3: 253.0, 4: 245.0, 5: 239.0}


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


@dataclass(frozen=True)
class Layout:
    """How `num_gpus` GPUs split the model.

    Attention (with the dense FFN, shared expert, embedding and head) runs tensor-parallel over `attn_tp` GPUs in
    `attn_dp = num_gpus / attn_tp` data-parallel groups (attention DP: each group serves its own requests).
    Routed experts: `moe_ep` expert-parallel groups, each expert split tensor-parallel over `moe_tp` GPUs.
    """

    num_gpus: int = 8
    attn_tp: int = 8
    moe_tp: int = 1
    moe_ep: int = 8
    name: str = ""

    def __post_init__(self) -> None:
        for f in ("num_gpus", "attn_tp", "moe_tp", "moe_ep"):
            v = getattr(self, f)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"Layout.{f} must be a positive int, got {v!r}")
        if self.num_gpus % self.attn_tp:
            raise ValueError(f"attn_tp={self.attn_tp} does not divide num_gpus={self.num_gpus} "
                             f"(attention DP groups = num_gpus / attn_tp must be whole)")
        if self.moe_tp * self.moe_ep != self.num_gpus:
            raise ValueError(f"moe_tp x moe_ep = {self.moe_tp} x {self.moe_ep} = {self.moe_tp * self.moe_ep} "
                             f"must equal num_gpus={self.num_gpus}")

    @property
    def attn_dp(self) -> int:
        """Attention data-parallel groups."""
        return self.num_gpus // self.attn_tp

    def check(self, cfg: DeepSeekMoEConfig) -> None:
        """Raise ValueError when this layout does not divide the model `cfg`."""
        problems = []
        if cfg.num_heads % self.attn_tp:
            problems.append(f"{cfg.num_heads} attention heads do not split over attn_tp={self.attn_tp} GPUs "
                            f"({cfg.num_heads} % {self.attn_tp} = {cfg.num_heads % self.attn_tp})")
        if cfg.num_experts % self.moe_ep:
            problems.append(f"{cfg.num_experts} experts do not split over moe_ep={self.moe_ep} GPUs "
                            f"({cfg.num_experts} % {self.moe_ep} = {cfg.num_experts % self.moe_ep})")
        if cfg.expert_inter % self.moe_tp:
            problems.append(f"expert width {cfg.expert_inter} does not split over moe_tp={self.moe_tp} "
                            f"({cfg.expert_inter} % {self.moe_tp} = {cfg.expert_inter % self.moe_tp})")
        if cfg.dense_inter % self.attn_tp:
            problems.append(f"dense FFN width {cfg.dense_inter} does not split over attn_tp={self.attn_tp}")
        if problems:
            raise ValueError(f"layout {self.describe()} does not divide {cfg.name}: " + "; ".join(problems))

    def describe(self) -> str:
        """Short text such as 'TP8 (experts TP4 x EP2)' or 'ADP8 + EP8'."""
        att = f"TP{self.attn_tp}" if self.attn_dp == 1 else f"ADP{self.attn_dp}" + (
            f"xTP{self.attn_tp}" if self.attn_tp > 1 else "")
        moe = f"EP{self.moe_ep}" if self.moe_tp == 1 else f"TP{self.moe_tp}xEP{self.moe_ep}"
        return f"{att} attention, {moe} experts"


# The GTC 2025 min-latency run (blog 1: "Introduce EP4TP2 ... 253" tok/s/user): attention TP8, experts EP4 x TP2.
LAYOUT_MIN_LATENCY = Layout(8, attn_tp=8, moe_tp=2, moe_ep=4, name="TP8, experts EP4xTP2 (blog 1, GTC 2025)")
# The later documented run (274.7 tok/s/user, TRTLLM MoE backend): experts EP2 x TP4.
LAYOUT_MIN_LATENCY_DOCS = Layout(8, attn_tp=8, moe_tp=4, moe_ep=2, name="TP8, experts EP2xTP4 (docs)")
LAYOUT_MAX_THROUGHPUT = Layout(8, attn_tp=1, moe_tp=1, moe_ep=8, name="ADP8 EP8 (blog 3 / docs max-throughput)")


# Fixed cost per dependent kernel on B200 in TensorRT-LLM, derived from its published batch-1 figure without MTP
# (blog 1: 111 tok/s/user). `derive_kernel_s()` recomputes it from the other factors; a test keeps the two equal.
KERNEL_S_B200 = 8.28e-6
# Attention-DP scheduling models (Factors.adp_schedule) and blog 10's measured balance of round-robin scheduling.
ADP_SCHEDULES = ("random", "lockstep", "measured")
ADP_ROUND_ROBIN_BALANCE = 25664 / 39552


@dataclass(frozen=True)
class Factors:
    """Every efficiency and overhead of the model, each with its source. `naive()` switches all of them off.

    bw_frac: achievable fraction of peak HBM bandwidth for streaming kernels (the KV-cache reads of attention).
        MEASURED here on an H200: device copy ~4.3 of 4.8 TB/s (REFERENCE.md) -> 0.90; PUBLISHED: DeepSeek's
        FlashMLA decode kernel reads its cache at 3000 of 3350 GB/s on H800 (0.90). Assumed to transfer.
    gemm_bw_frac: fraction of peak HBM bandwidth that a weight-streaming GEMM reaches at decode batch sizes.
        PUBLISHED: DeepGEMM README, FP8 GEMMs on DeepSeek-V3's six layer shapes at M = 64 on H800: 1688-2668 of
        3350 GB/s, 0.73 over the table (`deepgemm_efficiency('decode')`); the time includes each kernel's own
        ramp-up and tail. Assumed to transfer to Blackwell.
    gemm_frac: achievable fraction of Tensor Core peak for large GEMMs. PUBLISHED: CUTLASS 3.8 on B200
        (NVFP4 88.5 %, FP8 91.2 %, BF16 94.2 %). Assumed to hold for Hopper too. Sets the compute roof of decode GEMMs.
    prefill_gemm_frac: fraction of Tensor Core peak that GEMMs reach on DeepSeek's shapes at prefill size.
        PUBLISHED: DeepGEMM README, the same six shapes at M = 4,096 on H800: 590-1358 of 1979 TFLOP/s, 0.57 over
        the table (`deepgemm_efficiency('prefill')`). Assumed to transfer to Blackwell and to BF16/NVFP4.
    attn_frac: achievable fraction of BF16/FP8 peak in compute-bound MLA decode attention on Hopper (and any GPU
        that is not sm_100a). PUBLISHED: FlashMLA dense decode 580 of 989 TFLOP/s on H800 (0.59).
    attn_frac_sm100: the same on Blackwell (sm_100a). PUBLISHED: FlashMLA README, its MLA decode kernel reaches
        "up to 350 TFlops on B200" (BF16 math on an FP8 cache, token-sparse; "not really optimized yet" say its
        authors) -> 350 / 2250 = 0.156, the only published B200 MLA-decode figure found. A dense kernel may be
        faster: on H800 FlashMLA's dense decode (660) is 1.61x its sparse one (410); lab 08 shows that variant.
    prefill_attn_frac_sm100: fraction of BF16 peak for prefill (causal MHA) attention on Blackwell. PUBLISHED:
        FlashMLA README, dense MHA prefill forward 1460 TFLOP/s on B200 "as reported by NVIDIA" -> 0.649.
        Elsewhere prefill attention uses attn_frac.
    nvlink_frac: achievable fraction of one-direction NVLink bandwidth. PUBLISHED: DeepEP intranode all-to-all
        153-158 GB/s of ~160 GB/s on H800 (0.95).
    kernel_s: fixed cost of one dependent kernel (launch, ramp-up, tail) even under CUDA Graphs, on GPUs other than
        sm_100a. DERIVED from a published H100 measurement (Hazy Research, "Look Ma, No Bubbles", 2025: vLLM/SGLang
        reach at most 50 % of HBM bandwidth decoding Llama-3.2-1B, 2.47 GB of BF16 weights, in "around a hundred"
        kernels per token: (2.47 GB / (0.50 x 3.35 TB/s) - 2.47 GB / (0.90 x 3.35 TB/s)) / 100 = 6.5 us).
    kernel_s_sm100: the same on Blackwell (sm_100a). DERIVED from a published B200 measurement: TensorRT-LLM
        blog 1's batch-1 run without MTP (111 tok/s/user, same software and layout as its 253 tok/s/user GTC run)
        -> (1/111 s - everything else this model counts) / 851 kernels = `KERNEL_S_B200` (`derive_kernel_s()`).
        It is the one input fitted to a serving measurement, and to a point that is not one of the targets.
    comm_latency_s: fixed latency of one NVLink collective beyond its kernel (two synchronisations through the
        NVSwitch). ASSUMED (5 us); no published per-collective figure for B200 was found.
    ep_imbalance_cv: systematic spread of routed tokens across expert-parallel ranks (hot experts), as a coefficient
        of variation at EP32 without EPLB. PUBLISHED: TensorRT-LLM blog 4, Table 1 (DeepSeek-R1 on 32 GB200s, no
        EPLB): std 491.6 of a mean 1,024 tokens per rank -> 0.48 (hottest rank 1.56x more than the mean). For
        `moe_ep` ranks the model scales it by sqrt(moe_ep / 32) (DERIVED, ASSUMING independent rank loads: an EP8
        rank holds the experts of 4 EP32 ranks) and adds it to the multinomial noise; the hottest rank of E[max of
        moe_ep normals] sets the expert FLOPs and the all-to-all. Assumed to transfer from that dataset to others.
    adp_schedule: how prefills land on attention-DP groups. 'random': each group starts new requests at random
        (Poisson) and a step waits for the group with the most prefills (DERIVED). 'lockstep': all groups
        prefill in the same steps, as fixed-length synthetic requests started together do (no waiting).
        'measured' (default): lockstep work, then the step divided by 0.649 — PUBLISHED: TensorRT-LLM blog 10,
        DeepSeek-V3 on 8 GB200s, ADP8 EP8, round-robin scheduling on a real (long-tail) dataset reached 25,664
        of 39,552 tok/s, its perfectly balanced speed ("SOL TPS"). Only matters when attention is data-parallel.
    kv_attention / mtp / prefill / kernels / comm: switch the KV-cache reads and attention FLOPs, multi-token
        prediction, in-flight prefill, per-kernel cost and communication on or off (for the waterfall).
    """

    bw_frac: float = 0.90
    gemm_bw_frac: float = field(default_factory=lambda: round(deepgemm_efficiency("decode"), 3))
    gemm_frac: dict[str, float] = field(default_factory=lambda: {"fp4": 0.885, "fp8": 0.912, "bf16": 0.942})
    prefill_gemm_frac: float = field(default_factory=lambda: round(deepgemm_efficiency("prefill"), 3))
    attn_frac: float = 0.59
    attn_frac_sm100: float = 350 / 2250
    prefill_attn_frac_sm100: float = 1460 / 2250
    nvlink_frac: float = 0.95
    kernel_s: float = 6.5e-6
    kernel_s_sm100: float = KERNEL_S_B200
    comm_latency_s: float = 5e-6
    ep_imbalance_cv: float = 491.6 / 1024
    adp_schedule: str = "measured"
    kv_attention: bool = True
    mtp: bool = True
    prefill: bool = True
    kernels: bool = True
    comm: bool = True

    def __post_init__(self) -> None:
        for f in ("bw_frac", "gemm_bw_frac", "prefill_gemm_frac", "attn_frac", "attn_frac_sm100",
                  "prefill_attn_frac_sm100", "nvlink_frac"):
            v = getattr(self, f)
            if not 0 < v <= 1:
                raise ValueError(f"Factors.{f} is a fraction of a peak: it must be in (0, 1], got {v!r}")
        for p, v in self.gemm_frac.items():
            if p not in hw.PRECISIONS or not 0 < v <= 1:
                raise ValueError(f"Factors.gemm_frac[{p!r}]={v!r}: keys must be in {hw.PRECISIONS}, values in (0, 1]")
        if self.adp_schedule not in ADP_SCHEDULES:
            raise ValueError(f"Factors.adp_schedule must be one of {', '.join(ADP_SCHEDULES)}, "
                             f"got {self.adp_schedule!r}")
        for f in ("kernel_s", "kernel_s_sm100", "comm_latency_s", "ep_imbalance_cv"):
            if getattr(self, f) < 0:
                raise ValueError(f"Factors.{f} must be >= 0, got {getattr(self, f)!r}")

    @classmethod
    def naive(cls) -> Factors:
        """The plain roofline: peak bandwidth and FLOP/s, weights only, no overheads, no MTP, no prefill."""
        return cls(bw_frac=1.0, gemm_bw_frac=1.0, gemm_frac={"fp4": 1.0, "fp8": 1.0, "bf16": 1.0},
                   prefill_gemm_frac=1.0, attn_frac=1.0, attn_frac_sm100=1.0, prefill_attn_frac_sm100=1.0,
                   nvlink_frac=1.0, kernel_s=0.0, kernel_s_sm100=0.0, comm_latency_s=0.0, ep_imbalance_cv=0.0,
                   adp_schedule="lockstep", kv_attention=False, mtp=False, prefill=False, kernels=False, comm=False)

    def with_(self, **changes) -> Factors:
        """A copy with some factors changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Workload:
    """Requests: input (ISL) and output (OSL) lengths in tokens, and MTP draft tokens per step."""

    isl: int = 1024
    osl: int = 2048
    mtp_drafts: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.isl, int) or self.isl <= 0 or not isinstance(self.osl, int) or self.osl <= 0:
            raise ValueError(f"Workload: isl and osl must be positive ints, got {self.isl!r}, {self.osl!r}")
        if self.mtp_drafts not in MTP_ACCEPTED:
            raise ValueError(f"Workload.mtp_drafts must be one of {sorted(MTP_ACCEPTED)} (published acceptance "
                             f"data), got {self.mtp_drafts!r}")

    @property
    def accepted(self) -> float:
        """Tokens accepted per step (published, see MTP_ACCEPTED)."""
        return MTP_ACCEPTED[self.mtp_drafts]


# --------------------------------------------------------------------------------------------------------------
# Counting: parameters, bytes, experts touched
# --------------------------------------------------------------------------------------------------------------
def unique_experts(num_experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts one MoE layer reads for `tokens` tokens routed independently and uniformly.

    Each expert is missed by one token with probability 1 - top_k/num_experts, so
    E[unique] = num_experts * (1 - (1 - top_k/num_experts)^tokens). Taught in lab 08, step 3.
    """
    ints = isinstance(num_experts, int) and isinstance(top_k, int)
    if not ints or num_experts <= 0 or not 0 < top_k <= num_experts:
        raise ValueError(f"unique_experts: need ints 0 < top_k <= num_experts, got {top_k!r}, {num_experts!r}")
    if tokens < 0:
        raise ValueError(f"unique_experts: tokens must be >= 0, got {tokens!r}")
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
    p = component_params(cfg)
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"]
            + p["routed_experts"] * cfg.top_k // cfg.num_experts)


def kv_bytes_per_token(cfg: DeepSeekMoEConfig = DEEPSEEK_V3, kv_cache: str = "bf16") -> float:
    """Bytes of MLA latent cache one token keeps: num_layers x (kv_lora_rank + qk_rope_head_dim) elements."""
    if kv_cache not in ("bf16", "fp8"):
        raise ValueError(f"kv_cache must be 'bf16' or 'fp8', got {kv_cache!r}")
    return cfg.num_layers * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * KV_BYTES[kv_cache]


def weight_bytes_per_gpu(layout: Layout, recipe: Recipe = RECIPE_NVFP4, cfg: DeepSeekMoEConfig = DEEPSEEK_V3,
                         include_mtp: bool = True) -> dict[str, float]:
    """Bytes of weights each GPU stores, per component, under `layout` (attention-side parts split over attn_tp)."""
    layout.check(cfg)
    p = component_params(cfg)
    tp = layout.attn_tp
    out = {
        "attention": p["attention"] * recipe.bytes("attention") / tp,
        "dense_ffn": p["dense_ffn"] * recipe.bytes("dense_ffn") / tp,
        "shared_expert": p["shared_expert"] * recipe.bytes("shared_expert") / tp,
        "routed_experts": p["routed_experts"] * recipe.bytes("routed_experts") / layout.num_gpus,
        "router": p["router"] * recipe.bytes("router"),
        "embedding": p["embedding"] * recipe.bytes("embedding") / tp,
        "head": p["head"] * recipe.bytes("head") / tp,
    }
    if include_mtp:
        out["mtp"] = p["mtp"] * recipe.bytes("mtp") / layout.num_gpus
    return out


# --------------------------------------------------------------------------------------------------------------
# The step model
# --------------------------------------------------------------------------------------------------------------
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


def _spec(system) -> hw.GPUSpec:
    return hw.get_spec(system)


def _peak(spec: hw.GPUSpec, fmt: str) -> float:
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
    """FLOP/s of MLA decode attention. On sm_100a the published figure (FlashMLA, 350 TFLOP/s) was measured with an
    FP8 cache and BF16 math, so it is a fraction of the BF16 peak whatever the cache; elsewhere an FP8 cache computes
    at the FP8 peak times the same fraction."""
    fp8 = recipe.kv_cache == "fp8" and "fp8" in spec.peak_tflops and spec.arch != "sm_100a"
    return spec.peak("fp8" if fp8 else "bf16") * _attn_frac(spec, f)


def _kernel_s(spec: hw.GPUSpec, f: Factors) -> float:
    """Fixed cost per dependent kernel: the B200-derived figure on sm_100a, the H100-derived one elsewhere."""
    return f.kernel_s_sm100 if spec.arch == "sm_100a" else f.kernel_s


def _check_recipe(spec: hw.GPUSpec, recipe: Recipe) -> None:
    for f in fields(recipe):
        if f.name in ("name", "kv_cache"):
            continue
        _peak(spec, getattr(recipe, f.name))


def max_concurrency(system="B200", layout: Layout = LAYOUT_MAX_THROUGHPUT, recipe: Recipe = RECIPE_NVFP4,
                    workload: Workload = Workload(), cfg: DeepSeekMoEConfig = DEEPSEEK_V3,
                    activation_gb: float = 5.0, kv_fraction: float = 0.85) -> int:
    """Most requests the node can hold: KV space per GPU / KV reserved per request (ISL + OSL tokens).

    Free memory = HBM - weights - `activation_gb` (workspace; ~5 GB so that weights + activations make the
    "about 80 GB" per B200 GPU of TensorRT-LLM blog 3 — derived); the KV pool takes `kv_fraction` of it
    (TensorRT-LLM's kv_cache_free_gpu_mem_fraction, 0.85 in the published max-throughput command). Under attention
    TP every GPU of a group holds the latent cache of all the group's requests (MLA's latent is shared by heads).
    Raises ValueError when the weights alone do not fit. Taught in lab 08, step 4.
    """
    spec = _spec(system)
    free = _free_kv_bytes(spec, layout, recipe, cfg, workload, activation_gb, kv_fraction)
    per_req = (workload.isl + workload.osl + workload.mtp_drafts) * _kv_tok(cfg, recipe, workload)
    return int(free // per_req) * layout.attn_dp


def _kv_tok(cfg: DeepSeekMoEConfig, recipe: Recipe, workload: Workload) -> float:
    """KV bytes per token, plus the MTP module's own layer of cache when MTP is used."""
    kv = kv_bytes_per_token(cfg, recipe.kv_cache)
    if workload.mtp_drafts:
        kv *= (cfg.num_layers + cfg.num_mtp_layers) / cfg.num_layers
    return kv


def _free_kv_bytes(spec, layout, recipe, cfg, workload, activation_gb, kv_fraction) -> float:
    if not 0 < kv_fraction <= 1:
        raise ValueError(f"kv_fraction must be in (0, 1], got {kv_fraction!r}")
    w = sum(weight_bytes_per_gpu(layout, recipe, cfg, include_mtp=workload.mtp_drafts > 0).values())
    hbm = spec.hbm_gb * 1e9
    need = w + activation_gb * 1e9
    if need > hbm:
        raise ValueError(f"{cfg.name} with {recipe.name} does not fit {spec.name} x{layout.num_gpus} "
                         f"({layout.describe()}): weights {w / 1e9:.1f} GB + activations {activation_gb:.1f} GB "
                         f"per GPU > {spec.hbm_gb:.0f} GB HBM, short by {(need - hbm) / 1e9:.1f} GB per GPU")
    return (hbm - need) * kv_fraction


def decode_step(system="B200", layout: Layout = LAYOUT_MIN_LATENCY, recipe: Recipe = RECIPE_NVFP4,
                concurrency: int = 1, workload: Workload = Workload(mtp_drafts=3), factors: Factors = Factors(),
                cfg: DeepSeekMoEConfig = DEEPSEEK_V3, activation_gb: float = 5.0,
                kv_fraction: float = 0.85) -> StepResult:
    """Model one average decode step of `concurrency` requests on `system` x layout.num_gpus.

    Per GPU: each kernel group costs max(bytes / (bw_frac x HBM), FLOPs / (frac x peak)); add `kernel_s` per
    dependent kernel, NVLink collectives (latency + bytes / (nvlink_frac x one-way NVLink)), MTP draft passes,
    and the expected extra time that in-flight prefill adds to a step (the slowest attention group sets the pace).
    Raises ValueError if the layout does not divide the model or the requests' KV cache does not fit in HBM.
    Taught in lab 08, steps 5-6.
    """
    spec = _spec(system)
    layout.check(cfg)
    _check_recipe(spec, recipe)
    if not isinstance(concurrency, int) or concurrency <= 0:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    if concurrency % layout.attn_dp:
        raise ValueError(f"concurrency {concurrency} does not split evenly over {layout.attn_dp} attention-DP "
                         f"groups ({concurrency} % {layout.attn_dp} = {concurrency % layout.attn_dp})")
    if layout.num_gpus > 1 and not spec.nvlink_tbps:
        raise ValueError(f"{spec.name} has no NVLink in bwkit.hw: a {layout.num_gpus}-GPU layout needs one")
    f = factors
    use_mtp = f.mtp and workload.mtp_drafts > 0
    drafts = workload.mtp_drafts if use_mtp else 0
    accepted = workload.accepted if use_mtp else 1.0

    # --- capacity -------------------------------------------------------------------------------------------
    free = _free_kv_bytes(spec, layout, recipe, cfg, workload, activation_gb, kv_fraction)
    kv_tok = _kv_tok(cfg, recipe, workload)
    per_req = (workload.isl + workload.osl + workload.mtp_drafts) * kv_tok
    reqs_per_group = concurrency // layout.attn_dp
    kv_need = reqs_per_group * per_req
    if kv_need > free:
        cap = int(free // per_req) * layout.attn_dp
        raise ValueError(f"concurrency {concurrency} does not fit on {spec.name} x{layout.num_gpus} "
                         f"({layout.describe()}): its KV cache needs {kv_need / 1e9:.1f} GB per GPU, the KV pool "
                         f"has {free / 1e9:.1f} GB; short by {(kv_need - free) / 1e9:.1f} GB "
                         f"(max concurrency {cap})")

    bw = spec.bandwidth * f.bw_frac                                 # streaming reads (KV cache)
    wbw = spec.bandwidth * f.gemm_bw_frac                           # weight-streaming GEMMs at decode sizes
    kernel_s = _kernel_s(spec, f)
    nvl = (spec.nvlink_tbps or 0) * 1e12 / 2 * f.nvlink_frac        # one direction per GPU
    p = component_params(cfg)
    tp, dp, G = layout.attn_tp, layout.attn_dp, layout.num_gpus
    q = 1 + drafts                                                  # tokens per request in the main forward
    t_group = reqs_per_group * q                                    # tokens an attention group processes
    t_sys = concurrency * q                                         # tokens the whole node routes per layer
    ctx = workload.isl + workload.osl / 2                           # average context during decode
    L, Ld, Lm = cfg.num_layers, cfg.num_dense_layers, cfg.num_moe_layers
    expert_params = 3 * cfg.hidden * cfg.expert_inter

    times: dict[str, float] = {}
    nbytes: dict[str, float] = {}
    flops: dict[str, float] = {}

    def gemm_time(b: float, fl: float, fmt: str) -> float:
        frac = f.gemm_frac[MATH_PRECISION[fmt]]
        return max(b / wbw, fl / (_peak(spec, fmt) * frac))

    # attention-side linears (split over attn_tp; every group computes its own tokens). The Fuse_A GEMM
    # (wq_a + wkv_a) is replicated on every GPU of a TP group, as in TensorRT-LLM blog 1 ("Fuse_A GEMM: DP8").
    fuse_a = L * (_mla_params(cfg)["wq_a"] + _mla_params(cfg)["wkv_a"])
    att_params = fuse_a + (p["attention"] - fuse_a) / tp
    b = att_params * recipe.bytes("attention")
    fl = 2 * t_group * att_params
    nbytes["attention weights"], flops["attention linear"] = b, fl
    times["attention linear"] = gemm_time(b, fl, recipe.attention)
    b = (p["dense_ffn"] * recipe.bytes("dense_ffn") + p["shared_expert"] * recipe.bytes("shared_expert")) / tp
    fl = 2 * t_group * (p["dense_ffn"] + p["shared_expert"]) / tp
    nbytes["dense FFN + shared expert"], flops["dense FFN + shared expert"] = b, fl
    times["dense FFN + shared expert"] = gemm_time(b, fl, recipe.dense_ffn)
    b = p["head"] * recipe.bytes("head") / tp + p["router"] * recipe.bytes("router")
    fl = 2 * t_group * (p["head"] / tp + p["router"])
    nbytes["head + router"], flops["head + router"] = b, fl
    times["head + router"] = gemm_time(b, fl, recipe.head)

    # routed experts: distinct experts touched, split over EP groups (max group) and TP shards
    touched = unique_experts(cfg.num_experts, cfg.top_k, t_sys)
    ep = layout.moe_ep
    per_group = touched / ep
    p_touch = touched / cfg.num_experts
    sd = math.sqrt(cfg.num_experts / ep * p_touch * (1 - p_touch))
    touched_max = min(cfg.num_experts / ep, per_group + expected_max_normal(ep) * sd)
    pairs = t_sys * cfg.top_k / ep
    cv_ep = f.ep_imbalance_cv * math.sqrt(ep / EP_IMBALANCE_REF) if ep > 1 else 0.0   # hot-expert spread
    hot = 1 + expected_max_normal(ep) * cv_ep                       # hottest rank / mean, systematic part
    pairs_max = pairs + expected_max_normal(ep) * math.sqrt(
        t_sys * cfg.top_k * (1 / ep) * (1 - 1 / ep) + (cv_ep * pairs) ** 2)
    b = Lm * touched_max * expert_params * recipe.bytes("routed_experts") / layout.moe_tp
    fl = Lm * 2 * pairs_max * expert_params / layout.moe_tp
    nbytes["routed experts"], flops["routed experts"] = b, fl
    times["routed experts"] = gemm_time(b, fl, recipe.routed_experts)

    # KV cache reads and absorbed-MLA attention over the context
    if f.kv_attention:
        b = reqs_per_group * ctx * kv_bytes_per_token(cfg, recipe.kv_cache)
        per_tok = 2 * (cfg.num_heads / tp) * ctx * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
        fl = L * t_group * per_tok
        nbytes["KV cache"], flops["attention core"] = b, fl
        times["KV cache + attention core"] = max(b / bw, fl / _attn_flops(spec, recipe, f))

    # fixed cost per dependent kernel (counted from the modules of one layer in TensorRT-LLM blog 1)
    n_kernels = 0
    if f.kernels:
        n_kernels = L * KERNELS["attention"] + Lm * KERNELS["moe"] + Ld * KERNELS["dense_ffn"] + KERNELS["head"]
        if dp > 1:
            n_kernels += Lm * KERNELS["all_to_all"]
        times["kernel fixed cost"] = n_kernels * kernel_s

    # NVLink communication
    if f.comm and G > 1:
        t = 0.0
        ar_bytes = t_group * cfg.hidden * 2                            # bf16 activations
        if tp > 1:                                                     # one-shot all-reduce after attention
            t += L * (f.comm_latency_s + (tp - 1) * ar_bytes / nvl)
            t += Ld * (f.comm_latency_s + (tp - 1) * ar_bytes / nvl)   # ... and after each dense FFN
        if dp > 1:                                                     # EP dispatch (fp4/fp8) + combine (bf16)
            remote = (G - 1) * (1 - (1 - 1 / G) ** cfg.top_k)          # distinct remote GPUs per token
            disp = t_group * remote * cfg.hidden * STORAGE_BYTES[recipe.routed_experts]
            comb = t_group * remote * cfg.hidden * 2
            t += Lm * (2 * f.comm_latency_s + hot * (disp + comb) / nvl)   # the hottest rank receives most
            if tp > 1:
                t += Lm * (f.comm_latency_s + (tp - 1) * ar_bytes / nvl)
        else:                                                          # tokens replicated: all-reduce MoE out
            t += Lm * (f.comm_latency_s + (G - 1) * ar_bytes / nvl)
        times["NVLink communication"] = t

    # MTP: `drafts` autoregressive passes through the MTP module (1 token per request each) + head
    if drafts:
        mla = p["attention"] / L
        mtp_expert_touched = unique_experts(cfg.num_experts, cfg.top_k, concurrency)
        b_pass = (mla * recipe.bytes("mtp") / tp
                  + (mtp_expert_touched + cfg.num_shared_experts) * expert_params * recipe.bytes("mtp") / G
                  + 2 * cfg.hidden * cfg.hidden * recipe.bytes("mtp") / tp
                  + p["head"] * recipe.bytes("head") / tp)
        fl_pass = 2 * reqs_per_group * (mla + 2 * cfg.hidden ** 2 + p["head"]) / tp \
            + 2 * concurrency * (cfg.top_k + cfg.num_shared_experts) * expert_params / G
        t_pass = gemm_time(b_pass, fl_pass, recipe.mtp)
        if f.kv_attention:                                         # the MTP layer attends over its own cache
            kv_b = reqs_per_group * ctx * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * KV_BYTES[recipe.kv_cache]
            kv_fl = reqs_per_group * 2 * (cfg.num_heads / tp) * ctx * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
            b_pass += kv_b
            fl_pass += kv_fl
            t_pass += max(kv_b / bw, kv_fl / _attn_flops(spec, recipe, f))
        if f.kernels:
            t_pass += (KERNELS["attention"] + KERNELS["moe"] + KERNELS["head"] + 2) * kernel_s
        if f.comm and G > 1:
            t_pass += 2 * (f.comm_latency_s + (G - 1) * reqs_per_group * cfg.hidden * 2 / nvl)
        nbytes["MTP draft passes"] = drafts * b_pass
        flops["MTP draft passes"] = drafts * fl_pass
        times["MTP draft passes"] = drafts * t_pass

    # in-flight prefill: each request is prefilled once per osl/accepted steps; groups wait for the slowest
    if f.prefill:
        t_ctx = _prefill_time(spec, layout, recipe, cfg, workload, f)
        lam = concurrency * accepted / workload.osl                   # new requests per step (steady state)
        if f.adp_schedule == "random" or dp == 1:
            times["prefill share"] = t_ctx * _expected_max_poisson(lam / dp, dp)
        else:                                                       # every group prefills in the same steps
            times["prefill share"] = t_ctx * lam / dp
        if f.adp_schedule == "measured" and dp > 1:                 # blog 10: round-robin reached 64.9 % of balance
            times["ADP imbalance (measured)"] = sum(times.values()) * (1 / ADP_ROUND_ROBIN_BALANCE - 1)

    weights_gb = sum(weight_bytes_per_gpu(layout, recipe, cfg, include_mtp=drafts > 0).values()) / 1e9
    notes = [f"{n_kernels} dependent kernels per step" if f.kernels else "kernel cost off"]
    return StepResult(spec.name, layout, recipe, workload, concurrency, times, nbytes, flops, touched, accepted,
                      weights_gb, kv_need / 1e9, notes)


# Dependent kernels per layer on the critical path, counted from the modules of a decode iteration in TensorRT-LLM
# tech blog 1 ("Everything in one diagram"): attention = Fuse_A GEMM, grouped RMSNorm, UQ_QR GEMM, UK BGEMM,
# concat KV + RoPE, MLA generation kernel, UV BGEMM, WO GEMM, fused all-reduce + RMSNorm + quantize (9);
# MoE = router GEMM, top-k, expert FC1 (+ activation), FC2, fused reduce + all-reduce + RMSNorm (5; the shared
# expert overlaps on a second stream); dense FFN = FC1, FC2, fused all-reduce + norm (3); head = norm, GEMM,
# sampling (3); all-to-all = dispatch + combine (2) when attention is data-parallel.
# EP size at which Factors.ep_imbalance_cv was measured (TensorRT-LLM blog 4, Table 1: EP32, no EPLB).
EP_IMBALANCE_REF = 32

KERNELS: dict[str, int] = {"attention": 9, "moe": 5, "dense_ffn": 3, "head": 3, "all_to_all": 2}


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


def _prefill_time(spec, layout, recipe, cfg, workload, f: Factors) -> float:
    """Seconds one attention group spends prefilling one request (compute-bound; experts spread over EP)."""
    p = component_params(cfg)
    n, tp, G = workload.isl, layout.attn_tp, layout.num_gpus
    expert_params = 3 * cfg.hidden * cfg.expert_inter

    def c(fl: float, fmt: str) -> float:
        return fl / (_peak(spec, fmt) * f.prefill_gemm_frac)

    t = c(2 * n * p["attention"] / tp, recipe.attention)
    causal = cfg.num_layers * 2 * (cfg.num_heads / tp) * (n * n / 2) * (
        cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim)
    t += causal / (spec.peak("bf16") * _attn_frac(spec, f, "prefill"))
    t += c(2 * n * (p["dense_ffn"] + p["shared_expert"]) / tp, recipe.dense_ffn)
    t += c(2 * n * cfg.num_moe_layers * cfg.top_k * expert_params / G, recipe.routed_experts)
    return t


def min_latency(system="B200", recipe: Recipe = RECIPE_NVFP4, layout: Layout = LAYOUT_MIN_LATENCY,
                mtp_drafts: int = 3, factors: Factors = Factors(), **kw) -> StepResult:
    """Minimum-latency point: concurrency 1, ISL 1K / OSL 2K, TP layout, MTP drafts (default 3)."""
    return decode_step(system, layout, recipe, 1, Workload(1024, 2048, mtp_drafts), factors, **kw)


def derive_kernel_s(tokens_per_s_user: float = PUBLISHED_MTP_B200[0], system="B200",
                    layout: Layout = LAYOUT_MIN_LATENCY, factors: Factors | None = None) -> float:
    """Per-kernel fixed cost (seconds) at which the batch-1, no-MTP model step matches a published tok/s/user.

    The step time is linear in it: step = rest + n_kernels x kernel_s, so kernel_s = (1/tps - rest) / n_kernels.
    Raises ValueError if the published figure is faster than the model without any kernel cost (nothing to fit).
    Taught in lab 08, step 5.
    """
    if not tokens_per_s_user > 0:
        raise ValueError(f"derive_kernel_s: tokens_per_s_user must be > 0, got {tokens_per_s_user!r}")
    f = (factors or Factors()).with_(kernel_s=0.0, kernel_s_sm100=0.0, kernels=True)
    r = min_latency(system, layout=layout, mtp_drafts=0, factors=f)
    one = f.with_(kernel_s=1e-6, kernel_s_sm100=1e-6)
    n = round((min_latency(system, layout=layout, mtp_drafts=0, factors=one).step_s - r.step_s) / 1e-6)
    gap = 1.0 / tokens_per_s_user - r.step_s
    if gap <= 0:
        raise ValueError(f"derive_kernel_s: {tokens_per_s_user} tok/s/user is faster than the model without kernel "
                         f"costs ({r.tokens_per_s_user:.1f}); there is no per-kernel cost to derive")
    return gap / n


def max_throughput(system="B200", recipe: Recipe = RECIPE_NVFP4, layout: Layout = LAYOUT_MAX_THROUGHPUT,
                   concurrency: int | None = None, factors: Factors = Factors(), mtp_drafts: int = 0,
                   **kw) -> StepResult:
    """Maximum-throughput point: the largest concurrency HBM holds (or `concurrency`), attention DP + EP."""
    wl = Workload(1024, 2048, mtp_drafts)
    if concurrency is None:
        keep = {k: v for k, v in kw.items() if k in ("cfg", "activation_gb", "kv_fraction")}
        concurrency = max_concurrency(system, layout, recipe, wl, **keep)
        if concurrency < layout.attn_dp:
            raise ValueError(f"no request fits on {system}: max concurrency is {concurrency}")
    return decode_step(system, layout, recipe, concurrency, wl, factors, **kw)


def pareto(system="B200", recipe: Recipe = RECIPE_NVFP4, layouts: tuple[Layout, ...] | None = None,
           mtp_options: tuple[int, ...] = (0, 3), factors: Factors = Factors(), points: int = 14,
           **kw) -> list[StepResult]:
    """Operating points from concurrency 1 up to the HBM limit for each layout and MTP setting.

    Returns every point; `pareto_front(points)` keeps the ones no other point beats on both tok/s/user and
    tok/s/GPU. Concurrencies are powers of two times the DP width, plus the HBM limit. Taught in lab 08, step 7.
    """
    layouts = layouts or (LAYOUT_MIN_LATENCY, Layout(8, 8, 1, 8, name="TP8 EP8"), LAYOUT_MAX_THROUGHPUT)
    out = []
    for lay in layouts:
        for d in mtp_options:
            wl = Workload(1024, 2048, d)
            try:
                cap = max_concurrency(system, lay, recipe, wl)
            except ValueError:
                continue
            cs = sorted({lay.attn_dp * 2 ** i for i in range(points) if lay.attn_dp * 2 ** i <= cap} | {cap})
            for c in cs:
                if c >= lay.attn_dp and c % lay.attn_dp == 0:
                    out.append(decode_step(system, lay, recipe, c, wl, factors, **kw))
    return out


def pareto_front(results: list[StepResult]) -> list[StepResult]:
    """The points not dominated on (tokens/s/user, tokens/s/GPU), sorted by tokens/s/user."""
    pts = sorted(results, key=lambda r: (-r.tokens_per_s_user, -r.tokens_per_s_gpu))
    front, best = [], -1.0
    for r in pts:
        if r.tokens_per_s_gpu > best:
            front.append(r)
            best = r.tokens_per_s_gpu
    return sorted(front, key=lambda r: r.tokens_per_s_user)


# The waterfall: factors switched on one at a time, each with its source (lab 08, step 5).
_DEFAULT = Factors()
WATERFALL_STEPS: list[tuple[str, dict, str]] = [
    ("naive roofline (weights at peak HBM, no overheads)", {}, "bwkit.hw datasheet peaks"),
    ("achievable HBM and Tensor Core fractions", {"bw_frac": 0.90, "gemm_bw_frac": 0.90,
                                                  "gemm_frac": {"fp4": 0.885, "fp8": 0.912, "bf16": 0.942}},
     "measured H200 copy 4.3/4.8 TB/s; CUTLASS 3.8 B200 GEMM % of peak"),
    ("GEMMs on DeepSeek's own shapes (DeepGEMM)",
     {"gemm_bw_frac": _DEFAULT.gemm_bw_frac, "prefill_gemm_frac": _DEFAULT.prefill_gemm_frac},
     "DeepGEMM README, H800: M=64 at 0.73 of HBM, M=4096 at 0.57 of FP8 peak"),
    ("KV-cache reads + MLA attention FLOPs", {"kv_attention": True, "attn_frac": 0.59, "attn_frac_sm100": 0.59,
                                              "prefill_attn_frac_sm100": 0.59},
     "MLA: 61 x 576 elements/token; FlashMLA 580/989 TFLOP/s (H800), assumed to transfer"),
    ("fixed cost per dependent kernel", {"kernels": True, "kernel_s": _DEFAULT.kernel_s,
                                         "kernel_s_sm100": _DEFAULT.kernel_s_sm100},
     "derived from blog 1's B200 run without MTP (111 tok/s/user); H100: Hazy Research; kernel list of blog 1"),
    ("NVLink all-reduce / all-to-all", {"comm": True, "nvlink_frac": 0.95, "comm_latency_s": 5e-6},
     "NVLink 5 1.8 TB/s bidir; DeepEP 0.95 of link; 5 us latency assumed"),
    ("expert-load imbalance without EPLB", {"ep_imbalance_cv": 491.6 / 1024},
     "TRT-LLM blog 4 Table 1 (EP32: std 491.6/1024), scaled to EP size"),
    ("in-flight prefill (spread evenly over the steps)", {"prefill": True}, "ISL 1K once per request"),
    ("attention-DP imbalance (round-robin scheduler)", {"adp_schedule": "measured"},
     "TRT-LLM blog 10: 8 GB200s, ADP8 EP8, 64.9 % of balanced speed"),
    ("MLA kernels measured on B200 (not H800)",
     {"attn_frac_sm100": 350 / 2250, "prefill_attn_frac_sm100": 1460 / 2250},
     "FlashMLA README: decode 350, prefill 1460 TFLOP/s on B200"),
    ("multi-token prediction (3 drafts, 2.82 accepted)", {"mtp": True}, "TensorRT-LLM blog 1 MTP table"),
]


def waterfall(kind: str = "min_latency", system="B200", recipe: Recipe = RECIPE_NVFP4,
              **kw) -> list[tuple[str, StepResult, str]]:
    """Results with the factors of WATERFALL_STEPS added one at a time (`kind`: 'min_latency' or 'max_throughput').

    For max throughput the concurrency is fixed at the HBM limit of the full model so that each row changes one
    thing; MTP is left off there, as in the published run. Taught in lab 08, steps 5-6.
    """
    if kind not in ("min_latency", "max_throughput"):
        raise ValueError(f"kind must be 'min_latency' or 'max_throughput', got {kind!r}")
    f = Factors.naive()
    rows = []
    conc = None
    if kind == "max_throughput":
        conc = max_concurrency(system, LAYOUT_MAX_THROUGHPUT, recipe, Workload(1024, 2048, 0))
    for label, change, source in WATERFALL_STEPS:
        if kind == "max_throughput" and change.get("mtp"):
            continue
        f = f.with_(**change)
        if kind == "min_latency":
            r = min_latency(system, recipe, factors=f, **kw)
        else:
            r = max_throughput(system, recipe, concurrency=conc, factors=f, **kw)
        rows.append((label, r, source))
    return rows


def predict_systems(systems=("B200", "GB200", "H200", "H100 SXM"), **kw) -> dict[str, dict]:
    """Min-latency and max-throughput predictions per system (NVFP4 recipe where FP4 exists, else FP8).

    A system that cannot hold the model gets {'error': message} instead of numbers. Taught in lab 08, step 8.
    """
    out: dict[str, dict] = {}
    for s in systems:
        spec = _spec(s)
        recipe = RECIPE_NVFP4 if "fp4" in spec.peak_tflops else RECIPE_FP8
        try:
            lat = min_latency(s, recipe, **kw)
            thr = max_throughput(s, recipe, **kw)
            out[spec.name] = {"recipe": recipe.name, "tokens_per_s_user": lat.tokens_per_s_user,
                              "tokens_per_s": thr.tokens_per_s, "concurrency": thr.concurrency,
                              "tokens_per_s_gpu": thr.tokens_per_s_gpu}
        except ValueError as e:
            out[spec.name] = {"recipe": recipe.name, "error": str(e)}
    return out
