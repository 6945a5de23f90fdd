"""The perfmodel's inputs: number formats, recipes, layouts, every efficiency factor (`Factors`), workloads.

Each input is named and sourced where it is defined; `Factors` validates its values and `Factors.naive()` turns
every efficiency and overhead off (the roofline). The helpers at the end pick the peak, attention efficiency and
per-kernel cost that apply on a given GPU (Blackwell, sm_100a, has its own published figures). Taught in lab 08.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from bwkit import hw
from bwkit.moe import DeepSeekMoEConfig
from bwkit.perfmodel.published import DEEPGEMM_H800, H800_FP8_FLOPS, H800_HBM_BYTES_S, MTP_ACCEPTED

__all__ = [
    "STORAGE_BYTES", "KV_BYTES", "MATH_PRECISION", "deepgemm_efficiency", "Recipe", "RECIPE_NVFP4", "RECIPE_FP8",
    "Layout", "LAYOUT_MIN_LATENCY", "LAYOUT_MIN_LATENCY_DOCS", "LAYOUT_MAX_THROUGHPUT", "KERNEL_S_B200",
    "ADP_SCHEDULES", "KERNELS", "EP_IMBALANCE_REF", "Factors", "Workload",
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
# Dependent kernels per layer on the critical path, counted from the modules of a decode iteration in TensorRT-LLM
# tech blog 1 ("Everything in one diagram"): attention = Fuse_A GEMM, grouped RMSNorm, UQ_QR GEMM, UK BGEMM,
# concat KV + RoPE, MLA generation kernel, UV BGEMM, WO GEMM, fused all-reduce + RMSNorm + quantize (9);
# MoE = router GEMM, top-k, expert FC1 (+ activation), FC2, fused reduce + all-reduce + RMSNorm (5; the shared
# expert overlaps on a second stream); dense FFN = FC1, FC2, fused all-reduce + norm (3); head = norm, GEMM,
# sampling (3); all-to-all = dispatch + combine (2) when attention is data-parallel.
KERNELS: dict[str, int] = {"attention": 9, "moe": 5, "dense_ffn": 3, "head": 3, "all_to_all": 2}
# EP size at which Factors.ep_imbalance_cv was measured (TensorRT-LLM blog 4, Table 1: EP32, no EPLB).
EP_IMBALANCE_REF = 32
# Attention-DP scheduling models (Factors.adp_schedule); blog 10's measured balance is ADP_ROUND_ROBIN_BALANCE.
ADP_SCHEDULES = ("random", "lockstep", "measured")


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


# The default factors, one instance shared by every function that takes `factors` (and by WATERFALL_STEPS).
_DEFAULT_FACTORS = Factors()


# --------------------------------------------------------------------------------------------------------------
# Which peak, attention efficiency and per-kernel cost apply on a given GPU
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
    """FLOP/s of MLA decode attention. On sm_100a the published figure (FlashMLA, 350 TFLOP/s) was measured with an
    FP8 cache and BF16 math, so it is a fraction of the BF16 peak whatever the cache; elsewhere an FP8 cache computes
    at the FP8 peak times the same fraction."""
    fp8 = recipe.kv_cache == "fp8" and "fp8" in spec.peak_tflops and spec.arch != "sm_100a"
    return spec.peak("fp8" if fp8 else "bf16") * _attn_frac(spec, f)


def _kernel_s(spec: hw.GPUSpec, f: Factors) -> float:
    """Fixed cost per dependent kernel: the B200-derived figure on sm_100a, the H100-derived one elsewhere."""
    return f.kernel_s_sm100 if spec.arch == "sm_100a" else f.kernel_s


def _check_recipe(spec: hw.GPUSpec, recipe: Recipe) -> None:
    """Raise ValueError when `spec` has no Tensor Cores for one of the recipe's weight formats."""
    for f in fields(recipe):
        if f.name in ("name", "kv_cache"):
            continue
        _peak(spec, getattr(recipe, f.name))

