"""DeepSeek-V3/R1 Mixture-of-Experts: configuration, the exact gate, SwiGLU experts, token permutation and cost.

    from bwkit import moe
    w = moe.init_moe_weights(moe.SMALL)                      # random weights of one scaled-down MoE layer
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, moe.SMALL)   # official DeepSeek-V3 routing
    y = moe.moe_forward(x, w, moe.SMALL, experts=moe.experts_grouped)  # gate + routed experts + shared expert
    perm = moe.permute_tokens(ids, moe.SMALL.num_experts, block_m=16)  # expert-contiguous, padded blocks
    moe.moe_cost(moe.DEEPSEEK_V3, num_tokens=64)             # FLOPs and bytes per token of a real layer

Values from deepseek-ai/DeepSeek-V3 `inference/configs/config_671B.json` and `inference/model.py`; `gate`
follows that file's `Gate.forward` step by step, `gate_hf` the Hugging Face port (fp32 router, 0.0 group mask,
in transformers' `DeepseekV3MoE.route_tokens_to_experts`).
Run the full-size config only through the cost functions (one MoE layer is 11.3 G parameters); SMALL and TINY
keep its structure and run on a CPU in milliseconds. The Triton kernels are in `bwkit.moe_kernels`, expert
parallelism in `bwkit.moe_ep`, low-precision experts in `bwkit.moe_lowp`.
Taught in lab 07; the full-size config feeds the lab 08 performance model (`bwkit.perfmodel`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from bwkit.bench import relative_error  # noqa: F401  (re-exported: ||y - ref|| / ||ref||, in float64)
from bwkit.kit.args import check_flag, check_number

__all__ = [
    "DeepSeekMoEConfig", "DEEPSEEK_V3", "TINY", "SMALL",
    "gate", "gate_hf", "gate_from_scores", "dense_routing",
    "MoEWeights", "init_moe_weights", "swiglu", "experts_reference", "experts_naive", "experts_grouped",
    "moe_forward", "Permutation", "check_expert_ids", "permute_tokens", "combine",
    "tokens_per_expert", "load_imbalance", "expected_active_experts", "MoECost", "moe_cost",
    "skewed_router_bias", "relative_error",
]


@dataclass(frozen=True)
class DeepSeekMoEConfig:
    """Shape of a DeepSeek-V3-style model; the MoE fields drive the gate and experts, the rest the cost models."""

    hidden: int = 7168                 # dim
    num_experts: int = 256             # n_routed_experts
    num_shared_experts: int = 1        # n_shared_experts
    top_k: int = 8                     # n_activated_experts
    num_groups: int = 8                # n_expert_groups
    topk_groups: int = 4               # n_limited_groups
    route_scale: float = 2.5
    score_func: str = "sigmoid"
    expert_inter: int = 2048           # moe_inter_dim (SwiGLU width of one expert)
    dense_inter: int = 18432           # inter_dim (FFN width of the dense layers)
    num_layers: int = 61               # n_layers
    num_dense_layers: int = 3          # n_dense_layers (the first layers use a dense FFN)
    vocab: int = 129280                # vocab_size
    num_heads: int = 128               # n_heads (MLA)
    q_lora_rank: int = 1536
    kv_lora_rank: int = 512
    qk_nope_head_dim: int = 128
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    num_mtp_layers: int = 1            # multi-token-prediction modules (num_nextn_predict_layers)
    name: str = "DeepSeek-V3/R1 671B"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.type in ("int", int):
                zero_ok = f.name in ("num_shared_experts", "num_dense_layers", "num_mtp_layers")
                check_number(f"DeepSeekMoEConfig.{f.name}", getattr(self, f.name), zero_ok=zero_ok)
        check_number("DeepSeekMoEConfig.route_scale", self.route_scale, integer=False)
        if self.num_experts % self.num_groups:
            raise ValueError(f"num_groups ({self.num_groups}) must divide num_experts ({self.num_experts})")
        if self.topk_groups > self.num_groups:
            raise ValueError(f"topk_groups ({self.topk_groups}) > num_groups ({self.num_groups})")
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k ({self.top_k}) > num_experts ({self.num_experts})")
        if self.top_k > self.topk_groups * (self.num_experts // self.num_groups):
            raise ValueError(f"top_k ({self.top_k}) exceeds the experts left in {self.topk_groups} groups")
        if self.score_func not in ("sigmoid", "softmax"):
            raise ValueError(f"score_func must be 'sigmoid' or 'softmax', got {self.score_func!r}")
        if not 0 <= self.num_dense_layers <= self.num_layers:
            raise ValueError(f"num_dense_layers must be in [0, num_layers], got {self.num_dense_layers}")

    @property
    def experts_per_group(self) -> int:
        """Routed experts in one group."""
        return self.num_experts // self.num_groups

    @property
    def num_moe_layers(self) -> int:
        """Layers with an MoE FFN."""
        return self.num_layers - self.num_dense_layers

    def scaled(self, **changes) -> DeepSeekMoEConfig:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)


DEEPSEEK_V3 = DeepSeekMoEConfig()
# Same structure (sigmoid gate, groups, shared expert, SwiGLU), sizes that run on a CPU in seconds.
SMALL = DEEPSEEK_V3.scaled(hidden=256, num_experts=32, num_groups=8, topk_groups=4, top_k=4, expert_inter=128,
                           dense_inter=512, num_layers=4, num_dense_layers=1, vocab=1024, num_heads=4,
                           q_lora_rank=64, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
                           name="DeepSeek-style SMALL")
TINY = DEEPSEEK_V3.scaled(hidden=64, num_experts=16, num_groups=4, topk_groups=2, top_k=4, expert_inter=32,
                          dense_inter=128, num_layers=2, num_dense_layers=1, vocab=256, num_heads=2,
                          q_lora_rank=16, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8,
                          name="DeepSeek-style TINY")


def _check_cfg(cfg, where: str) -> None:
    """TypeError naming `where` unless `cfg` is a DeepSeekMoEConfig (a config's name, e.g. 'TINY', is not one)."""
    if not isinstance(cfg, DeepSeekMoEConfig):
        raise TypeError(f"{where}: cfg must be a DeepSeekMoEConfig such as moe.TINY, moe.SMALL or moe.DEEPSEEK_V3 "
                        f"(the object, not its name), got {type(cfg).__name__} {cfg!r:.40}")


def _check_tensors(where: str, **named) -> None:
    """TypeError naming the first of `named` that is not a torch.Tensor (a list is not converted silently)."""
    import torch

    for name, t in named.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")


# ---- Routing (the gate) ----------------------------------------------------------------------------------------

def _check_gate_inputs(x, weight, bias, cfg: DeepSeekMoEConfig) -> None:
    import torch

    _check_cfg(cfg, "gate")
    _check_tensors("gate", x=x, weight=weight)
    for name, t in (("x", x), ("weight", weight)):
        if not t.is_floating_point():
            raise TypeError(f"gate: {name} must be a floating-point tensor, got {t.dtype}")
    if x.dim() != 2:
        raise ValueError(f"gate: x must be 2-D [num_tokens, hidden], got shape {list(x.shape)}")
    if x.shape[1] != cfg.hidden:
        raise ValueError(f"gate: hidden size mismatch: x has {x.shape[1]} features, cfg.hidden is {cfg.hidden}")
    if tuple(weight.shape) != (cfg.num_experts, cfg.hidden):
        raise ValueError(f"gate: weight must be [num_experts, hidden] = [{cfg.num_experts}, {cfg.hidden}], "
                         f"got {list(weight.shape)}")
    if bias is not None:
        if not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (cfg.num_experts,):
            raise ValueError(f"gate: bias must be None or a tensor of shape [{cfg.num_experts}], "
                             f"got {getattr(bias, 'shape', type(bias).__name__)}")
        if cfg.num_groups > 1 and cfg.experts_per_group < 2:
            raise ValueError("gate: the biased group score sums the top-2 experts of a group, so each group "
                             f"needs >= 2 experts (cfg has {cfg.experts_per_group})")


def _check_finite_logits(logits, what: str = "gate: NaN router logits") -> None:
    import torch

    bad = torch.isnan(logits).any(dim=-1)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten()[:8].tolist()
        raise ValueError(f"{what} for {int(bad.sum())} token(s) (first rows {rows}); a NaN "
                         "would make top-k pick arbitrary experts, so bwkit refuses to route them. Check the "
                         "input activations / gate weight for NaN or overflow.")


def _check_scores(scores, bias, cfg: DeepSeekMoEConfig) -> None:
    import torch

    _check_cfg(cfg, "gate_from_scores")
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[1] != cfg.num_experts:
        raise ValueError(f"gate_from_scores: scores must be a tensor [num_tokens, num_experts = {cfg.num_experts}], "
                         f"got {list(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__}")
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (cfg.num_experts,)):
        raise ValueError(f"gate_from_scores: bias must be None or a tensor of shape [{cfg.num_experts}], "
                         f"got {getattr(bias, 'shape', type(bias).__name__)}")
    _check_finite_logits(scores if bias is None else scores + bias, "gate_from_scores: NaN scores (or bias)")


def gate_from_scores(scores, bias, cfg: DeepSeekMoEConfig, *, mask_value: float = float("-inf"),
                     weights_from: str = "unbiased", normalize: bool = True, route_scale: float | None = None,
                     group_score: str | None = None):
    """Route tokens from their affinity `scores` [T, num_experts] (after sigmoid); return (weights, indices).

    The defaults follow DeepSeek-V3's official `inference/model.py` exactly (see `gate`). The keyword arguments
    exist to *model mistakes and variants* for the lab's checks: `mask_value=0.0` is the Hugging Face port's
    group mask, `weights_from="biased"` gathers weights from the biased scores, `normalize=False` skips the
    division by the sum, `route_scale` overrides cfg.route_scale (1.0 models a forgotten scale), `group_score`
    ('top2', 'max' or 'sum' of a group's biased scores) overrides the official rule (top-2 sum with a bias, max
    without). Weights come back in the dtype of `scores`, indices int64 [T, top_k]; T may be 0.
    Taught in lab 07, step 2.
    """
    import torch

    if weights_from not in ("unbiased", "biased"):
        raise ValueError(f"weights_from must be 'unbiased' or 'biased', got {weights_from!r}")
    if group_score not in (None, "top2", "max", "sum"):
        raise ValueError(f"group_score must be None, 'top2', 'max' or 'sum', got {group_score!r}")
    check_flag("gate_from_scores: normalize", normalize)
    if route_scale is not None:
        check_number("gate_from_scores: route_scale", route_scale, integer=False)
    _check_scores(scores, bias, cfg)
    T = scores.shape[0]
    original = scores
    biased = scores + bias if bias is not None else scores
    choice = biased
    if cfg.num_groups > 1:
        grouped = biased.view(T, cfg.num_groups, cfg.experts_per_group)   # explicit sizes: T may be 0
        rule = group_score or ("max" if bias is None else "top2")
        if rule == "max":      # the official code: group score = best expert when there is no correction bias
            group_scores = grouped.amax(dim=-1)
        elif rule == "top2":   # ... and the sum of the two best biased scores with it (DeepSeek-V3/R1)
            group_scores = grouped.topk(2, dim=-1)[0].sum(dim=-1)
        else:
            group_scores = grouped.sum(dim=-1)
        keep = group_scores.topk(cfg.topk_groups, dim=-1)[1]
        drop = torch.ones(T, cfg.num_groups, dtype=torch.bool, device=scores.device).scatter_(1, keep, False)
        choice = grouped.masked_fill(drop.unsqueeze(-1), mask_value).flatten(1)
    indices = choice.topk(cfg.top_k, dim=-1)[1]
    weights = (biased if weights_from == "biased" else original).gather(1, indices)
    if normalize and cfg.score_func == "sigmoid":
        weights = weights / weights.sum(dim=-1, keepdim=True)
    weights = weights * (cfg.route_scale if route_scale is None else route_scale)
    return weights, indices


def gate(x, weight, bias, cfg: DeepSeekMoEConfig):
    """DeepSeek-V3/R1 routing, as the official `inference/model.py` Gate does it; return (weights, indices).

    x [T, hidden], weight [num_experts, hidden], bias [num_experts] (fp32 correction bias) or None.
    1. scores = sigmoid(x @ weight.T), computed in x's dtype (bf16 in the official inference code);
    2. the correction bias is added for *selection only*; an fp32 bias promotes s + b to fp32, so with bf16 x
       the group scores, the mask and both top-k selections run in fp32 (only logits and sigmoid are bf16);
    3. group score = sum of the two largest biased scores of each group (max when there is no bias);
    4. the `topk_groups` best groups are kept, the other groups' scores set to -inf;
    5. the `top_k` experts of the masked biased scores are picked;
    6. weights = the *unbiased* scores at those experts, divided by their sum, times `route_scale`.
    Returns weights [T, top_k] in x's dtype and indices [T, top_k] (int64, sorted by biased score); T may be 0.
    NaN logits raise ValueError (never a silent routing). Taught in lab 07, step 2.
    """
    import torch

    _check_gate_inputs(x, weight, bias, cfg)
    logits = torch.matmul(x, weight.to(x.dtype).T)
    _check_finite_logits(logits)
    if cfg.score_func == "softmax":
        scores = logits.softmax(dim=-1, dtype=torch.float32)
    else:
        scores = logits.sigmoid()
    weights, indices = gate_from_scores(scores, bias, cfg)
    return weights.type_as(x), indices


def gate_hf(x, weight, bias, cfg: DeepSeekMoEConfig):
    """The Hugging Face transformers port of the same router; return (weights, indices).

    In current transformers `DeepseekV3TopkRouter` only computes the fp32 logits and `DeepseekV3MoE.
    route_tokens_to_experts` routes (older releases did both in `DeepseekV3TopkRouter`). Two differences from
    the official code: the router runs in fp32 whatever x's dtype (logits, sigmoid and weights), and dropped
    groups are masked with 0.0 instead of -inf (it also adds 1e-20 to the denominator).
    The 0.0 mask changes the choice whenever a biased score inside a kept group is below 0: a masked expert
    (score 0.0) then beats it. Weights come back in fp32, indices int64. Taught in lab 07, step 2.
    """
    import torch

    _check_gate_inputs(x, weight, bias, cfg)
    logits = torch.matmul(x.float(), weight.float().T)
    _check_finite_logits(logits)
    scores = logits.sigmoid()
    _, indices = gate_from_scores(scores, bias.float() if bias is not None else None, cfg, mask_value=0.0)
    weights = scores.gather(1, indices)
    weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20) * cfg.route_scale
    return weights, indices


def dense_routing(weights, indices, num_experts: int):
    """Scatter (weights, indices) [T, top_k] into a dense [T, num_experts] matrix (0 where not routed).

    Order-free comparison of two routings: equal dense matrices mean the same experts and weights.
    """
    import torch

    _check_tensors("dense_routing", weights=weights, indices=indices)
    if weights.shape != indices.shape:
        raise ValueError(f"weights {list(weights.shape)} and indices {list(indices.shape)} must have one shape")
    check_expert_ids(indices, num_experts, "dense_routing")
    out = torch.zeros(weights.shape[0], num_experts, dtype=weights.dtype, device=weights.device)
    return out.scatter_(1, indices.long(), weights)


# ---- Experts and the reference layer ---------------------------------------------------------------------------

@dataclass
class MoEWeights:
    """All weights of one MoE layer, in DeepSeek's layout (`w2(silu(w1 x) * w3 x)`).

    gate_weight [E, H], gate_bias [E] (fp32), w1/w3 [E, I, H], w2 [E, H, I], shared_w1/shared_w3 [S*I, H],
    shared_w2 [H, S*I], with E = num_experts, H = hidden, I = expert_inter, S = num_shared_experts.
    """

    gate_weight: object
    gate_bias: object
    w1: object
    w3: object
    w2: object
    shared_w1: object
    shared_w3: object
    shared_w2: object

    def to(self, dtype) -> MoEWeights:
        """A copy with every weight except the fp32 gate bias cast to `dtype`."""
        return MoEWeights(*(t if name == "gate_bias" else t.to(dtype)
                            for name, t in ((f, getattr(self, f)) for f in _WEIGHT_FIELDS)))

    def experts_slice(self, start: int, end: int) -> tuple:
        """(w1, w3, w2) of routed experts start..end-1 (the experts one EP rank holds)."""
        return self.w1[start:end], self.w3[start:end], self.w2[start:end]


_WEIGHT_FIELDS = ("gate_weight", "gate_bias", "w1", "w3", "w2", "shared_w1", "shared_w3", "shared_w2")
_MAX_INIT_PARAMS = 300_000_000


def init_moe_weights(cfg: DeepSeekMoEConfig, *, seed: int = 0, dtype=None, bias_std: float = 0.05) -> MoEWeights:
    """Random weights for one MoE layer of `cfg` (normal, std 1/sqrt(fan_in); gate bias normal with `bias_std`).

    For the scaled configs (SMALL, TINY): the full DeepSeek-V3 layer (11.3 G parameters) is refused — use
    `moe_cost` for it. `dtype` defaults to float32. Taught in lab 07, step 3.
    """
    import torch

    _check_cfg(cfg, "init_moe_weights")
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"init_moe_weights: dtype must be a floating-point torch.dtype such as torch.float32 or "
                        f"torch.bfloat16 (not a string; an integer dtype rounds every weight to 0), got {dtype!r}")
    check_number("init_moe_weights: seed", seed, zero_ok=True)
    check_number("init_moe_weights: bias_std", bias_std, integer=False, zero_ok=True)
    E, H, I, S = cfg.num_experts, cfg.hidden, cfg.expert_inter, cfg.num_shared_experts
    n_params = 3 * H * I * (E + S) + E * H
    if n_params > _MAX_INIT_PARAMS:
        raise ValueError(f"init_moe_weights: {cfg.name} has {n_params / 1e9:.1f} G parameters per MoE layer; "
                         "use a scaled config (bwkit.moe.SMALL/TINY) to run it, and moe_cost() for its cost")
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, fan_in):
        return (torch.randn(*shape, generator=g) / fan_in ** 0.5).to(dtype)

    return MoEWeights(
        gate_weight=rnd(E, H, fan_in=H),
        gate_bias=torch.randn(E, generator=g) * bias_std,
        w1=rnd(E, I, H, fan_in=H), w3=rnd(E, I, H, fan_in=H), w2=rnd(E, H, I, fan_in=I),
        shared_w1=rnd(S * I, H, fan_in=H), shared_w3=rnd(S * I, H, fan_in=H), shared_w2=rnd(H, S * I, fan_in=S * I),
    )


def swiglu(x, w1, w3, w2):
    """One SwiGLU expert: w2(silu(w1 x) * w3 x) for x [T, H], w1/w3 [I, H], w2 [H, I]. Taught in lab 07, step 3."""
    import torch.nn.functional as F

    _check_tensors("swiglu", x=x, w1=w1, w3=w3, w2=w2)
    if w1.dim() != 2 or w3.shape != w1.shape or tuple(w2.shape) != tuple(w1.shape)[::-1] or x.dim() < 1 \
            or x.shape[-1] != w1.shape[-1]:
        raise ValueError(f"swiglu: takes one expert's weights, w1/w3 [inter, hidden] and w2 [hidden, inter], and x "
                         f"[..., hidden]; got x {list(x.shape)}, w1 {list(w1.shape)}, w3 {list(w3.shape)}, w2 "
                         f"{list(w2.shape)}{' (all experts: pick one, w.w1[e], ...)' if w1.dim() == 3 else ''}")
    return F.linear(F.silu(F.linear(x, w1)) * F.linear(x, w3), w2)


def _check_experts_inputs(x, topk_weights, topk_ids, w1, w3, w2, *, same_dtype: bool = False) -> None:
    """ValueError/TypeError naming what is wrong; `same_dtype`: the plain-torch paths' matmuls need one dtype."""
    import torch

    _check_tensors("experts", x=x, topk_weights=topk_weights, topk_ids=topk_ids, w1=w1, w3=w3, w2=w2)
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [num_tokens, hidden], got {list(x.shape)}")
    if w1.dim() != 3 or w3.shape != w1.shape or w2.dim() != 3:
        raise ValueError(f"w1/w3 must be [num_experts, inter, hidden] (same shape) and w2 [num_experts, hidden, "
                         f"inter]; got w1 {list(w1.shape)}, w3 {list(w3.shape)}, w2 {list(w2.shape)}")
    E, I, H = w1.shape
    if x.shape[1] != H or tuple(w2.shape) != (E, H, I):
        raise ValueError(f"hidden size mismatch: x {list(x.shape)}, w1 {list(w1.shape)}, w2 {list(w2.shape)}")
    if topk_ids.shape != topk_weights.shape or topk_ids.dim() != 2 or topk_ids.shape[0] != x.shape[0]:
        raise ValueError(f"topk_ids and topk_weights must both be [num_tokens={x.shape[0]}, top_k]; got "
                         f"{list(topk_ids.shape)} and {list(topk_weights.shape)}")
    if topk_ids.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"topk_ids must be int32/int64, got {topk_ids.dtype}")
    if topk_ids.numel() and (int(topk_ids.min()) < 0 or int(topk_ids.max()) >= E):
        raise ValueError(f"topk_ids must lie in [0, {E}), got range [{int(topk_ids.min())}, {int(topk_ids.max())}]")
    if same_dtype and len({x.dtype, w1.dtype, w3.dtype, w2.dtype}) > 1:
        raise TypeError(f"x and the expert weights must share a dtype: x {x.dtype}, w1 {w1.dtype}, w3 {w3.dtype}, "
                        f"w2 {w2.dtype} (convert the weights, e.g. w1.to(x.dtype))")


def experts_reference(x, topk_weights, topk_ids, w1, w3, w2):
    """Routed experts, as the official code loops: for each expert, its tokens, y += w * expert(x).

    x [T, H], topk_weights/topk_ids [T, top_k], w1/w3 [E, I, H], w2 [E, H, I]; returns y [T, H] in x's dtype.
    The plain-torch reference every other path is checked against. `index_add_` where the official code writes
    `y[idx] +=`: the same sum for the distinct ids a gate returns, and a token that lists an expert twice gets
    both contributions (`+=` on repeated indices keeps only one). Taught in lab 07, step 3.
    """
    import torch

    _check_experts_inputs(x, topk_weights, topk_ids, w1, w3, w2, same_dtype=True)
    y = torch.zeros_like(x)
    for e in torch.unique(topk_ids).tolist():
        tok, slot = torch.where(topk_ids == e)
        y.index_add_(0, tok, swiglu(x[tok], w1[e], w3[e], w2[e]) * topk_weights[tok, slot, None].to(x.dtype))
    return y


def experts_naive(x, topk_weights, topk_ids, w1, w3, w2):
    """Routed experts one token and one slot at a time (the slow baseline of benchmarks/bench_moe.py)."""
    import torch

    _check_experts_inputs(x, topk_weights, topk_ids, w1, w3, w2, same_dtype=True)
    y = torch.zeros_like(x)
    ids = topk_ids.tolist()
    for t in range(x.shape[0]):
        xt = x[t:t + 1]
        for k, e in enumerate(ids[t]):
            y[t] += (swiglu(xt, w1[e], w3[e], w2[e]) * topk_weights[t, k].to(x.dtype))[0]
    return y


# ---- Token permutation: (token, slot) pairs sorted by expert, padded to BLOCK_M --------------------------------

@dataclass(frozen=True)
class Permutation:
    """Expert-contiguous layout of the (token, slot) pairs of a routing, padded per expert to `block_m` rows.

    sorted_ids [num_padded]: pair ids p = token * top_k + slot, grouped by expert (stable: token order inside an
    expert), each expert's run padded with the sentinel `num_pairs`; block_expert_ids [num_padded // block_m]:
    the expert of each block of `block_m` rows; tokens_per_expert [num_experts]. The layout of vLLM's
    moe_align_block_size / DeepGEMM's contiguous grouped GEMM. Taught in lab 07, step 4.
    """

    sorted_ids: object
    block_expert_ids: object
    tokens_per_expert: object
    num_pairs: int
    top_k: int
    block_m: int

    @property
    def num_padded(self) -> int:
        """Rows after padding (a multiple of block_m)."""
        return int(self.sorted_ids.numel())

    @property
    def num_blocks(self) -> int:
        """Blocks of block_m rows (one grouped-GEMM row tile each)."""
        return int(self.block_expert_ids.numel())

    @property
    def padding_fraction(self) -> float:
        """Share of padded rows that are padding (wasted MMA rows); 0.0 when there are no rows."""
        return 1.0 - self.num_pairs / self.num_padded if self.num_padded else 0.0


def check_expert_ids(topk_ids, num_experts: int, where: str) -> None:
    """Raise a ValueError naming `where` unless `topk_ids` is an integer tensor [num_tokens, top_k] of expert ids
    in [0, num_experts)."""
    import torch

    check_number(f"{where}: num_experts", num_experts)
    if not isinstance(topk_ids, torch.Tensor) or topk_ids.is_floating_point() or topk_ids.is_complex():
        what = topk_ids.dtype if isinstance(topk_ids, torch.Tensor) else type(topk_ids).__name__
        raise ValueError(f"{where}: topk_ids must be an integer torch.Tensor of expert ids, got {what}")
    if topk_ids.dim() != 2:
        raise ValueError(f"{where}: topk_ids must be [num_tokens, top_k], got shape {list(topk_ids.shape)}")
    if topk_ids.numel() and (int(topk_ids.min()) < 0 or int(topk_ids.max()) >= num_experts):
        raise ValueError(f"{where}: expert ids must lie in [0, {num_experts}), got ids from {int(topk_ids.min())} "
                         f"to {int(topk_ids.max())}")


def permute_tokens(topk_ids, num_experts: int, block_m: int) -> Permutation:
    """Sort the (token, slot) pairs of `topk_ids` [T, top_k] by expert and pad each expert's run to `block_m`.

    Experts with no token get no block. Returns a `Permutation`. Taught in lab 07, step 4.
    """
    import torch

    check_number("block_m", block_m)
    check_expert_ids(topk_ids, num_experts, "permute_tokens")
    flat = topk_ids.reshape(-1).long()
    P = flat.numel()
    counts = torch.bincount(flat, minlength=num_experts)
    padded = (counts + block_m - 1) // block_m * block_m
    start_padded = torch.cumsum(padded, 0) - padded
    start = torch.cumsum(counts, 0) - counts
    order = torch.argsort(flat, stable=True)
    expert_of_sorted = flat[order]
    dest = start_padded[expert_of_sorted] + torch.arange(P, device=flat.device) - start[expert_of_sorted]
    sorted_ids = torch.full((int(padded.sum()),), P, dtype=torch.int64, device=flat.device)
    sorted_ids[dest] = order
    block_expert_ids = torch.repeat_interleave(torch.arange(num_experts, device=flat.device), padded // block_m)
    return Permutation(sorted_ids, block_expert_ids, counts, P, int(topk_ids.shape[1]), block_m)


def combine(pair_out, topk_weights, num_tokens: int):
    """Back to token order: y[t] = sum over slots k of topk_weights[t, k] * pair_out[t * top_k + k].

    pair_out [num_tokens * top_k, H] holds each (token, slot) pair's expert output in pair-id order; num_tokens
    may be 0 (an expert-parallel rank with no tokens). Taught in lab 07, step 4.
    """
    _check_tensors("combine", pair_out=pair_out, topk_weights=topk_weights)
    check_number("combine: num_tokens", num_tokens, zero_ok=True)
    if pair_out.dim() != 2 or topk_weights.dim() != 2:
        raise ValueError(f"combine: pair_out must be 2-D [num_tokens * top_k, H] and topk_weights 2-D [num_tokens, "
                         f"top_k]; got {list(pair_out.shape)} and {list(topk_weights.shape)}")
    if pair_out.shape[0] != topk_weights.numel() or topk_weights.shape[0] != num_tokens:
        raise ValueError(f"combine: pair_out has {pair_out.shape[0]} rows, topk_weights {list(topk_weights.shape)},"
                         f" num_tokens {num_tokens}: expected num_tokens * top_k rows")
    top_k, hidden = topk_weights.shape[1], pair_out.shape[1]
    w = topk_weights.to(pair_out.dtype).reshape(num_tokens, top_k, 1)
    return (pair_out.reshape(num_tokens, top_k, hidden) * w).sum(dim=1)     # explicit sizes: T may be 0


def experts_grouped(x, topk_weights, topk_ids, w1, w3, w2):
    """Routed experts on the permuted layout in plain torch: gather rows by expert, one GEMM chain per expert
    on a contiguous slice, scatter back with `combine`. Same result as `experts_reference`. Taught in lab 07, step 4.
    """
    import torch

    _check_experts_inputs(x, topk_weights, topk_ids, w1, w3, w2, same_dtype=True)
    T, top_k = topk_ids.shape
    flat = topk_ids.reshape(-1).long()
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=w1.shape[0]).tolist()
    xs = x[order // top_k]
    out_sorted = torch.empty_like(xs)
    s = 0
    for e, n in enumerate(counts):
        if n:
            out_sorted[s:s + n] = swiglu(xs[s:s + n], w1[e], w3[e], w2[e])
            s += n
    pair_out = torch.empty_like(out_sorted)
    pair_out[order] = out_sorted
    return combine(pair_out, topk_weights, T)


def moe_forward(x, w: MoEWeights, cfg: DeepSeekMoEConfig, *, experts=None):
    """One DeepSeek MoE layer: gate, routed experts (`experts`, default `experts_reference`) plus the shared expert.

    x [..., hidden] -> y [..., hidden] (any number of tokens, 0 included). `experts` is any function with the
    signature of `experts_reference` (`experts_grouped`, `bwkit.moe_kernels.fused_moe`, ...). Taught in lab 07,
    step 3.
    """
    _check_tensors("moe_forward", x=x)
    _check_cfg(cfg, "moe_forward")
    if not isinstance(w, MoEWeights):
        raise TypeError(f"moe_forward: w must be a MoEWeights (from moe.init_moe_weights), got {type(w).__name__}")
    if experts is not None and not callable(experts):
        raise TypeError("moe_forward: experts must be None or a function with experts_reference's signature, e.g. "
                        f"moe.experts_grouped (the function, not its name), got {experts!r}")
    if x.shape[-1] != cfg.hidden:
        raise ValueError(f"moe_forward: hidden size mismatch: x has {x.shape[-1]} features, cfg.hidden is "
                         f"{cfg.hidden}")
    shape = x.shape
    x2 = x.reshape(-1, cfg.hidden)
    weights, indices = gate(x2, w.gate_weight, w.gate_bias, cfg)
    routed = (experts or experts_reference)(x2, weights, indices, w.w1, w.w3, w.w2)
    shared = swiglu(x2, w.shared_w1, w.shared_w3, w.shared_w2)
    return (routed + shared).reshape(shape)


# ---- Load and cost ---------------------------------------------------------------------------------------------

def tokens_per_expert(topk_ids, num_experts: int):
    """How many (token, slot) pairs each expert receives: bincount of `topk_ids`, length num_experts."""
    import torch

    check_expert_ids(topk_ids, num_experts, "tokens_per_expert")
    return torch.bincount(topk_ids.reshape(-1).long(), minlength=num_experts)


def load_imbalance(counts) -> float:
    """max / mean of tokens per expert: 1.0 is perfect balance (NaN when no token was routed); the busiest expert
    sets an MoE layer's time."""
    import torch

    try:
        c = torch.as_tensor(counts).double()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"load_imbalance: counts must be numbers (tokens per expert), got {counts!r:.60}") from None
    if c.dim() != 1 or not c.numel():
        raise ValueError(f"load_imbalance: counts must be a non-empty 1-D sequence, got shape {list(c.shape)}")
    if not bool(torch.isfinite(c).all()):
        raise ValueError(f"load_imbalance: counts must be finite token counts, got {c.tolist()!r:.60}")
    if bool((c < 0).any()):
        raise ValueError("load_imbalance: counts must be >= 0")
    return float(c.max() / c.mean()) if float(c.mean()) > 0 else float("nan")


def expected_active_experts(num_tokens: int, cfg: DeepSeekMoEConfig) -> float:
    """Expected number of distinct routed experts hit by `num_tokens` tokens under uniform routing:
    E * (1 - (1 - top_k / E) ** num_tokens)."""
    check_number("expected_active_experts: num_tokens", num_tokens, zero_ok=True)
    _check_cfg(cfg, "expected_active_experts")
    E = cfg.num_experts
    return E * (1.0 - (1.0 - cfg.top_k / E) ** num_tokens)


@dataclass(frozen=True)
class MoECost:
    """FLOPs and bytes of one MoE layer, per token (see `moe_cost`)."""

    gate_flops: float
    routed_flops: float
    shared_flops: float
    expert_params: int            # parameters of one routed expert (3 * hidden * expert_inter)
    layer_params: int             # routed + shared + gate parameters of one MoE layer
    active_params_per_token: int  # top_k routed + shared experts + gate
    weight_bytes_per_token: float  # weights streamed from memory, amortised over num_tokens (uniform routing)
    dispatch_bytes_per_token: float  # activations sent to the experts (EP all-to-all, one way)
    combine_bytes_per_token: float   # expert outputs sent back
    num_tokens: int

    @property
    def flops_per_token(self) -> float:
        """gate + routed + shared FLOPs of one token in one MoE layer."""
        return self.gate_flops + self.routed_flops + self.shared_flops

    @property
    def intensity(self) -> float:
        """FLOPs per weight byte streamed (the roofline x-axis for the expert GEMMs)."""
        return self.flops_per_token / self.weight_bytes_per_token


def moe_cost(cfg: DeepSeekMoEConfig, *, num_tokens: int = 1, weight_bytes: float = 1.0,
             act_bytes: float = 2.0, dispatch_bytes: float | None = None) -> MoECost:
    """Per-token FLOPs and bytes of one MoE layer of `cfg` for a batch of `num_tokens` tokens.

    FLOPs count 2 per multiply-add: a SwiGLU expert is 3 GEMMs of hidden x expert_inter, so 6*H*I per token; the
    gate is 2*H*E. Weight bytes: the distinct experts a batch touches (`expected_active_experts`) plus the shared
    expert and gate, times `weight_bytes` (1 for FP8, 0.5 + scales for NVFP4), divided by num_tokens.
    Dispatch: top_k * hidden * `dispatch_bytes` (default act_bytes; DeepSeek dispatches in FP8), combine:
    top_k * hidden * act_bytes. Taught in lab 07, step 1.
    """
    _check_cfg(cfg, "moe_cost")
    check_number("moe_cost: num_tokens", num_tokens)
    for name, v in (("weight_bytes", weight_bytes), ("act_bytes", act_bytes), ("dispatch_bytes", dispatch_bytes)):
        if v is not None:   # dispatch_bytes None: act_bytes; 0 models no dispatch (a single GPU)
            check_number(f"moe_cost: {name}", v, integer=False, zero_ok=name == "dispatch_bytes")
    H, I, E, S, k = cfg.hidden, cfg.expert_inter, cfg.num_experts, cfg.num_shared_experts, cfg.top_k
    expert_params = 3 * H * I
    layer_params = expert_params * (E + S) + H * E
    active = expert_params * (k + S) + H * E
    touched = expected_active_experts(num_tokens, cfg) + S
    wbytes = (touched * expert_params + H * E) * weight_bytes / num_tokens
    d = act_bytes if dispatch_bytes is None else dispatch_bytes
    return MoECost(gate_flops=2.0 * H * E, routed_flops=6.0 * H * I * k, shared_flops=6.0 * H * I * S,
                   expert_params=expert_params, layer_params=layer_params, active_params_per_token=active,
                   weight_bytes_per_token=wbytes, dispatch_bytes_per_token=k * H * d,
                   combine_bytes_per_token=k * H * act_bytes, num_tokens=num_tokens)


def skewed_router_bias(cfg: DeepSeekMoEConfig, *, alpha: float = 1.0, seed: int = 0):
    """Extra logits that make a router skewed (a few popular experts): alpha * log of a Zipf popularity over a
    random permutation of the experts. Add it to the router logits to model an unbalanced router."""
    import torch

    _check_cfg(cfg, "skewed_router_bias")
    check_number("skewed_router_bias: seed", seed, zero_ok=True)
    check_number("skewed_router_bias: alpha (0 = no skew)", alpha, integer=False, zero_ok=True)
    g = torch.Generator().manual_seed(seed)
    rank = torch.randperm(cfg.num_experts, generator=g).float() + 1.0
    return -alpha * torch.log(rank)
