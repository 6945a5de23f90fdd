"""Exercises of lab 07 (the DeepSeek-R1 MoE layer): what each check reads, the inputs it tries, the mistakes it names.

Inputs are rebuilt from `bwkit.moe` (the notebook's seeds for the cases its text talks about, `rng` for the rest);
references come from `bwkit.moe` / `bwkit.moe_ep` / `bwkit.formats`. Routing answers are compared as dense
[T, num_experts] matrices (`moe.dense_routing`), so the order of the top-k slots does not matter.
"""

from __future__ import annotations

import dataclasses
import random

import torch

from bwkit import formats, moe
from bwkit.kit.checks import compare_not_narrow, narrow_float
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import BadAnswer, Case, Exercise, Function, Mistake

__all__ = ["random_config", "notebook_biased_scores", "notebook_gate_inputs", "notebook_fp8_weight",
           "notebook_ep_ids", "moe_ep_table"]


def _gen(rng: random.Random) -> torch.Generator:
    return torch.Generator().manual_seed(rng.randrange(2**31))


def _narrow(what: str) -> Mistake:
    """The answer is right to float16/bfloat16 rounding only: the learner cast it (the inputs are wider)."""
    return Mistake(f"{what} is float16/bfloat16: keep the inputs' dtype (float64 or float32), without the cast",
                   when=lambda got, want, *a: narrow_float(got) is not None)


def _kept_float32(what: str) -> Mistake:
    """A float32 answer where the inputs (and so the reference, `compare_not_narrow(keep_dtype=True)`) are
    float64: a .float() on the way."""
    return Mistake(f"{what} is float32 where the inputs are float64: keep the inputs' dtype (a .float() on the "
                   "way, or a float32 tensor you made?)",
                   when=lambda got, want, *a: getattr(got, "dtype", None) == torch.float32
                   and getattr(want, "dtype", None) == torch.float64)


def _float32_precision(got, want, *args) -> bool | None:
    """A float64 answer right to float32 precision only (relative error ~1e-7): a .float() on the way."""
    if not isinstance(got, torch.Tensor) or not isinstance(want, torch.Tensor) or got.shape != want.shape:
        return None
    if want.dtype != torch.float64 or not got.is_floating_point() or got.dtype == torch.float32:
        return None         # a float32 answer is judged at float32 precision; float16/bfloat16: `_narrow`
    g, w = got.double(), want.double()
    err = float((g - w).abs().max()) / max(float(w.abs().max()), 1e-30)
    return 1e-10 < err < 1e-5


def _single(exercise_id: str, title: str, *, flags_ok: tuple[str, ...] = (), **kw) -> Exercise:
    return dataclasses.replace(Exercise.single(exercise_id, title, **kw), flags_ok=flags_ok)


def random_config(rng: random.Random, name: str = "a made-up MoE") -> moe.DeepSeekMoEConfig:
    """A valid DeepSeek-style config with random sizes (so that no answer can hard-code DeepSeek-V3's)."""
    groups = rng.choice([1, 2, 4, 8])
    per_group = rng.choice([2, 4, 8, 16])
    topk_groups = rng.randint(1, groups)
    num_layers = rng.randint(4, 40)
    return moe.DEEPSEEK_V3.scaled(
        hidden=rng.choice([256, 1024, 2048, 5120]), num_experts=groups * per_group, num_groups=groups,
        topk_groups=topk_groups, top_k=rng.randint(1, min(topk_groups * per_group, 12)),
        expert_inter=rng.choice([128, 512, 1408]), num_shared_experts=rng.choice([1, 2]), num_layers=num_layers,
        num_dense_layers=rng.randint(0, 3), name=name)


# ---------------------------------------------------------------------------------------------------- 07.1

def _flops(cfg: moe.DeepSeekMoEConfig, *, gate: float = 2.0, per_expert: float = 6.0, routed=None,
           shared=None) -> float:
    H, I, E = cfg.hidden, cfg.expert_inter, cfg.num_experts
    k = cfg.top_k if routed is None else routed
    s = cfg.num_shared_experts if shared is None else shared
    return gate * H * E + per_expert * H * I * (k + s)


def _cfg_cases(rng: random.Random) -> list[Case]:
    return [Case((moe.DEEPSEEK_V3,), "DeepSeek-V3"), Case((moe.SMALL,), "SMALL"), Case((moe.TINY,), "TINY"),
            Case((random_config(rng),), "a made-up config"),
            Case((dataclasses.replace(random_config(rng), num_shared_experts=2),), "2 shared experts")]


EX_07_1 = Exercise.single(
    "07.1", "MoE FLOPs per token",
    reads=Function("moe_flops_per_token", "(cfg: moe.DeepSeekMoEConfig) -> float", "FLOP"),
    cases=_cfg_cases,
    expected=lambda cfg: moe.moe_cost(cfg).flops_per_token, rtol=1e-9,
    mistakes=[
        Mistake("you counted the shared expert twice: it runs once per token (num_shared_experts of them), "
                "beside the top_k routed ones", value=lambda c: _flops(c, shared=2 * c.num_shared_experts)),
        Mistake("you forgot the shared expert (it runs for every token)", value=lambda c: _flops(c, shared=0)),
        Mistake("you assumed one shared expert: use cfg.num_shared_experts", value=lambda c: _flops(c, shared=1)),
        Mistake("you counted multiply-adds, not FLOPs (x2)", ratio=0.5),
        Mistake("a SwiGLU expert has three matrices (w1, w3, w2), you counted two",
                value=lambda c: _flops(c, per_expert=4.0)),
        Mistake("a token runs top_k experts, not all of them", value=lambda c: _flops(c, routed=c.num_experts)),
        Mistake("you forgot the gate (hidden x num_experts)", value=lambda c: _flops(c, gate=0.0)),
        Mistake("you forgot the routed experts: top_k of them run for every token",
                value=lambda c: _flops(c, routed=0)),
        Mistake("that is in GFLOP: the answer is in FLOP (no / 1e9)", ratio=1e-9),
        Mistake("you multiplied by num_layers: the answer is for one MoE layer, per token",
                value=lambda c: moe.moe_cost(c).flops_per_token * c.num_layers),
        Mistake("you multiplied by the number of MoE layers (num_layers - num_dense_layers): the answer is for "
                "one MoE layer, per token", value=lambda c: moe.moe_cost(c).flops_per_token
                * (c.num_layers - c.num_dense_layers)),
    ],
    hint="2 FLOPs per multiply-add; a token runs the gate, top_k routed experts and the shared expert(s), each "
         "expert three hidden x expert_inter matrices.")


# ---------------------------------------------------------------------------------------------------- 07.2

def notebook_biased_scores() -> tuple[torch.Tensor, moe.DeepSeekMoEConfig]:
    """The notebook's biased scores for exercises 07.2/07.3: SMALL weights (seed 7), 64 tokens (seed 8)."""
    cfg = moe.SMALL
    w = moe.init_moe_weights(cfg, seed=7)
    xg = torch.randn(64, cfg.hidden, generator=torch.Generator().manual_seed(8))
    return torch.sigmoid(xg @ w.gate_weight.T) + w.gate_bias, cfg


def _kept(group_scores: torch.Tensor, cfg: moe.DeepSeekMoEConfig, largest: bool = True) -> torch.Tensor:
    keep = group_scores.topk(cfg.topk_groups, dim=-1, largest=largest)[1]
    return torch.zeros(group_scores.shape[0], cfg.num_groups, dtype=torch.bool).scatter_(1, keep, True)


def _grouped(biased: torch.Tensor, cfg: moe.DeepSeekMoEConfig) -> torch.Tensor:
    return biased.reshape(biased.shape[0], cfg.num_groups, cfg.experts_per_group)


def _kept_groups_ref(biased: torch.Tensor, cfg: moe.DeepSeekMoEConfig) -> torch.Tensor:
    return _kept(_grouped(biased, cfg).topk(2, dim=-1)[0].sum(-1), cfg)


def _random_biased(rng: random.Random) -> tuple[torch.Tensor, moe.DeepSeekMoEConfig]:
    cfg = rng.choice([moe.SMALL, moe.TINY, moe.SMALL.scaled(num_groups=4, topk_groups=3, top_k=6)])
    g = _gen(rng)
    T = rng.randint(5, 40)
    biased = torch.rand(T, cfg.num_experts, generator=g) + 0.1 * torch.randn(cfg.num_experts, generator=g) - 0.3
    return biased, cfg


def _cases_07_2(rng: random.Random) -> list[Case]:
    b_nb, cfg = notebook_biased_scores()
    tiny = moe.TINY
    b_tiny = torch.sigmoid(torch.randn(16, tiny.num_experts, generator=torch.Generator().manual_seed(3))) - 0.2
    four = moe.SMALL.scaled(num_groups=4, topk_groups=3, top_k=6)     # 3 of 4 kept: the worst 3 are not the rest
    b_four = torch.rand(12, four.num_experts, generator=torch.Generator().manual_seed(5)) - 0.3
    return [Case((b_nb, cfg), "SMALL, 64 tokens (the notebook's)"), Case((b_tiny, tiny), "TINY, 16 tokens"),
            Case((b_four, four), "4 groups, 3 kept"), Case(_random_biased(rng), "random scores")]


def _returned_indices(got, want, biased, cfg) -> bool | None:
    shape = getattr(got, "shape", None)
    if shape is None:
        return None
    return tuple(shape) == (biased.shape[0], cfg.topk_groups) and not got.dtype == torch.bool


EX_07_2 = Exercise.single(
    "07.2", "group mask",
    reads=Function("kept_groups", "(biased: torch.Tensor, cfg: moe.DeepSeekMoEConfig) -> torch.Tensor"),
    cases=_cases_07_2, expected=_kept_groups_ref, atol=0, rtol=0,
    mistakes=[
        Mistake("you scored a group by its best expert only (the rule without a correction bias); with the bias "
                "DeepSeek-V3 sums the group's two best biased scores",
                value=lambda b, c: _kept(_grouped(b, c).amax(-1), c)),
        Mistake("you summed all the experts of a group, not the two best",
                value=lambda b, c: _kept(_grouped(b, c).sum(-1), c)),
        Mistake("you kept the worst groups (topk largest=False)",
                value=lambda b, c: _kept(_grouped(b, c).topk(2, -1)[0].sum(-1), c, largest=False)),
        Mistake("your mask is inverted: True must mark the groups that are *kept*",
                value=lambda b, c: ~_kept_groups_ref(b, c)),
        Mistake("you grouped the experts round-robin (expert % num_groups); group g is the contiguous range "
                "g*E/G ... (g+1)*E/G - 1",
                value=lambda b, c: _kept(b.reshape(b.shape[0], -1, c.num_groups).transpose(1, 2)
                                         .topk(2, -1)[0].sum(-1), c)),
        Mistake("you returned the indices of the kept groups; return a bool mask [T, num_groups]",
                when=_returned_indices),
        Mistake("you kept cfg.top_k groups: keep cfg.topk_groups (top_k counts experts; the notebook's SMALL "
                "layer has 4 of each, TINY keeps 2 groups of 4)",
                value=lambda b, c: _kept(_grouped(b, c).topk(2, -1)[0].sum(-1), dataclasses.replace(
                    c, topk_groups=c.top_k))),
    ],
    hint="view(T, num_groups, experts_per_group), the sum of the top-2 per group, then scatter True at the "
         "topk_groups best groups.")


# ---------------------------------------------------------------------------------------------------- 07.3

def notebook_gate_inputs() -> tuple[torch.Tensor, torch.Tensor, moe.DeepSeekMoEConfig]:
    """The notebook's 07.3 case: float64 sigmoid scores of the SMALL layer, biases shifted by -0.75."""
    cfg = moe.SMALL
    w = moe.init_moe_weights(cfg, seed=7)
    xg = torch.randn(64, cfg.hidden, generator=torch.Generator().manual_seed(8))
    return torch.sigmoid(xg.double() @ w.gate_weight.double().T), w.gate_bias.double() - 0.75, cfg


def _dense(s, b, cfg, **kw) -> torch.Tensor:
    """The routing as a dense [T, E] matrix, computed in float64 and returned in the scores' dtype."""
    weights, ids = moe.gate_from_scores(s.double(), b.double(), cfg, **kw)
    return _dense_weights(s, cfg, ids, weights)


def _dense_weights(s, cfg, ids, weights) -> torch.Tensor:
    return moe.dense_routing(weights, ids, cfg.num_experts).to(s.dtype)


def _softmax_chosen(s, b, cfg) -> torch.Tensor:
    _, ids = moe.gate_from_scores(s.double(), b.double(), cfg)
    return _dense_weights(s, cfg, ids, s.double().gather(1, ids).softmax(-1) * cfg.route_scale)


def _softmax_all(s, b, cfg) -> torch.Tensor:
    _, ids = moe.gate_from_scores(s.double(), b.double(), cfg)
    return _dense_weights(s, cfg, ids, s.double().softmax(-1).gather(1, ids) * cfg.route_scale)


def _normalised_over_all(s, b, cfg) -> torch.Tensor:
    _, ids = moe.gate_from_scores(s.double(), b.double(), cfg)
    s = s.double()
    return _dense_weights(s, cfg, ids, s.gather(1, ids) / s.sum(-1, keepdim=True) * cfg.route_scale)


def _gate_probe(answers, case):
    s, _, cfg = case.args
    out = answers["my_gate"](*case.args)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise BadAnswer(f"my_gate must return (weights, indices), two [T, top_k] tensors; got "
                        f"{type(out).__name__}{'' if not isinstance(out, (tuple, list)) else f' of {len(out)}'}")
    parts = []
    for name, t in zip(("weights", "indices"), out, strict=True):
        try:
            parts.append(torch.as_tensor(t))
        except (TypeError, ValueError, RuntimeError) as e:
            raise BadAnswer(f"my_gate's {name} could not be read as a tensor ({type(e).__name__}: {e})") from None
    weights, ids = parts
    T, k = s.shape[0], cfg.top_k
    if tuple(weights.shape) != (T, k) or tuple(ids.shape) != (T, k):
        raise BadAnswer(f"my_gate returned weights {list(weights.shape)} and indices {list(ids.shape)}; both "
                        f"must be [T, top_k] = [{T}, {k}]")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise BadAnswer(f"my_gate's indices must be an integer tensor of expert ids, got "
                        f"{str(ids.dtype).replace('torch.', '')} (weights and indices swapped? return "
                        "(weights, indices))")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= cfg.num_experts):
        raise BadAnswer(f"my_gate's indices must lie in [0, {cfg.num_experts}), got [{int(ids.min())}, "
                        f"{int(ids.max())}]")
    if not weights.is_floating_point():
        raise BadAnswer(f"my_gate's weights must be floating point, got {str(weights.dtype).replace('torch.', '')}")
    return moe.dense_routing(weights, ids.long(), cfg.num_experts)


def _cases_07_3(rng: random.Random) -> list[Case]:
    s, b, cfg = notebook_gate_inputs()
    g = _gen(rng)
    w = moe.init_moe_weights(moe.TINY, seed=rng.randrange(1000))
    x = torch.randn(rng.randint(8, 32), moe.TINY.hidden, generator=g)
    s_r = torch.sigmoid(x.double() @ w.gate_weight.double().T)
    b_r = w.gate_bias.double() - rng.uniform(0.6, 0.9)
    return [Case((s, b, cfg), "SMALL, float64, bias - 0.75 (the notebook's)"),
            Case((s.float(), b.float(), cfg), "the same in float32"),
            Case((s_r, b_r, moe.TINY), "TINY, random tokens and bias")]


EX_07_3 = _single(
    "07.3", "DeepSeek gate",
    reads=Function("my_gate", "(scores: torch.Tensor, bias: torch.Tensor, cfg: moe.DeepSeekMoEConfig) -> "
                              "tuple[torch.Tensor, torch.Tensor]"),
    cases=_cases_07_3, probe=_gate_probe, expected=_dense, rtol=1e-9, atol=1e-12,
    compare=compare_not_narrow(atol=1e-12, rtol=1e-9, keep_dtype=True),
    mistakes=[
        _narrow("the weights"),
        Mistake("you masked dropped groups with 0.0 (the Hugging Face port's bug); use -inf: a 0.0 beats every "
                "negative biased score of a kept group", value=lambda s, b, c: _dense(s, b, c, mask_value=0.0)),
        Mistake("you gathered the weights from the biased scores; the bias is for selection only",
                value=lambda s, b, c: _dense(s, b, c, weights_from="biased")),
        Mistake("you forgot the route scale (x cfg.route_scale = 2.5)",
                value=lambda s, b, c: _dense(s, b, c, route_scale=1.0)),
        Mistake("you did not normalise the chosen weights to sum 1 before scaling",
                value=lambda s, b, c: _dense(s, b, c, normalize=False)),
        Mistake("you normalised over all experts' scores, not over the chosen top_k", value=_normalised_over_all),
        Mistake("you normalised with softmax instead of dividing the sigmoid scores by their sum (DeepSeek-V3 "
                "scores with sigmoid: weights = s / sum(s) over the chosen experts)", value=_softmax_chosen),
        Mistake("you used softmax scores (DeepSeek-V2's router); DeepSeek-V3 scores with sigmoid and divides "
                "the chosen scores by their sum", value=_softmax_all),
        Mistake("you scored a group by its best expert (max) inside the gate; with the correction bias a "
                "group's score is the sum of its two best biased scores",
                value=lambda s, b, c: _dense(s, b, c, group_score="max")),
        Mistake("you scored a group by the sum of all its experts; use the sum of the two best",
                value=lambda s, b, c: _dense(s, b, c, group_score="sum")),
        Mistake("you chose the experts with the unbiased scores; the bias decides the choice (groups and top-k), "
                "the unbiased scores only give the weights",
                value=lambda s, b, c: _dense(s, torch.zeros_like(b), c)),
        Mistake("you picked the top_k over all experts: mask the dropped groups first",
                value=lambda s, b, c: _dense(s, b, c.scaled(num_groups=1, topk_groups=1))),
        Mistake("you kept cfg.top_k groups: keep cfg.topk_groups (the notebook's SMALL layer has 4 of each, so "
                "only TINY, 2 groups of 4, tells them apart)",
                value=lambda s, b, c: _dense(s, b, c.scaled(topk_groups=min(c.top_k, c.num_groups)))),
        Mistake("the weights are right to float32 precision only (relative error ~1e-7): they went through "
                "float32 on the way (a .float() on the scores?); keep the scores' float64", when=_float32_precision),
        _kept_float32("the weights"),
    ],
    hint="Select with s + b (groups by the top-2 sum, -inf elsewhere), weigh with the unbiased s of the chosen "
         "experts, divided by their sum, times cfg.route_scale.")


# ---------------------------------------------------------------------------------------------------- 07.4

def _perm_ref(topk_ids, num_experts, block_m) -> dict:
    p = moe.permute_tokens(topk_ids, num_experts, block_m)
    return {"sorted_ids": p.sorted_ids, "block_expert_ids": p.block_expert_ids}


def _perm_probe(answers, case):
    out = answers["my_permute"](*case.args)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"my_permute must return (sorted_ids, block_expert_ids), two 1-D tensors; got "
                        f"{type(out).__name__}{'' if not isinstance(out, (tuple, list)) else f' of {len(out)}'}")
    ids = {}
    for name, t in zip(("sorted_ids", "block_expert_ids"), out, strict=True):
        try:
            v = torch.as_tensor(t)
        except (TypeError, ValueError, RuntimeError) as e:
            raise BadAnswer(f"my_permute's {name} could not be read as a tensor ({type(e).__name__}: {e})") from None
        if v.dim() != 1:
            raise BadAnswer(f"my_permute's {name} has shape {list(v.shape)}: it must be a 1-D tensor")
        if v.is_floating_point() or v.is_complex() or v.dtype == torch.bool:
            raise BadAnswer(f"my_permute's {name} is {str(v.dtype).replace('torch.', '')}: it must be an integer "
                            "tensor (ids index rows and experts)")
        ids[name] = v
    return ids


def _perm_variant(topk_ids, num_experts, block_m, *, pad=None, token_ids=False, every_expert=False,
                  one_block_id=False, extra_block=False) -> dict:
    flat = topk_ids.reshape(-1)
    P, top_k = flat.numel(), topk_ids.shape[1]
    pad = {None: P, "tokens": topk_ids.shape[0]}.get(pad, pad)
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = torch.nonzero(flat == e).flatten().tolist()
        if not pairs and not every_expert:
            continue
        n_blocks = len(pairs) // block_m + 1 if extra_block else max(1, -(-len(pairs) // block_m))
        ids = [p // top_k for p in pairs] if token_ids else pairs
        sorted_ids += ids + [pad] * (n_blocks * block_m - len(pairs))
        block_ids += [e] if one_block_id else [e] * n_blocks
    return {"sorted_ids": torch.tensor(sorted_ids, dtype=torch.int64),
            "block_expert_ids": torch.tensor(block_ids, dtype=torch.int64)}


def _unstable(got, want, *args) -> bool | None:
    if not isinstance(got, dict) or set(got) != set(want):
        return None
    g, w = got["sorted_ids"], want["sorted_ids"]
    if g.shape != w.shape or not torch.equal(got["block_expert_ids"].long(), want["block_expert_ids"]):
        return None
    bm = args[2]
    same_sets = all(sorted(g[i:i + bm].tolist()) == sorted(w[i:i + bm].tolist()) for i in range(0, len(w), bm))
    return same_sets and not torch.equal(g.long(), w)


def _unpadded(got, want, topk_ids, num_experts, block_m) -> bool | None:
    if not isinstance(got, dict) or "sorted_ids" not in got:
        return None
    return int(got["sorted_ids"].numel()) == topk_ids.numel() != int(want["sorted_ids"].numel())


def _padded_at_end(got, want, topk_ids, num_experts, block_m) -> bool | None:
    """The pairs sorted by expert (stably) and padded once, at the end, to a multiple of block_m."""
    if not isinstance(got, dict) or "sorted_ids" not in got:
        return None
    g = got["sorted_ids"].long()
    flat = topk_ids.reshape(-1)
    P = flat.numel()
    if g.numel() != -(-P // block_m) * block_m:
        return False
    if g.numel() == want["sorted_ids"].numel() and torch.equal(g, want["sorted_ids"]):
        return None
    return torch.equal(g[:P], torch.argsort(flat, stable=True))


def _cases_07_4(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    E, k = rng.randint(6, 24), rng.randint(1, 4)
    T = rng.randint(3, 30)
    ids = torch.stack([torch.randperm(E, generator=g)[:k] for _ in range(T)])
    return [Case((torch.tensor([[3, 0], [3, 1], [0, 3], [2, 3], [3, 1]]), 5, 2), "5 tokens, top-2, 5 experts"),
            Case((ids, E, rng.choice([2, 4, 8, 16])), "random routing"),
            Case((torch.tensor([[1, 0], [1, 0], [1, 0]]), 4, 4), "3 tokens on 2 of 4 experts")]


EX_07_4 = Exercise.single(
    "07.4", "token permutation",
    reads=Function("my_permute", "(topk_ids: torch.Tensor, num_experts: int, block_m: int) -> "
                                 "tuple[torch.Tensor, torch.Tensor]"),
    cases=_cases_07_4, probe=_perm_probe, expected=_perm_ref, atol=0, rtol=0,
    mistakes=[
        Mistake("you padded with -1; the sentinel is num_pairs (T * top_k), which the kernel masks as 'row >= "
                "num_pairs'", value=lambda i, e, b: _perm_variant(i, e, b, pad=-1)),
        Mistake("you padded with 0, a real pair id; the sentinel is num_pairs (T * top_k)",
                value=lambda i, e, b: _perm_variant(i, e, b, pad=0)),
        Mistake("you padded with the number of tokens T; the sentinel is the number of pairs, T * top_k",
                value=lambda i, e, b: _perm_variant(i, e, b, pad="tokens")),
        Mistake("len // block_m + 1 adds a block of padding to a run that fills its blocks exactly: round up, "
                "-(-len // block_m) or math.ceil", value=lambda i, e, b: _perm_variant(i, e, b, extra_block=True)),
        Mistake("you stored token ids (p // top_k); store pair ids p = token * top_k + slot",
                value=lambda i, e, b: _perm_variant(i, e, b, token_ids=True)),
        Mistake("you gave experts without tokens a block too: they get none",
                value=lambda i, e, b: _perm_variant(i, e, b, every_expert=True)),
        Mistake("you wrote one expert id per expert; block_expert_ids has one entry per block of block_m rows",
                value=lambda i, e, b: _perm_variant(i, e, b, one_block_id=True)),
        Mistake("the pairs of one expert must keep their token order: sort stably (torch.argsort(..., "
                "stable=True)) or loop in order", when=_unstable),
        Mistake("you did not pad: each expert's run is padded to a multiple of block_m with num_pairs",
                when=_unpadded),
        Mistake("you padded once, at the end: pad each expert's run to a multiple of block_m, so that no block "
                "of block_m rows mixes two experts", when=_padded_at_end),
        Mistake("you numbered the pairs slot-major (topk_ids.T): pair ids are token-major, p = token * top_k + "
                "slot, the order of topk_ids.reshape(-1)",
                value=lambda i, e, b: _perm_variant(i.T.contiguous(), e, b)),
    ],
    hint="Each expert's run is padded with num_pairs (T * top_k) to a multiple of block_m; unused experts get "
         "no block.")


# ---------------------------------------------------------------------------------------------------- 07.5

def _combine_cases(rng: random.Random) -> list[Case]:
    Tc, kc = 6, 3
    po = torch.randn(Tc * kc, 5, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    wc = torch.rand(Tc, kc, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    g = _gen(rng)
    T, k, H = rng.randint(2, 12), rng.randint(2, 8), rng.randint(3, 16)
    return [Case((po, wc, Tc), "6 tokens, top-3, hidden 5 (the notebook's)"),
            Case((torch.randn(T * k, H, generator=g, dtype=torch.float64),
                  torch.rand(T, k, generator=g, dtype=torch.float64), T), "random shapes"),
            Case((torch.randn(4 * 2, 3, generator=g), torch.rand(4, 2, generator=g), 4), "float32, top-2")]


def _view(pair_out, T, k):
    return pair_out.reshape(T, k, pair_out.shape[1])


def _d(f):
    """Evaluate a combine model in float64 and return it in pair_out's dtype (`keep_dtype`: a float32 case is
    judged at float32 precision, a float32 answer to float64 inputs fails)."""
    return lambda po, w, T: f(po.double(), w.double(), T).to(po.dtype)


EX_07_5 = Exercise.single(
    "07.5", "combine",
    reads=Function("my_combine", "(pair_out: torch.Tensor, topk_weights: torch.Tensor, num_tokens: int) -> "
                                 "torch.Tensor"),
    cases=_combine_cases, expected=_d(moe.combine), rtol=1e-12, atol=1e-12,
    compare=compare_not_narrow(atol=1e-12, rtol=1e-12, keep_dtype=True),
    mistakes=[
        _narrow("y"),
        Mistake("you forgot the routing weights", value=_d(lambda po, w, T: _view(po, T, w.shape[1]).sum(1))),
        Mistake("you averaged over the slots; the weights already sum to route_scale, so sum",
                value=_d(lambda po, w, T: (_view(po, T, w.shape[1]) * w[:, :, None]).mean(1))),
        Mistake("you reshaped slot-major ([top_k, T, hidden]); pair ids are token * top_k + slot",
                value=_d(lambda po, w, T: (po.reshape(w.shape[1], T, -1) * w.T[:, :, None]).sum(0))),
        Mistake("you divided by the sum of the weights: they were normalised (and scaled) by the gate already",
                value=_d(lambda po, w, T: (_view(po, T, w.shape[1]) * w[:, :, None]).sum(1)
                         / w.sum(-1, keepdim=True))),
        Mistake("y is right to float32 precision only (relative error ~1e-7): something went through float32 "
                "on the way (a .float() on the weights or the rows?); keep the inputs' float64",
                when=_float32_precision),
        Mistake("you returned the weighted pair rows without summing over the slots: y has one row per token",
                when=lambda got, want, po, w, T: getattr(got, "shape", None) is not None
                and tuple(got.shape) == tuple(po.shape) != tuple(want.shape)),
        _kept_float32("y"),
    ],
    hint="pair ids are token-major: view(num_tokens, top_k, hidden), multiply by the weights, sum over the slots.")


# ---------------------------------------------------------------------------------------------------- 07.6

def notebook_fp8_weight() -> torch.Tensor:
    """The notebook's 07.6 weight: 256 x 384, column scales 0.1 ... 3, the first 128x128 block x 20."""
    wq = torch.randn(256, 384, generator=torch.Generator().manual_seed(13)) * torch.linspace(0.1, 3, 384)
    wq[:128, :128] *= 20
    return wq


def _blocks(w: torch.Tensor) -> torch.Tensor:
    N, K = w.shape
    return w.reshape(N // 128, 128, K // 128, 128)


def _fp8_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    N, K = rng.choice([128, 256, 384]), rng.choice([128, 256, 384])
    zero = torch.randn(256, 256, generator=g)
    zero[128:, :128] = 0.0
    return [Case((notebook_fp8_weight(),), "256 x 384 with a loud block (the notebook's)"),
            Case((torch.randn(N, K, generator=g) * rng.uniform(0.01, 5),), "random weight"),
            Case((zero,), "a block of zeros")]


def _per_tile(got, want, w) -> bool | None:
    shape = getattr(got, "shape", None)
    return None if shape is None else tuple(shape) == (w.shape[0], w.shape[1] // 128)


def _transposed(got, want, w) -> bool | None:
    shape = getattr(got, "shape", None)
    if shape is None or tuple(want.shape)[::-1] == tuple(want.shape):    # square: a transpose cannot be told
        return None
    return tuple(shape) == tuple(want.shape)[::-1]


def _on_nonzero_blocks(model):
    """A `when` test: the answer equals `model(w)` on every block that is not all zeros (where the 1e-4 floor does
    not matter), whether or not the learner floored the amax; None where the model is right on those blocks."""
    def when(got, want, w):
        a = torch.as_tensor(got, dtype=torch.float64) if not isinstance(got, torch.Tensor) else got.double()
        m = model(w).double()
        if a.shape != m.shape:
            return None
        live = _blocks(w).abs().amax(dim=(1, 3)) > 0
        if torch.allclose(m[live], want.double()[live], rtol=1e-5, atol=0):
            return None             # the model is right on these blocks (a signed max that is the amax): no clue
        return bool(torch.allclose(a[live], m[live], rtol=1e-5, atol=0))
    return when


EX_07_6 = Exercise.single(
    "07.6", "FP8 block scales",
    reads=Function("fp8_block_scales", "(w: torch.Tensor) -> torch.Tensor"),
    cases=_fp8_cases, expected=lambda w: formats.quantize_fp8_weight(w, block=128).scales, rtol=1e-6,
    compare=compare_not_narrow(atol=0.0, rtol=1e-6),
    mistakes=[
        _narrow("the scale tensor"),
        Mistake("you wrote 448 / amax: that is the factor to multiply by before encoding, not the scale",
                when=_on_nonzero_blocks(lambda w: 448.0 / _blocks(w).abs().amax(dim=(1, 3)))),
        Mistake("you divided by 6, the FP4 (E2M1) maximum; E4M3's is 448",
                when=_on_nonzero_blocks(lambda w: _blocks(w).abs().amax(dim=(1, 3)) / 6.0)),
        Mistake("you divided by 240 or 57344 (E4M3 FNUZ / E5M2 maxima); E4M3 (OCP) reaches 448",
                when=lambda got, want, w: any(_on_nonzero_blocks(lambda v, m=m: _blocks(v).abs().amax(dim=(1, 3))
                                                                 / m)(got, want, w) for m in (240.0, 57344.0))),
        Mistake("you used the signed max, not the max of |w|",
                when=_on_nonzero_blocks(lambda w: _blocks(w).amax(dim=(1, 3)) / 448.0)),
        Mistake("you used one scale for the whole tensor",
                value=lambda w: torch.full((w.shape[0] // 128, w.shape[1] // 128),
                                           max(float(w.abs().max()), 1e-4) / 448.0)),
        Mistake("you left out the 1e-4 floor: an all-zero block then gets scale 0 (and a division by zero when "
                "encoding)", value=lambda w: _blocks(w).abs().amax(dim=(1, 3)) / 448.0),
        Mistake("that is one scale per 1x128 tile (DeepSeek's activation scheme); weights use 128x128 blocks",
                when=_per_tile),
        Mistake("your scales are transposed: block (i, j) covers rows i*128... and columns j*128... of w [N, K]",
                when=_transposed),
        Mistake("w.reshape(N // 128, K // 128, 128, 128) does not cut 128x128 blocks: it regroups whole rows "
                "(row-major memory); reshape(N // 128, 128, K // 128, 128) and take the amax over dims 1 and 3",
                when=_on_nonzero_blocks(lambda w: w.abs().reshape(w.shape[0] // 128, w.shape[1] // 128, 128, 128)
                                        .amax(dim=(2, 3)) / 448.0)),
    ],
    hint="w.reshape(N // 128, 128, K // 128, 128).abs().amax(dim=(1, 3)), floored at 1e-4, divided by 448.")


# ---------------------------------------------------------------------------------------------------- 07.7

def notebook_ep_ids() -> list[torch.Tensor]:
    """The notebook's 07.7 routing: TINY weights (seed 14, float64), 32 tokens (seed 15) split over 4 ranks."""
    tiny = moe.TINY
    w_t = moe.init_moe_weights(tiny, seed=14, dtype=torch.float64)
    x_t = torch.randn(32, tiny.hidden, dtype=torch.float64, generator=torch.Generator().manual_seed(15))
    return [moe.gate(s, w_t.gate_weight, w_t.gate_bias, tiny)[1] for s in torch.tensor_split(x_t, 4)]


def _ep_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    W, E, k = rng.choice([2, 4, 8]), rng.choice([16, 32]), rng.choice([2, 4])
    sizes = [rng.randint(1, 9) for _ in range(W)]
    sizes[rng.randrange(W)] = 0                              # a rank with no tokens
    ids = [torch.stack([torch.randperm(E, generator=g)[:k] for _ in range(n)]) if n else
           torch.zeros(0, k, dtype=torch.int64) for n in sizes]
    # 8 ranks of 2 experts each: experts per rank is neither world_size nor the notebook's 16 / 4 = 4
    g8 = torch.Generator().manual_seed(72)
    eight = [torch.stack([torch.randperm(16, generator=g8)[:4] for _ in range(3)]) for _ in range(8)]
    return [Case((notebook_ep_ids(), 4, 16), "TINY, 4 ranks (the notebook's)"),
            Case((eight, 8, 16), "8 ranks, 16 experts"),
            Case((ids, W, E), f"{W} ranks, {E} experts, one rank without tokens")]


def _table(ids_per_rank, W, E, owner) -> torch.Tensor:
    return torch.stack([torch.bincount(owner(i.reshape(-1).long()), minlength=W) for i in ids_per_rank])


def _tokens_not_pairs(ids_per_rank, W, E) -> torch.Tensor:
    per = E // W
    return torch.stack([torch.stack([((i // per) == d).any(-1).sum() for d in range(W)]) for i in ids_per_rank])


def _per_expert(got, want, ids, W, E) -> bool | None:
    shape = getattr(got, "shape", None)
    return None if shape is None else tuple(shape) == (W, E)


EX_07_7 = Exercise.single(
    "07.7", "EP routing table",
    reads=Function("routing_table", "(ids_per_rank: list[torch.Tensor], world_size: int, num_experts: int) -> "
                                    "torch.Tensor"),
    cases=_ep_cases, expected=lambda ids, W, E: moe_ep_table(ids, W, E), atol=0, rtol=0,
    mistakes=[
        Mistake("you placed experts round-robin (expert % world_size); bwkit places them in contiguous blocks",
                value=lambda ids, W, E: _table(ids, W, E, lambda e: e % W)),
        Mistake("your table is transposed: rows are senders (src), columns receivers (dst)",
                value=lambda ids, W, E: moe_ep_table(ids, W, E).T),
        Mistake("you counted tokens, not (token, slot) pairs: a token with two experts on one rank sends two rows",
                value=_tokens_not_pairs),
        Mistake("you counted pairs per expert; group the experts by rank (expert // (num_experts / world_size))",
                when=_per_expert),
        Mistake("you divided by world_size: a rank owns num_experts // world_size experts, so the destination is "
                "expert // (num_experts // world_size)",
                value=lambda ids, W, E: _table(ids, W, E, lambda e: e // W)),
        Mistake("you hard-coded 4 experts per rank (the notebook's 16 / 4): a rank owns num_experts // world_size "
                "experts", value=lambda ids, W, E: _table(ids, W, E, lambda e: e // 4)),
    ],
    hint="For one source rank, ids // (num_experts // world_size) is each pair's destination; "
         "torch.bincount(..., minlength=world_size) counts them (an empty rank gives a row of zeros).")


def moe_ep_table(ids_per_rank, world_size: int, num_experts: int) -> torch.Tensor:
    """The reference routing table (`bwkit.moe_ep.ep_routing_table`), imported late: it pulls in torch.distributed."""
    from bwkit import moe_ep

    return moe_ep.ep_routing_table(ids_per_rank, world_size, num_experts)


# ---------------------------------------------------------------------------------------------------- 07.8

def _layer_cases(rng: random.Random) -> list[Case]:
    def case(cfg, T, seed, label):
        w = moe.init_moe_weights(cfg, seed=seed, dtype=torch.float64)
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(T, cfg.hidden, dtype=torch.float64, generator=g)
        weights, _ = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
        pair_out = torch.randn(T * cfg.top_k, cfg.hidden, dtype=torch.float64, generator=g)
        return Case((x, pair_out, weights, w.shared_w1, w.shared_w3, w.shared_w2), label)

    return [case(moe.TINY, 8, 21, "TINY, 8 tokens"), case(moe.TINY, 0, 23, "a rank with no tokens (T = 0)"),
            case(rng.choice([moe.TINY, moe.SMALL]), rng.randint(2, 12), rng.randrange(100, 10_000), "random")]


def _layer(x, po, w, sw1, sw3, sw2, *, shared: float = 1.0, per_slot_shared: bool = False,
           weights: bool = True) -> torch.Tensor:
    T, k = w.shape
    rows = _view(po, T, k)
    sh = moe.swiglu(x, sw1, sw3, sw2)
    if per_slot_shared:                       # shared added to every pair row before the weights (only there)
        rows, shared = rows + sh[:, None, :], 0.0
    y = (rows * w[:, :, None]).sum(1) if weights else rows.sum(1)
    return y + shared * sh


EX_07_8 = _single(
    "07.8", "layer output: routed + shared expert",
    reads=Function("moe_layer_output", "(x: torch.Tensor, pair_out: torch.Tensor, topk_weights: torch.Tensor, "
                                       "shared_w1: torch.Tensor, shared_w3: torch.Tensor, shared_w2: torch.Tensor) "
                                       "-> torch.Tensor"),
    cases=_layer_cases, flags_ok=("swiglu", "combine"),
    expected=lambda x, po, w, a, b, c: moe.combine(po, w, x.shape[0]) + moe.swiglu(x, a, b, c),
    rtol=1e-10, atol=1e-12, compare=compare_not_narrow(atol=1e-12, rtol=1e-10),
    mistakes=[
        _narrow("y"),
        Mistake("you added the shared expert twice: once per token is enough",
                value=lambda x, po, w, a, b, c: _layer(x, po, w, a, b, c, shared=2.0)),
        Mistake("you forgot the shared expert: every token runs it, beside its top_k routed experts",
                value=lambda x, po, w, a, b, c: _layer(x, po, w, a, b, c, shared=0.0)),
        Mistake("you added the shared expert to every pair row before the routing weights: it then counts "
                "sum(weights) = route_scale times; add it once, unweighted, after the combine",
                value=lambda x, po, w, a, b, c: _layer(x, po, w, a, b, c, per_slot_shared=True)),
        Mistake("you added the shared expert once per slot (top_k times): add it once per token",
                value=lambda x, po, w, a, b, c: _layer(x, po, w, a, b, c, shared=float(w.shape[1]))),
        Mistake("you forgot the routing weights of the routed experts",
                value=lambda x, po, w, a, b, c: _layer(x, po, w, a, b, c, weights=False)),
        Mistake("a rank with no tokens (T = 0): reshape(T, top_k, -1) cannot infer -1 from 0 elements; give the "
                "sizes explicitly (pair_out.shape[1] is the hidden size)", error="of 0 elements"),
    ],
    hint="y = combine(pair_out, topk_weights) + shared expert(x): the shared expert (w2(silu(w1 x) * w3 x)) once "
         "per token, unweighted; write it so that T = 0 works.")


register(EX_07_1, EX_07_2, EX_07_3, EX_07_4, EX_07_5, EX_07_6, EX_07_7, EX_07_8)
