"""Tests for bwkit.perfmodel: counts against hand-written formulas, probabilities against simulation, bad input."""

from __future__ import annotations

import math
import random
import re

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
    # reservation (ISL + OSL per request, TensorRT-LLM's GUARANTEED_NO_EVICT scheduler)
    wl = pm.Workload(1024, 2048, 0)
    c = pm.max_concurrency("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl, kv_policy="reserve")
    w = sum(pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, include_mtp=False).values())
    per_gpu = int((180e9 - w - 5e9) * 0.85 // (3072 * 70272))
    assert c == 8 * per_gpu
    assert abs(c / 3072 - 1) < 0.05            # published: concurrency 3072 (max_batch_size 384 per GPU)
    h = pm.max_concurrency("H200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_FP8, wl, kv_fraction=0.8, kv_policy="reserve")
    assert abs(h / 1024 - 1) < 0.05            # published: concurrency 1024 (128 per GPU)
    # with MTP the MTP module keeps one more layer of cache (62 x 576 elements per token)
    w3 = sum(pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, include_mtp=True).values())
    c3 = pm.max_concurrency("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, pm.Workload(1024, 2048, 3),
                            kv_policy="reserve")
    assert c3 == 8 * int((180e9 - w3 - 5e9) * 0.85 // (3075 * 62 * 576 * 2))
    # attention TP duplicates the latent cache on every GPU: 8x fewer requests than attention DP
    t = pm.max_concurrency("B200", pm.Layout(8, 8, 1, 8), pm.RECIPE_NVFP4, wl, kv_policy="reserve")
    assert t < c / 6


def test_paged_kv_holds_occupancy_not_reservation():
    # A paged cache holds what a request has written: ISL + OSL/2 on average over its life (2,048 of 3,072 tokens)
    wl = pm.Workload(1024, 2048, 0)
    w = sum(pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, include_mtp=False).values())
    paged = pm.max_concurrency("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl)
    assert paged == 8 * int((180e9 - w - 5e9) * 0.85 // (2048 * 70272)) == 4728
    assert wl.kv_tokens("paged") == 2048 and wl.kv_tokens("reserve") == 3072
    # spread lengths: E[ISL] + E[OSL^2] / 2E[OSL]
    assert pm.Workload(1000, 2000, osl_std=1000).ctx_mean == pytest.approx(1000 + (2000 ** 2 + 1000 ** 2) / 4000)
    # the published FP8-KV run (7,168 users at fraction 0.93) fits the paged cache but not a reservation
    r = pm.PUBLISHED["B200 max throughput (R1-0528, FP8 KV)"]
    rec = pm.Recipe(kv_cache="fp8")
    step = pm.decode_step("B200", pm.LAYOUT_MAX_THROUGHPUT, rec, r["concurrency"], wl, kv_fraction=r["kv_fraction"])
    assert step.kv_gb_per_gpu == pytest.approx(896 * 2048 * 61 * 576 / 1e9)
    with pytest.raises(ValueError, match=r"concurrency 7168 does not fit.*\(reserve\).*max concurrency 6904"):
        pm.decode_step("B200", pm.LAYOUT_MAX_THROUGHPUT, rec, r["concurrency"], wl, kv_fraction=r["kv_fraction"],
                       kv_policy="reserve")
    with pytest.raises(ValueError, match="kv_policy"):
        pm.max_concurrency(kv_policy="lazy")


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
    # EP sizes that do not divide 256 experts need redundant slots, and the message says how many
    with pytest.raises(ValueError, match=r"256 experts do not split over moe_ep=48 GPUs \(256 % 48 = 16\); add "
                                         r"redundant experts .*redundant_experts=32"):
        pm.Layout(48, 1, 1, 48).check(C)
    with pytest.raises(ValueError, match=r"256 \+ 16 redundant = 272 expert slots .*\(272 % 48 = 32\)"):
        pm.Layout(48, 1, 1, 48, redundant_experts=16).check(C)
    with pytest.raises(ValueError, match="tensor parallelism over InfiniBand is not modelled"):
        pm.Layout(16, attn_tp=16, moe_tp=1, moe_ep=16)
    with pytest.raises(ValueError, match="Layout.a2a"):
        pm.Layout(8, a2a="ring")
    with pytest.raises(ValueError, match="redundant_experts"):
        pm.Layout(8, redundant_experts=-1)


def test_hbm_does_not_fit_says_by_how_much():
    lay = pm.LAYOUT_MIN_LATENCY
    w = sum(pm.weight_bytes_per_gpu(lay, pm.RECIPE_FP8, include_mtp=True).values())
    short = (w + 5e9 - 80e9) / 1e9
    with pytest.raises(ValueError, match=rf"does not fit H100 SXM x8.*short by {short:.1f} GB per GPU"):
        pm.min_latency("H100 SXM", pm.RECIPE_FP8)
    with pytest.raises(ValueError, match=r"concurrency 4000 does not fit .*short by [0-9.]+ GB.*max concurrency"):
        pm.max_throughput("B200", concurrency=4000)                  # reserving ISL + OSL: 3,152 fit
    with pytest.raises(ValueError, match="no fp4 Tensor Cores"):
        pm.min_latency("H200", pm.RECIPE_NVFP4)
    with pytest.raises(ValueError, match="attention-DP"):
        pm.max_throughput("B200", concurrency=12)
    with pytest.raises(ValueError, match="no NVLink"):
        pm.decode_step("RTX 5090", pm.Layout(8, 8, 1, 8), pm.RECIPE_NVFP4)


@pytest.mark.parametrize("lay", [pm.Layout(8, 8, 1, 8), pm.LAYOUT_MAX_THROUGHPUT, pm.Layout(16, 8, 1, 16)],
                         ids=["TP8", "ADP8", "16 GPUs"])
def test_multi_gpu_without_nvlink_refused_for_decode_and_prefill(lay):
    # RTX 5090 has no NVLink in bwkit.hw (nvlink_tbps None): every multi-GPU entry point refuses it with the same
    # ValueError (one check, run when a StepContext is made), instead of dividing by a zero NVLink bandwidth
    assert hw.get_spec("RTX 5090").nvlink_tbps is None
    msg = rf"RTX 5090 has no NVLink in bwkit\.hw: a {lay.num_gpus}-GPU layout needs one"
    wl = pm.Workload(1024, 1024)
    calls = {
        "decode_step": lambda: pm.decode_step("RTX 5090", lay, pm.RECIPE_NVFP4, lay.attn_dp, wl),
        "decode_pool": lambda: pm.decode_pool("RTX 5090", lay, pm.RECIPE_NVFP4, lay.attn_dp, wl),
        "prefill_pool": lambda: pm.prefill_pool("RTX 5090", lay, pm.RECIPE_NVFP4, wl, offload=True),
        "serve": lambda: pm.serve("RTX 5090", lay, pm.RECIPE_NVFP4, wl, 0.5),
    }
    for call in calls.values():
        with pytest.raises(ValueError, match=msg):
            call()
    # one GPU needs no NVLink: the same GPU, recipe and workload run
    one = pm.Layout(1, 1, 1, 1)
    assert pm.prefill_pool("RTX 5090", one, pm.RECIPE_NVFP4, wl, offload=True).step_s > 0
    with pytest.raises(ValueError, match="does not fit RTX 5090 x1"):   # 32 GB: an HBM error, not an NVLink one
        pm.decode_step("RTX 5090", one, pm.RECIPE_NVFP4, 1, wl)


def test_bad_recipe_factors_workload():
    with pytest.raises(ValueError, match="Recipe.attention"):
        pm.Recipe(attention="int4")
    with pytest.raises(ValueError, match="bw_frac"):
        pm.Factors(bw_frac=1.3)
    with pytest.raises(ValueError, match="mtp_drafts"):
        pm.Workload(mtp_drafts=7)
    with pytest.raises(ValueError, match="Workload.kind"):
        pm.Workload(kind="bursty")
    with pytest.raises(ValueError, match="osl_std"):
        pm.Workload(osl_std=-1.0)
    with pytest.raises(ValueError, match="pool"):
        pm.decode_step(pool="prefill")
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
    swap = [i for i, (label, _, _) in enumerate(rows) if label.startswith("MLA kernels published for B200")]
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
    assert pm.min_latency(mtp_drafts=0, factors=pm.Factors(kernel_s=1.0)).step_s == pytest.approx(
        base.step_s + n * pm.KERNEL_S_B200)
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
    # lockstep (no waiting) > balanced (blog 10's ADP balance, 0.900) > random arrivals > measured round-robin (0.649)
    runs = {s: pm.max_throughput(concurrency=3072, factors=pm.Factors(adp_schedule=s)) for s in pm.ADP_SCHEDULES}
    lock, bal, rand, meas = (runs[s].tokens_per_s for s in ("lockstep", "balanced", "random", "measured"))
    assert lock > bal > rand > meas
    assert meas == pytest.approx(lock * 25664 / 39552, rel=1e-9)
    assert bal == pytest.approx(lock * 34140 / 37912, rel=1e-9)
    assert meas < 36384 < lock                                   # the documented run lies inside the bracket
    # 'auto': the round-robin scheduler (no ADP balance) -> measured, whatever the lengths (blog 10's analysis);
    # with ADP balance, lockstep for fixed-length requests and the strategy's measured balance for long-tail ones
    assert runs["auto"].tokens_per_s == meas
    fb = pm.Factors(adp_balance=True)
    assert fb.schedule(pm.Workload()) == "lockstep" and fb.schedule(pm.Workload(kind="long-tail")) == "balanced"
    assert pm.Factors().schedule(pm.Workload(kind="long-tail")) == "measured"
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
    # max(KV bytes / (0.9 x 8 TB/s), attention FLOPs / (efficiency x 2,250 TFLOP/s)) with efficiency 0.248 on
    # B200 (TensorRT-LLM's MLA kernel, derived) and 0.59 on H800-class figures.
    ctx = 1024 + 2048 / 2
    kv_b = 384 * ctx * 61 * 576 * 2
    fl = 61 * 384 * 2 * 128 * ctx * (2 * 512 + 64)
    eff = round(2 * 64 * 11.14 / 1.420 / 4500 * 2 / 1.8, 4)       # 128 rows fill the tiles; BF16 = FP8 / 1.8
    assert pm.Factors().attn_frac_sm100 == eff == pytest.approx(0.248, abs=1e-3)
    r = pm.max_throughput("B200", concurrency=3072)
    assert r.times["KV cache + attention core"] == pytest.approx(max(kv_b / 7.2e12, fl / (eff * 2250e12)), rel=1e-9)
    # with an FP8 cache the kernel multiplies in FP8, 1.8x the BF16 rate; a BF16-math kernel (FlashMLA) does not
    f8 = pm.max_throughput("B200", pm.Recipe(kv_cache="fp8"), concurrency=3072)
    assert f8.times["KV cache + attention core"] == pytest.approx(max(kv_b / 2 / 7.2e12, fl / (eff * 1.8 * 2250e12)),
                                                                  rel=1e-9)
    bf = pm.max_throughput("B200", pm.Recipe(kv_cache="fp8"), concurrency=3072,
                           factors=pm.Factors(fp8_attention_math=False))
    assert bf.times["KV cache + attention core"] == pytest.approx(fl / (eff * 2250e12), rel=1e-9)
    # every published B200 figure brackets the choice
    lo, hi = pm.mla_decode_bracket()
    assert lo < 350 / 2250 < eff < hi == pytest.approx(4047.3 * 241.8 / 1e3 / 2250)
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
    frac = pm.Factors().nvlink_frac_sm100
    assert frac == pytest.approx(726 * 7 / 8 / 900, abs=1e-4)          # DeepEP V2 EP8 on B200, remote share
    a2a = 58 * 384 * remote * 7168 * (0.5625 + 2) / (0.9e12 * frac)
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


# ---------------------------------------------------------------- published runs: their own settings and dates


def test_published_runs_carry_their_kv_fraction():
    # --kv_cache_free_gpu_mem_fraction of each documented run: B200 (FP16 KV cache) 0.85, H200 0.8, FP8-KV B200 0.93
    assert pm.KV_FRACTION == {"B200": 0.85, "H200": 0.8}
    assert pm.PUBLISHED["B200 max throughput (R1-0528, FP8 KV)"]["kv_fraction"] == 0.93
    assert "FP16 KV cache" in pm.PUBLISHED["B200 max throughput"]["setup"]
    assert all("when" in d and "source" in d for d in pm.PUBLISHED.values())
    wl = pm.Workload(1024, 2048, 0)
    h = pm.PUBLISHED["H200 max throughput"]
    cap = pm.max_concurrency("H200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_FP8, wl, kv_fraction=h["kv_fraction"],
                             kv_policy="reserve")
    assert cap == 1040 >= h["concurrency"]                 # 130 per GPU against the run's 128: 2 of margin ...
    w = sum(pm.weight_bytes_per_gpu(pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_FP8, include_mtp=True).values())
    assert int((141e9 - w - 5e9) * 0.8 // (3072 * 70272)) < 128   # ... gone if the MTP layer stays loaded
    out = pm.predict_systems(("B200", "H200"))
    assert out["H200"]["concurrency"] == 1040 and out["B200"]["concurrency"] == 3152
    assert pm.predict_systems(("H200",), kv_fraction=0.85)["H200"]["concurrency"] == 1104
    # the newer FP8-KV run does not fit a reservation of ISL + OSL per request; the paged cache holds it
    r = pm.PUBLISHED["B200 max throughput (R1-0528, FP8 KV)"]
    with pytest.raises(ValueError, match=r"concurrency 7168 does not fit.*max concurrency 6904"):
        pm.max_throughput("B200", pm.Recipe(kv_cache="fp8"), concurrency=r["concurrency"],
                          kv_fraction=r["kv_fraction"])
    assert pm.max_throughput("B200", pm.Recipe(kv_cache="fp8"), concurrency=r["concurrency"],
                             kv_fraction=r["kv_fraction"], kv_policy="paged").concurrency == 7168


def test_hopper_mla_efficiency_is_flashmla_current_figure():
    # FlashMLA README: 660 TFLOP/s dense decode on H800 since 2025-04-22 (580 before), of a 989 TFLOP/s BF16 peak
    assert pm.FLASHMLA_H800_TFLOPS["dense decode (2025-04-22)"] == 660.0
    assert pm.Factors().attn_frac == pytest.approx(660 / 989)
    step = next(c for label, c, _ in pm.WATERFALL_STEPS if label.startswith("KV-cache reads"))
    assert step["attn_frac"] == step["attn_frac_sm100"] == pytest.approx(660 / 989)
    # H200 at 1,024 requests (ADP8: 128 per GPU): the attention core at 660/989 of the BF16 peak
    ctx = 1024 + 2048 / 2
    kv_b = 128 * ctx * 61 * 576 * 2
    fl = 61 * 128 * 2 * 128 * ctx * (2 * 512 + 64)
    r = pm.max_throughput("H200", pm.RECIPE_FP8, concurrency=1024, kv_fraction=0.8)
    assert r.times["KV cache + attention core"] == pytest.approx(max(kv_b / (0.9 * 4.8e12), fl / 660e12), rel=1e-9)


def test_blog1_history_table():
    # TensorRT-LLM blog 1, "Key Optimizations": CUDA Graphs are in the 67 tok/s/user baseline, PDL came at 168 -> 173,
    # MTP (89 -> 154) is the largest jump to GTC's 253, the CUTLASS grouped-GEMM work the next (211 -> 249)
    steps = pm.BLOG1_OPTIMISATIONS
    tps = [v for _, v in steps]
    assert tps == sorted(tps) and (tps[0], tps[-1]) == (67, 368) and 253 in tps
    assert "CUDA Graph" in steps[0][0]
    to_gtc = {name: b - a for (_, a), (name, b) in zip(steps[:-1], steps[1:], strict=True) if b <= 253}
    assert max(to_gtc, key=to_gtc.get) == "MTP3_Vanilla" and to_gtc["MTP3_Vanilla"] == 154 - 89
    assert dict(steps)["Enable PDL"] == 173 and dict(steps)["Optimize Fuse_A_GEMM and Router_GEMM"] == 340
    cutlass = dict(steps)["Optimize CUTLASS flow: sparse experts as GEMMs"] - dict(steps)["Finetune clock/power"]
    assert cutlass == 249 - 211 and all(j < cutlass for name, j in to_gtc.items() if name != "MTP3_Vanilla")


# ---------------------------------------------------------------- serving model v2: prefill, regimes, the world


def test_prefill_share_charges_every_groups_experts_on_every_gpu():
    # Hand computation, ADP8 EP8 at 3,072 users, only prefill on (all efficiencies 1): lambda = 3072 / 2048 = 1.5 new
    # requests per step; each group prefills lambda / 8 of them on its own GPU (attention side), while the expert
    # work of all lambda requests lands on every GPU, 1/8 of each request's routed-expert FLOPs per GPU.
    f = pm.Factors.naive().with_(prefill=True)
    wl = pm.Workload(1024, 2048, 0)
    r = pm.decode_step("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, 3072, wl, f)
    p, n = pm.component_params(), 1024
    causal = 61 * 2 * 128 * (n * n / 2) * (128 + 64 + 128)
    attn_side = (2 * n * p["attention"] / 2250e12 + causal / (697e12)
                 + 2 * n * (p["dense_ffn"] + p["shared_expert"]) / 9000e12)
    expert_per_gpu = 2 * n * 58 * 8 * 3 * 7168 * 2048 / 8 / 9000e12
    lam = 3072 / 2048
    assert pm.prefill_attention_frac_sm100(1024) == pytest.approx(697 / 2250)     # FlashAttention-4, causal 1K
    assert r.times["prefill share"] == pytest.approx(lam / 8 * attn_side + lam * expert_per_gpu, rel=1e-9)
    old = lam / 8 * (attn_side + expert_per_gpu)                                    # the v1 accounting: 1/dp too low
    assert r.times["prefill share"] - old == pytest.approx(7 * lam / 8 * expert_per_gpu, rel=1e-9)
    # a disaggregated decode pool carries no prefill
    d = pm.decode_pool("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, 3072, wl, f)
    assert "prefill share" not in d.times and d.step_s < r.step_s


def test_grouped_expert_gemms_by_tokens_per_expert():
    # DeepGEMM grouped tables (H800): one expert = gate-up (N 4096, K 7168) + down (N 7168, K 2048), FLOP-weighted
    eff256 = (58.72 + 29.36) / (58.72 / (932 / 1979) + 29.36 / (815 / 1979))
    assert pm.grouped_gemm_efficiency(256) == pytest.approx(eff256, rel=1e-3)
    assert pm.grouped_gemm_efficiency(8) == pm.grouped_gemm_efficiency(256)        # held below the table
    assert pm.grouped_gemm_efficiency(8192) == pm.grouped_gemm_efficiency(1e6) == pytest.approx(0.618, abs=1e-3)
    assert pm.grouped_gemm_efficiency(256) < pm.grouped_gemm_efficiency(1024) < pm.grouped_gemm_efficiency(4096)
    with pytest.raises(ValueError, match="tokens_per_expert"):
        pm.grouped_gemm_efficiency(-1)


def test_redundant_experts_and_non_divisor_ep():
    # EP48 with 32 redundant experts (EPLB on NVL72): 288 slots, 6 per GPU
    lay = pm.Layout(48, 1, 1, 48, redundant_experts=32, nvlink_domain=72, eplb=True)
    w = pm.weight_bytes_per_gpu(lay, pm.RECIPE_FP8, include_mtp=False)
    assert w["routed_experts"] == pytest.approx(58 * 288 * 3 * 7168 * 2048 * pm.STORAGE_BYTES["fp8"] / 48)
    r = pm.decode_pool("GB200", lay, pm.RECIPE_FP8, 48 * 256, pm.Workload(2000, 100))
    assert r.layout.describe() == "ADP48 attention, EP48+32 experts"
    # EPLB's measured balance (blog 4: std 52.0 of 1,024 at EP32) replaces the raw imbalance (491.6)
    assert pm.Factors().eplb_imbalance_cv == pytest.approx(52.0 / 1024)
    no = pm.decode_pool("GB200", pm.Layout(48, 1, 1, 48, redundant_experts=32, nvlink_domain=72), pm.RECIPE_FP8,
                        48 * 256, pm.Workload(2000, 100))
    assert no.step_s > r.step_s


def test_multi_node_all_to_all_over_infiniband():
    # 72 H100s in 9 nodes: DeepEP low-latency copies (one per routed expert) leave the node with probability 64/72,
    # over CX7 InfiniBand at DeepEP's measured RDMA bandwidth (EP64: 43/46 GB/s, EP128: 39/39, log-interpolated)
    d64, c64 = pm.rdma_bandwidth(64)
    assert (d64, c64) == (43e9, 46e9) and pm.rdma_bandwidth(512) == (39e9, 40e9)
    assert 39e9 < pm.rdma_bandwidth(72)[0] < 43e9
    assert pm.rdma_bandwidth(32, "normal") == (58e9, 58e9)
    lay = pm.Layout(72, 1, 1, 72, redundant_experts=32, nvlink_domain=8, eplb=True, a2a="per_expert")
    r = pm.decode_pool("H100 SXM", lay, pm.RECIPE_FP8, 72 * 256, pm.Workload(2000, 100))
    comm = r.times["communication (NVLink + InfiniBand)"]
    dis, com = pm.rdma_bandwidth(72)
    hot = 1 + pm.expected_max_normal(72) * 52.0 / 1024 * (72 / 32) ** 0.5
    ib = 58 * (2 * 5e-6 + hot * 8 * 64 / 72 * 256 * 7168 * (pm.STORAGE_BYTES["fp8"] / dis + 2 / com))
    assert comm == pytest.approx(ib, rel=1e-9)
    # two-batch overlap hides it behind the computation (and launches every kernel twice)
    tbo = pm.decode_pool("H100 SXM", pm.Layout(72, 1, 1, 72, redundant_experts=32, nvlink_domain=8, eplb=True,
                                               a2a="per_expert", two_batch_overlap=True),
                         pm.RECIPE_FP8, 72 * 256, pm.Workload(2000, 100))
    assert tbo.step_s < r.step_s
    assert tbo.times["kernel fixed cost"] == pytest.approx(2 * r.times["kernel fixed cost"])


def test_prefill_pool_and_host_offload():
    lay = pm.Layout(32, 1, 1, 32, redundant_experts=32, nvlink_domain=8, eplb=True, two_batch_overlap=True)
    r = pm.prefill_pool("H100 SXM", lay, pm.RECIPE_FP8, pm.Workload(4096, 1), 16384)
    assert r.input_tokens_per_s_gpu == pytest.approx(16384 / r.step_s)
    # two-batch overlap: DeepSeek's prefill profile gives the all-to-all 24 of 132 SMs -> computation x 132 / 108
    compute = r.times["attention side"] + r.times["routed experts"]
    assert r.times["overlap: compute on fewer SMs"] == pytest.approx(compute * 24 / 108)
    # two GB200s cannot hold the NVFP4 checkpoint: refused with the shortfall, or streamed from Grace memory
    two = pm.Layout(2, 1, 1, 2, nvlink_domain=72)
    rec = pm.Recipe(attention="fp8", kv_cache="fp8")
    with pytest.raises(ValueError, match=r"exceed 186 GB HBM by [0-9.]+ GB \(offload=True"):
        pm.prefill_pool("GB200", two, rec, pm.Workload(2000, 1), 16384)
    off = pm.prefill_pool("GB200", two, rec, pm.Workload(2000, 1), 16384, offload=True)
    assert off.offloaded_gb_per_gpu > 10 and "stream from host memory" in off.notes[0]
    with pytest.raises(ValueError, match="tokens_per_gpu"):
        pm.prefill_pool("H100 SXM", lay, pm.RECIPE_FP8, pm.Workload(4096, 1), 1000)


def test_burst_waves_and_time_to_first_token():
    # 16,384 requests at once on a DGX B200 (FP8 cache): waves of what the paged cache holds
    wl = pm.Workload(1024, 2048, 0)
    b = pm.burst("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.Recipe(kv_cache="fp8"), wl, 16384)
    cap = pm.max_concurrency("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.Recipe(kv_cache="fp8"), wl, kv_fraction=0.9)
    assert b.wave == cap - cap % 8 and b.waves == pytest.approx(16384 / b.wave)
    assert b.total_s == pytest.approx(b.waves * (b.prefill_s + b.decode_s))
    assert b.tokens_per_s_gpu == pytest.approx(16384 * 2048 / b.total_s / 8)
    assert b.decode_s == pytest.approx(2048 * b.step.step_s)
    # the second wave waits for the first: mean TTFT = (requests of wave 2) x one wave / all + half a prefill
    rest = 16384 - b.wave
    assert b.ttft_mean_s == pytest.approx(rest * (b.prefill_s + b.decode_s) / 16384 + b.prefill_s / 2)
    small = pm.burst("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.Recipe(kv_cache="fp8"), wl, 2000)
    assert small.waves == 1 and small.ttft_mean_s == pytest.approx(small.prefill_s / 2)
    assert pm.burst("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.Recipe(kv_cache="fp8"), wl, 2000, max_batch=64).wave == 512
    with pytest.raises(ValueError, match="num_requests"):
        pm.burst("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl, 0)


def test_poisson_serving_p99_and_the_mlperf_limits():
    assert pm.MLPERF_DEEPSEEK_R1["Server"] == {"ttft_ms": 2000.0, "tpot_ms": 80.0, "percentile": 99.0}
    wl = pm.Workload(1024, 2048, 0, kind="long-tail")
    r = pm.serve("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl, 5.0)
    # Little's law: concurrency = rate x time in the system (rounded up to whole requests per group)
    assert r.step.concurrency == pytest.approx(5.0 * (r.ttft_mean_s + 2048 * r.tpot_mean_s), abs=8)
    assert r.ttft_p99_s > r.ttft_mean_s > 0 and r.tpot_p99_s > r.tpot_mean_s
    assert r.tokens_per_s == pytest.approx(5.0 * 2048)
    # P(W > t) = rho exp(-rho t / E[W]) -> the 99th percentile of the wait
    wait = r.ttft_mean_s - r.prefill_s
    assert r.ttft_p99_s - r.prefill_s == pytest.approx(wait / r.utilisation * math.log(r.utilisation / 0.01))
    m = pm.max_rate("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl)
    assert m.ttft_p99_s <= 2.0 and m.tpot_p99_s <= 0.080 and m.rate > 5.0
    with pytest.raises(ValueError, match="queue grows without bound"):
        pm.serve("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl, 1e5)
    with pytest.raises(ValueError, match="rate must be > 0"):
        pm.serve("B200", pm.LAYOUT_MAX_THROUGHPUT, pm.RECIPE_NVFP4, wl, 0.0)


def test_world_points_carry_source_date_and_configuration():
    pts = pm.WORLD_POINTS
    assert len(pts) >= 10 and len({p["gpu"] for p in pts}) >= 2
    keys = ("source", "url", "when", "gpu", "gpus", "framework", "parallelism", "precision", "isl", "osl",
            "concurrency", "mtp", "published", "metric", "category", "model")
    assert all(all(k in p for k in keys) for p in pts)
    assert {p["category"] for p in pts} == set(pm.CATEGORIES)
    # none of them is a number a factor was derived from
    assert 25664.0 not in {p["published"] for p in pts} and pm.PUBLISHED_MTP_B200[0] not in {
        p["published"] for p in pts}


def test_world_data_file_presets_and_its_errors():
    """world.toml's presets fill in each point; a bad name is an error naming the point and the key."""
    import fnmatch
    import tomllib
    from pathlib import Path

    from bwkit.perfmodel.published import world

    data = tomllib.loads((Path(world.__file__).parent / "world.toml").read_text())
    pts = world.points_from(data)
    assert pts == pm.WORLD_POINTS
    h100 = next(p for p in pts if p["name"].startswith("H100 decode pool"))
    assert h100["published"] == 22282.0 / 8 and h100["concurrency"] == 72 * 256      # values, arithmetic in comments
    assert h100["url"] == data["sources"]["EP"]["url"] and h100["when"] == "2025-05-05"
    assert h100["model"]["layout"] == data["layouts"]["SGL_DECODE_H100"] and h100["model"]["recipe"] == "fp8"
    h100["model"]["layout"]["num_gpus"] = 1                       # each point has its own copy of a preset
    assert world.points_from(data)[pts.index(h100)]["model"]["layout"]["num_gpus"] == 72
    raw = data["points"][0]
    for change, message in (({"model": {**raw["model"], "layout": "ADP9"}}, "model.layout names 'ADP9'"),
                            ({"source": "no preset named"}, "source must name one [sources] entry"),
                            ({"url": "https://example.org"}, "unknown key(s) ['url']"),
                            ({"notes": "see {NO_SUCH_NOTE}"}, "notes names 'NO_SUCH_NOTE'")):
        with pytest.raises(ValueError, match=re.escape(message)) as e:
            world.points_from({**data, "points": [{**raw, **change}]})
        assert raw["name"] in str(e.value)
    # the data file ships in the wheel: pyproject's package-data names it
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert any(fnmatch.fnmatch("perfmodel/published/world.toml", pat)
               for pat in pyproject["tool"]["setuptools"]["package-data"]["bwkit"])


def test_the_model_against_the_world():
    rows = pm.world_table()
    summary = pm.world_summary(rows)
    assert summary["decode"]["median_abs"] <= 0.15                 # steady-state decode (target)
    assert summary["prefill"]["median_abs"] <= 0.35                # prefill pools (target)
    # the values the lab quotes: medians and worst misses, rounded
    assert round(summary["decode"]["median_abs"], 2) == 0.12 and round(summary["decode"]["worst"], 2) == 0.53
    assert round(summary["prefill"]["median_abs"], 2) == 0.32
    assert round(summary["burst"]["median_abs"], 2) == 0.21 and round(summary["burst"]["worst"], 2) == 1.09
    by = {r.name: r for r in rows}
    assert all(r.predicted > 0 for r in rows)
    assert by["B200 TP8 (experts EP2xTP4), batch 1, MTP 3"].error == pytest.approx(-0.017, abs=0.01)


def test_counted_activation_traffic_and_old_import_paths():
    # norms/residuals: 4 BF16 hidden vectors per layer; per MoE layer 8 x (FP8 copy + gate-up out written and read
    # + FP8 activation out + BF16 down out written and read)
    assert pm.activation_bytes() == 61 * pm.ACTIVATION_BYTES["per_layer"] + 58 * pm.ACTIVATION_BYTES["per_moe_layer"]
    assert pm.ACTIVATION_BYTES["per_moe_layer"] == 8 * (7168 + 16384 + 2048 + 28672)
    assert pm.mha_prefill_bytes() == 128 * 2 * 1536
    # Factors moved to bwkit.perfmodel.factors; the old module path still resolves
    from bwkit.perfmodel import parameters
    assert parameters.Factors is pm.Factors
    with pytest.raises(AttributeError):
        parameters.NoSuchThing  # noqa: B018
