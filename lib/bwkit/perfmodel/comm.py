"""Communication terms of the perfmodel: tensor-parallel all-reduces and the expert-parallel all-to-all.

Inside an NVLink domain GPUs send at the generation's DeepEP-measured fraction of one-way NVLink (`StepContext.nvl`);
across domains (multi-node InfiniBand) at DeepEP's measured RDMA bandwidth for the EP size (`derived.rdma_bandwidth`:
low-latency kernels in decode, normal kernels in prefill). Every collective adds `comm_latency_s`. The all-to-all
sends each token once per distinct remote GPU ('dedup') or once per routed expert ('per_expert', DeepEP low-latency);
the hottest EP rank receives `hot` x the mean. Taught in lab 08, step 5.
"""

from __future__ import annotations

from bwkit.perfmodel.derived import rdma_bandwidth
from bwkit.perfmodel.step import StepContext

__all__ = ["all_reduce_s", "activation_bytes_of", "attention_all_reduce_s", "a2a_copies", "all_to_all_s",
           "expert_all_to_all_s", "moe_all_reduce_s"]


def all_reduce_s(s: StepContext, gpus: int, nbytes: float) -> float:
    """Seconds of one all-reduce of `nbytes` over `gpus` GPUs: the faster of one-shot ((gpus-1) x bytes) and
    two-shot (2 (gpus-1)/gpus x bytes) through NVLink, plus comm_latency_s (twice for two-shot)."""
    lat = s.factors.comm_latency_s
    one = lat + (gpus - 1) * nbytes / s.nvl
    two = 2 * lat + 2 * (gpus - 1) / gpus * nbytes / s.nvl
    return min(one, two)


def activation_bytes_of(s: StepContext, tokens: float) -> float:
    """Bytes of the BF16 hidden activations of `tokens` tokens."""
    return tokens * s.cfg.hidden * 2


def attention_all_reduce_s(s: StepContext, tokens: float | None = None) -> float:
    """Seconds of the attention-TP all-reduces after every attention and every dense FFN (0 without attention TP).

    All-reduces of the group's BF16 activations (`tokens`, default the step's group tokens) over attn_tp GPUs.
    """
    tp = s.layout.attn_tp
    if tp == 1:
        return 0.0
    ar = activation_bytes_of(s, s.t_group if tokens is None else tokens)
    return (s.cfg.num_layers + s.cfg.num_dense_layers) * all_reduce_s(s, tp, ar)


def a2a_copies(s: StepContext) -> tuple[float, float]:
    """(copies over NVLink, copies over InfiniBand) one token sends per MoE layer in the all-to-all.

    'dedup': one copy per distinct remote GPU, (G-1)(1-(1-1/G)^k); across domains one copy per distinct remote
    domain goes over InfiniBand and is forwarded over NVLink inside the receiving domain (DeepEP's normal kernels),
    so every distinct remote GPU still receives one NVLink copy (counted for all of them). 'per_expert': k
    copies, each to a uniformly chosen slot, (D-1)/G of them inside the domain of D GPUs and (G-D)/G outside.
    """
    G, k = s.layout.num_gpus, s.cfg.top_k
    D = min(s.layout.nvlink_domain, G)
    if s.layout.a2a == "per_expert":
        return k * (D - 1) / G, k * (G - D) / G
    remote = (G - 1) * (1 - (1 - 1 / G) ** k)
    if D == G:
        return remote, 0.0
    N = s.layout.domains
    ib = (N - 1) * (1 - (1 - 1 / N) ** k)
    return remote, ib


def all_to_all_s(s: StepContext, tokens: float, hot: float, mode: str = "low_latency") -> float:
    """Seconds per step of the expert dispatch (routed-expert format) + combine (BF16) of `tokens` tokens per GPU.

    NVLink and InfiniBand traffic proceed in parallel (the slower sets the time); the hottest rank receives `hot` x
    the mean; two collectives' latency per MoE layer. `mode` picks DeepEP's RDMA table ('low_latency' or 'normal').
    """
    nvl_copies, ib_copies = a2a_copies(s)
    disp = tokens * s.cfg.hidden * s.recipe.bytes("routed_experts")
    comb = activation_bytes_of(s, tokens)
    t = hot * max(nvl_copies * (disp + comb) / s.nvl, 0.0)
    if ib_copies:
        ib_disp, ib_comb = rdma_bandwidth(s.layout.moe_ep, mode)
        t = max(t, hot * ib_copies * (disp / ib_disp + comb / ib_comb))
    return s.cfg.num_moe_layers * (2 * s.factors.comm_latency_s + t)


def expert_all_to_all_s(s: StepContext, hot: float) -> float:
    """Seconds of the decode step's all-to-all (attention DP only): `all_to_all_s` of the group's tokens."""
    if s.layout.attn_dp == 1:
        return 0.0
    return all_to_all_s(s, s.t_group, hot, "low_latency")


def moe_all_reduce_s(s: StepContext, tokens: float | None = None) -> float:
    """Seconds of the all-reduce of each MoE layer's output over the attention-TP group (0 without attention TP).

    With attention DP it follows the combine inside each TP group; without (attn_tp = num_gpus) tokens are
    replicated on every GPU and this all-reduce replaces the all-to-all.
    """
    tp = s.layout.attn_tp
    if tp == 1:
        return 0.0
    ar = activation_bytes_of(s, s.t_group if tokens is None else tokens)
    return s.cfg.num_moe_layers * all_reduce_s(s, tp, ar)
