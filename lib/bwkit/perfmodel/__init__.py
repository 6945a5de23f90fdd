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

Submodules, each importing only those above it: `published` (published figures with their sources), `parameters`
(formats, recipes, layouts, `Factors`, workloads), `counting` (parameters, bytes, experts touched, HBM capacity),
`prefill` (prefill time), `step` (`StepContext`, `Cost`, `StepResult`), `decode` (one function per cost term and
`decode_step`, which adds them up) and `operating` (min latency, max throughput, Pareto, waterfall, predictions).
Everything public is re-exported here.
"""

from bwkit.perfmodel.counting import (
    active_params_per_token,
    component_params,
    expected_max_normal,
    kv_bytes_per_token,
    max_concurrency,
    unique_experts,
    weight_bytes_per_gpu,
)
from bwkit.perfmodel.decode import decode_step
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
    ADP_SCHEDULES,
    EP_IMBALANCE_REF,
    KERNEL_S_B200,
    KERNELS,
    KV_BYTES,
    LAYOUT_MAX_THROUGHPUT,
    LAYOUT_MIN_LATENCY,
    LAYOUT_MIN_LATENCY_DOCS,
    MATH_PRECISION,
    RECIPE_FP8,
    RECIPE_NVFP4,
    STORAGE_BYTES,
    Factors,
    Layout,
    Recipe,
    Workload,
    deepgemm_efficiency,
)
from bwkit.perfmodel.prefill import _expected_max_poisson  # noqa: F401  (tests check it against simulation)
from bwkit.perfmodel.published import (
    ADP_ROUND_ROBIN_BALANCE,
    DEEPGEMM_H800,
    H800_FP8_FLOPS,  # noqa: F401  (module-level names before the split, not in __all__)
    H800_HBM_BYTES_S,  # noqa: F401
    MTP_ACCEPTED,
    PUBLISHED,
    PUBLISHED_MTP_B200,
)
from bwkit.perfmodel.step import StepResult

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
