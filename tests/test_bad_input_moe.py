"""Bad input to bwkit.moe and bwkit.moe_ep is refused by name (audit findings #3-#7, #13, #14, #16)."""

import inspect
import math

import pytest
import torch

from bwkit import moe, moe_ep

_CFG = moe.TINY
_W = moe.init_moe_weights(_CFG)
_X = torch.randn(6, _CFG.hidden, generator=torch.Generator().manual_seed(0))
_WTS, _IDS = moe.gate(_X, _W.gate_weight, _W.gate_bias, _CFG)
_SCORES = torch.sigmoid(_X @ _W.gate_weight.T)
_PAIR_OUT = torch.randn(6 * _CFG.top_k, _CFG.hidden)
_CFG_TYPE = "cfg must be a DeepSeekMoEConfig such as moe.TINY"

BAD = [
    # 3: non-float or string dtypes
    ("int32 weights (#3)", lambda: moe.init_moe_weights(_CFG, dtype=torch.int32), TypeError,
     "init_moe_weights: dtype must be a floating-point torch.dtype"),
    ("dtype 'bf16' (#3)", lambda: moe.init_moe_weights(_CFG, dtype="bf16"), TypeError,
     "init_moe_weights: dtype must be .*got 'bf16'"),
    ("seed 1.5", lambda: moe.init_moe_weights(_CFG, seed=1.5), ValueError, "init_moe_weights: seed must be an int"),
    ("skew seed 1.5", lambda: moe.skewed_router_bias(_CFG, seed=1.5), ValueError, "skewed_router_bias: seed"),
    ("skew alpha NaN", lambda: moe.skewed_router_bias(_CFG, alpha=math.nan), ValueError,
     r"alpha \(0 = no skew\) must be a number >= 0, got nan"),
    # 4: NaN
    ("weight_bytes NaN (#4)", lambda: moe.moe_cost(moe.DEEPSEEK_V3, weight_bytes=math.nan), ValueError,
     "moe_cost: weight_bytes must be a positive number, got nan"),
    ("act_bytes inf (#4)", lambda: moe.moe_cost(moe.DEEPSEEK_V3, act_bytes=math.inf), ValueError,
     "moe_cost: act_bytes must be a positive number, got inf"),
    ("expected experts NaN tokens (#4)", lambda: moe.expected_active_experts(math.nan, _CFG), ValueError,
     "expected_active_experts: num_tokens must be an int >= 0, got nan"),
    ("load_imbalance NaN (#4)", lambda: moe.load_imbalance([1.0, math.nan, 3.0]), ValueError,
     "load_imbalance: counts must be finite"),
    # 5: negative bytes
    ("dispatch_bytes -1 (#5)", lambda: moe.moe_cost(moe.DEEPSEEK_V3, dispatch_bytes=-1), ValueError,
     "moe_cost: dispatch_bytes must be a number >= 0, got -1"),
    # 6: moe_ep world and expert counts, ids out of range
    ("0 experts (#6)", lambda: moe_ep.expert_range(0, 4, 0), ValueError, "num_experts must be a positive int, got 0"),
    ("-16 experts (#6)", lambda: moe_ep.expert_range(0, 4, -16), ValueError, "num_experts must be a positive int"),
    ("16.0 experts (#6)", lambda: moe_ep.expert_range(0, 4, 16.0), ValueError, r"got 16.0 \(a float: pass 16\)"),
    ("'16' experts (#6)", lambda: moe_ep.expert_range(0, 4, "16"), ValueError, "num_experts .*typed as text"),
    ("world_size True (#6)", lambda: moe_ep.expert_range(0, True, 16), ValueError,
     "world_size must be a positive int, got True"),
    ("owner of expert 17 (#6)", lambda: moe_ep.expert_owner_rank(torch.tensor([[17, -1]]), 4, 16), ValueError,
     r"expert_owner_rank: expert ids must lie in \[0, 16\), got ids from -1 to 17"),
    ("owner of a list (#6)", lambda: moe_ep.expert_owner_rank([[1, 2]], 4, 16), TypeError,
     "expert_owner_rank: topk_ids must be an integer torch.Tensor"),
    # 7: truthy strings and True as a size
    ("normalize 'no' (#7)", lambda: moe.gate_from_scores(_SCORES, None, _CFG, normalize="no"), ValueError,
     "gate_from_scores: normalize must be True or False, got 'no'"),
    ("block_m True (#7)", lambda: moe.permute_tokens(_IDS, 16, True), ValueError,
     "block_m must be a positive int, got True"),
    ("num_tokens True (#7)", lambda: moe.moe_cost(moe.DEEPSEEK_V3, num_tokens=True), ValueError,
     "moe_cost: num_tokens must be a positive int, got True"),
    # 13: numbers typed as strings
    ("weight_bytes '1' (#13)", lambda: moe.moe_cost(moe.DEEPSEEK_V3, weight_bytes="1"), ValueError,
     "moe_cost: weight_bytes must be a positive number, got '1' .*drop the quotes"),
    ("num_tokens '8' (#13)", lambda: moe.expected_active_experts("8", _CFG), ValueError,
     "expected_active_experts: num_tokens .*got '8'"),
    ("route_scale '2.5' (#13)", lambda: moe.gate_from_scores(_SCORES, None, _CFG, route_scale="2.5"), ValueError,
     "gate_from_scores: route_scale must be a positive number, got '2.5'"),
    ("route_scale -1 (#13)", lambda: moe.gate_from_scores(_SCORES, None, _CFG, route_scale=-1.0), ValueError,
     "gate_from_scores: route_scale must be a positive number, got -1.0"),
    # 14: a name where an object belongs
    ("init 'TINY' (#14)", lambda: moe.init_moe_weights("TINY"), TypeError, "init_moe_weights: " + _CFG_TYPE),
    ("cost 'DEEPSEEK_V3' (#14)", lambda: moe.moe_cost("DEEPSEEK_V3"), TypeError, "moe_cost: " + _CFG_TYPE),
    ("experts 'TINY' (#14)", lambda: moe.expected_active_experts(8, "TINY"), TypeError,
     "expected_active_experts: " + _CFG_TYPE),
    ("gate 'TINY' (#14)", lambda: moe.gate_from_scores(_SCORES, None, "TINY"), TypeError,
     "gate_from_scores: " + _CFG_TYPE),
    ("forward with a weight tuple (#14)", lambda: moe.moe_forward(_X, (_W.w1, _W.w3, _W.w2), _CFG), TypeError,
     "moe_forward: w must be a MoEWeights .*got tuple"),
    ("forward experts='grouped' (#14)", lambda: moe.moe_forward(_X, _W, _CFG, experts="grouped"), TypeError,
     "moe_forward: experts must be None or a function .*got 'grouped'"),
    ("run_ep weights 'w' (#14)", lambda: moe_ep.run_ep(_X, "w", _CFG, world_size=2), TypeError,
     "run_ep: w must be a MoEWeights .*got str"),
    ("run_ep cfg 'TINY' (#14)", lambda: moe_ep.run_ep(_X, _W, "TINY"), TypeError, "run_ep: " + _CFG_TYPE),
    # 16: raw torch errors
    ("swiglu of all experts (#16)", lambda: moe.swiglu(_X, _W.w1, _W.w3, _W.w2), ValueError,
     r"swiglu: takes one expert's weights, w1/w3 \[inter, hidden\] and w2 \[hidden, inter\]"),
    ("swiglu w2 transposed (#16)", lambda: moe.swiglu(_X, _W.w1[0], _W.w3[0], _W.w2[0].t()), ValueError,
     r"swiglu: .*w2 \[32, 64\]"),
    ("dense_routing ids >= E (#16)", lambda: moe.dense_routing(_WTS, _IDS, 8), ValueError,
     r"dense_routing: expert ids must lie in \[0, 8\)"),
    ("dense_routing of a list (#16)", lambda: moe.dense_routing(_WTS.tolist(), _IDS, 16), TypeError,
     "dense_routing: weights must be a torch.Tensor, got list"),
    ("experts_reference of a list x (#16)",
     lambda: moe.experts_reference(_X.tolist(), _WTS, _IDS, _W.w1, _W.w3, _W.w2), TypeError,
     "x must be a torch.Tensor, got list"),
    ("experts_reference of list weights (#16)",
     lambda: moe.experts_reference(_X, _WTS.tolist(), _IDS, _W.w1, _W.w3, _W.w2), TypeError,
     "topk_weights must be a torch.Tensor, got list"),
    ("combine of a list (#16)", lambda: moe.combine(_PAIR_OUT.tolist(), _WTS, 6), TypeError,
     "combine: pair_out must be a torch.Tensor, got list"),
    ("combine num_tokens 6.0", lambda: moe.combine(_PAIR_OUT, _WTS, 6.0), ValueError,
     "combine: num_tokens must be an int >= 0"),
    ("load_imbalance of strings", lambda: moe.load_imbalance(["1", "2"]), TypeError,
     "load_imbalance: counts must be numbers"),
    ("forward of a list", lambda: moe.moe_forward(_X.tolist(), _W, _CFG), TypeError,
     "moe_forward: x must be a torch.Tensor"),
]


@pytest.mark.parametrize("call,exc,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_moe_bad_input_is_refused_by_name(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_valid_variants_still_work():
    """The lab's own variants (normalize=False, route_scale=1.0, float64 weights, 0 dispatch bytes) still run."""
    w, _ = moe.gate_from_scores(_SCORES, None, _CFG, normalize=False, route_scale=1.0)
    assert w.shape == (6, _CFG.top_k)
    assert moe.init_moe_weights(_CFG, dtype=torch.float64).w1.dtype == torch.float64
    assert moe.moe_cost(moe.DEEPSEEK_V3, dispatch_bytes=0).dispatch_bytes_per_token == 0
    assert moe.expected_active_experts(0, _CFG) == 0.0
    assert moe_ep.expert_owner_rank(torch.tensor([[0, 15]]), 4, 16).tolist() == [[0, 3]]
    assert moe.swiglu(_X, _W.w1[0], _W.w3[0], _W.w2[0]).shape == _X.shape
    assert inspect.getsource(moe.gate_from_scores).startswith("def gate_from_scores(scores, bias, cfg")  # lab 07
