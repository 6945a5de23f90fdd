"""bwkit.moe_ep: 2, 4 and 8 gloo ranks (local processes) reproduce the single-process MoE layer, empty ranks
included (no tokens, or tokens but no pairs received); traffic accounting; bad input. One process group per world
size runs all of its cases (`run_ep_cases`): starting the ranks costs more than the steps."""

import multiprocessing

import pytest
import torch
import torch.nn.functional as F

from bwkit import moe, moe_ep
from bwkit.moe import TINY

WORLD = 4
T = 24


def _x(n, seed):
    return torch.randn(n, TINY.hidden, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _weights(seed, dead_groups=()):
    """TINY weights in float64; the experts of `dead_groups` get a gate bias of -10, so no token ever picks them."""
    w = moe.init_moe_weights(TINY, seed=seed, dtype=torch.float64)
    for g in dead_groups:
        w.gate_bias[g * TINY.experts_per_group:(g + 1) * TINY.experts_per_group] = -10.0
    return w


# world 4, random routing: the usual near-equal shards, then shards with empty ranks
CASES_4 = [(T, None), (1, [1, 0, 0, 0]), (9, [0, 0, 0, 9]), (9, [0, 5, 3, 1]), (0, None), (3, None)]
# world 2, groups 2 and 3 dead: rank 1 (experts 8-15) receives no pairs, with or without tokens of its own
CASES_2 = [(7, [0, 7]), (5, [5, 0]), (7, [3, 4])]
# world 8, group 3 dead: ranks 6 and 7 (experts 12-15) receive no pairs
CASES_8 = [(16, None), (5, [0, 0, 0, 0, 0, 0, 0, 5]), (6, [1, 0, 2, 0, 0, 3, 0, 0])]
RUNS = {4: ((), CASES_4), 2: ((2, 3), CASES_2), 8: ((3,), CASES_8)}


@pytest.fixture(scope="module")
def ep_runs():
    out = {}
    for world, (dead, cases) in RUNS.items():
        w = _weights(11 + world, dead)
        xs = [(_x(n, 100 * world + i), shards) for i, (n, shards) in enumerate(cases)]
        out[world] = (w, xs, moe_ep.run_ep_cases(xs, w, TINY, world_size=world, timeout_s=120))
    return out


def _dense_reference(x, w):
    """Independent single-process reference: dense routing over all experts + shared expert."""
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, TINY)
    dense = moe.dense_routing(weights, ids, TINY.num_experts)
    ref = (F.silu(x @ w.shared_w1.T) * (x @ w.shared_w3.T)) @ w.shared_w2.T
    for e in range(TINY.num_experts):
        ref = ref + dense[:, e:e + 1] * ((F.silu(x @ w.w1[e].T) * (x @ w.w3[e].T)) @ w.w2[e].T)
    return ref


def _shards(x, world, shards):
    return torch.tensor_split(x, world) if shards is None else torch.split(x, shards)


@pytest.mark.parametrize("world", sorted(RUNS))
def test_ep_reproduces_single_process(ep_runs, world):
    w, xs, results = ep_runs[world]
    assert len(results) == len(xs)
    for (x, shards), (y, stats) in zip(xs, results, strict=True):
        assert y.dtype == torch.float64 and y.shape == x.shape, (world, shards)
        torch.testing.assert_close(y, _dense_reference(x, w), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(y, moe.moe_forward(x, w, TINY), rtol=1e-12, atol=1e-12)
        assert [s.rank for s in stats] == list(range(world))
        sizes = [s.shape[0] for s in _shards(x, world, shards)]
        assert [sum(s.send_rows) for s in stats] == [n * TINY.top_k for n in sizes]


def test_empty_ranks_really_occur(ep_runs):
    # ranks without tokens, and ranks with tokens that receive no pairs: the cases the fixture runs must contain both
    no_tokens = tokens_no_pairs = 0
    for _, xs, results in ep_runs.values():
        for _, (_, stats) in zip(xs, results, strict=True):
            for s in stats:
                no_tokens += sum(s.send_rows) == 0
                tokens_no_pairs += sum(s.send_rows) > 0 and sum(s.recv_rows) == 0
    assert no_tokens >= 10 and tokens_no_pairs >= 4
    _, _, results = ep_runs[2]
    assert all(sum(st[1].recv_rows) == 0 for _, st in results)     # rank 1's experts are never picked
    assert sum(results[0][1][1].send_rows) > 0                      # ... though it has tokens in the first case
    _, _, results = ep_runs[4]
    y0, stats0 = results[4]                                         # zero tokens in all
    assert y0.shape == (0, TINY.hidden) and all(s.dispatch_bytes == s.combine_bytes == 0 for s in stats0)
    assert all(s.local_fraction == 1.0 for s in stats0)


def test_ep_traffic_accounting(ep_runs):
    w, xs, results = ep_runs[WORLD]
    (x, _), (_, stats) = xs[0], results[0]
    shards = torch.tensor_split(x, WORLD)
    ids_per_rank = [moe.gate(s, w.gate_weight, w.gate_bias, TINY)[1] for s in shards]
    table = moe_ep.ep_routing_table(ids_per_rank, WORLD, TINY.num_experts)
    # the table by hand: owner rank of each expert = expert // 4 (16 experts on 4 ranks)
    by_hand = torch.zeros(WORLD, WORLD, dtype=torch.int64)
    for src, ids in enumerate(ids_per_rank):
        for e in ids.reshape(-1).tolist():
            by_hand[src, e // 4] += 1
    assert torch.equal(table, by_hand)
    assert torch.equal(torch.tensor([s.send_rows for s in stats]), table)
    assert torch.equal(torch.tensor([s.recv_rows for s in stats]), table.T)
    assert int(table.sum()) == T * TINY.top_k
    for s in stats:
        remote_out = int(table[s.rank].sum() - table[s.rank, s.rank])
        remote_in = int(table[:, s.rank].sum() - table[s.rank, s.rank])
        assert s.dispatch_bytes == remote_out * (TINY.hidden * 8 + 8)    # fp64 row + int64 expert id
        assert s.combine_bytes == remote_in * TINY.hidden * 8
        assert 0.0 <= s.local_fraction <= 1.0
    # the edge cases' tables, from the shards the ranks really held (empty shards give zero rows)
    for (x, shards), (_, stats) in zip(xs[1:], results[1:], strict=True):
        ids = [moe.gate(s, w.gate_weight, w.gate_bias, TINY)[1] for s in _shards(x, WORLD, shards)]
        table = moe_ep.ep_routing_table(ids, WORLD, TINY.num_experts)
        assert torch.equal(torch.tensor([s.recv_rows for s in stats]), table.T), shards
    assert multiprocessing.active_children() == []        # every rank was reaped


def test_ep_bad_inputs():
    w = moe.init_moe_weights(TINY)
    x = torch.randn(8, TINY.hidden)
    with pytest.raises(ValueError, match="must divide num_experts"):
        moe_ep.run_ep(x, w, TINY, world_size=3)
    with pytest.raises(ValueError, match="backend"):
        moe_ep.run_ep(x, w, TINY, backend="mpi")
    with pytest.raises(ValueError, match=r"x must be \[tokens, 64\]"):
        moe_ep.run_ep(torch.randn(8, TINY.hidden + 1), w, TINY)
    with pytest.raises(ValueError, match=r"shards \[4, 4, 4, 4\] hold 16 tokens, x has 8"):
        moe_ep.run_ep(x, w, TINY, shards=[4, 4, 4, 4])
    with pytest.raises(ValueError, match="4 non-negative ints"):
        moe_ep.run_ep(x, w, TINY, shards=[8, 0])
    with pytest.raises(ValueError, match="4 non-negative ints"):
        moe_ep.run_ep(x, w, TINY, shards=[9, -1, 0, 0])
    with pytest.raises(ValueError, match="cases is empty"):
        moe_ep.run_ep_cases([], w, TINY)
    with pytest.raises(ValueError, match="rank must be"):
        moe_ep.expert_range(4, 4, 16)
    assert moe_ep.expert_range(2, 4, 16) == (8, 12)
    with pytest.raises(ValueError, match="one topk_ids tensor per rank"):
        moe_ep.ep_routing_table([torch.zeros(2, 2, dtype=torch.long)], 4, 16)
    with pytest.raises(RuntimeError, match="initialised"):
        moe_ep.ep_moe_forward(x, w, TINY)


def test_ep_failing_rank_raises_and_is_reaped():
    w = moe.init_moe_weights(TINY)
    x = torch.randn(8, TINY.hidden)
    x[0, 0] = float("nan")                     # rank 0's gate refuses NaN logits; ranks 1-3 wait in all-to-all
    with pytest.raises(RuntimeError, match="a rank failed(.|\n)*NaN router logits"):
        moe_ep.run_ep(x, w, TINY, world_size=WORLD, timeout_s=60)
    assert multiprocessing.active_children() == []


def test_ep_routing_table_refuses_expert_ids_out_of_range():
    with pytest.raises(ValueError, match=r"ep_routing_table: expert ids must lie in \[0, 16\)"):
        moe_ep.ep_routing_table([torch.tensor([[0, 17]])], 1, 16)     # bincount would make a [1, 2] table
