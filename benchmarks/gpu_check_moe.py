"""GPU check for lab 07: the fused Triton MoE (`bwkit.moe_kernels.fused_moe`) vs the per-expert loop.

    python benchmarks/gpu_check_moe.py              # ~15 s on an H200 / B200; without a GPU: skipped, exit 0
    python benchmarks/gpu_check_moe.py --dry-run    # any machine: the rows with FAKE timings

Routed experts of one MoE layer in bf16 for 4096 tokens: `bwkit.moe.SMALL` (lab 07's config: 32 experts, top-4,
hidden 256) and a mid-size layer (64 experts of inter 1024, hidden 2048, top-8; random weights and routing,
built on the GPU). Each row: the per-expert loop (`bwkit.moe.experts_grouped`: one torch GEMM per expert) and the
fused kernels, both timed with CUDA events (L2 flushed, only GPU work timed: `gpu_check_util.time_kernel`), the
speed-up and the fused result's relative error vs the loop. Both include their routing bookkeeping on the host
(the loop reads each expert's count back; `fused_moe`'s `permute_tokens` reads the padded size back): that is
part of what each costs, so those syncs stay inside the timed call. Rows print as they finish; JSON is rewritten after
each (results/gpu_check/gpu_check_moe.json); budget --budget / BWKIT_CHECK_BUDGET_S (default 20 s).
"""

from __future__ import annotations

import sys

from gpu_check_util import Check, not_native, time_kernel

COLUMNS = ["layer", "tokens", "loop ms", "fused ms", "x loop", "rel err", "blocks"]
TOKENS = 4096
MID = {"hidden": 2048, "experts": 64, "inter": 1024, "top_k": 8}


def _layer(name: str, torch, moe):
    """(x, topk_weights, topk_ids, w1, w3, w2) on the GPU in bf16 for layer `name` ('SMALL' or 'mid')."""
    g = torch.Generator(device="cuda").manual_seed(0)
    if name == "SMALL":
        cfg = moe.SMALL
        H, E, I, k = cfg.hidden, cfg.num_experts, cfg.expert_inter, cfg.top_k
    else:
        H, E, I, k = MID["hidden"], MID["experts"], MID["inter"], MID["top_k"]
    bf = torch.bfloat16
    x = torch.randn(TOKENS, H, device="cuda", generator=g).to(bf)
    w1 = (torch.randn(E, I, H, device="cuda", generator=g) / H**0.5).to(bf)
    w3 = (torch.randn(E, I, H, device="cuda", generator=g) / H**0.5).to(bf)
    w2 = (torch.randn(E, H, I, device="cuda", generator=g) / I**0.5).to(bf)
    scores = torch.rand(TOKENS, E, device="cuda", generator=g)
    top_w, top_i = scores.topk(k, dim=1)
    return x, (top_w / top_w.sum(1, keepdim=True)).float(), top_i, w1, w3, w2


def main(argv: list[str] | None = None) -> int:
    chk = Check("gpu_check_moe", __doc__.splitlines()[0], default_budget_s=20, argv=argv)
    if chk.dry:
        chk.table(COLUMNS, "routed experts, bf16 (DRY RUN: FAKE timings)")
        for name in ("SMALL", "mid"):
            chk.row(layer=name, tokens=TOKENS, **{"loop ms": 2.0, "fused ms": 1.0, "x loop": 2.0, "rel err": 0.0,
                                                "blocks": "64x64x64"})
        return chk.done()
    try:
        import torch
    except ImportError as e:
        return chk.skipped(f"torch ({e})")
    if not torch.cuda.is_available():
        return chk.skipped("a CUDA GPU (none is visible)")
    import bwkit

    rt = bwkit.setup(quiet=True)
    if not rt.can_time:
        return chk.skipped(not_native(rt))
    from bwkit import bench, moe, moe_kernels

    chk.say(f"{rt.gpu_name} ({rt.arch}), torch {torch.__version__}")
    chk.table(COLUMNS, "routed experts of one MoE layer, bf16: per-expert loop vs fused Triton kernels")
    for name in ("SMALL", "mid"):
        if chk.spent(6):
            chk.say(f"[budget spent: layer {name} not started]")
            continue
        try:
            args = _layer(name, torch, moe)
            ref = moe.experts_grouped(*args)
            out = moe_kernels.fused_moe(*args)          # compiles: outside the timed region
            torch.cuda.synchronize()
            err = bench.relative_error(out, ref)
            t_loop = time_kernel(lambda args=args: moe.experts_grouped(*args))
            t_fused = time_kernel(lambda args=args: moe_kernels.fused_moe(*args))
        except Exception as e:  # noqa: BLE001 - a failing layer is a line, the next one still runs
            chk.say(f"layer {name}: failed: {type(e).__name__}: {str(e)[:300]}")
            continue
        chk.row(layer=name, tokens=TOKENS, **{"loop ms": t_loop.median_ms, "fused ms": t_fused.median_ms,
                                            "x loop": t_loop.median_ms / t_fused.median_ms,
                                            "rel err": f"{err:.1e}",
                                            "blocks": "x".join(map(str, moe_kernels.default_blocks()))})
        del args, ref, out
        torch.cuda.empty_cache()
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
