"""Tests for bwkit.perfmodel: counts against hand-written formulas, probabilities against simulation, bad input."""

from __future__ import annotations

import math
import random

import pytest

from bwkit import hw
from bwkit import perfmodel as pm
from bwkit.moe import DEEPSEEK_V3 as C

# ---------------------------------------------------------------- counting


def test_parameter_counts_match_deepseek_v3():
    # Per-layer MLA matrices written out from config_671B.json.
    mla = 7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168
    expert = 3 * 7168 * 2048
    p = pm.component_params()
    assert p["attention"] == 61 * mla
    assert p["routed_experts"] == 58 * 256 * expert
    assert p["shared_expert"] == 58 * expert
    assert p["dense_ffn"] == 3 * 3 * 7168 * 18432
    total = sum(v for k, v in p.items() if k != "mtp")
    assert abs(total / 671e9 - 1) < 0.005                      # "671B"
    active = pm.active_params_per_token()
    assert 36e9 < active < 38e9                                # "~37B active"
    assert active == p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] \
        + 58 * 8 * expert


def test_storage_bytes_include_block_scales():
    assert pm.STORAGE_BYTES["nvfp4"] == 0.5 + 1 / 16           # 16 E2M1 (8 bytes) + 1 UE4M3 byte
    assert pm.STORAGE_BYTES["mxfp4"] == 17 / 32
    assert pm.STORAGE_BYTES["fp8"] == pytest.approx(1 + 4 / 16384)
    w = pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, include_mtp=False)
    assert w["routed_experts"] == pytest.approx(58 * 256 * 3 * 7168 * 2048 * 0.5625 / 8)
    assert w["attention"] == pytest.approx(pm.component_params()["attention"] * 2)   # replicated under ADP
    # TensorRT-LLM blog 3: "weights and activation occupies about 80 GB memory for each GPU"
    assert 70e9 < sum(w.values()) < 80e9


def test_kv_bytes_per_token_mla():
    assert pm.kv_bytes_per_token() == 61 * (512 + 64) * 2 == 70272
    assert pm.kv_bytes_per_token(kv_cache="fp8") == 61 * 576
    with pytest.raises(ValueError, match="kv_cache"):
        pm.kv_bytes_per_token(kv_cache="fp4")


def test_unique_experts_formula_and_simulation():
    assert pm.unique_experts(256, 8, 0) == 0
    assert pm.unique_experts(256, 8, 1) == pytest.approx(8)
    assert pm.unique_experts(256, 8, 4) == pytest.approx(256 * (1 - (248 / 256) ** 4))
    assert pm.unique_experts(256, 8, 10_000) == pytest.approx(256)
    rng = random.Random(0)
    for tokens in (4, 32, 256):
        trials = 300
        seen = 0
        for _ in range(trials):
            s = set()
            for _ in range(tokens):
                s.update(rng.sample(range(256), 8))
            seen += len(s)
        assert seen / trials == pytest.approx(pm.unique_experts(256, 8, tokens), rel=0.02)
    with pytest.raises(ValueError):
        pm.unique_experts(256, 300, 4)


def test_expected_max_helpers_against_simulation():
    rng = random.Random(1)
    for n in (2, 8):
        est = sum(max(rng.gauss(0, 1) for _ in range(n)) for _ in range(20_000)) / 20_000
        assert est == pytest.approx(pm.expected_max_normal(n), abs=0.02)
    assert pm.expected_max_normal(1) == 0.0
    assert pm.expected_max_normal(100) == pytest.approx(2.5076, abs=0.002)

    def poisson(lam):
        k, p, u = 0, math.exp(-lam), rng.random()
        c = p
        while u > c:
            k += 1
            p *= lam / k
            c += p
        return k

    for lam, n in ((0.2, 8), (1.5, 1), (3.0, 4)):
        est = sum(max(poisson(lam) for _ in range(n)) for _ in range(20_000)) / 20_000
        assert est == pytest.approx(pm._expected_max_poisson(lam, n), abs=0.03)
    assert pm._expected_max_poisson(1.5, 1) == pytest.approx(1.5)


# ---------------------------------------------------------------- capacity and bad input


def test_max_concurrency_matches_published_batch_sizes():
    wl = pm.Workload(1024, 2048, 0)
    c = pm.max_concurrency("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl)
    w = sum(pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, include_mtp=False).values())
    per_gpu = int((180e9 - w - 5e9) * 0.85 // (3072 * 70272))
    assert c == 8 * per_gpu
    assert abs(c / 3072 - 1) < 0.05            # published: concurrency 3072 (max_batch_size 384 per GPU)
    h = pm.max_concurrency("H200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_FP8, wl, kv_fraction=0.8)
    assert abs(h / 1024 - 1) < 0.05            # published: concurrency 1024 (128 per GPU)
    # with MTP the MTP module keeps one more layer of cache (62 x 576 elements per token)
    w3 = sum(pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, include_mtp=True).values())
    c3 = pm.max_concurrency("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, pm.Workload(1024, 2048, 3))
    assert c3 == 8 * int((180e9 - w3 - 5e9) * 0.85 // (3075 * 62 * 576 * 2))
    # attention TP duplicates the latent cache on every GPU: 8x fewer requests than attention DP
    t = pm.max_concurrency("B200", pm.Layout(8, 8, 1, 8), pm.RECIPE_NVFP4, wl)
    assert t < c / 6


def test_layouts_that_do_not_divide():
    with pytest.raises(ValueError, match="does not divide num_gpus"):
        pm.Layout(8, attn_tp=3, moe_tp=1, moe_ep=8)
    with pytest.raises(ValueError, match="must equal num_gpus"):
        pm.Layout(8, attn_tp=8, moe_tp=2, moe_ep=8)
    with pytest.raises(ValueError, match=r"128 attention heads .*\(128 % 6 = 2\).*256 experts .*\(256 % 6 = 4\)"):
        pm.Layout(6, attn_tp=6, moe_tp=1, moe_ep=6).check(C)
    with pytest.raises(ValueError, match="expert width"):
        pm.Layout(12, attn_tp=4, moe_tp=3, moe_ep=4).check(C)
    with pytest.raises(ValueError, match="positive int"):
        pm.Layout(0)


def test_hbm_does_not_fit_says_by_how_much():
    lay = pm.LAYOUT_MIN_LATENCY
    w = sum(pm.weight_bytes_per_gpu(lay, pm.RECIPE_FP8, include_mtp=True).values())
    short = (w + 5e9 - 80e9) / 1e9
    with pytest.raises(ValueError, match=rf"does not fit H100 SXM x8.*short by {short:.1f} GB per GPU"):
        pm.min_latency("H100 SXM", pm.RECIPE_FP8)
    with pytest.raises(ValueError, match=r"concurrency 4000 does not fit .*short by [0-9.]+ GB.*max concurrency"):
        pm.max_throughput("B200", concurrency=4000)
    with pytest.raises(ValueError, match="no fp4 Tensor Cores"):
        pm.min_latency("H200", pm.RECIPE_NVFP4)
    with pytest.raises(ValueError, match="attention-DP"):
        pm.max_throughput("B200", concurrency=12)
    with pytest.raises(ValueError, match="no NVLink"):
        pm.decode_step("RTX 5090", pm.Layout(8, 8, 1, 8), pm.RECIPE_NVFP4)


def test_bad_recipe_factors_workload():
    with pytest.raises(ValueError, match="Recipe.attention"):
        pm.Recipe(attention="int4")
    with pytest.raises(ValueError, match="bw_frac"):
        pm.Factors(bw_frac=1.3)
    with pytest.raises(ValueError, match="mtp_drafts"):
        pm.Workload(mtp_drafts=7)
    with pytest.raises(ValueError, match="concurrency"):
        pm.decode_step(concurrency=0)


# ---------------------------------------------------------------- the step model


def test_naive_roofline_is_weights_over_peak_bandwidth():
    # TP8 everywhere, one token, no MTP: every GPU reads 1/8 of what the token touches (Fuse_A replicated).
    lay = pm.Layout(8, 8, 8, 1)
    r = pm.decode_step("B200", lay, pm.RECIPE_NVFP4, 1, pm.Workload(1024, 2048, 0), pm.Factors.naive())
    p = pm.component_params()
    fuse_a = 61 * (7168 * 1536 + 7168 * 576)
    expert = 3 * 7168 * 2048
    b = ((fuse_a + (p["attention"] - fuse_a) / 8) * 2
         + (p["dense_ffn"] + p["shared_expert"]) * 0.5625 / 8
         + p["head"] * 2 / 8 + p["router"] * 2
         + 58 * 8 * expert * 0.5625 / 8)
    assert r.step_s == pytest.approx(b / 8e12, rel=1e-9)
    assert r.tokens_per_s_user == pytest.approx(8e12 / b, rel=1e-9)


def test_times_add_up_and_factors_only_slow_down():
    rows = pm.waterfall("min_latency")
    speeds = [r.tokens_per_s_user for _, r, _ in rows]
    swap = [i for i, (label, _, _) in enumerate(rows) if label.startswith("MLA kernels measured on B200")]
    assert len(swap) == 1                   # swaps H800 for B200 kernel figures: decode slower, prefill faster
    assert speeds[swap[0]] == pytest.approx(speeds[swap[0] - 1], rel=0.01)   # at batch 1 attention barely matters
    assert all(b <= a * (1 + 1e-12) for i, (a, b) in enumerate(zip(speeds[:-2], speeds[1:-1], strict=True))
               if i + 1 != swap[0])
    assert speeds[-1] > speeds[-2]                          # MTP is the one factor that speeds up
    final = pm.min_latency()
    assert speeds[-1] == pytest.approx(final.tokens_per_s_user)
    assert final.step_s == pytest.approx(sum(final.times.values()))
    thr = pm.waterfall("max_throughput")
    assert [r.tokens_per_s for _, r, _ in thr] == sorted((r.tokens_per_s for _, r, _ in thr), reverse=True)
    assert len({r.concurrency for _, r, _ in thr}) == 1


def test_kernel_cost_counts_dependent_kernels():
    n = 61 * 9 + 58 * 5 + 3 * 3 + 3
    base = pm.min_latency(mtp_drafts=0, factors=pm.Factors(kernel_s_sm100=0.0))
    more = pm.min_latency(mtp_drafts=0, factors=pm.Factors(kernel_s_sm100=1e-5))
    assert more.step_s - base.step_s == pytest.approx(n * 1e-5)
    # B200 uses the sm_100a figure, Hopper the H100-derived one
    assert pm.min_latency(mtp_drafts=0, factors=pm.Factors(kernel_s=1.0)).step_s == pytest.approx(base.step_s
                                                                                                   + n * 8.28e-6)
    h0 = pm.min_latency("H200", pm.RECIPE_FP8, mtp_drafts=0, factors=pm.Factors(kernel_s=0.0))
    h1 = pm.min_latency("H200", pm.RECIPE_FP8, mtp_drafts=0, factors=pm.Factors(kernel_s=1e-5, kernel_s_sm100=1.0))
    assert h1.step_s - h0.step_s == pytest.approx(n * 1e-5)


def test_b200_kernel_cost_is_derived_from_the_published_no_mtp_run():
    # The stored constant is what derive_kernel_s() computes from blog 1's 111 tok/s/user with the other factors.
    assert pm.derive_kernel_s() == pytest.approx(pm.KERNEL_S_B200, rel=0.005)
    assert pm.min_latency(mtp_drafts=0).tokens_per_s_user == pytest.approx(111, rel=0.005)
    # linear in the published speed: a slower run means a larger per-kernel cost
    assert pm.derive_kernel_s(100.0) > pm.derive_kernel_s(111.0) > pm.derive_kernel_s(130.0)
    with pytest.raises(ValueError, match="faster than the model"):
        pm.derive_kernel_s(10_000.0)
    with pytest.raises(ValueError, match="must be > 0"):
        pm.derive_kernel_s(0.0)


def test_mtp_table_is_predicted_not_fitted():
    # Only the no-MTP point is used for the fit; the five MTP points of blog 1 are predictions within +12 %.
    for d, pub in pm.PUBLISHED_MTP_B200.items():
        got = pm.min_latency(mtp_drafts=d).tokens_per_s_user
        assert 0.97 < got / pub < 1.12, (d, got, pub)


def test_deepgemm_efficiencies_from_the_published_table():
    # Byte-weighted bandwidth over the six M=64 rows and FLOP-weighted compute over the six M=4096 rows (H800).
    rows = pm.DEEPGEMM_H800["decode"]
    b = [m * k + n * k + 2 * m * n for m, n, k, _ in rows]
    t = [x / (r * 1e9) for x, (_, _, _, r) in zip(b, rows, strict=True)]
    assert pm.deepgemm_efficiency("decode") == pytest.approx(sum(b) / sum(t) / 3.35e12)
    assert 1688 / 3350 < pm.deepgemm_efficiency("decode") < 2668 / 3350       # between the worst and best row
    assert 590 / 1979 < pm.deepgemm_efficiency("prefill") < 1358 / 1979
    assert pm.deepgemm_efficiency("prefill") == pytest.approx(0.572, abs=1e-3)
    with pytest.raises(ValueError, match="kind"):
        pm.deepgemm_efficiency("train")


def test_weights_stream_at_the_gemm_fraction_and_the_cache_at_bw_frac():
    # Batch 1, no MTP, everything else off: the step is weight bytes / (gemm_bw_frac x 8 TB/s).
    f = pm.Factors.naive().with_(gemm_bw_frac=0.5)
    lay = pm.Layout(8, 8, 8, 1)
    wl = pm.Workload(1024, 2048, 0)
    naive = pm.decode_step("B200", lay, pm.RECIPE_NVFP4, 1, wl, pm.Factors.naive())
    half = pm.decode_step("B200", lay, pm.RECIPE_NVFP4, 1, wl, f)
    assert half.step_s == pytest.approx(2 * naive.step_s)
    # the KV-cache read uses bw_frac, not gemm_bw_frac
    kv = pm.Factors.naive().with_(kv_attention=True)
    a = pm.decode_step("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, 8, wl, kv.with_(gemm_bw_frac=0.5))
    b = pm.decode_step("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, 8, wl, kv)
    assert a.times["KV cache + attention core"] == b.times["KV cache + attention core"]
    with pytest.raises(ValueError, match="gemm_bw_frac"):
        pm.Factors(gemm_bw_frac=0.0)


def test_adp_schedules_bracket_the_published_throughputs():
    # lockstep (no waiting) > random arrivals > measured round-robin balance, which divides the lockstep step by
    # blog 10's 25,664 / 39,552.
    runs = {s: pm.max_throughput(concurrency=3072, factors=pm.Factors(adp_schedule=s)) for s in pm.ADP_SCHEDULES}
    lock, rand, meas = (runs[s].tokens_per_s for s in ("lockstep", "random", "measured"))
    assert lock > rand > meas
    assert meas == pytest.approx(lock * 25664 / 39552, rel=1e-9)
    assert meas < 36384 < lock                                   # the documented run lies inside the bracket
    assert 0.85 < pm.max_throughput().tokens_per_s / 30000 < 1.15   # the seed's figure, default factors
    # batch-1 TP layouts have one attention group: the schedule changes nothing
    assert len({pm.min_latency(factors=pm.Factors(adp_schedule=s)).step_s for s in pm.ADP_SCHEDULES}) == 1
    with pytest.raises(ValueError, match="adp_schedule"):
        pm.Factors(adp_schedule="fifo")


def test_seed_targets_within_15_percent():
    lat = pm.min_latency().tokens_per_s_user
    thr = pm.max_throughput().tokens_per_s
    gtc = pm.PUBLISHED["B200 min latency (GTC)"]["tokens_per_s_user"]
    assert abs(lat / 250 - 1) < 0.15 and abs(lat / gtc - 1) < 0.1
    assert abs(thr / 30000 - 1) < 0.15


def test_mtp_touches_more_experts_and_helps_latency():
    r0 = pm.min_latency(mtp_drafts=0)
    r3 = pm.min_latency(mtp_drafts=3)
    assert r0.experts_touched == pytest.approx(8)
    assert r3.experts_touched == pytest.approx(pm.unique_experts(256, 8, 4))
    assert r3.times["routed experts"] > 3 * r0.times["routed experts"]
    assert 1.5 < r3.tokens_per_s_user / r0.tokens_per_s_user < 2.82   # gain below the acceptance (2.82)


def test_concurrency_trades_user_speed_for_gpu_throughput():
    res = [pm.decode_step("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, c, pm.Workload(1024, 2048, 0))
           for c in (8, 64, 512, 3072)]
    user = [r.tokens_per_s_user for r in res]
    gpu = [r.tokens_per_s_gpu for r in res]
    assert user == sorted(user, reverse=True) and gpu == sorted(gpu)
    pts = pm.pareto(points=8)
    front = pm.pareto_front(pts)
    for a in front:
        assert not any(b.tokens_per_s_user > a.tokens_per_s_user and b.tokens_per_s_gpu > a.tokens_per_s_gpu
                       for b in pts)


def test_systems_rank_as_their_specs():
    out = pm.predict_systems()
    assert "short by" in out["H100 SXM"]["error"]
    assert out["GB200"]["tokens_per_s"] >= out["B200"]["tokens_per_s"] > out["H200"]["tokens_per_s"]
    assert out["B200"]["tokens_per_s_user"] > out["H200"]["tokens_per_s_user"]
    assert hw.get_spec("B200").bandwidth / hw.get_spec("H200").bandwidth > 1.5


def test_attention_efficiency_per_architecture():
    # Hand computation of the "KV cache + attention core" time at 3,072 requests (ADP8: 384 per GPU, BF16 cache):
    # max(KV bytes / (0.9 x 8 TB/s), attention FLOPs / (efficiency x 2,250 TFLOP/s)) with efficiency 350/2250 on
    # B200 (FlashMLA on B200) and 0.59 on H800-class figures.
    ctx = 1024 + 2048 / 2
    kv_b = 384 * ctx * 61 * 576 * 2
    fl = 61 * 384 * 2 * 128 * ctx * (2 * 512 + 64)
    r = pm.max_throughput("B200", concurrency=3072)
    assert r.times["KV cache + attention core"] == pytest.approx(max(kv_b / 7.2e12, fl / 350e12), rel=1e-9)
    h = pm.max_throughput("B200", concurrency=3072, factors=pm.Factors(attn_frac_sm100=0.59))
    assert h.times["KV cache + attention core"] == pytest.approx(max(kv_b / 7.2e12, fl / (0.59 * 2250e12)),
                                                                 rel=1e-9)
    # Hopper ignores the sm_100a figures
    a = pm.max_throughput("H200", pm.RECIPE_FP8, concurrency=1024, kv_fraction=0.8)
    b = pm.max_throughput("H200", pm.RECIPE_FP8, concurrency=1024, kv_fraction=0.8,
                          factors=pm.Factors(attn_frac_sm100=0.1, prefill_attn_frac_sm100=0.1))
    assert a.step_s == b.step_s
    with pytest.raises(ValueError, match="attn_frac_sm100"):
        pm.Factors(attn_frac_sm100=0.0)


def test_expert_load_imbalance_scales_from_ep32_and_hits_the_all_to_all():
    # Blog 4 Table 1: std 491.6 of 1,024 tokens per rank at EP32 -> at EP8 (independent ranks) cv = 0.48 x sqrt(8/32);
    # the hottest of 8 ranks receives 1 + E[max of 8 normals] x cv times the mean, so the bandwidth part of the
    # all-to-all (dispatch NVFP4 + combine BF16 for 384 tokens per GPU, 58 MoE layers) grows by that factor - 1.
    z8 = pm.expected_max_normal(8)
    assert z8 == pytest.approx(1.4236, abs=1e-3)           # tabulated E[max of 8 standard normals]
    cv8 = 491.6 / 1024 * (8 / 32) ** 0.5
    remote = 7 * (1 - (7 / 8) ** 8)                          # distinct remote GPUs per token
    a2a = 58 * 384 * remote * 7168 * (0.5625 + 2) / (0.9e12 * 0.95)
    on = pm.max_throughput("B200", concurrency=3072)
    off = pm.max_throughput("B200", concurrency=3072, factors=pm.Factors(ep_imbalance_cv=0.0))
    d = on.times["NVLink communication"] - off.times["NVLink communication"]
    assert d == pytest.approx(a2a * z8 * cv8, rel=1e-9)
    # the routed-expert GEMMs stay bandwidth-bound (all 32 local experts are read), so their time does not change
    assert on.times["routed experts"] == off.times["routed experts"]
    assert on.flops_per_gpu["routed experts"] > off.flops_per_gpu["routed experts"]
    # TP attention at batch 1 has no all-to-all and memory-bound experts: no effect
    assert pm.min_latency().step_s == pm.min_latency(factors=pm.Factors(ep_imbalance_cv=0.0)).step_s
    with pytest.raises(ValueError, match="ep_imbalance_cv"):
        pm.Factors(ep_imbalance_cv=-0.1)
