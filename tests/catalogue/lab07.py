"""Lab 07 (the DeepSeek-R1 MoE layer): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "07.1": [
        Wrong("shared expert counted twice", """
def moe_flops_per_token(cfg):
    expert = 6 * cfg.hidden * cfg.expert_inter
    active = cfg.top_k + cfg.num_shared_experts          # experts a token runs
    shared = cfg.num_shared_experts * expert              # ... plus the shared expert
    return 2 * cfg.hidden * cfg.num_experts + active * expert + shared
""", "shared expert twice"),
        Wrong("no shared expert", """
def moe_flops_per_token(cfg):
    return 2 * cfg.hidden * cfg.num_experts + 6 * cfg.hidden * cfg.expert_inter * cfg.top_k
""", "forgot the shared expert"),
        Wrong("multiply-adds", """
def moe_flops_per_token(cfg):
    macs = cfg.hidden * cfg.num_experts + 3 * cfg.hidden * cfg.expert_inter * (cfg.top_k + cfg.num_shared_experts)
    return macs
""", "multiply-adds"),
        Wrong("two matrices per expert", """
def moe_flops_per_token(cfg):
    up_down = 2 * (2 * cfg.hidden * cfg.expert_inter)     # up projection + down projection
    return 2 * cfg.hidden * cfg.num_experts + up_down * (cfg.top_k + cfg.num_shared_experts)
""", "three matrices"),
        Wrong("all 256 experts", """
def moe_flops_per_token(cfg):
    return 2 * cfg.hidden * cfg.num_experts + 6 * cfg.hidden * cfg.expert_inter * (cfg.num_experts
                                                                                   + cfg.num_shared_experts)
""", "not all of them"),
        Wrong("one shared expert hard-coded", """
def moe_flops_per_token(cfg):
    return 2 * cfg.hidden * cfg.num_experts + 6 * cfg.hidden * cfg.expert_inter * (cfg.top_k + 1)
""", "num_shared_experts"),
        Wrong("no gate", """
def moe_flops_per_token(cfg):
    return 6 * cfg.hidden * cfg.expert_inter * (cfg.top_k + cfg.num_shared_experts)
""", "forgot the gate"),
        Wrong("in GFLOP", """
def moe_flops_per_token(cfg):
    H, I = cfg.hidden, cfg.expert_inter
    flop = 2 * H * cfg.num_experts + 3 * 2 * H * I * (cfg.top_k + cfg.num_shared_experts)
    return flop / 1e9                                   # GFLOP per token
""", "in GFLOP"),
        Wrong("the whole model (x num_layers)", """
def moe_flops_per_token(cfg):
    H, I = cfg.hidden, cfg.expert_inter
    per_layer = 2 * H * cfg.num_experts + 6 * H * I * (cfg.top_k + cfg.num_shared_experts)
    return per_layer * cfg.num_layers
""", "multiplied by num_layers"),
        Right("from moe_cost's parts", """
def moe_flops_per_token(cfg):
    c = moe.moe_cost(cfg)
    return c.gate_flops + c.routed_flops + c.shared_flops
"""),
        Right("integer loop over matrices", """
def moe_flops_per_token(cfg):
    total = 2 * cfg.hidden * cfg.num_experts
    for _ in range(cfg.top_k + cfg.num_shared_experts):
        for _matrix in ("w1", "w3", "w2"):
            total += 2 * cfg.hidden * cfg.expert_inter
    return total
"""),
    ],
    "07.2": [
        Wrong("top_k groups", """
def kept_groups(biased, cfg):
    T = biased.shape[0]
    group_score = biased.view(T, cfg.num_groups, -1).topk(2, dim=-1).values.sum(-1)
    keep = group_score.topk(cfg.top_k, dim=-1).indices
    return torch.zeros(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, True)
""", "keep cfg.topk_groups"),
        Wrong("best expert per group", """
def kept_groups(biased, cfg):
    T = biased.shape[0]
    group_score = biased.view(T, cfg.num_groups, -1).max(dim=-1).values
    keep = group_score.topk(cfg.topk_groups, dim=-1).indices
    return torch.zeros(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, True)
""", "best expert only"),
        Wrong("sum of the whole group", """
def kept_groups(biased, cfg):
    T = biased.shape[0]
    group_score = biased.view(T, cfg.num_groups, -1).sum(-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    return torch.zeros(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, True)
""", "summed all the experts"),
        Wrong("round-robin groups", """
def kept_groups(biased, cfg):
    T = biased.shape[0]
    groups = torch.stack([biased[:, g::cfg.num_groups] for g in range(cfg.num_groups)], dim=1)
    group_score = groups.topk(2, dim=-1)[0].sum(-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    return torch.zeros(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, True)
""", "round-robin"),
        Wrong("the indices instead of a mask", """
def kept_groups(biased, cfg):
    T = biased.shape[0]
    group_score = biased.view(T, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1)
    return group_score.topk(cfg.topk_groups, dim=-1)[1]
""", "indices of the kept groups"),
        Wrong("mask of the dropped groups", """
def kept_groups(biased, cfg):
    T = biased.shape[0]
    group_score = biased.view(T, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    return torch.ones(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, False)   # like the gate's mask
""", "inverted"),
        Right("sorting each group, numpy mask", """
import numpy as np
def kept_groups(biased, cfg):
    b = biased.numpy().reshape(biased.shape[0], cfg.num_groups, cfg.experts_per_group)
    top2 = np.sort(b, axis=-1)[..., -2:].sum(-1)
    order = np.argsort(-top2, axis=-1)[:, :cfg.topk_groups]
    mask = np.zeros((b.shape[0], cfg.num_groups), dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return torch.from_numpy(mask)
"""),
        Right("threshold at the k-th best group score", """
def kept_groups(biased, cfg):
    score = biased.reshape(len(biased), cfg.num_groups, -1).topk(2, -1).values.sum(-1)
    kth = score.topk(cfg.topk_groups, -1).values[:, -1:]
    return score >= kth
"""),
    ],
    "07.3": [
        Wrong("top_k groups kept", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    group_score = biased.view(T, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1)
    keep = group_score.topk(cfg.top_k, dim=-1)[1]
    drop = torch.ones(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, False)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(drop[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = scores.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
""", "keep cfg.topk_groups"),
        Wrong("0.0 mask (the HF port)", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    group_score = biased.view(T, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    mask = torch.zeros(T, cfg.num_groups).scatter_(1, keep, 1)
    mask = mask[:, :, None].expand(-1, -1, cfg.experts_per_group).reshape(T, -1)
    indices = biased.masked_fill(mask == 0, 0.0).topk(cfg.top_k, dim=-1)[1]
    weights = scores.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
""", "masked dropped groups with 0.0"),
        Wrong("weights from the biased scores", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    scores = scores + bias
    group_score = scores.view(T, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    drop = torch.ones(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, False)
    masked = scores.view(T, cfg.num_groups, -1).masked_fill(drop[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = scores.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
""", "bias is for selection only"),
        Wrong("softmax weights", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    group_score = biased.view(T, cfg.num_groups, -1).topk(2, dim=-1)[0].sum(-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    drop = torch.ones(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, False)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(drop[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = torch.softmax(scores.gather(1, indices), dim=-1)
    return weights * cfg.route_scale, indices
""", "softmax"),
        Wrong("group score = max", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    group_score = biased.view(T, cfg.num_groups, -1).amax(dim=-1)
    keep = group_score.topk(cfg.topk_groups, dim=-1)[1]
    drop = torch.ones(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, False)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(drop[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = scores.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
""", "best expert (max) inside the gate"),
        Wrong("no route scale", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    keep = kept_groups(biased, cfg)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(~keep[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = scores.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True), indices
""", "route scale"),
        Wrong("no normalisation", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    keep = kept_groups(biased, cfg)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(~keep[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    return scores.gather(1, indices) * cfg.route_scale, indices
""", "normalise the chosen weights"),
        Wrong("selection without the bias", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    keep = kept_groups(scores, cfg)            # the bias only matters for the weights?
    masked = scores.view(T, cfg.num_groups, -1).masked_fill(~keep[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = scores.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
""", "chose the experts with the unbiased scores"),
        Wrong("(indices, weights): the order of topk", """
def my_gate(scores, bias, cfg):
    T = scores.shape[0]
    biased = scores + bias
    g = biased.view(T, cfg.num_groups, -1)
    keep = g.topk(2, dim=-1).values.sum(-1).topk(cfg.topk_groups, dim=-1).indices
    mask = torch.zeros(T, cfg.num_groups, dtype=torch.bool).scatter_(1, keep, True)
    masked = g.masked_fill(~mask[:, :, None], float("-inf")).view(T, -1)
    idx = masked.topk(cfg.top_k, dim=-1).indices
    w = scores.gather(1, idx)
    return idx, w / w.sum(-1, keepdim=True) * cfg.route_scale      # like topk: (indices, values)
""", "weights and indices swapped"),
        Right("library call", """
def my_gate(scores, bias, cfg):
    return moe.gate_from_scores(scores, bias, cfg)
"""),
        Wrong("float32 arithmetic", """
def my_gate(scores, bias, cfg):
    s, b = scores.float(), bias.float()
    T = s.shape[0]
    biased = s + b
    keep = kept_groups(biased, cfg)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(~keep[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = s.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
""", "float32 where the inputs are float64"),
        Wrong("float32 arithmetic, cast back", """
def my_gate(scores, bias, cfg):
    s, b = scores.float(), bias.float()
    T = s.shape[0]
    biased = s + b
    keep = kept_groups(biased, cfg)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(~keep[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = s.gather(1, indices)
    return (weights / weights.sum(-1, keepdim=True) * cfg.route_scale).to(scores.dtype), indices
""", "float32 precision only"),
        Right("float32 arithmetic in float32 only", """
def my_gate(scores, bias, cfg):
    s, b = (scores, bias) if scores.dtype == torch.float64 else (scores.float(), bias.float())
    T = s.shape[0]
    biased = s + b
    keep = kept_groups(biased, cfg)
    masked = biased.view(T, cfg.num_groups, -1).masked_fill(~keep[:, :, None], float("-inf")).view(T, -1)
    indices = masked.topk(cfg.top_k, dim=-1)[1]
    weights = s.gather(1, indices)
    return weights / weights.sum(-1, keepdim=True) * cfg.route_scale, indices
"""),
        Right("per-token loop", """
def my_gate(scores, bias, cfg):
    E, G = cfg.num_experts, cfg.num_groups
    per = E // G
    W, I = [], []
    for s, b in zip(scores.tolist(), (scores + bias).tolist()):
        gs = [sum(sorted(b[g * per:(g + 1) * per])[-2:]) for g in range(G)]
        kept = sorted(range(G), key=lambda g: -gs[g])[:cfg.topk_groups]
        cand = sorted((e for e in range(E) if e // per in kept), key=lambda e: -b[e])[:cfg.top_k]
        tot = sum(s[e] for e in cand)
        I.append(cand)
        W.append([s[e] / tot * cfg.route_scale for e in cand])
    return torch.tensor(W, dtype=torch.float64), torch.tensor(I)
"""),
    ],
    "07.4": [
        Wrong("padding with the token count", """
def my_permute(topk_ids, num_experts, block_m):
    T = topk_ids.shape[0]
    flat = topk_ids.reshape(-1)
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = torch.nonzero(flat == e).flatten().tolist()
        if not pairs:
            continue
        n_blocks = -(-len(pairs) // block_m)
        sorted_ids += pairs + [T] * (n_blocks * block_m - len(pairs))
        block_ids += [e] * n_blocks
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "the number of tokens T"),
        Wrong("one block too many on a full run", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.reshape(-1)
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = torch.nonzero(flat == e).flatten().tolist()
        if not pairs:
            continue
        n_blocks = len(pairs) // block_m + 1
        sorted_ids += pairs + [flat.numel()] * (n_blocks * block_m - len(pairs))
        block_ids += [e] * n_blocks
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "fills its blocks exactly"),
        Wrong("padding with -1", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.reshape(-1)
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = torch.nonzero(flat == e).flatten().tolist()
        if not pairs:
            continue
        n_blocks = -(-len(pairs) // block_m)
        sorted_ids += pairs + [-1] * (n_blocks * block_m - len(pairs))
        block_ids += [e] * n_blocks
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "padded with -1"),
        Wrong("token ids", """
def my_permute(topk_ids, num_experts, block_m):
    T, k = topk_ids.shape
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        tokens = [t for t in range(T) for s in range(k) if topk_ids[t, s] == e]
        if tokens:
            n_blocks = (len(tokens) + block_m - 1) // block_m
            sorted_ids += tokens + [T * k] * (n_blocks * block_m - len(tokens))
            block_ids += [e] * n_blocks
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "token ids"),
        Wrong("a block for every expert", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.reshape(-1)
    P = flat.numel()
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = (flat == e).nonzero().flatten().tolist()
        n_blocks = max(1, -(-len(pairs) // block_m))
        sorted_ids += pairs + [P] * (n_blocks * block_m - len(pairs))
        block_ids += [e] * n_blocks
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "experts without tokens"),
        Wrong("one expert id per expert", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.reshape(-1)
    P = flat.numel()
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = torch.nonzero(flat == e).flatten().tolist()
        if pairs:
            padded = -(-len(pairs) // block_m) * block_m
            sorted_ids += pairs + [P] * (padded - len(pairs))
            block_ids.append(e)
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "one entry per block"),
        Wrong("no padding", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=num_experts)
    blocks = (counts + block_m - 1) // block_m
    return order, torch.repeat_interleave(torch.arange(num_experts), blocks)
""", "did not pad"),
        Wrong("slot-major pair ids", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.T.reshape(-1)                 # all first choices, then all second choices
    P = flat.numel()
    sorted_ids, block_ids = [], []
    for e in range(num_experts):
        pairs = torch.nonzero(flat == e).flatten().tolist()
        if not pairs:
            continue
        n_blocks = -(-len(pairs) // block_m)
        sorted_ids += pairs + [P] * (n_blocks * block_m - len(pairs))
        block_ids += [e] * n_blocks
    return torch.tensor(sorted_ids), torch.tensor(block_ids)
""", "slot-major"),
        Wrong("padded once at the end", """
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.reshape(-1)
    P = flat.numel()
    order = torch.argsort(flat, stable=True)
    n_blocks = -(-P // block_m)
    sorted_ids = torch.cat([order, torch.full((n_blocks * block_m - P,), P)])
    return sorted_ids, flat[order][::block_m]       # the expert of each block's first row
""", "padded once, at the end"),
        Right("vectorised, as the library", """
def my_permute(topk_ids, num_experts, block_m):
    p = moe.permute_tokens(topk_ids, num_experts, block_m)
    return p.sorted_ids, p.block_expert_ids
"""),
        Right("numpy, stable argsort", """
import numpy as np
def my_permute(topk_ids, num_experts, block_m):
    flat = topk_ids.numpy().reshape(-1)
    P = flat.size
    order = np.argsort(flat, kind="stable")
    out, blocks = [], []
    for e in np.unique(flat):
        run = order[flat[order] == e].tolist()
        n = -(-len(run) // block_m)
        out += run + [P] * (n * block_m - len(run))
        blocks += [int(e)] * n
    return np.array(out), np.array(blocks)
"""),
    ],
    "07.5": [
        Wrong("the result cast to bfloat16", """
def my_combine(pair_out, topk_weights, num_tokens):
    top_k = topk_weights.shape[1]
    return (pair_out.view(num_tokens, top_k, -1) * topk_weights[:, :, None]).sum(1).bfloat16()
""", "y is float16/bfloat16"),
        Wrong("weights forgotten", """
def my_combine(pair_out, topk_weights, num_tokens):
    top_k = topk_weights.shape[1]
    return pair_out.view(num_tokens, top_k, -1).sum(dim=1)
""", "forgot the routing weights"),
        Wrong("mean over slots", """
def my_combine(pair_out, topk_weights, num_tokens):
    top_k = topk_weights.shape[1]
    return (pair_out.view(num_tokens, top_k, -1) * topk_weights.unsqueeze(-1)).mean(dim=1)
""", "averaged over the slots"),
        Wrong("slot-major reshape", """
def my_combine(pair_out, topk_weights, num_tokens):
    top_k = topk_weights.shape[1]
    rows = pair_out.view(top_k, num_tokens, -1)          # one block of rows per slot
    return (rows * topk_weights.T.unsqueeze(-1)).sum(0)
""", "slot-major"),
        Wrong("renormalised weights", """
def my_combine(pair_out, topk_weights, num_tokens):
    w = topk_weights / topk_weights.sum(-1, keepdim=True)
    return (pair_out.view(num_tokens, w.shape[1], -1) * w[..., None]).sum(1)
""", "divided by the sum of the weights"),
        Wrong("weights cast to float32", """
def my_combine(pair_out, topk_weights, num_tokens):
    w = topk_weights.float()                          # weights are probabilities: float32 is plenty
    return (pair_out.view(num_tokens, w.shape[1], -1) * w.unsqueeze(-1)).sum(1)
""", "float32 precision only"),
        Wrong("everything in float32", """
def my_combine(pair_out, topk_weights, num_tokens):
    rows = pair_out.float().view(num_tokens, topk_weights.shape[1], -1)
    return (rows * topk_weights.float().unsqueeze(-1)).sum(1)
""", "float32 where the inputs are float64"),
        Right("index_add loop", """
def my_combine(pair_out, topk_weights, num_tokens):
    top_k = topk_weights.shape[1]
    y = torch.zeros(num_tokens, pair_out.shape[1], dtype=pair_out.dtype)
    p = torch.arange(num_tokens * top_k)
    y.index_add_(0, p // top_k, pair_out * topk_weights.reshape(-1, 1).to(pair_out.dtype))
    return y
"""),
        Right("einsum", """
def my_combine(pair_out, topk_weights, num_tokens):
    k = topk_weights.shape[1]
    return torch.einsum("tkh,tk->th", pair_out.reshape(num_tokens, k, pair_out.shape[-1]),
                        topk_weights.to(pair_out.dtype))
"""),
    ],
    "07.6": [
        Wrong("448 / amax", """
def fp8_block_scales(w):
    N, K = w.shape
    amax = w.abs().reshape(N // 128, 128, K // 128, 128).amax(dim=(1, 3))
    return 448.0 / amax
""", "448 / amax"),
        Wrong("E2M1 maximum", """
def fp8_block_scales(w):
    N, K = w.shape
    amax = w.abs().reshape(N // 128, 128, K // 128, 128).amax(dim=(1, 3)).clamp(min=1e-4)
    return amax / 6.0
""", "divided by 6"),
        Wrong("signed max", """
def fp8_block_scales(w):
    N, K = w.shape
    return w.reshape(N // 128, 128, K // 128, 128).amax(dim=(1, 3)).clamp(min=1e-4) / 448.0
""", "signed max"),
        Wrong("no floor", """
def fp8_block_scales(w):
    N, K = w.shape
    return w.abs().reshape(N // 128, 128, K // 128, 128).amax(dim=(1, 3)) / 448.0
""", "1e-4 floor"),
        Wrong("1x128 tiles", """
def fp8_block_scales(w):
    N, K = w.shape
    return w.abs().reshape(N, K // 128, 128).amax(dim=-1).clamp(min=1e-4) / 448.0
""", "1x128 tile"),
        Wrong("wrong reshape: transposed blocks", """
def fp8_block_scales(w):
    N, K = w.shape
    blocks = w.abs().T.reshape(K // 128, 128, N // 128, 128)
    return blocks.amax(dim=(1, 3)).clamp(min=1e-4) / 448.0
""", "transposed"),
        Wrong("blocks by a plain reshape", """
def fp8_block_scales(w):
    N, K = w.shape
    blocks = w.abs().reshape(N // 128, K // 128, 128, 128)      # [block row, block col, 128, 128]
    return blocks.amax(dim=(2, 3)).clamp(min=1e-4) / 448.0
""", "does not cut 128x128 blocks"),
        Wrong("bfloat16 scales", """
def fp8_block_scales(w):
    N, K = w.shape
    amax = w.abs().reshape(N // 128, 128, K // 128, 128).amax(dim=(1, 3)).clamp(min=1e-4)
    return (amax / 448.0).to(torch.bfloat16)           # like the weights' dtype in the checkpoint
""", "float16/bfloat16"),
        Right("loops over blocks", """
def fp8_block_scales(w):
    N, K = w.shape
    out = torch.empty(N // 128, K // 128)
    for i in range(N // 128):
        for j in range(K // 128):
            out[i, j] = max(float(w[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128].abs().max()), 1e-4) / 448
    return out
"""),
        Right("library quantizer", """
from bwkit import formats
def fp8_block_scales(w):
    return formats.quantize_fp8_weight(w, block=128).scales
"""),
        Right("float64 unfold", """
def fp8_block_scales(w):
    t = w.double().abs().unfold(0, 128, 128).unfold(1, 128, 128)      # [N/128, K/128, 128, 128]
    return torch.clamp(t.amax(dim=(-1, -2)), min=1e-4) / 448
"""),
    ],
    "07.7": [
        Wrong("round-robin placement", """
def routing_table(ids_per_rank, world_size, num_experts):
    return torch.stack([torch.bincount(ids.reshape(-1) % world_size, minlength=world_size)
                        for ids in ids_per_rank])
""", "round-robin"),
        Wrong("receivers as rows", """
def routing_table(ids_per_rank, world_size, num_experts):
    per_rank = num_experts // world_size
    table = torch.zeros(world_size, world_size, dtype=torch.int64)
    for src, ids in enumerate(ids_per_rank):
        for e in ids.reshape(-1).tolist():
            table[e // per_rank, src] += 1
    return table
""", "transposed"),
        Wrong("tokens, not pairs", """
def routing_table(ids_per_rank, world_size, num_experts):
    per_rank = num_experts // world_size
    rows = []
    for ids in ids_per_rank:
        dst = ids // per_rank
        rows.append([int((dst == d).any(dim=1).sum()) for d in range(world_size)])
    return torch.tensor(rows)
""", "counted tokens"),
        Wrong("per expert", """
def routing_table(ids_per_rank, world_size, num_experts):
    return torch.stack([torch.bincount(ids.reshape(-1), minlength=num_experts) for ids in ids_per_rank])
""", "pairs per expert"),
        Wrong("divided by world_size", """
def routing_table(ids_per_rank, world_size, num_experts):
    return torch.stack([torch.bincount(ids.reshape(-1) // world_size, minlength=world_size)
                        for ids in ids_per_rank])
""", "divided by world_size"),
        Wrong("4 experts per rank hard-coded", """
def routing_table(ids_per_rank, world_size, num_experts):
    return torch.stack([torch.bincount(ids.reshape(-1) // 4, minlength=world_size) for ids in ids_per_rank])
""", "hard-coded 4 experts per rank"),
        Right("numpy histogram", """
import numpy as np
def routing_table(ids_per_rank, world_size, num_experts):
    per = num_experts // world_size
    return np.stack([np.histogram(ids.numpy().reshape(-1) // per, bins=world_size, range=(0, world_size))[0]
                     for ids in ids_per_rank])
"""),
        Right("nested loops, float table", """
def routing_table(ids_per_rank, world_size, num_experts):
    per = num_experts // world_size
    table = [[0.0] * world_size for _ in ids_per_rank]
    for src, ids in enumerate(ids_per_rank):
        for row in ids.tolist():
            for e in row:
                table[src][e // per] += 1
    return table
"""),
    ],
    "07.8": [
        Wrong("shared expert added twice", """
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    T, k = topk_weights.shape
    shared = moe.swiglu(x, shared_w1, shared_w3, shared_w2)
    y = shared + (pair_out.reshape(T, k, x.shape[1]) * topk_weights[..., None]).sum(1)
    return y + shared          # the shared expert's output
""", "shared expert twice"),
        Wrong("shared expert per pair row", """
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    T, k = topk_weights.shape
    shared = moe.swiglu(x, shared_w1, shared_w3, shared_w2)
    rows = pair_out.reshape(T, k, x.shape[1]) + shared[:, None, :]     # every expert output + shared
    return (rows * topk_weights[..., None]).sum(1)
""", "before the routing weights"),
        Wrong("shared expert once per slot", """
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    T, k = topk_weights.shape
    y = torch.zeros_like(x)
    for s in range(k):
        y += topk_weights[:, s:s + 1] * pair_out[s::k] + moe.swiglu(x, shared_w1, shared_w3, shared_w2)
    return y
""", "once per slot"),
        Wrong("no shared expert", """
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    T, k = topk_weights.shape
    return (pair_out.reshape(T, k, x.shape[1]) * topk_weights[..., None]).sum(1)
""", "forgot the shared expert"),
        Wrong("view with -1 (breaks on an empty rank)", """
import torch.nn.functional as F
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    T, k = topk_weights.shape
    routed = (pair_out.view(T, k, -1) * topk_weights.unsqueeze(-1)).sum(1)
    shared = F.linear(F.silu(F.linear(x, shared_w1)) * F.linear(x, shared_w3), shared_w2)
    return routed + shared
""", "no tokens"),
        Right("library pieces", """
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    return moe.combine(pair_out, topk_weights, x.shape[0]) + moe.swiglu(x, shared_w1, shared_w3, shared_w2)
"""),
        Right("matmuls and index_add", """
def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):
    h = x @ shared_w1.T
    y = ((h * torch.sigmoid(h)) * (x @ shared_w3.T)) @ shared_w2.T
    k = topk_weights.shape[1]
    tok = torch.arange(pair_out.shape[0]) // k
    return y.index_add(0, tok, pair_out * topk_weights.reshape(-1, 1))
"""),
    ],
}
