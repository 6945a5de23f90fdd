"""Published serving figures of the seed and of TensorRT-LLM's documented runs, each with its source (data only).

`MTP_ACCEPTED` feeds the model's workloads and `ADP_ROUND_ROBIN_BALANCE` its attention-DP schedule; `PUBLISHED` and
`PUBLISHED_MTP_B200` are the serving results of lab 08's first steps (one point derives `KERNEL_S_B200`), each with
its run's KV-pool fraction where published (`KV_FRACTION`); `BLOG1_OPTIMISATIONS` is blog 1's history table.
"""

from __future__ import annotations

__all__ = ["MTP_ACCEPTED", "PUBLISHED", "PUBLISHED_MTP_B200", "ADP_ROUND_ROBIN_BALANCE", "ADP_BALANCED",
           "KV_FRACTION", "BLOG1_OPTIMISATIONS"]

# Accepted tokens per step vs number of MTP draft tokens, DeepSeek-R1 on 8xB200 (TensorRT-LLM tech blog 1,
# "Autoregressive MTP layers" table: 1.00 / 1.92 / 2.58 / 2.82 / 2.99 / 3.01; strict acceptance, real dataset).
MTP_ACCEPTED: dict[int, float] = {0: 1.0, 1: 1.92, 2: 2.58, 3: 2.82, 4: 2.99, 5: 3.01}

# Published serving figures, ISL 1K / OSL 2K. Per-user figures include the time to first token. The seed's two numbers
# are NVIDIA's GTC 2025 claims (March 2025: "over 250 tokens per second per user or a maximum throughput of over
# 30,000 tokens per second", NVIDIA blog "Blackwell Delivers World-Record DeepSeek-R1 Inference Performance", quoted
# in the TensorRT-LLM doc Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md); the "docs" entries are later,
# documented trtllm-bench runs of that doc (both B200 max-throughput runs at TensorRT-LLM commit b626186); blog 1's
# own figure has moved on since GTC (299, 340, then 368 tok/s/user). `kv_fraction` is the run's
# --kv_cache_free_gpu_mem_fraction (the share of free memory the KV pool takes), where the doc gives it.
PUBLISHED: dict[str, dict] = {
    "B200 min latency (GTC)": {"tokens_per_s_user": 253.0, "source": "TensorRT-LLM tech blog 1", "when": "GTC 2025",
                               "setup": "batch 1, TP8, experts EP4xTP2, MTP 3 (2.82 accepted), NVFP4 FFNs"},
    "B200 max throughput (GTC)": {"tokens_per_s": 30000.0, "source": "NVIDIA GTC 2025 claim ('over 30,000')",
                                  "when": "GTC 2025", "setup": "ADP8 EP8, NVFP4 MoE (concurrency not stated)"},
    "B200 min latency (blog 1, now)": {"tokens_per_s_user": 368.0, "source": "TensorRT-LLM tech blog 1",
                                       "when": "after GTC 2025",
                                       "setup": "TRTLLM MoE backend, experts EP2xTP4 (299), faster Fuse_A and router "
                                                "GEMMs (340), relaxed MTP acceptance (368)"},
    "B200 min latency": {"tokens_per_s_user": 274.7, "source": "TensorRT-LLM docs (trtllm-bench)",
                         "when": "after GTC 2025", "setup": "batch 1, TP8, experts EP2xTP4, TRTLLM MoE backend, MTP 3"},
    "B200 max throughput": {"tokens_per_s": 36384.0, "concurrency": 3072, "kv_fraction": 0.85,
                            "source": "TensorRT-LLM docs ('R1 with FP16 KV cache')", "when": "commit b626186",
                            "setup": "ADP8 EP8, no MTP, NVFP4 MoE, FP16 KV cache, max_batch_size 384 per GPU, "
                                     "synthetic equal-length requests"},
    "B200 max throughput (R1-0528, FP8 KV)": {
        "tokens_per_s": 43146.2, "concurrency": 7168, "kv_fraction": 0.93,
        "source": "TensorRT-LLM docs ('R1-0528 with FP8 KV cache')", "when": "commit b626186",
        "setup": "DeepSeek-R1-0528-FP4, ADP8 EP8, no MTP, FP8 KV cache, max_batch_size 896 per GPU"},
    "H200 min latency": {"tokens_per_s_user": 158.1, "source": "TensorRT-LLM docs (trtllm-bench)",
                         "when": "after GTC 2025", "setup": "batch 1, TP8 EP4, MTP 3, FP8 checkpoint"},
    "H200 max throughput": {"tokens_per_s": 11489.0, "concurrency": 1024, "kv_fraction": 0.8,
                            "source": "TensorRT-LLM docs (trtllm-bench)", "when": "after GTC 2025",
                            "setup": "ADP8 EP8, no MTP, FP8 checkpoint, max_batch_size 128 per GPU"},
}

# --kv_cache_free_gpu_mem_fraction of each system's documented max-throughput run of DeepSeek-R1 (the B200 run with a
# 16-bit KV cache, the H200 run), read from PUBLISHED: the capacity the model compares with those runs.
KV_FRACTION: dict[str, float] = {"B200": PUBLISHED["B200 max throughput"]["kv_fraction"],
                                 "H200": PUBLISHED["H200 max throughput"]["kv_fraction"]}

# TensorRT-LLM tech blog 1 ("Pushing Latency Boundaries: Optimizing DeepSeek-R1 Performance on NVIDIA B200 GPUs"),
# its "Key Optimizations" table: tok/s/user on 8 B200s after each step, batch 1, ISL 1K / OSL 2K. The baseline already
# uses CUDA Graphs; 253 is the GTC 2025 figure, the last three rows came after it.
BLOG1_OPTIMISATIONS: list[tuple[str, float]] = [
    ("Baseline: CUDA Graph + EP8TP8", 67), ("Multi-stream to overlap shared expert with sparse experts", 73),
    ("Optimize MLA kernel", 80), ("Optimize TopK kernels", 84), ("Optimize Fuse_A_GEMM", 89),
    ("MTP3_Vanilla", 154), ("Evolve to MTP3_Autoregressive + optimize Router GEMM", 164),
    ("Fuse oneshotAR + RMSNorm", 168), ("Enable PDL", 173), ("Multi-stream to overlap two RMS_norms", 180),
    ("MTP3_Autoregressive", 204), ("Finetune clock/power", 211), ("Optimize CUTLASS grouped GEMM kernels", 236),
    ("Optimize CUTLASS flow: sparse experts as GEMMs", 249), ("Introduce EP4TP2 for better workload balance", 253),
    ("Introduce moe_backend=TRTLLM, EP2TP4 for better balance", 299), ("Optimize Fuse_A_GEMM and Router_GEMM", 340),
    ("Relax acceptance", 368),
]

# Blog 1's MTP table, B200 at GTC 2025 (TP8, experts EP4xTP2): tokens/s/user against draft tokens (acceptance in
# MTP_ACCEPTED). The no-MTP point derives KERNEL_S_B200; the other five test the model.
PUBLISHED_MTP_B200: dict[int, float] = {0: 111.0, 1: 198.0, 2: 250.0, 3: 253.0, 4: 245.0, 5: 239.0}

# TensorRT-LLM blog 10: DeepSeek-V3 on 8 GB200s, ADP8 EP8, round-robin attention-DP scheduling on a real (long-tail)
# dataset reached 25,664 of 39,552 tok/s, its perfectly balanced speed ("SOL TPS") -> 0.649 of balance.
ADP_ROUND_ROBIN_BALANCE = 25664 / 39552

# The same blog, its "ADP Balance (Full Strategy)" (attention_dp_config: timeout_iters + batching_wait_iters), same
# dataset and GPUs: 34,140 tok/s against its own perfectly balanced speed of 37,912 -> 0.900 of balance.
ADP_BALANCED = 34140 / 37912
