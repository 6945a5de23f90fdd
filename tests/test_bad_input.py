"""Bad input to the teaching modules' public functions: an error naming what is wrong, never a silent result.

Each row is a call a learner could make (a swapped argument, a truthy string for a flag, a size that no
instruction has, ...) that used to return a wrong number, an empty plot or a raw low-level error.
The first tests pin the three that gave silently wrong numbers.
"""

from __future__ import annotations

import math

import pytest
import torch

from bwkit import bench, gemm, hw, moe, moe_ep
from bwkit import efficiency as eff
from bwkit import formats as F
from bwkit import gluon_gemm as gg
from bwkit import inspect as bwi
from bwkit import ladder_model as lm
from bwkit import layouts as L
from bwkit import moe_kernels as mk
from bwkit import perfmodel as pm
from bwkit import pipeline as pl
from bwkit import scaled_gemm as sg
from bwkit import tensorcores as tc


@pytest.fixture(scope="module")
def tiny():
    cfg = moe.TINY
    w = moe.init_moe_weights(cfg)
    x = torch.randn(6, cfg.hidden, generator=torch.Generator().manual_seed(0))
    wts, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    return cfg, w, x, wts, ids


def test_block_scaled_gemm_refuses_a_shorter_k_of_b():
    """B with K=40 has two padded scale blocks, like K=64: it used to pass and read past B's rows."""
    g = torch.Generator().manual_seed(0)
    aq = F.quantize(torch.randn(16, 64, generator=g), "mxfp4")
    with pytest.raises(ValueError, match="K mismatch: a_q is .*K=64.*b_q has K=40"):
        sg.mxfp4_matmul(aq, F.quantize(torch.randn(16, 40, generator=g), "mxfp4"))
    bq = F.quantize(torch.randn(64, 16, generator=g), "mxfp4", axis=0)       # [K, N] along axis 0 still works
    assert torch.equal(sg.mxfp4_matmul(aq, bq), sg.emulated_matmul(aq, bq))


def test_fused_moe_reads_w1_and_w3_with_their_own_strides(tiny):
    cfg, w, x, wts, ids = tiny
    ref = moe.experts_reference(x, wts, ids, w.w1, w.w3, w.w2)
    w1t = w.w1.transpose(1, 2).contiguous().transpose(1, 2)       # same values, another layout
    assert moe.relative_error(mk.fused_moe(x, wts, ids, w1t, w.w3, w.w2), ref) < 1e-5
    with pytest.raises(TypeError, match="fused_moe: x is torch.float64"):
        mk.fused_moe(x.double(), wts, ids, w.w1, w.w3, w.w2)


def test_experts_reference_keeps_both_contributions_of_a_repeated_expert(tiny):
    cfg, w, x, _, _ = tiny
    ids = torch.tensor([[1, 1, 2, 3]] * 5)
    wts = torch.full((5, 4), 0.25)
    naive = moe.experts_naive(x[:5], wts, ids, w.w1, w.w3, w.w2)
    ref = moe.experts_reference(x[:5], wts, ids, w.w1, w.w3, w.w2)
    assert torch.allclose(ref, naive, rtol=1e-5, atol=1e-6)


def test_fit_sustained_refuses_a_measurement_above_the_models_ceiling():
    assert eff.fit_sustained(80.0, 8192, 8192, 8192, "128x256", "H200", "bf16") == pytest.approx(0.825, abs=1e-3)
    with pytest.raises(ValueError, match=r"above the model's ceiling .*10\.8 %"):
        eff.fit_sustained(50, 8192, 64, 8192)


def test_tcgen05_mma_follows_its_own_hint_for_f16_floats():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(128, 16, generator=g).half(), torch.randn(16, 64, generator=g).half()
    d = tc.tcgen05_mma(a.float(), b.float(), kind="f16", a_fmt="f16", b_fmt="f16")
    assert torch.equal(d, tc.tcgen05_mma(a, b, kind="f16"))
    with pytest.raises(ValueError, match="not representable in f16; pass a float16"):
        tc.tcgen05_mma(torch.randn(128, 16, generator=g), b.float(), kind="f16", a_fmt="f16", b_fmt="f16")


def test_names_or_one_name():
    assert list(pm.predict_systems("B200")) == ["B200"]
    fig = hw.plot_roofline(gpus="B200")
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["B200 fp4", "B200 fp8", "B200 bf16"]


def _timing():
    return bench.time_fn(lambda: sum(range(2000)), reps=3, warmup=0)


def test_bench_accepts_a_torch_device_and_one_result(tmp_path):
    assert bench.time_fn(lambda: sum(range(2000)), reps=3, device=torch.device("cpu")).median_ms > 0
    path = bench.save_json(bench.gemm_result("x", 4, 4, 4, _timing()), tmp_path / "one.json")
    assert [r["name"] for r in bench.load_json(path)["results"]] == ["x"]


def test_tile_counts_not_sizes():
    """M and N where tile counts belong built a 67-million-tile list (8 GB) before; wave_reuse needs only the wave."""
    import time

    from bwkit import gemm_bench

    t0 = time.perf_counter()
    got = gemm_bench.wave_reuse(8192, 8192, 132, 8)
    assert time.perf_counter() - t0 < 5 and got["tiles"] == gemm.tile_order(8192, 8192, 8, first=132)
    assert got["tiles"][:3] == gemm.tile_order(64, 64, 8)[:3] == [(0, 0), (1, 0), (2, 0)]
    with pytest.raises(ValueError, match=r"8192 x 8192 = 67,108,864 tiles; it takes tile counts"):
        gemm.tile_order(8192, 8192, 8)


_CFG = moe.TINY
_PIPE = pl.PipelineConfig()

BAD = [
    # perfmodel: flags, swapped or missing objects, capacities
    ("Layout flag 'no'", lambda: pm.Layout(8, 8, 1, 8, two_batch_overlap="no"), ValueError,
     "Layout.two_batch_overlap must be True or False"),
    ("Factors flag 'False'", lambda: pm.Factors(mtp="False"), ValueError, "Factors.mtp must be True or False"),
    ("redundant_experts=True", lambda: pm.Layout(8, 8, 1, 8, redundant_experts=True), ValueError,
     "redundant_experts must be an int"),
    ("mtp_drafts=True", lambda: pm.Workload(mtp_drafts=True), ValueError, "mtp_drafts must be one of"),
    ("layout and recipe swapped", lambda: pm.decode_step("B200", pm.RECIPE_NVFP4, pm.LAYOUT_MIN_LATENCY),
     TypeError, "layout must be a Layout .*got Recipe"),
    ("workload None", lambda: pm.decode_step("B200", pm.LAYOUT_MIN_LATENCY, pm.RECIPE_NVFP4, 1, None),
     TypeError, "workload must be a Workload"),
    ("cfg a string", lambda: pm.kv_bytes_per_token("bf16"), TypeError, "cfg must be a DeepSeekMoEConfig"),
    ("recipe a string", lambda: pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, "fp8"), TypeError,
     "recipe must be a Recipe"),
    ("negative activations", lambda: pm.max_concurrency(activation_gb=-500), ValueError,
     "activation_gb must be a number >= 0"),
    ("max_num_tokens 0", lambda: pm.decode_step(max_num_tokens=0), ValueError, "max_num_tokens must be a positive"),
    # moe
    ("NaN scores", lambda: moe.gate_from_scores(torch.full((1, _CFG.num_experts), math.nan), None, _CFG),
     ValueError, "NaN scores .or bias. for 1 token"),
    ("bf16 x, fp32 weights", lambda: moe.experts_reference(torch.zeros(2, 4).bfloat16(), torch.ones(2, 1),
                                                            torch.zeros(2, 1, dtype=torch.long), torch.zeros(1, 3, 4),
                                                            torch.zeros(1, 3, 4), torch.zeros(1, 4, 3)),
     TypeError, "must share a dtype"),
    ("negative shared experts", lambda: moe.DeepSeekMoEConfig(num_shared_experts=-1), ValueError,
     "num_shared_experts must be an int >= 0"),
    ("fractional dense layers", lambda: moe.DeepSeekMoEConfig(num_dense_layers=1.5), ValueError,
     "num_dense_layers must be an int >= 0"),
    ("route_scale a string", lambda: moe.DeepSeekMoEConfig(route_scale="2.5"), ValueError,
     "route_scale must be a positive number"),
    ("fractional rank", lambda: moe_ep.expert_range(1.5, 4, 16), ValueError, "rank must be an int"),
    # tensor cores, Gluon, pipeline and ladder models
    ("BLOCK_M 192 on tcgen05", lambda: tc.mma_per_k_step("sm_100a", 192, 128, 64), ValueError,
     "BLOCK_M=192 must be 64 or a multiple of 128"),
    ("accumulator N=7", lambda: tc.accumulator_columns(128, 7), ValueError, "N=7: one MMA instruction has N a"),
    ("accumulator N=1000", lambda: tc.accumulator_columns(128, 1000), ValueError, "N=1000"),
    ("negative BLOCK_M", lambda: gg.GluonConfig(BLOCK_M=-128), ValueError, "GluonConfig.BLOCK_M must be a positive"),
    ("STAGES 0", lambda: gg.GluonConfig(STAGES=0), ValueError, "GluonConfig.STAGES"),
    ("negative element bytes", lambda: pl.stage_traffic(128, 128, 64, -2), ValueError, "bytes_per_element"),
    ("zero element bytes", lambda: pl.stage_traffic(128, 128, 64, 0), ValueError, "bytes_per_element"),
    ("negative elem_bytes", lambda: lm.l2_bytes_per_cta(128, 64, 1, 1, 1, -2.0), ValueError, "elem_bytes"),
    ("stages an int", lambda: pl.sweep_stages(_PIPE, 8), TypeError, "stages must be stage counts"),
    ("K for k_steps", lambda: pl.simulate(pl.PipelineConfig(k_steps=10**8)), ValueError,
     "k_steps counts K steps"),
    ("fractional stages", lambda: pl.sweep_stages(_PIPE, [1.5]), ValueError, "a stage count must be a positive"),
    ("timeline plot of a config", lambda: pl.plot_timeline(_PIPE), TypeError, "plot_timeline takes a Timeline"),
    ("stages plot of one timeline", lambda: pl.plot_stages(pl.simulate(_PIPE)), TypeError,
     "plot_stages takes a list of Timelines"),
    ("hbm precision fp16", lambda: eff.hbm_bytes(1024, 1024, 1024, "128x256", precision="fp16"), ValueError,
     "precision must be one of"),
    ("negative in_bytes", lambda: eff.hbm_bytes(1024, 1024, 1024, "128x256", in_bytes=-1), ValueError, "in_bytes"),
    # hw, bench
    ("roofline precision none has", lambda: hw.plot_roofline(precisions=("fp16",)), ValueError,
     "has a 'fp16' peak"),
    ("precision typo", lambda: bench.gemm_result("x", 4, 4, 4, _timing(), precision="bf61"), ValueError,
     "precision must be None or one of"),
    ("float M", lambda: bench.gemm_result("x", 4.0, 4, 4, _timing()), ValueError, "gemm_result: M must be"),
    ("save_json of a string", lambda: bench.save_json(["x"], "/nonexistent/x.json"), TypeError,
     "results must be BenchResults"),
    ("a 2^32-entry table", lambda: L.table(L.Layout((65536, 65536), (1, 65536))), ValueError,
     "4,294,967,296 entries; it evaluates every coordinate"),
    ("grep with a broken regex", lambda: bwi.grep("mma.sync", "mma.(sync"), ValueError,
     "not a regular expression"),
    # formats, gemm
    ("SQNR of an overflow", lambda: F.sqnr_db(torch.ones(4), torch.full((4,), math.inf)), ValueError,
     "must be finite"),
    ("saturate 'no'", lambda: F.encode(torch.ones(4), "e4m3", saturate="no"), ValueError, "saturate must be"),
    ("pad 'no'", lambda: F.quantize(torch.ones(40), "mxfp4", pad="no"), ValueError, "pad must be True or False"),
    ("negative K tolerance", lambda: gemm.gemm_tolerance("fp16", -5), ValueError, "K .* must be a positive int"),
    ("out rows overlap", lambda: gemm.matmul_kloop(torch.randn(40, 16), torch.randn(16, 24),
                                                    out=torch.zeros(24).expand(40, 24)), ValueError,
     "rows that do not overlap"),
]


@pytest.mark.parametrize("call,exc,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_by_name(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
