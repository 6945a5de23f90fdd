"""MoE benchmark: grouped torch path vs a naive per-token loop (CPU); fused Triton MoE vs per-expert loop (GPU).

    python benchmarks/bench_moe.py            # CPU part always; GPU part when a CUDA GPU is present
    python benchmarks/bench_moe.py --json out.json

CPU part (labelled CPU timings, host clock): one MoE layer's routed experts at the SMALL config
(bwkit.moe.SMALL: hidden 256, 32 experts, top-4, expert width 128), three ways in the same run:
`experts_naive` (one token and slot at a time), `experts_reference` (the official code's loop over experts
with torch.where) and `experts_grouped` (tokens permuted into expert-contiguous rows, one GEMM chain per
expert). Prints the speed-up of the grouped path over the naive loop, measured in this run.
GPU part (only with a CUDA GPU, Triton compiled): `bwkit.moe_kernels.fused_moe` vs `experts_grouped` (a loop
of torch.matmul per expert) in bf16, at SMALL and at DeepSeek-V3's expert shapes (hidden 7168, 256 experts,
top-8, width 2048; 22.5 GB of bf16 expert weights), several token counts. The Triton kernel is not tuned
(fixed 64x64x64 tiles). No GPU figure is printed without a GPU.
"""

from __future__ import annotations

import argparse
import sys

import bwkit

RT = bwkit.setup(quiet=True)  # before triton is imported

import torch  # noqa: E402

from bwkit import bench, moe  # noqa: E402


def _routed_flops(T: int, cfg: moe.DeepSeekMoEConfig) -> float:
    return 6.0 * T * cfg.top_k * cfg.hidden * cfg.expert_inter


def cpu_part(tokens: int, reps: int) -> list[bench.BenchResult]:
    cfg = moe.SMALL
    w = moe.init_moe_weights(cfg, seed=0)
    x = torch.randn(tokens, cfg.hidden, generator=torch.Generator().manual_seed(1))
    weights, ids = moe.gate(x, w.gate_weight, w.gate_bias, cfg)
    ref = moe.experts_reference(x, weights, ids, w.w1, w.w3, w.w2)
    results = []
    print(f"CPU part: {cfg.name}, {tokens} tokens, top-{cfg.top_k} of {cfg.num_experts} experts "
          f"({torch.get_num_threads()} torch threads). CPU timings, host clock.")
    for name, fn in (("naive per-token loop", moe.experts_naive), ("official loop over experts",
                     moe.experts_reference), ("permuted / grouped", moe.experts_grouped)):
        y = fn(x, weights, ids, w.w1, w.w3, w.w2)
        err = float((y - ref).abs().max())
        if err > 1e-4:
            raise SystemExit(f"{name}: max abs error {err:.2e} against experts_reference; not timing it")
        t = bench.time_fn(lambda fn=fn: fn(x, weights, ids, w.w1, w.w3, w.w2), warmup=1, reps=reps,
                          device="cpu")
        r = bench.BenchResult(name, {"T": tokens, "H": cfg.hidden, "I": cfg.expert_inter}, t,
                              _routed_flops(tokens, cfg), None, {"max_abs_err": err})
        results.append(r)
        print("  " + r.summary())
    naive, official, grouped = (r.timing.median_ms for r in results)
    print(f"  => grouped path is {naive / grouped:.1f}x faster than the naive per-token loop and "
          f"{official / grouped:.2f}x the official loop (CPU, same run)")
    return results


def gpu_part(reps: int) -> list[bench.BenchResult]:
    from bwkit import moe_kernels

    results = []
    dev = torch.cuda.get_device_name(0)
    print(f"GPU part: {dev}, bf16, fused Triton MoE (64x64x64 tiles, untuned) vs per-expert torch.matmul loop")
    for cfg, token_counts in ((moe.SMALL, (256, 4096)), (moe.DEEPSEEK_V3, (64, 512, 4096))):
        E, H, I = cfg.num_experts, cfg.hidden, cfg.expert_inter
        g = torch.Generator(device="cuda").manual_seed(0)
        w1 = (torch.randn(E, I, H, device="cuda", generator=g) / H ** 0.5).bfloat16()
        w3 = (torch.randn(E, I, H, device="cuda", generator=g) / H ** 0.5).bfloat16()
        w2 = (torch.randn(E, H, I, device="cuda", generator=g) / I ** 0.5).bfloat16()
        gate_w = (torch.randn(E, H, device="cuda", generator=g) / H ** 0.5).bfloat16()
        bias = torch.randn(E, device="cuda", generator=g) * 0.05
        for T in token_counts:
            x = torch.randn(T, H, device="cuda", generator=g).bfloat16()
            weights, ids = moe.gate(x, gate_w, bias, cfg)
            y_ref = moe.experts_grouped(x, weights, ids, w1, w3, w2)
            y = moe_kernels.fused_moe(x, weights, ids, w1, w3, w2)
            rel = float((y.float() - y_ref.float()).norm() / y_ref.float().norm())
            if rel > 2e-2:
                raise SystemExit(f"fused_moe disagrees with the per-expert loop: relative error {rel:.2e}")
            for name, fn in (("per-expert torch loop", moe.experts_grouped), ("fused Triton MoE",
                                                                             moe_kernels.fused_moe)):
                args = (x, weights, ids, w1, w3, w2)
                t = bench.time_fn(lambda fn=fn, args=args: fn(*args), warmup=3, reps=reps)
                r = bench.BenchResult(f"{name} [{cfg.name}]", {"T": T, "H": H, "I": I}, t,
                                      _routed_flops(T, cfg), "bf16", {"rel_err_vs_loop": rel})
                results.append(r)
                print("  " + r.summary())
            loop_ms, fused_ms = results[-2].timing.median_ms, results[-1].timing.median_ms
            print(f"  => {cfg.name}, {T} tokens: fused / loop speed-up {loop_ms / fused_ms:.2f}x")
        del w1, w3, w2
        torch.cuda.empty_cache()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=256, help="tokens for the CPU part (default 256)")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads for the CPU part (default 1: steadier on a shared machine)")
    p.add_argument("--json", help="write the results (with machine metadata) to this JSON file")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be >= 1")
    torch.set_num_threads(args.threads)
    results = cpu_part(args.tokens, args.reps)
    if RT.can_time:
        results += gpu_part(max(args.reps, 20))
    else:
        print("GPU part skipped: no CUDA GPU here (or the Triton interpreter is forced), so there is no GPU "
              "figure to report.")
    if args.json:
        bench.save_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
