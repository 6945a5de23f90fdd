"""Bad input to bwkit.perfmodel: an error naming the argument, never a silent or misleading result.

Finding numbers refer to the bad-input audit: #1 swallowed errors (pareto, predict_systems, max_rate), #4 NaN and
infinity, #5 negative sizes, #7 truthy strings as flags, #10 meaningless figures, #12 misleading burst messages,
#13 numbers typed as strings, #14 a name where an object belongs, #15 one value where a sequence belongs, #16 raw
KeyErrors.
"""

from __future__ import annotations

import math

import pytest

from bwkit import perfmodel as pm

inf, nan = math.inf, math.nan
LAY, R, WL = pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, pm.Workload()

BAD = [
    # 1: the caller's own bad argument raises; it is not skipped nor reported as a system that cannot hold the model
    ("pareto unknown system", lambda: pm.pareto("B300"), ValueError, "unknown GPU 'B300'"),
    ("pareto kv_policy typo", lambda: pm.pareto(kv_policy="reserved"), ValueError,
     "pareto: kv_policy must be one of paged, reserve, got 'reserved'"),
    ("pareto kv_fraction", lambda: pm.pareto(kv_fraction=1.5), ValueError, r"kv_fraction must be in \(0, 1\]"),
    ("pareto unknown keyword", lambda: pm.pareto(kv_polciy="paged"), TypeError,
     "pareto: unexpected keyword argument.*kv_polciy"),
    ("pareto bad mtp option", lambda: pm.pareto(mtp_options=(0, 7)), ValueError, "Workload.mtp_drafts must be one"),
    ("pareto empty mtp options", lambda: pm.pareto(mtp_options=()), ValueError, "mtp_options must name at least"),
    ("pareto layout not dividing", lambda: pm.pareto(layouts=(pm.Layout(6, 6, 1, 6),)), ValueError,
     "does not divide"),
    ("pareto nothing fits", lambda: pm.pareto("H100 SXM", pm.RECIPE_FP8), ValueError,
     "pareto: no operating point fits H100 SXM: .*does not fit H100 SXM"),
    ("pareto points text", lambda: pm.pareto(points="14"), ValueError, "pareto: points must be a positive int"),
    ("predict_systems kv_fraction", lambda: pm.predict_systems(("B200",), kv_fraction=1.5), ValueError,
     r"kv_fraction must be in \(0, 1\], got 1.5"),
    ("predict_systems kv_policy", lambda: pm.predict_systems(("B200",), kv_policy="page"), ValueError,
     "predict_systems: kv_policy must be one of"),
    ("predict_systems activation_gb", lambda: pm.predict_systems(("B200",), activation_gb=-1), ValueError,
     "activation_gb must be a number >= 0"),
    ("predict_systems mtp_drafts", lambda: pm.predict_systems(("B200",), mtp_drafts=9), ValueError,
     "Workload.mtp_drafts must be one of"),
    ("max_rate kv_policy", lambda: pm.max_rate("B200", LAY, R, WL, kv_policy="page"), ValueError,
     "max_rate: kv_policy must be one of paged, reserve, got 'page'"),
    ("max_rate ttft negative", lambda: pm.max_rate("B200", LAY, R, WL, ttft_s=-1), ValueError,
     "max_rate: ttft_s must be a positive number"),
    ("max_rate pct", lambda: pm.max_rate("B200", LAY, R, WL, pct=0.99), ValueError, r"max_rate: pct must be in \[50"),
    ("max_rate NVFP4 on H200", lambda: pm.max_rate("H200", LAY, R, WL), ValueError, "no fp4 Tensor Cores"),
    ("max_rate weights do not fit", lambda: pm.max_rate("H100 SXM", LAY, pm.RECIPE_FP8, WL), ValueError,
     "does not fit H100 SXM"),
    # 4: NaN / infinity / negative / text in Factors and Workload fields, and unique_experts
    ("Factors kernel_s_sm100 nan", lambda: pm.Factors(kernel_s_sm100=nan), ValueError,
     "Factors.kernel_s_sm100 must be a number >= 0, got nan"),
    ("Factors comm_latency_s inf", lambda: pm.Factors(comm_latency_s=inf), ValueError,
     "Factors.comm_latency_s must be a number >= 0, got inf"),
    ("Factors kernel_s negative", lambda: pm.Factors(kernel_s=-1e-6), ValueError, "Factors.kernel_s must be a number"),
    ("Factors bw_frac nan", lambda: pm.Factors(bw_frac=nan), ValueError, r"Factors.bw_frac .*must be a finite number"),
    ("Factors bw_frac inf", lambda: pm.Factors(bw_frac=inf), ValueError, "Factors.bw_frac must be a finite number"),
    ("Factors gemm_frac nan", lambda: pm.Factors(gemm_frac={"fp4": nan, "fp8": 0.9, "bf16": 0.9}), ValueError,
     r"Factors.gemm_frac\['fp4'\]=nan"),
    ("Workload isl_std inf", lambda: pm.Workload(isl_std=inf), ValueError,
     r"Workload.isl_std \(tokens\) must be a number >= 0, got inf"),
    ("Workload osl_std inf", lambda: pm.Workload(osl_std=inf), ValueError, "Workload.osl_std .*got inf"),
    ("Workload osl_std nan", lambda: pm.Workload(osl_std=nan), ValueError, "Workload.osl_std .*got nan"),
    ("unique_experts nan", lambda: pm.unique_experts(256, 8, nan), ValueError, "unique_experts: tokens .*got nan"),
    ("unique_experts inf", lambda: pm.unique_experts(256, 8, inf), ValueError, "unique_experts: tokens .*got inf"),
    ("unique_experts True", lambda: pm.unique_experts(256, True, 4), ValueError, "top_k must be a positive int"),
    # 5: negative activations in a prefill pool
    ("prefill_pool activation_gb", lambda: pm.prefill_pool("B200", LAY, R, WL, activation_gb=-500), ValueError,
     "prefill_pool: activation_gb must be a number >= 0, got -500"),
    # 7: flags given as strings
    ("prefill_pool offload 'no'", lambda: pm.prefill_pool("H100 SXM", LAY, pm.RECIPE_FP8, WL, offload="no"),
     ValueError, "prefill_pool: offload must be True or False, got 'no'"),
    ("weight_bytes include_mtp 'no'", lambda: pm.weight_bytes_per_gpu(LAY, include_mtp="no"), ValueError,
     "weight_bytes_per_gpu: include_mtp must be True or False, got 'no'"),
    # 10: figures for sizes that do not exist
    ("rdma_bandwidth 0", lambda: pm.rdma_bandwidth(0), ValueError, "rdma_bandwidth: ep .*must be a positive int"),
    ("rdma_bandwidth -8", lambda: pm.rdma_bandwidth(-8), ValueError, "rdma_bandwidth: ep .*got -8"),
    ("rdma_bandwidth 8.0", lambda: pm.rdma_bandwidth(8.0), ValueError, r"rdma_bandwidth: ep .*\(a float: pass 8\)"),
    ("prefill attention -1024", lambda: pm.prefill_attention_frac_sm100(-1024), ValueError,
     "prefill_attention_frac_sm100: seq_len must be a positive number, got -1024"),
    ("prefill attention nan", lambda: pm.prefill_attention_frac_sm100(nan), ValueError,
     "prefill_attention_frac_sm100: seq_len .*got nan"),
    # 12: burst's max_batch named in its own message
    ("burst max_batch -1", lambda: pm.burst("B200", LAY, R, WL, 1000, max_batch=-1), ValueError,
     r"burst: max_batch \(requests per attention-DP group\) must be a positive int, got -1"),
    ("burst max_batch 2.5", lambda: pm.burst("B200", LAY, R, WL, 1000, max_batch=2.5), ValueError,
     "burst: max_batch .*got 2.5"),
    ("burst max_batch 0", lambda: pm.burst("B200", LAY, R, WL, 1000, max_batch=0), ValueError,
     "burst: max_batch .*got 0"),
    # 13: numbers typed as strings
    ("Workload isl_std '5'", lambda: pm.Workload(isl_std="5"), ValueError, "Workload.isl_std .*drop the quotes"),
    ("Factors kernel_s text", lambda: pm.Factors(kernel_s="6.5e-6"), ValueError,
     "Factors.kernel_s must be a number >= 0, got '6.5e-6' .*drop the quotes"),
    ("Factors bw_frac text", lambda: pm.Factors(bw_frac="0.9"), ValueError, "Factors.bw_frac .*drop the quotes"),
    ("serve rate text", lambda: pm.serve("B200", LAY, R, WL, "5"), ValueError,
     "serve: rate must be a finite number, got '5' .*drop the quotes"),
    ("serve pct text", lambda: pm.serve("B200", LAY, R, WL, 5, pct="99"), ValueError, "serve: pct .*drop the quotes"),
    ("derive_kernel_s text", lambda: pm.derive_kernel_s("111"), ValueError,
     "derive_kernel_s: tokens_per_s_user must be a finite number, got '111'"),
    ("unique_experts text", lambda: pm.unique_experts(256, 8, "4"), ValueError,
     "unique_experts: tokens .*got '4' .*drop the quotes"),
    ("kv_fraction text", lambda: pm.max_concurrency(kv_fraction="0.85"), ValueError,
     r"kv_fraction must be in \(0, 1\], got '0.85'"),
    # 14: a name where the model config belongs
    ("component_params name", lambda: pm.component_params("DEEPSEEK"), TypeError,
     "cfg must be a DeepSeekMoEConfig .*got str 'DEEPSEEK'"),
    ("active_params name", lambda: pm.active_params_per_token("DEEPSEEK"), TypeError,
     "cfg must be a DeepSeekMoEConfig"),
    ("activation_bytes name", lambda: pm.activation_bytes("DEEPSEEK"), TypeError, "cfg must be a DeepSeekMoEConfig"),
    # 15: a single value where a sequence belongs, when it cannot be taken as a sequence of one
    ("pareto layouts a name", lambda: pm.pareto(layouts="TP8"), TypeError,
     "pareto: layouts must be a Layout or a sequence of them, got str"),
    ("pareto mtp_options float", lambda: pm.pareto(mtp_options=3.0), TypeError,
     "pareto: mtp_options must be an int .* or a sequence of them, got float"),
    ("pareto_front of a non-result", lambda: pm.pareto_front([pm.min_latency(), 3]), TypeError,
     "pareto_front: results must be StepResults"),
    ("world_summary of points", lambda: pm.world_summary(rows=pm.WORLD_POINTS), TypeError,
     r"world_summary: rows must be WorldRow .*got dict \(world points: pass pm.world_table\(points\) instead\)"),
    ("world_table of a name", lambda: pm.world_table(points=3), TypeError, "world_table: points must be a list"),
    ("world_table of names", lambda: pm.world_table(points=["B200"]), TypeError, "a world point must be a dict"),
    # 16: raw KeyErrors
    ("gemm_frac one key", lambda: pm.Factors(gemm_frac={"fp4": 0.9}), ValueError,
     "Factors.gemm_frac needs a fraction for every precision .*missing 'bf16', 'fp8'"),
    ("gemm_frac not a dict", lambda: pm.Factors(gemm_frac=0.9), TypeError, "Factors.gemm_frac must be a dict"),
    ("predict without model", lambda: pm.predict({"name": "x"}), ValueError, "world point 'x' lacks metric, model"),
    ("predict model incomplete", lambda: pm.predict({"name": "x", "metric": "tokens_per_s", "model": {}}),
     ValueError, "world point 'x': its 'model' entry must be a dict with system, layout"),
    ("predict a name", lambda: pm.predict("B200"), TypeError, "a world point must be a dict"),
]


@pytest.mark.parametrize(("call", "exc", "message"), [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_input_raises_naming_the_argument(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_predict_systems_still_reports_a_system_that_cannot_hold_the_model():
    """Only the genuinely infeasible case is a per-system 'error' (H100 SXM: the FP8 weights do not fit)."""
    out = pm.predict_systems(("B200", "H100 SXM"))
    assert "error" not in out["B200"] and "does not fit H100 SXM" in out["H100 SXM"]["error"]


def test_single_values_are_sequences_of_one():
    """One Layout, one MTP setting, one result, one world point: the same as a sequence holding only it."""
    lay = pm.LAYOUT_MIN_LATENCY
    one = pm.pareto(layouts=lay, mtp_options=3, points=3)
    assert [r.summary() for r in one] == [r.summary() for r in pm.pareto(layouts=(lay,), mtp_options=(3,), points=3)]
    r = pm.min_latency()
    assert pm.pareto_front(r) == [r]
    p = pm.WORLD_POINTS[0]
    assert pm.world_table(points=p) == pm.world_table(points=[p])
    rows = pm.world_table(points=[p])
    assert pm.world_summary(rows[0]) == pm.world_summary(rows)


def test_pareto_passes_the_capacity_arguments_to_its_hbm_limit():
    """kv_fraction used to size only the steps, not the HBM limit: the top concurrency did not fit."""
    full, half = pm.pareto(points=4), pm.pareto(points=4, kv_fraction=0.5)
    assert max(r.concurrency for r in half) < max(r.concurrency for r in full)


def test_valid_inputs_unchanged():
    """Values the lab passes still work, with the same numbers."""
    assert pm.Workload(1000, 2000, osl_std=1000).ctx_mean == 1000 + (2000 ** 2 + 1000 ** 2) / 4000
    assert pm.Workload(isl_std=0.0).isl_sq_mean == 1024 ** 2
    assert pm.unique_experts(256, 8, 0) == 0.0
    assert pm.Factors(kernel_s=0.0, gemm_frac={"fp4": 1.0, "fp8": 1.0, "bf16": 1.0, "tf32": 1.0}).kernel_s == 0.0
    assert pm.rdma_bandwidth(8) == pm.rdma_bandwidth(8, "low_latency")
    assert 0 < pm.prefill_attention_frac_sm100(1024.0) < 1
    assert pm.prefill_pool("B200", LAY, R, WL, activation_gb=0.0).step_s > 0
