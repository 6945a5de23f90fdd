"""Fused MoE in Triton: grouped gate/up GEMM with SiLU*mul, grouped down GEMM with the routing weight, combine.

    import bwkit; rt = bwkit.setup()          # first, before triton is imported (interpreter on a CPU)
    from bwkit import moe, moe_kernels
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, moe.SMALL)
    y = moe_kernels.fused_moe(x, weights, ids, w.w1, w.w3, w.w2)   # == moe.experts_reference(...)

How it works (the layout of vLLM's fused_moe / DeepGEMM's contiguous grouped GEMM):
1. `bwkit.moe.permute_tokens` sorts the (token, slot) pairs by expert and pads each expert's run to BLOCK_M rows,
   so every BLOCK_M-row tile belongs to exactly one expert (`block_expert_ids`);
2. `moe_gemm_kernel`, the gate/up GEMM (GATED): one program per (row tile, BLOCK_N columns); it reads its expert
   id, gathers the tile's token rows of x, runs the w1 and w3 GEMMs side by side and writes
   h = silu(x w1^T) * (x w3^T) for each pair (row = pair id);
3. `moe_gemm_kernel` again, the down GEMM (MUL_ROUTED_WEIGHT): the same grouping over h with w2, each row scaled
   by its routing weight;
4. `moe_combine_kernel`: y[t] = sum of the top_k pair rows of token t.
Padding rows (pair id == num_pairs) are masked out; a block whose expert id is -1 (an expert another EP rank
holds) is skipped. Accumulation is fp32. Constraints: BLOCK_M/N/K powers of two >= 16. Under the Triton
interpreter (no GPU) bf16 inputs are computed in fp32 (`tl.dot` on bf16 is wrong there, triton issue 11584).
No autotuning. Taught in lab 07, step 5.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from bwkit.kit.runtime import guard_dot_dtypes, interpreter_active
from bwkit.moe import _check_experts_inputs, permute_tokens

__all__ = ["moe_gemm_kernel", "moe_combine_kernel", "fused_moe",
           "default_blocks", "compile_moe", "GPU_BLOCKS"]

_DOT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)   # what fused_moe's tl.dot takes
GPU_BLOCKS = (64, 64, 64)      # (BLOCK_M, BLOCK_N, BLOCK_K) of `default_blocks` on a GPU


@triton.jit
def _expert_tile(sorted_ids_ptr, num_pairs, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """The tile of program (row block, column block) of `moe_gemm_kernel`: its BLOCK_M pair ids, which of them
    are real pairs (not padding), its column offsets and the K offsets of one slice."""
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    pair = tl.load(sorted_ids_ptr + offs_m)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    return pair, pair < num_pairs, offs_n, tl.arange(0, BLOCK_K)


@triton.jit
def moe_gemm_kernel(
    # pointers: A rows, the expert weights B (and B3 when GATED), the output rows, the permutation, the weights
    a_ptr, b_ptr, b3_ptr, out_ptr, sorted_ids_ptr, block_expert_ptr, topk_weights_ptr,
    # sizes: num_pairs = tokens * top_k; N output columns, K the reduced dimension
    num_pairs, N, K,
    # strides: A rows, B's three dimensions (expert, n, k; B3 has the same), output rows
    stride_am, stride_ak, stride_be, stride_bn, stride_bk, stride_om, stride_on,
    # meta-parameters
    PAIRS_PER_ROW: tl.constexpr, GATED: tl.constexpr, MUL_ROUTED_WEIGHT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """out[pair, n] = A[pair // PAIRS_PER_ROW] . B[e, n] for the BLOCK_M pairs of one expert tile (expert e).

    Both GEMMs of the MoE are this kernel. gate/up: A = x (PAIRS_PER_ROW = top_k: each token row serves its top_k
    pairs), B = w1, B3 = w3, GATED: out = silu(x . w1[e, n]) * (x . w3[e, n]), both products from one load of x.
    down: A = h (one row per pair), B = w2, MUL_ROUTED_WEIGHT: out = topk_weight[pair] * (h . w2[e, n]).
    """
    expert = tl.load(block_expert_ptr + tl.program_id(0)).to(tl.int64)
    if expert < 0:  # an expert held elsewhere (expert parallelism): nothing to do here
        return
    pair, valid_m, offs_n, offs_k = _expert_tile(sorted_ids_ptr, num_pairs, BLOCK_M, BLOCK_N, BLOCK_K)
    a_ptrs = a_ptr + (pair // PAIRS_PER_ROW)[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_off = expert * stride_be + offs_n[None, :] * stride_bn + offs_k[:, None] * stride_bk   # [BLOCK_K, BLOCK_N]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if GATED:
        acc3 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_ok = offs_k < K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=valid_m[:, None] & k_ok[None, :], other=0.0)
        b_mask = k_ok[:, None] & (offs_n[None, :] < N)
        b = tl.load(b_ptr + b_off, mask=b_mask, other=0.0)
        if GATED:
            b3 = tl.load(b3_ptr + b_off, mask=b_mask, other=0.0)
        acc = tl.dot(a, b, acc)
        if GATED:
            acc3 = tl.dot(a, b3, acc3)
        a_ptrs += BLOCK_K * stride_ak
        b_off += BLOCK_K * stride_bk
    if GATED:
        acc = acc * tl.sigmoid(acc) * acc3                              # SiLU(gate) * up, fused in the epilogue
    if MUL_ROUTED_WEIGHT:
        rw = tl.load(topk_weights_ptr + pair, mask=valid_m, other=0.0).to(tl.float32)
        acc = acc * rw[:, None]
    o_ptrs = out_ptr + pair[:, None] * stride_om + offs_n[None, :] * stride_on
    tl.store(o_ptrs, acc.to(out_ptr.dtype.element_ty), mask=valid_m[:, None] & (offs_n[None, :] < N))


@triton.jit
def moe_combine_kernel(
    pair_out_ptr, y_ptr,
    N,
    stride_pm, stride_pn, stride_ym, stride_yn,
    TOP_K: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """y[t, n] = sum over k of pair_out[t * TOP_K + k, n] (the weights were applied by the down GEMM)."""
    t = tl.program_id(0).to(tl.int64)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    n_ok = offs_n < N
    acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
    for k in range(TOP_K):
        acc += tl.load(pair_out_ptr + (t * TOP_K + k) * stride_pm + offs_n * stride_pn, mask=n_ok,
                       other=0.0).to(tl.float32)
    tl.store(y_ptr + t * stride_ym + offs_n * stride_yn, acc.to(y_ptr.dtype.element_ty), mask=n_ok)


def default_blocks() -> tuple[int, int, int]:
    """(BLOCK_M, BLOCK_N, BLOCK_K): few wide programs under the interpreter (its cost is per program), 64s on a GPU."""
    return (16, 128, 128) if interpreter_active() else GPU_BLOCKS


def _pow2_at_least_16(name: str, v: int) -> None:
    if not isinstance(v, int) or v < 16 or v & (v - 1):
        raise ValueError(f"fused_moe: {name} must be a power of two >= 16 (tl.dot tile), got {v!r}")


def fused_moe(x: torch.Tensor, topk_weights: torch.Tensor, topk_ids: torch.Tensor, w1: torch.Tensor,
              w3: torch.Tensor, w2: torch.Tensor, *, block_m: int | None = None, block_n: int | None = None,
              block_k: int | None = None, expert_owner: torch.Tensor | None = None) -> torch.Tensor:
    """Routed experts with the Triton grouped kernels; same signature and result as `moe.experts_reference`.

    x [T, H]; topk_weights, topk_ids [T, top_k]; w1/w3 [E, I, H]; w2 [E, H, I]. `expert_owner` (optional bool
    [E]) marks the experts computed here: the blocks of other experts are skipped and their pairs contribute 0
    (how one expert-parallel rank would run it). Returns y [T, H] in x's dtype: zeros where no owned expert got a
    pair, an empty [0, H] for T = 0 (nothing is launched then). Under the Triton interpreter bf16 is computed in
    fp32. Taught in lab 07, step 5.
    """
    _check_experts_inputs(x, topk_weights, topk_ids, w1, w3, w2)
    dflt = default_blocks()
    block_m, block_n, block_k = (b if b is not None else d
                                 for b, d in zip((block_m, block_n, block_k), dflt, strict=True))
    for name, v in (("block_m", block_m), ("block_n", block_n), ("block_k", block_k)):
        _pow2_at_least_16(name, v)
    devices = {t.device for t in (x, topk_weights, topk_ids, w1, w3, w2)}
    if len(devices) != 1:
        raise ValueError(f"fused_moe: all tensors must be on one device, got {sorted(map(str, devices))}")
    if not interpreter_active() and next(iter(devices)).type != "cuda":
        raise ValueError("fused_moe: the tensors are on the CPU but Triton compiles for the GPU here; move them "
                         "to 'cuda' (or set TRITON_INTERPRET=1 before importing triton to interpret on the CPU)")
    out_dtype = x.dtype
    if interpreter_active():
        x, w1, w3, w2 = (t.float() if t.dtype == torch.bfloat16 else t for t in (x, w1, w3, w2))
    for name, t in (("x", x), ("w1", w1), ("w3", w3), ("w2", w2)):
        if t.dtype not in _DOT_DTYPES:
            raise TypeError(f"fused_moe: {name} is {t.dtype}; tl.dot takes {', '.join(map(str, _DOT_DTYPES))}")
    guard_dot_dtypes(x, w1, w3, w2, what="fused_moe")
    # contiguous: the gate/up kernel reads w1 and w3 with one set of strides (w1's)
    w1, w3, w2 = (t.to(x.dtype).contiguous() for t in (w1, w3, w2))
    T, top_k = topk_ids.shape
    E, I, H = w1.shape
    perm = permute_tokens(topk_ids, E, block_m)
    block_expert = perm.block_expert_ids
    if expert_owner is not None:
        if expert_owner.shape != (E,) or expert_owner.dtype != torch.bool:
            raise ValueError(f"fused_moe: expert_owner must be a bool tensor of shape [{E}]")
        block_expert = torch.where(expert_owner.to(block_expert.device)[block_expert], block_expert, -1)
    num_pairs = T * top_k
    h = torch.zeros(num_pairs, I, device=x.device, dtype=x.dtype)
    pair_out = torch.zeros(num_pairs, H, device=x.device, dtype=x.dtype)
    y = torch.empty(T, H, device=x.device, dtype=out_dtype)
    if perm.num_blocks == 0:
        return y.zero_()
    sorted_ids = perm.sorted_ids.contiguous()
    block_expert = block_expert.contiguous()
    rw = topk_weights.reshape(-1).float().contiguous()
    def grouped_gemm(a, b, b3, out, gated: bool, pairs_per_row: int):
        moe_gemm_kernel[(perm.num_blocks, triton.cdiv(out.shape[1], block_n))](
            a, b, b3, out, sorted_ids, block_expert, rw,
            num_pairs, out.shape[1], a.shape[1],
            a.stride(0), a.stride(1), b.stride(0), b.stride(1), b.stride(2), out.stride(0), out.stride(1),
            PAIRS_PER_ROW=pairs_per_row, GATED=gated, MUL_ROUTED_WEIGHT=not gated,
            BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
        )

    grouped_gemm(x, w1, w3, h, gated=True, pairs_per_row=top_k)        # h = silu(x w1^T) * (x w3^T)
    grouped_gemm(h, w2, w2, pair_out, gated=False, pairs_per_row=1)    # pair_out = weight * (h w2^T)
    moe_combine_kernel[(T, triton.cdiv(H, block_n))](
        pair_out, y, H,
        pair_out.stride(0), pair_out.stride(1), y.stride(0), y.stride(1),
        TOP_K=top_k, BLOCK_N=block_n,
    )
    return y


def compile_moe(kernel: str = "gate_up", target: str = "sm_100a", dtype: torch.dtype = torch.bfloat16, *,
                tokens: int = 4096, cfg=None, blocks: tuple[int, int, int] = GPU_BLOCKS, num_warps: int = 4,
                num_stages: int = 3):
    """Compile one of `fused_moe`'s kernels ('gate_up', 'down', 'combine') for `target` without a GPU.

    Specialized as `fused_moe` launches it on a GPU for `tokens` tokens of `cfg` (default `bwkit.moe.DEEPSEEK_V3`:
    hidden 7168, 256 experts of inter 2048, top-8) with its default blocks and launch options (4 warps, 3 stages);
    `bwkit.gemm.plan.compile_launch` reproduces the JIT's divisibility specialization. Returns a
    `bwkit.inspect.Compiled`. Used by the compile gate (tests/test_compile_gate.py).
    """
    from bwkit import moe
    from bwkit.gemm.plan import compile_launch

    cfg = cfg or moe.DEEPSEEK_V3
    H, I, k = cfg.hidden, cfg.expert_inter, cfg.top_k
    P = tokens * k
    bm, bn, bk = blocks
    ids = {"sorted_ids_ptr": torch.int64, "block_expert_ptr": torch.int64, "topk_weights_ptr": torch.float32}
    if kernel in ("gate_up", "down"):
        gated = kernel == "gate_up"
        N, K = (I, H) if gated else (H, I)
        fn, args = moe_gemm_kernel, {
            "a_ptr": dtype, "b_ptr": dtype, "b3_ptr": dtype, "out_ptr": dtype, **ids, "num_pairs": P, "N": N,
            "K": K, "stride_am": K, "stride_ak": 1, "stride_be": N * K, "stride_bn": K, "stride_bk": 1,
            "stride_om": N, "stride_on": 1, "PAIRS_PER_ROW": k if gated else 1, "GATED": gated,
            "MUL_ROUTED_WEIGHT": not gated}
    elif kernel == "combine":
        fn, args = moe_combine_kernel, {"pair_out_ptr": dtype, "y_ptr": dtype, "N": H, "stride_pm": H, "stride_pn": 1,
                                        "stride_ym": H, "stride_yn": 1, "TOP_K": k, "BLOCK_N": bn}
        return compile_launch(fn, args, target, num_warps, num_stages)
    else:
        raise ValueError(f"compile_moe: kernel must be 'gate_up', 'down' or 'combine', got {kernel!r}")
    return compile_launch(fn, {**args, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, target, num_warps, num_stages)
