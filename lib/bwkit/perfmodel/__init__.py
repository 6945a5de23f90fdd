"""A first-principles serving model of DeepSeek-R1 on NVLink systems (DGX B200, GB200 NVL72, H200, H100 clusters).

The model adds up, per GPU and per decode step, the bytes each kernel reads from HBM (weights per component and
precision, the MLA latent KV cache, non-GEMM activations), the FLOPs it does (linear layers, grouped expert GEMMs
at their tokens per expert, absorbed MLA attention), the communication (tensor-parallel all-reduces, the
expert-parallel all-to-all over NVLink and InfiniBand), a fixed cost per dependent kernel, the in-flight prefill
share and multi-token prediction (MTP). Every efficiency is a named, sourced input in `Factors`, derived from
published kernel and communication measurements (`published`, `derived`); `Factors.naive()` turns them all off.
One input, the B200 per-kernel cost, is derived from a published serving run (batch 1 without MTP), not a target.

    from bwkit import perfmodel as pm
    r = pm.min_latency()            # DGX B200, batch 1, ISL 1K / OSL 2K, TP8 (experts EP4 x TP2), MTP 3
    print(r.summary())              # model ~265 tok/s/user; published (TensorRT-LLM) 253 at GTC 2025
    pm.max_throughput().tokens_per_s          # model ~33,400 tok/s; NVIDIA's GTC 2025 claim: over 30,000
    pm.world_summary()                        # the model against the collected published points

Regimes: aggregated serving (in-flight prefill, `decode_step`), disaggregated decode pools (`decode_pool`) and
prefill pools (`prefill_pool`, optionally streaming weights from host memory), bursts with every request queued at
once (`burst`, TTFT included), Poisson serving with p99 TTFT/TPOT (`serve`, `max_rate`); layouts with redundant
expert slots (EP sizes that do not divide 256), NVL72 and multi-node (InfiniBand) domains, two-batch overlap;
workloads with length spreads; KV caches sized by occupancy ('paged') or reservation. Layouts are checked (heads,
expert slots, expert width and GPUs must divide; TP inside an NVLink domain) and configurations against HBM; what
does not fit raises `ValueError` saying what and by how much. Taught in lab 08.

Submodules, each importing only those above it: `published` (every published number, with its source),
`derived` (factors from published measurements), `parameters` (formats, recipes, layouts, workloads), `factors`
(`Factors` and per-GPU helpers), `counting` (parameters, bytes, experts touched, HBM capacity), `step`
(`StepContext`, `Cost`, `StepResult`), `gemm` and `comm` (GEMM and communication costs), `prefill`, `mtp`,
`decode` (one function per cost term and `decode_step`), `operating` (min latency, max throughput, Pareto,
waterfall, other systems), `regimes` (pools, bursts, Poisson serving) and `against` (the model against the world).
Everything public is re-exported here.
"""

from bwkit.perfmodel.against import CATEGORIES, WorldRow, predict, world_summary, world_table
from bwkit.perfmodel.counting import (
    activation_bytes,
    active_params_per_token,
    component_params,
    expected_max_normal,
    kv_bytes_per_token,
    max_concurrency,
    unique_experts,
    weight_bytes_per_gpu,
)
from bwkit.perfmodel.decode import decode_step
from bwkit.perfmodel.derived import (
    grouped_gemm_efficiency,
    mla_decode_bracket,
    mla_decode_frac,
    prefill_attention_frac_sm100,
    rdma_bandwidth,
)
from bwkit.perfmodel.factors import Factors
from bwkit.perfmodel.operating import (
    WATERFALL_STEPS,
    derive_kernel_s,
    max_throughput,
    min_latency,
    pareto,
    pareto_front,
    predict_systems,
    waterfall,
)
from bwkit.perfmodel.parameters import (
    A2A_MODES,
    ACTIVATION_BYTES,
    ADP_SCHEDULES,
    EP_IMBALANCE_REF,
    KERNEL_S_B200,
    KERNELS,
    KV_BYTES,
    KV_POLICIES,
    LAYOUT_MAX_THROUGHPUT,
    LAYOUT_MIN_LATENCY,
    LAYOUT_MIN_LATENCY_DOCS,
    MATH_PRECISION,
    RECIPE_FP8,
    RECIPE_NVFP4,
    STORAGE_BYTES,
    WORKLOAD_KINDS,
    Layout,
    Recipe,
    Workload,
    deepgemm_efficiency,
)
from bwkit.perfmodel.prefill import (
    PrefillPoolResult,
    _expected_max_poisson,  # noqa: F401  (tests check it against simulation)
    mha_prefill_bytes,
    prefill_pool,
)
from bwkit.perfmodel.published import (
    ADP_BALANCED,
    ADP_ROUND_ROBIN_BALANCE,
    BLOG1_OPTIMISATIONS,
    DEEPEP,
    DEEPGEMM_GROUPED_H800,
    DEEPGEMM_H800,
    EPLB_BALANCE,
    FLASHMLA_H800_TFLOPS,
    FP8_ATTENTION_SPEEDUP,
    H800_FP8_FLOPS,  # noqa: F401  (module-level names before the split, not in __all__)
    H800_HBM_BYTES_S,  # noqa: F401
    KV_FRACTION,
    MLA_DECODE_SM100,
    MLPERF_DEEPSEEK_R1,
    MTP_ACCEPTED,
    PUBLISHED,
    PUBLISHED_MTP_B200,
    WORLD_POINTS,
)
from bwkit.perfmodel.regimes import BurstResult, ServeResult, burst, decode_pool, max_rate, serve
from bwkit.perfmodel.step import POOLS, StepResult

__all__ = [
    "STORAGE_BYTES", "KV_BYTES", "MATH_PRECISION", "MTP_ACCEPTED", "PUBLISHED", "PUBLISHED_MTP_B200",
    "DEEPGEMM_H800", "DEEPGEMM_GROUPED_H800", "deepgemm_efficiency", "grouped_gemm_efficiency", "KERNEL_S_B200",
    "derive_kernel_s", "ADP_SCHEDULES", "ADP_ROUND_ROBIN_BALANCE", "ADP_BALANCED", "FLASHMLA_H800_TFLOPS",
    "MLA_DECODE_SM100", "mla_decode_frac", "mla_decode_bracket", "FP8_ATTENTION_SPEEDUP",
    "prefill_attention_frac_sm100", "DEEPEP", "rdma_bandwidth", "EPLB_BALANCE", "MLPERF_DEEPSEEK_R1",
    "KV_FRACTION", "BLOG1_OPTIMISATIONS", "WORLD_POINTS",
    "Recipe", "RECIPE_NVFP4", "RECIPE_FP8", "Layout", "LAYOUT_MIN_LATENCY", "LAYOUT_MIN_LATENCY_DOCS",
    "LAYOUT_MAX_THROUGHPUT", "A2A_MODES", "Factors", "Workload", "WORKLOAD_KINDS", "KV_POLICIES", "POOLS",
    "StepResult", "ACTIVATION_BYTES",
    "unique_experts", "expected_max_normal", "component_params", "active_params_per_token", "activation_bytes",
    "weight_bytes_per_gpu", "kv_bytes_per_token", "max_concurrency", "decode_step", "min_latency",
    "max_throughput", "pareto", "pareto_front", "waterfall", "WATERFALL_STEPS", "KERNELS", "EP_IMBALANCE_REF",
    "predict_systems", "prefill_pool", "PrefillPoolResult", "mha_prefill_bytes", "decode_pool", "burst",
    "BurstResult", "serve", "max_rate", "ServeResult", "WorldRow", "predict", "world_table", "world_summary",
    "CATEGORIES",
]
