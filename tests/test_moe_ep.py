"""bwkit.moe_ep: 4 gloo ranks (local processes) reproduce the single-process MoE layer; traffic accounting."""

import multiprocessing

import pytest
import torch
import torch.nn.functional as F

from bwkit import moe, moe_ep
from bwkit.moe import TINY

WORLD = 4
T = 24


@pytest.fixture(scope="module")
def ep_run():
    w = moe.init_moe_weights(TINY, seed=11, dtype=torch.float64)
    x = torch.randn(T, TINY.hidden, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
    y, stats = moe_ep.run_ep(x, w, TINY, world_size=WORLD, timeout_s=120)
    return x, w, y, stats


def test_ep_reproduces_single_process(ep_run):
    x, w, y, _ = ep_run
    # independent single-process reference: dense routing over all experts + shared expert
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, TINY)
    dense = moe.dense_routing(weights, ids, TINY.num_experts)
    ref = (F.silu(x @ w.shared_w1.T) * (x @ w.shared_w3.T)) @ w.shared_w2.T
    for e in range(TINY.num_experts):
        ref = ref + dense[:, e:e + 1] * ((F.silu(x @ w.w1[e].T) * (x @ w.w3[e].T)) @ w.w2[e].T)
    assert y.dtype == torch.float64 and y.shape == x.shape
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y, moe.moe_forward(x, w, TINY), rtol=1e-12, atol=1e-12)


def test_ep_traffic_accounting(ep_run):
    x, w, _, stats = ep_run
    assert [s.rank for s in stats] == list(range(WORLD))
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
