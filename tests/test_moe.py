"""bwkit.moe: the DeepSeek-V3 gate against a per-token loop written here, experts, permutation, cost, low precision."""

import math

import pytest
import torch
import torch.nn.functional as F

from bwkit import moe, moe_lowp
from bwkit.moe import DEEPSEEK_V3, SMALL, TINY


def loop_gate(x, weight, bias, cfg):
    """Independent reference: DeepSeek-V3's routing, one token at a time in float64 Python."""
    scores = torch.sigmoid(x.double() @ weight.double().T)
    epg = cfg.num_experts // cfg.num_groups
    dense = torch.zeros(x.shape[0], cfg.num_experts, dtype=torch.float64)
    for t in range(x.shape[0]):
        s = scores[t].tolist()
        b = [s[e] + float(bias[e]) for e in range(cfg.num_experts)]
        gscore = []
        for g in range(cfg.num_groups):
            top2 = sorted(b[g * epg:(g + 1) * epg], reverse=True)[:2]
            gscore.append(sum(top2))
        kept = sorted(range(cfg.num_groups), key=lambda g: -gscore[g])[:cfg.topk_groups]
        cand = [e for e in range(cfg.num_experts) if e // epg in kept]
        chosen = sorted(cand, key=lambda e: -b[e])[:cfg.top_k]
        total = sum(s[e] for e in chosen)
        for e in chosen:
            dense[t, e] = s[e] / total * cfg.route_scale
    return dense


def dense_experts(x, dense_w, w1, w3, w2):
    """Independent reference: every expert on every token, weighted by the dense routing matrix."""
    y = torch.zeros_like(x)
    for e in range(w1.shape[0]):
        out = (F.silu(x @ w1[e].T) * (x @ w3[e].T)) @ w2[e].T
        y += dense_w[:, e:e + 1] * out
    return y


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
def test_gate_matches_per_token_loop(cfg):
    w = moe.init_moe_weights(cfg, seed=1, dtype=torch.float64)
    x = torch.randn(48, cfg.hidden, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias.double(), cfg)
    assert ids.shape == (48, cfg.top_k) and weights.dtype == torch.float64
    got = moe.dense_routing(weights, ids, cfg.num_experts)
    torch.testing.assert_close(got, loop_gate(x, w.gate_weight, w.gate_bias, cfg), rtol=1e-12, atol=1e-12)
    # weights sum to the route scale; experts come from at most topk_groups groups
    torch.testing.assert_close(weights.sum(-1), torch.full((48,), cfg.route_scale, dtype=torch.float64))
    groups = ids // cfg.experts_per_group
    assert max(len(set(row)) for row in groups.tolist()) <= cfg.topk_groups


def _hand_cfg():
    return moe.DeepSeekMoEConfig(hidden=4, num_experts=8, num_groups=4, topk_groups=2, top_k=3,
                                 expert_inter=4, num_layers=1, num_dense_layers=0, name="hand")


def test_gate_from_scores_hand_case_and_hf_zero_mask():
    cfg = _hand_cfg()
    # groups {0,1} {2,3} {4,5} {6,7}; bias -0.5 everywhere: biased scores are s - 0.5
    s = torch.tensor([[0.9, 0.8, 0.7, 0.2, 0.3, 0.1, 0.6, 0.55]], dtype=torch.float64)
    bias = torch.full((8,), -0.5, dtype=torch.float64)
    # group scores (top-2 biased sums): 0.7, -0.1, -0.6, 0.15 -> keep groups 0 and 3
    # official: top-3 of biased scores in experts {0,1,6,7} -> 0 (0.4), 1 (0.3), 6 (0.1)
    w, ids = moe.gate_from_scores(s, bias, cfg)
    assert sorted(ids[0].tolist()) == [0, 1, 6]
    expect = torch.tensor([0.9, 0.8, 0.6], dtype=torch.float64) / 2.3 * cfg.route_scale
    torch.testing.assert_close(w[0].sort(descending=True)[0], expect)
    # 0.0 mask (Hugging Face port): a dropped expert's 0.0 beats expert 7's and 6's biased 0.05 / 0.1? no:
    # 0.1 and 0.05 are > 0, so here both masks agree ...
    _, ids_hf = moe.gate_from_scores(s, bias, cfg, mask_value=0.0)
    assert sorted(ids_hf[0].tolist()) == [0, 1, 6]
    # ... but with bias -0.65 expert 6's biased score is -0.05 < 0 and a masked expert (0.0) wins the third slot
    bias2 = torch.full((8,), -0.65, dtype=torch.float64)
    _, ids = moe.gate_from_scores(s, bias2, cfg)
    _, ids_hf = moe.gate_from_scores(s, bias2, cfg, mask_value=0.0)
    assert sorted(ids[0].tolist()) == [0, 1, 6]
    third = set(ids_hf[0].tolist()) - {0, 1}
    assert len(third) == 1 and third.pop() in (2, 3, 4, 5)   # an expert of a dropped group


def test_gate_hf_port_differs_only_where_documented():
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=3)
    x = torch.randn(64, cfg.hidden, generator=torch.Generator().manual_seed(4))
    # fp32 input, biased scores all > 0 (bias >= 0): same experts, same weights
    pos_bias = w.gate_bias.abs()
    wo, io = moe.gate(x, w.gate_weight, pos_bias, cfg)
    wh, ih = moe.gate_hf(x, w.gate_weight, pos_bias, cfg)
    torch.testing.assert_close(moe.dense_routing(wo, io, 32), moe.dense_routing(wh, ih, 32), rtol=1e-6, atol=1e-6)
    # a negative bias makes kept experts' biased scores < 0: the 0.0 mask then picks dropped-group experts
    neg_bias = w.gate_bias - 1.0
    _, io = moe.gate(x, w.gate_weight, neg_bias, cfg)
    _, ih = moe.gate_hf(x, w.gate_weight, neg_bias, cfg)
    assert (io.sort(-1)[0] != ih.sort(-1)[0]).any(-1).sum() > 0
    biased = torch.sigmoid(x @ w.gate_weight.T) + neg_bias
    kept = biased.view(64, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1).topk(cfg.topk_groups, dim=-1)[1]
    in_kept = lambda ids: (ids // cfg.experts_per_group)[:, :, None].eq(kept[:, None, :]).any(-1)  # noqa: E731
    assert in_kept(io).all()                  # official: only experts of kept groups
    assert not in_kept(ih).all()              # HF port: some experts of dropped groups


def test_gate_variants_model_the_classic_mistakes():
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=5, dtype=torch.float64)
    x = torch.randn(16, cfg.hidden, dtype=torch.float64)
    s = torch.sigmoid(x @ w.gate_weight.T)
    b = w.gate_bias.double()
    ok, ids = moe.gate_from_scores(s, b, cfg)
    biased, ids_b = moe.gate_from_scores(s, b, cfg, weights_from="biased")
    assert torch.equal(ids, ids_b)
    torch.testing.assert_close(biased, (s + b).gather(1, ids) / (s + b).gather(1, ids).sum(-1, keepdim=True) * 2.5)
    unscaled, _ = moe.gate_from_scores(s, b, cfg, route_scale=1.0)
    torch.testing.assert_close(unscaled * 2.5, ok)
    raw, _ = moe.gate_from_scores(s, b, cfg, normalize=False)
    torch.testing.assert_close(raw, s.gather(1, ids) * 2.5)
    # group scores other than the official top-2 sum: max and sum of each group's biased scores
    grouped = (s + b).view(16, cfg.num_groups, -1)
    for rule, score in (("max", grouped.amax(-1)), ("sum", grouped.sum(-1)), ("top2", grouped.topk(2, -1)[0].sum(-1))):
        _, ids_r = moe.gate_from_scores(s, b, cfg, group_score=rule)
        kept = score.topk(cfg.topk_groups, -1)[1]
        assert (ids_r // cfg.experts_per_group)[:, :, None].eq(kept[:, None, :]).any(-1).all(), rule
    assert torch.equal(moe.gate_from_scores(s, b, cfg, group_score="top2")[1], ids)
    assert not torch.equal(moe.gate_from_scores(s, b, cfg, group_score="sum")[1], ids)
    with pytest.raises(ValueError, match="group_score"):
        moe.gate_from_scores(s, b, cfg, group_score="mean")


def test_gate_selects_in_fp32_with_bf16_inputs():
    # official inference/model.py: logits and sigmoid in x's dtype (bf16); the fp32 bias promotes s + b to fp32, so
    # the group scores, the mask and the top-k run in fp32; the weights come from the bf16 s, returned in bf16
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=11)
    x = torch.randn(64, cfg.hidden, generator=torch.Generator().manual_seed(12)).bfloat16()
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    s16 = torch.sigmoid(x @ w.gate_weight.bfloat16().T)
    assert s16.dtype == torch.bfloat16 and weights.dtype == torch.bfloat16
    w32, ids32 = moe.gate_from_scores(s16.float(), w.gate_bias.float(), cfg)   # the same selection in fp32
    assert torch.equal(ids, ids32)
    torch.testing.assert_close(weights.float(), w32, rtol=2e-2, atol=1e-2)


def test_gate_bad_inputs():
    cfg = TINY
    w = moe.init_moe_weights(cfg)
    x = torch.randn(4, cfg.hidden)
    with pytest.raises(ValueError, match="hidden size mismatch"):
        moe.gate(torch.randn(4, cfg.hidden + 1), w.gate_weight, w.gate_bias, cfg)
    with pytest.raises(ValueError, match="weight must be"):
        moe.gate(x, w.gate_weight[:-1], w.gate_bias, cfg)
    with pytest.raises(ValueError, match="bias must be"):
        moe.gate(x, w.gate_weight, w.gate_bias[:-1], cfg)
    with pytest.raises(ValueError, match="2-D"):
        moe.gate(x[None], w.gate_weight, w.gate_bias, cfg)
    xn = x.clone()
    xn[2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN router logits for 1 token\(s\) \(first rows \[2\]\)"):
        moe.gate(xn, w.gate_weight, w.gate_bias, cfg)
    with pytest.raises(TypeError, match="DeepSeekMoEConfig"):
        moe.gate(x, w.gate_weight, w.gate_bias, {"hidden": 64})
    with pytest.raises(ValueError, match="top_k"):
        TINY.scaled(top_k=17)
    with pytest.raises(ValueError, match="must divide num_experts"):
        TINY.scaled(num_groups=3)
    with pytest.raises(ValueError, match="topk_groups"):
        TINY.scaled(topk_groups=5)


def test_experts_paths_agree_with_dense_reference():
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=6, dtype=torch.float64)
    x = torch.randn(40, cfg.hidden, dtype=torch.float64)
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias.double(), cfg)
    ref = dense_experts(x, moe.dense_routing(weights, ids, cfg.num_experts), w.w1, w.w3, w.w2)
    for fn in (moe.experts_reference, moe.experts_grouped, moe.experts_naive):
        torch.testing.assert_close(fn(x, weights, ids, w.w1, w.w3, w.w2), ref, rtol=1e-10, atol=1e-10)
    shared = (F.silu(x @ w.shared_w1.T) * (x @ w.shared_w3.T)) @ w.shared_w2.T
    y = moe.moe_forward(x.reshape(4, 10, cfg.hidden), w, cfg, experts=moe.experts_grouped)
    torch.testing.assert_close(y.reshape(40, -1), ref + shared, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="topk_ids must lie"):
        moe.experts_grouped(x, weights, ids + cfg.num_experts, w.w1, w.w3, w.w2)
    with pytest.raises(ValueError, match="hidden size mismatch"):
        moe.moe_forward(torch.randn(3, cfg.hidden + 2), w, cfg)


def test_permute_tokens_hand_example():
    ids = torch.tensor([[1, 0], [1, 2]])       # pairs p0->e1, p1->e0, p2->e1, p3->e2
    p = moe.permute_tokens(ids, num_experts=4, block_m=2)
    assert p.sorted_ids.tolist() == [1, 4, 0, 2, 3, 4]      # e0: p1 + pad, e1: p0 p2, e2: p3 + pad; e3 none
    assert p.block_expert_ids.tolist() == [0, 1, 2]
    assert p.tokens_per_expert.tolist() == [1, 2, 1, 0]
    assert p.num_pairs == 4 and p.num_padded == 6 and math.isclose(p.padding_fraction, 1 / 3)


def test_permute_tokens_invariants():
    g = torch.Generator().manual_seed(7)
    ids = torch.stack([torch.randperm(32, generator=g)[:4] for _ in range(50)])
    p = moe.permute_tokens(ids, 32, 16)
    flat = ids.reshape(-1)
    real = p.sorted_ids[p.sorted_ids < p.num_pairs]
    assert sorted(real.tolist()) == list(range(200))            # every pair exactly once
    rows_expert = p.block_expert_ids.repeat_interleave(16)
    mask = p.sorted_ids < p.num_pairs
    assert torch.equal(flat[p.sorted_ids[mask]], rows_expert[mask])   # each row sits in its expert's block
    counts = torch.bincount(flat, minlength=32)
    assert p.num_padded == int(((counts + 15) // 16 * 16).sum())
    for e in range(32):                                          # stable: token order inside an expert
        run = p.sorted_ids[(rows_expert == e) & mask].tolist()
        assert run == sorted(run)
    with pytest.raises(ValueError, match="block_m"):
        moe.permute_tokens(ids, 32, 0)
    with pytest.raises(ValueError, match="lie in"):
        moe.permute_tokens(ids, 16, 16)


def test_combine_hand_example():
    pair_out = torch.arange(12.0).reshape(6, 2)                 # 3 tokens x top_k 2, hidden 2
    w = torch.tensor([[1.0, 0.5], [0.0, 2.0], [1.0, 1.0]])
    y = moe.combine(pair_out, w, 3)
    assert y.tolist() == [[0 + 0.5 * 2, 1 + 0.5 * 3], [2 * 6, 2 * 7], [8 + 10, 9 + 11]]
    with pytest.raises(ValueError, match="num_tokens"):
        moe.combine(pair_out, w, 2)


def test_cost_at_full_size_by_hand():
    c = moe.moe_cost(DEEPSEEK_V3, num_tokens=1, weight_bytes=1.0, act_bytes=2.0, dispatch_bytes=1.0)
    assert c.gate_flops == 2 * 7168 * 256 == 3_670_016
    assert c.routed_flops == 8 * 3 * 2 * 7168 * 2048 == 704_643_072
    assert c.shared_flops == 88_080_384
    assert c.flops_per_token == 796_393_472
    assert c.expert_params == 44_040_192
    assert c.layer_params == 257 * 44_040_192 + 7168 * 256
    assert c.active_params_per_token == 9 * 44_040_192 + 7168 * 256
    assert math.isclose(c.weight_bytes_per_token, 9 * 44_040_192 + 7168 * 256, rel_tol=1e-12)
    assert c.dispatch_bytes_per_token == 8 * 7168 and c.combine_bytes_per_token == 8 * 7168 * 2
    # routed experts of the whole model: 58 MoE layers x 256 x 44 M = ~654 G (REFERENCE.md)
    assert round(DEEPSEEK_V3.num_moe_layers * 256 * c.expert_params / 1e9) == 654
    big = moe.moe_cost(DEEPSEEK_V3, num_tokens=4096)
    assert math.isclose(big.weight_bytes_per_token, (257 * 44_040_192 * (1 - (1 - 8 / 256) ** 4096)
                                                     + 44_040_192 * 0 + 7168 * 256) / 4096, rel_tol=1e-6)
    assert moe.expected_active_experts(1, DEEPSEEK_V3) == pytest.approx(8.0)
    assert moe.expected_active_experts(10_000, DEEPSEEK_V3) == pytest.approx(256.0)
    with pytest.raises(ValueError, match="num_tokens"):
        moe.moe_cost(DEEPSEEK_V3, num_tokens=0)
    with pytest.raises(ValueError, match="scaled config"):
        moe.init_moe_weights(DEEPSEEK_V3)


def test_load_imbalance_random_vs_skewed():
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=8)
    x = torch.randn(512, cfg.hidden, generator=torch.Generator().manual_seed(9))
    s = torch.sigmoid(x @ w.gate_weight.T)
    _, ids = moe.gate_from_scores(s, w.gate_bias, cfg)
    _, ids_sk = moe.gate_from_scores(torch.sigmoid(x @ w.gate_weight.T + moe.skewed_router_bias(cfg, alpha=1.5)),
                                     w.gate_bias, cfg)
    c, c_sk = moe.tokens_per_expert(ids, 32), moe.tokens_per_expert(ids_sk, 32)
    assert int(c.sum()) == int(c_sk.sum()) == 512 * cfg.top_k
    assert moe.load_imbalance(c_sk) > moe.load_imbalance(c) >= 1.0
    assert moe.load_imbalance(torch.full((8,), 3)) == 1.0


def test_lowp_experts_error_order_and_bf16_reference():
    cfg = TINY.scaled(hidden=128, expert_inter=128)
    w = moe.init_moe_weights(cfg, seed=10)
    x = torch.randn(24, cfg.hidden)
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    ref = moe.experts_reference(x.double(), weights.double(), ids, w.w1.double(), w.w3.double(), w.w2.double())
    errs = {}
    for scheme in moe_lowp.LOWP_SCHEMES:
        q = moe_lowp.quantize_expert_weights(w.w1, w.w3, w.w2, scheme)
        errs[scheme] = moe.relative_error(moe_lowp.experts_lowp(x, weights, ids, *q, scheme=scheme), ref)
    assert errs["bf16"] < 0.01 < errs["fp8_block"] < 0.1 < errs["nvfp4"] < 0.5
    # the bf16 path is exactly: bf16-rounded x and weights, fp32 math, bf16-rounded h
    bf = lambda t: t.to(torch.bfloat16).float()  # noqa: E731
    dense_w = moe.dense_routing(weights, ids, cfg.num_experts)
    y = torch.zeros(24, cfg.hidden)
    for e in range(cfg.num_experts):
        h = F.silu(bf(x) @ bf(w.w1[e]).T) * (bf(x) @ bf(w.w3[e]).T)
        y += dense_w[:, e:e + 1] * (bf(h) @ bf(w.w2[e]).T)
    q = moe_lowp.quantize_expert_weights(w.w1, w.w3, w.w2, "bf16")
    got = moe_lowp.experts_lowp(x, weights, ids, *q, scheme="bf16")
    # fp32 sums in another order (per expert's rows vs all rows) can land an h value on the other side of a bf16
    # rounding boundary: that element is then one bf16 ulp off. Measured over 40 random inputs: >= 96 % of the
    # elements agree to 1e-5 and none is off by more than 3.3e-4; with h or x left unrounded <= 1.5 % agree.
    close = torch.isclose(got, y, rtol=1e-5, atol=1e-5).float().mean().item()
    assert close >= 0.9 and float((got - y).abs().max()) < 1e-3, (close, float((got - y).abs().max()))
    with pytest.raises(ValueError, match="scheme must be one of"):
        moe_lowp.fake_quant_act(x, "fp8")


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
def test_zero_tokens_flow_through_every_step(cfg):
    # 0 tokens: empty routing, empty permutation, empty outputs of the right shape and dtype, no error
    w = moe.init_moe_weights(cfg, seed=12, dtype=torch.float64)
    x = torch.zeros(0, cfg.hidden, dtype=torch.float64)
    for gate_fn, bias in ((moe.gate, w.gate_bias), (moe.gate, None), (moe.gate_hf, w.gate_bias)):
        weights, ids = gate_fn(x, w.gate_weight, bias, cfg)
        assert weights.shape == ids.shape == (0, cfg.top_k) and ids.dtype == torch.int64
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    assert weights.dtype == torch.float64
    p = moe.permute_tokens(ids, cfg.num_experts, 16)
    assert p.num_pairs == p.num_padded == p.num_blocks == 0 and p.tokens_per_expert.tolist() == [0] * cfg.num_experts
    assert p.padding_fraction == 0.0
    for fn in (moe.experts_reference, moe.experts_grouped, moe.experts_naive):
        y = fn(x, weights, ids, w.w1, w.w3, w.w2)
        assert y.shape == (0, cfg.hidden) and y.dtype == torch.float64
    q = moe_lowp.quantize_expert_weights(w.w1, w.w3, w.w2, "bf16")
    assert moe_lowp.experts_lowp(x, weights, ids, *q, scheme="bf16").shape == (0, cfg.hidden)
    assert moe.combine(torch.zeros(0, 5), torch.zeros(0, 3), 0).shape == (0, 5)
    for experts in (None, moe.experts_grouped):
        assert moe.moe_forward(x, w, cfg, experts=experts).shape == (0, cfg.hidden)
        assert moe.moe_forward(torch.zeros(3, 0, cfg.hidden, dtype=torch.float64), w, cfg,
                               experts=experts).shape == (3, 0, cfg.hidden)
    assert math.isnan(moe.load_imbalance(moe.tokens_per_expert(ids, cfg.num_experts)))


def test_one_token_and_experts_without_pairs():
    # a batch smaller than the expert count: most experts get no pair; the grouped path skips them
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=13, dtype=torch.float64)
    x = torch.randn(1, cfg.hidden, dtype=torch.float64, generator=torch.Generator().manual_seed(14))
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    ref = dense_experts(x, moe.dense_routing(weights, ids, cfg.num_experts), w.w1, w.w3, w.w2)
    torch.testing.assert_close(moe.experts_grouped(x, weights, ids, w.w1, w.w3, w.w2), ref, rtol=1e-12, atol=1e-12)
    # a grouped call on rows routed to a single expert (what an EP rank runs), and on no rows at all
    one = torch.full((5, 1), 3)
    xs = x.repeat(5, 1)
    y = moe.experts_grouped(xs, torch.ones(5, 1, dtype=torch.float64), one, w.w1, w.w3, w.w2)
    torch.testing.assert_close(y, moe.swiglu(xs, w.w1[3], w.w3[3], w.w2[3]))
    empty = moe.experts_grouped(xs[:0], torch.ones(0, 1, dtype=torch.float64), one[:0], w.w1, w.w3, w.w2)
    assert empty.shape == (0, cfg.hidden)


def test_combine_bad_inputs():
    with pytest.raises(ValueError, match="num_tokens"):
        moe.combine(torch.zeros(4, 2), torch.zeros(3, 2), 3)
    with pytest.raises(ValueError, match="2-D"):
        moe.combine(torch.zeros(6), torch.zeros(3, 2), 3)


def test_routing_helpers_name_bad_input():
    """Expert ids out of range, wrong shapes and empty counts get a ValueError, never a silent wrong answer."""
    with pytest.raises(ValueError, match=r"tokens_per_expert: expert ids must lie in \[0, 4\)"):
        moe.tokens_per_expert(torch.tensor([[0, 9]]), 4)                 # bincount would return 10 counts
    with pytest.raises(ValueError, match="integer torch.Tensor"):
        moe.tokens_per_expert(torch.tensor([[0.0, 1.0]]), 4)
    with pytest.raises(ValueError, match="num_tokens, top_k"):
        moe.permute_tokens(torch.tensor([0, 1]), 4, 16)
    assert moe.tokens_per_expert(torch.tensor([[0, 3], [3, 3]]), 4).tolist() == [1, 0, 0, 3]
    with pytest.raises(ValueError, match=r"scores must be a tensor \[num_tokens, num_experts = 32\]"):
        moe.gate_from_scores(torch.rand(3, 30), None, SMALL)
    with pytest.raises(ValueError, match=r"bias must be None or a tensor of shape \[32\]"):
        moe.gate_from_scores(torch.rand(3, 32), torch.zeros(16), SMALL)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        moe.load_imbalance(torch.zeros(0))
    assert moe.load_imbalance([1, 2, 3]) == pytest.approx(1.5)            # a list works, as the docstring says
    assert math.isnan(moe.load_imbalance(torch.zeros(4)))                 # no token routed: NaN, documented
