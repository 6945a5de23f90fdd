"""Operating points of the perfmodel: min latency, max throughput, the Pareto curve, the waterfall, predictions.

Each is a set of `decode_step` calls: `min_latency` (batch 1, TP, MTP 3) and `max_throughput` (attention DP + EP
at the HBM limit), `pareto` / `pareto_front` between them, `waterfall` (the factors of `WATERFALL_STEPS` added one
at a time), `derive_kernel_s` (the one factor fitted to a published run) and `predict_systems` (other GPUs).
Taught in lab 08, steps 5-8.
"""

from __future__ import annotations

import numbers

from bwkit import hw
from bwkit.kit.args import as_items, as_names, check_number
from bwkit.moe import DEEPSEEK_V3
from bwkit.perfmodel.counting import max_concurrency
from bwkit.perfmodel.decode import decode_step
from bwkit.perfmodel.factors import _DEFAULT_FACTORS, Factors, _spec
from bwkit.perfmodel.parameters import (
    LAYOUT_MAX_THROUGHPUT,
    LAYOUT_MIN_LATENCY,
    RECIPE_FP8,
    RECIPE_NVFP4,
    Layout,
    Recipe,
    Workload,
    check_kinds,
    check_real,
)
from bwkit.perfmodel.published import KV_FRACTION, PUBLISHED_MTP_B200
from bwkit.perfmodel.step import STEP_KW, StepResult, check_context, check_step_kw

__all__ = ["min_latency", "derive_kernel_s", "max_throughput", "pareto", "pareto_front", "WATERFALL_STEPS",
           "waterfall", "predict_systems"]


def min_latency(system: str | hw.GPUSpec = "B200", recipe: Recipe = RECIPE_NVFP4,
                layout: Layout = LAYOUT_MIN_LATENCY, mtp_drafts: int = 3, factors: Factors = _DEFAULT_FACTORS,
                **kw) -> StepResult:
    """Minimum-latency point: concurrency 1, ISL 1K / OSL 2K, TP layout, MTP drafts (default 3)."""
    return decode_step(system, layout, recipe, 1, Workload(1024, 2048, mtp_drafts), factors, **kw)


def derive_kernel_s(tokens_per_s_user: float = PUBLISHED_MTP_B200[0], system: str | hw.GPUSpec = "B200",
                    layout: Layout = LAYOUT_MIN_LATENCY, factors: Factors | None = None) -> float:
    """Per-kernel fixed cost (seconds) at which the batch-1, no-MTP model step matches a published tok/s/user.

    The step time is linear in it: step = rest + n_kernels x kernel_s, so kernel_s = (1/tps - rest) / n_kernels.
    Raises ValueError if the published figure is faster than the model without any kernel cost (nothing to fit).
    Taught in lab 08, step 5.
    """
    check_real("derive_kernel_s: tokens_per_s_user", tokens_per_s_user)
    if not tokens_per_s_user > 0:
        raise ValueError(f"derive_kernel_s: tokens_per_s_user must be > 0, got {tokens_per_s_user!r}")
    check_kinds(layout=layout)
    if factors is not None and not isinstance(factors, Factors):
        raise TypeError(f"derive_kernel_s: factors must be a Factors or None, got {type(factors).__name__}")
    f = (factors or Factors()).with_(kernel_s=0.0, kernel_s_sm100=0.0, kernels=True)
    r = min_latency(system, layout=layout, mtp_drafts=0, factors=f)
    one = f.with_(kernel_s=1e-6, kernel_s_sm100=1e-6)
    n = round((min_latency(system, layout=layout, mtp_drafts=0, factors=one).step_s - r.step_s) / 1e-6)
    gap = 1.0 / tokens_per_s_user - r.step_s
    if gap <= 0:
        raise ValueError(f"derive_kernel_s: {tokens_per_s_user} tok/s/user is faster than the model without kernel "
                         f"costs ({r.tokens_per_s_user:.1f}); there is no per-kernel cost to derive")
    return gap / n


def max_throughput(system: str | hw.GPUSpec = "B200", recipe: Recipe = RECIPE_NVFP4,
                   layout: Layout = LAYOUT_MAX_THROUGHPUT, concurrency: int | None = None,
                   factors: Factors = _DEFAULT_FACTORS, mtp_drafts: int = 0, **kw) -> StepResult:
    """Maximum-throughput point: the largest concurrency HBM holds (or `concurrency`), attention DP + EP.

    The HBM limit reserves ISL + OSL per request (`kv_policy='reserve'`, the default here): TensorRT-LLM's default
    capacity scheduler (GUARANTEED_NO_EVICT) admits a request only if its whole sequence fits. Pass
    kv_policy='paged' for a scheduler that admits by occupancy (and may have to evict).
    """
    wl = Workload(1024, 2048, mtp_drafts)
    kw = {"kv_policy": "reserve", **kw}
    if concurrency is None:
        keep = {k: v for k, v in kw.items() if k in ("cfg", "activation_gb", "kv_fraction", "kv_policy")}
        concurrency = max_concurrency(system, layout, recipe, wl, **keep)
        if concurrency < layout.attn_dp:
            raise ValueError(f"no request fits on {system}: max concurrency is {concurrency}")
    return decode_step(system, layout, recipe, concurrency, wl, factors, **kw)


def pareto(system: str | hw.GPUSpec = "B200", recipe: Recipe = RECIPE_NVFP4,
           layouts: tuple[Layout, ...] | None = None, mtp_options: tuple[int, ...] = (0, 3),
           factors: Factors = _DEFAULT_FACTORS, points: int = 14, **kw) -> list[StepResult]:
    """Operating points from concurrency 1 up to the HBM limit for each layout and MTP setting.

    Returns every point; `pareto_front(points)` keeps the ones no other point beats on both tok/s/user and
    tok/s/GPU. Concurrencies are powers of two times the DP width, plus the HBM limit (reserving ISL + OSL, as
    max_throughput). Taught in lab 08, step 7.
    """
    # The caller's arguments are checked first (a typo raises); only a layout whose weights do not fit is skipped.
    spec = _spec(system)
    check_kinds(recipe=recipe)
    if not isinstance(factors, Factors):
        raise TypeError(f"pareto: factors must be a Factors (e.g. pm.Factors()), got {type(factors).__name__}")
    check_number("pareto: points", points)
    check_step_kw("pareto", kw)
    layouts = _items("pareto: layouts", layouts, Layout, "a Layout") or (
        LAYOUT_MIN_LATENCY, Layout(8, 8, 1, 8, name="TP8 EP8"), LAYOUT_MAX_THROUGHPUT)
    mtp_options = _items("pareto: mtp_options", mtp_options, numbers.Integral, "an int (MTP draft tokens)")
    if not mtp_options:
        raise ValueError("pareto: mtp_options must name at least one MTP setting, e.g. (0, 3)")
    workloads = [Workload(1024, 2048, d) for d in mtp_options]       # raises naming Workload.mtp_drafts
    cfg = kw.get("cfg", DEEPSEEK_V3)
    for lay in layouts:
        check_kinds(layout=lay)
        check_context(spec, lay, recipe, cfg)                          # divides the model, formats, NVLink
    kw = {"kv_policy": "reserve", **kw}
    keep = {k: v for k, v in kw.items() if k in ("cfg", "activation_gb", "kv_fraction", "kv_policy")}
    out, skipped = [], []
    for lay in layouts:
        for wl in workloads:
            try:
                cap = max_concurrency(spec, lay, recipe, wl, **keep)
            except ValueError as e:                                   # the weights alone do not fit this layout
                skipped.append(str(e))
                continue
            cs = sorted({lay.attn_dp * 2 ** i for i in range(points) if lay.attn_dp * 2 ** i <= cap} | {cap})
            for c in cs:
                if c >= lay.attn_dp and c % lay.attn_dp == 0:
                    out.append(decode_step(system, lay, recipe, c, wl, factors, **kw))
    if not out:
        why = "; ".join(dict.fromkeys(skipped)) or "no layout holds even one request per attention-DP group"
        raise ValueError(f"pareto: no operating point fits {spec.name}: {why}")
    return out


def _items(name: str, v, cls: type, what: str) -> tuple:
    """`v` as a tuple: one `cls` (`what`) becomes a 1-tuple, None stays empty, a sequence its items."""
    return () if v is None else tuple(as_items(name, v, isinstance(v, cls) and not isinstance(v, bool), what))


def pareto_front(results: list[StepResult]) -> list[StepResult]:
    """The points not dominated on (tokens/s/user, tokens/s/GPU), sorted by tokens/s/user."""
    results = _items("pareto_front: results", results, StepResult, "a StepResult")
    for r in results:
        if not isinstance(r, StepResult):
            raise TypeError(f"pareto_front: results must be StepResults (e.g. pm.pareto()), got {type(r).__name__}")
    pts = sorted(results, key=lambda r: (-r.tokens_per_s_user, -r.tokens_per_s_gpu))
    front, best = [], -1.0
    for r in pts:
        if r.tokens_per_s_gpu > best:
            front.append(r)
            best = r.tokens_per_s_gpu
    return sorted(front, key=lambda r: r.tokens_per_s_user)


# FlashMLA's dense MLA decode on H800 as a fraction of its BF16 peak (the current README's 660 of 989 TFLOP/s).
_H800_MLA = _DEFAULT_FACTORS.attn_frac
# The waterfall: factors switched on one at a time, each with its source (lab 08, step 5).
WATERFALL_STEPS: list[tuple[str, dict, str]] = [
    ("naive roofline (weights at peak HBM, no overheads)", {}, "bwkit.hw datasheet peaks"),
    ("achievable HBM and Tensor Core fractions", {"bw_frac": 0.90, "gemm_bw_frac": 0.90,
                                                  "gemm_frac": {"fp4": 0.885, "fp8": 0.912, "bf16": 0.942}},
     "measured H200 copy 4.3/4.8 TB/s; CUTLASS 3.8 B200 GEMM % of peak"),
    ("GEMMs on DeepSeek's own shapes (DeepGEMM)",
     {"gemm_bw_frac": _DEFAULT_FACTORS.gemm_bw_frac, "prefill_gemm_frac": _DEFAULT_FACTORS.prefill_gemm_frac,
      "grouped_gemm": True},
     "DeepGEMM README, H800: M=64 at 0.73 of HBM, M=4096 at 0.57 of FP8 peak, grouped experts by rows per expert"),
    ("KV-cache reads + MLA attention FLOPs", {"kv_attention": True, "attn_frac": _H800_MLA,
                                              "attn_frac_sm100": _H800_MLA, "prefill_attn_frac_sm100": _H800_MLA},
     "MLA: 61 x 576 elements/token; FlashMLA 660/989 TFLOP/s (H800, README since 2025-04-22), assumed to transfer"),
    ("activation traffic of the non-GEMM kernels", {"activations": True},
     "counted: norms, residuals, expert permute / activation / combine tensors (ACTIVATION_BYTES)"),
    ("fixed cost per dependent kernel", {"kernels": True, "kernel_s": _DEFAULT_FACTORS.kernel_s,
                                         "kernel_s_sm100": _DEFAULT_FACTORS.kernel_s_sm100},
     "derived from blog 1's B200 run without MTP (111 tok/s/user); H100: Hazy Research; kernel list of blog 1"),
    ("NVLink all-reduce / all-to-all", {"comm": True, "nvlink_frac": _DEFAULT_FACTORS.nvlink_frac,
                                        "nvlink_frac_sm100": _DEFAULT_FACTORS.nvlink_frac_sm100,
                                        "comm_latency_s": 5e-6},
     "NVLink 5 1.8 TB/s bidir; DeepEP V2 on B200 0.71 of the link (V1 on H800 0.95); 5 us latency assumed"),
    ("expert-load imbalance without EPLB", {"ep_imbalance_cv": _DEFAULT_FACTORS.ep_imbalance_cv},
     "TRT-LLM blog 4 Table 1 (EP32: std 491.6/1024), scaled to EP size"),
    ("in-flight prefill (its share of each step)", {"prefill": True},
     "ISL 1K once per request; its expert work lands on every GPU"),
    ("attention-DP imbalance (round-robin scheduler)", {"adp_schedule": "auto"},
     "TRT-LLM blog 10: 8 GB200s, ADP8 EP8, round-robin, 64.9 % of balanced speed"),
    ("MLA kernels published for B200 (not H800)",
     {"attn_frac_sm100": _DEFAULT_FACTORS.attn_frac_sm100,
      "prefill_attn_frac_sm100": _DEFAULT_FACTORS.prefill_attn_frac_sm100},
     "TensorRT-LLM's MLA kernel on B200 (vLLM PR #41778, 128-row tiles): 0.248 of BF16; prefill FA4 / FlashMLA"),
    ("multi-token prediction (3 drafts, 2.82 accepted)", {"mtp": True}, "TensorRT-LLM blog 1 MTP table"),
]


def waterfall(kind: str = "min_latency", system: str | hw.GPUSpec = "B200", recipe: Recipe = RECIPE_NVFP4,
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
        conc = max_concurrency(system, LAYOUT_MAX_THROUGHPUT, recipe, Workload(1024, 2048, 0), kv_policy="reserve")
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


def predict_systems(systems: tuple[str, ...] = ("B200", "GB200", "H200", "H100 SXM"), **kw) -> dict[str, dict]:
    """Min-latency and max-throughput predictions per system (NVFP4 recipe where FP4 exists, else FP8).

    The KV pool takes the fraction of free memory that the system's documented max-throughput run used
    (`KV_FRACTION`: B200 0.85, H200 0.8; 0.85 where none was published) unless `kv_fraction` is passed.
    A system that cannot hold the model gets {'error': message} instead of numbers. Taught in lab 08, step 8.
    """
    check_step_kw("predict_systems", kw, STEP_KW + ("layout", "factors", "mtp_drafts"))
    out: dict[str, dict] = {}
    for s in as_names("systems", systems):
        spec = _spec(s)
        recipe = RECIPE_NVFP4 if "fp4" in spec.peak_tflops else RECIPE_FP8
        kws = {"kv_fraction": KV_FRACTION.get(spec.name, 0.85), **kw}
        try:
            lat = min_latency(s, recipe, **kws)
            thr = max_throughput(s, recipe, **kws)
            out[spec.name] = {"recipe": recipe.name, "tokens_per_s_user": lat.tokens_per_s_user,
                              "tokens_per_s": thr.tokens_per_s, "concurrency": thr.concurrency,
                              "tokens_per_s_gpu": thr.tokens_per_s_gpu}
        except ValueError as e:
            out[spec.name] = {"recipe": recipe.name, "error": str(e)}
    return out
