"""bwkit.moe_kernels: the Triton fused MoE (interpreter on a CPU) against a dense all-experts reference."""

import pytest
import torch
import torch.nn.functional as F

import bwkit

RT = bwkit.setup(quiet=True)   # before triton is imported (tests/conftest.py does it too)

from bwkit import moe, moe_kernels  # noqa: E402
from bwkit.moe import SMALL, TINY  # noqa: E402


def dense_reference(x, topk_weights, topk_ids, w1, w3, w2):
    """Every expert on every token in float64, weighted by the dense routing matrix (independent of bwkit)."""
    E = w1.shape[0]
    dense = torch.zeros(x.shape[0], E, dtype=torch.float64).scatter_(1, topk_ids, topk_weights.double())
    x = x.double()
    y = torch.zeros_like(x)
    for e in range(E):
        h = F.silu(x @ w1[e].double().T) * (x @ w3[e].double().T)
        y += dense[:, e:e + 1] * (h @ w2[e].double().T)
    return y


@pytest.mark.parametrize("cfg,T", [(TINY, 16), (SMALL, 48)], ids=["tiny", "small"])
def test_fused_moe_matches_reference_fp32(cfg, T):
    w = moe.init_moe_weights(cfg, seed=1)
    x = torch.randn(T, cfg.hidden, generator=torch.Generator().manual_seed(2))
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    y = moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2)
    assert y.dtype == torch.float32 and y.shape == x.shape
    torch.testing.assert_close(y.double(), dense_reference(x, weights, ids, w.w1, w.w3, w.w2), rtol=1e-5, atol=1e-5)


def test_fused_moe_skewed_routing_many_blocks_and_empty_experts():
    cfg = TINY
    w = moe.init_moe_weights(cfg, seed=3)
    T = 40
    x = torch.randn(T, cfg.hidden)
    # 40 tokens all on experts 0 and 1 (3 blocks of 16 each), slots 2-3 on expert 5; 13 experts idle
    ids = torch.tensor([[0, 1, 5, 9]] * T)
    ids[::2, 3] = 15
    weights = torch.rand(T, 4, generator=torch.Generator().manual_seed(4))
    y = moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2, block_m=16, block_n=32, block_k=32)
    torch.testing.assert_close(y.double(), dense_reference(x, weights, ids, w.w1, w.w3, w.w2), rtol=1e-5, atol=1e-5)


def test_fused_moe_fp16_and_bf16_inputs():
    cfg = TINY
    w = moe.init_moe_weights(cfg, seed=5)
    x = torch.randn(16, cfg.hidden)
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    ref = dense_reference(x, weights, ids, w.w1, w.w3, w.w2)
    y16 = moe_kernels.fused_moe(x.half(), weights, ids, w.w1.half(), w.w3.half(), w.w2.half())
    assert y16.dtype == torch.float16
    torch.testing.assert_close(y16.double(), ref, rtol=2e-2, atol=2e-2)
    ybf = moe_kernels.fused_moe(x.bfloat16(), weights, ids, w.w1.bfloat16(), w.w3.bfloat16(), w.w2.bfloat16())
    assert ybf.dtype == torch.bfloat16
    torch.testing.assert_close(ybf.double(), ref, rtol=5e-2, atol=5e-2)


def test_fused_moe_expert_owner_skips_other_experts():
    cfg = TINY
    w = moe.init_moe_weights(cfg, seed=6)
    x = torch.randn(16, cfg.hidden)
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    own = torch.arange(cfg.num_experts) < 8
    y = moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2, expert_owner=own)
    torch.testing.assert_close(y.double(), dense_reference(x, weights * own[ids], ids, w.w1, w.w3, w.w2),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="expert_owner"):
        moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2, expert_owner=own[:4])


def test_fused_moe_zero_tokens_and_ranks_without_pairs():
    # 0 tokens: an empty output of the right dtype, nothing launched; as moe_forward's experts too
    cfg = TINY
    w = moe.init_moe_weights(cfg, seed=8)
    x0 = torch.zeros(0, cfg.hidden)
    ids0 = torch.zeros(0, cfg.top_k, dtype=torch.int64)
    for dt in (torch.float32, torch.bfloat16):
        y = moe_kernels.fused_moe(x0.to(dt), torch.zeros(0, cfg.top_k), ids0, *(t.to(dt) for t in (w.w1, w.w3, w.w2)))
        assert y.shape == (0, cfg.hidden) and y.dtype == dt
    assert moe.moe_forward(x0, w, cfg, experts=moe_kernels.fused_moe).shape == (0, cfg.hidden)
    # tokens, but none of their pairs on the experts this "rank" owns: every block skipped, output exactly 0
    x = torch.randn(5, cfg.hidden, generator=torch.Generator().manual_seed(9))
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    own = torch.ones(cfg.num_experts, dtype=torch.bool)
    own[ids.unique()] = False
    y = moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2, expert_owner=own)
    assert torch.equal(y, torch.zeros_like(x))
    # one token (4 pairs on 4 experts, 12 experts idle) matches the reference
    y1 = moe_kernels.fused_moe(x[:1], weights[:1], ids[:1], w.w1, w.w3, w.w2)
    torch.testing.assert_close(y1.double(), dense_reference(x[:1], weights[:1], ids[:1], w.w1, w.w3, w.w2),
                               rtol=1e-5, atol=1e-5)


def test_fused_moe_bad_inputs():
    cfg = TINY
    w = moe.init_moe_weights(cfg)
    x = torch.randn(4, cfg.hidden)
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    with pytest.raises(ValueError, match="power of two"):
        moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2, block_m=24)
    with pytest.raises(ValueError, match="power of two"):
        moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2, block_k=8)
    with pytest.raises(ValueError, match="hidden size mismatch"):
        moe_kernels.fused_moe(torch.randn(4, cfg.hidden + 1), weights, ids, w.w1, w.w3, w.w2)
    with pytest.raises(ValueError, match="topk_ids must lie"):
        moe_kernels.fused_moe(x, weights, ids + 100, w.w1, w.w3, w.w2)
    with pytest.raises(ValueError, match="top_k"):
        moe_kernels.fused_moe(x, weights[:, :2], ids, w.w1, w.w3, w.w2)


@pytest.mark.skipif(not RT.can_time, reason="native Triton path needs a CUDA GPU (this checks the compiled kernel)")
def test_fused_moe_native_gpu_bf16():
    cfg = SMALL
    w = moe.init_moe_weights(cfg, seed=7).to(torch.bfloat16)
    x = torch.randn(256, cfg.hidden).bfloat16()
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    ref = dense_reference(x.float(), weights.float(), ids, w.w1.float(), w.w3.float(), w.w2.float())
    dev = [t.cuda() for t in (x, weights, ids, w.w1, w.w3, w.w2)]
    y = moe_kernels.fused_moe(*dev)
    torch.testing.assert_close(y.double().cpu(), ref, rtol=3e-2, atol=3e-2)
