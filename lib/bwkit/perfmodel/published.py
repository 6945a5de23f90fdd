"""Published figures the perfmodel reads or is checked against, each with its source (data, no model code).

`MTP_ACCEPTED` and `DEEPGEMM_H800` (with the H800 peaks it is a fraction of) feed the model's inputs in
`bwkit.perfmodel.parameters`; `ADP_ROUND_ROBIN_BALANCE` feeds the decode step; `PUBLISHED` and
`PUBLISHED_MTP_B200` are the serving results the model is compared with (one point derives `KERNEL_S_B200`).
"""

from __future__ import annotations

__all__ = ["MTP_ACCEPTED", "PUBLISHED", "PUBLISHED_MTP_B200", "DEEPGEMM_H800", "H800_HBM_BYTES_S", "H800_FP8_FLOPS",
           "ADP_ROUND_ROBIN_BALANCE"]

# DeepSeek's DeepGEMM README ("Performance": FP8 GEMMs with fine-grained scaling on DeepSeek-V3/R1's own layer shapes,
# measured on H800, whose HBM is 3.35 TB/s and FP8 dense peak 1,979 TFLOP/s). Decode-sized rows (M = 64 tokens) are
# (M, N, K, GB/s); prefill-sized rows (M = 4,096 tokens) are (M, N, K, TFLOP/s). Each time includes the kernel's own
# ramp-up and tail, so skinny real shapes reach less than a device copy (bandwidth) or a large square GEMM (FLOPs).
DEEPGEMM_H800: dict[str, list[tuple[int, int, int, float]]] = {
    "decode": [(64, 2112, 7168, 1688), (64, 24576, 1536, 2455), (64, 32768, 512, 2143),
               (64, 7168, 16384, 2668), (64, 4096, 7168, 2320), (64, 7168, 2048, 2470)],
    "prefill": [(4096, 2112, 7168, 1058), (4096, 24576, 1536, 990), (4096, 32768, 512, 590),
                (4096, 7168, 16384, 1358), (4096, 4096, 7168, 1304), (4096, 7168, 2048, 1025)],
}
H800_HBM_BYTES_S = 3.35e12
H800_FP8_FLOPS = 1979e12

# Accepted tokens per step vs number of MTP draft tokens, DeepSeek-R1 on 8xB200 (TensorRT-LLM tech blog 1,
# "Autoregressive MTP layers" table: 1.00 / 1.92 / 2.58 / 2.82 / 2.99 / 3.01; strict acceptance, real dataset).
MTP_ACCEPTED: dict[int, float] = {0: 1.0, 1: 1.92, 2: 2.58, 3: 2.82, 4: 2.99, 5: 3.01}

# Published serving figures, ISL 1K / OSL 2K. Per-user figures include the time to first token. The seed's two numbers
# are NVIDIA's GTC 2025 claims ("over 250 tokens per second per user or a maximum throughput of over 30,000 tokens
# per second", NVIDIA blog "Blackwell Delivers World-Record DeepSeek-R1 Inference Performance", quoted in the
# TensorRT-LLM doc Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md); the others are later runs of that doc.
PUBLISHED: dict[str, dict] = {
    "B200 min latency (GTC)": {"tokens_per_s_user": 253.0, "source": "TensorRT-LLM tech blog 1",
                               "setup": "batch 1, TP8, experts EP4xTP2, MTP 3 (2.82 accepted), NVFP4 FFNs"},
    "B200 max throughput (GTC)": {"tokens_per_s": 30000.0, "source": "NVIDIA GTC 2025 claim ('over 30,000')",
                                  "setup": "ADP8 EP8, NVFP4 MoE (concurrency not stated)"},
    "B200 min latency": {"tokens_per_s_user": 274.7, "source": "TensorRT-LLM docs (trtllm-bench)",
                         "setup": "batch 1, TP8, experts EP2xTP4, TRTLLM MoE backend, MTP 3"},
    "B200 max throughput": {"tokens_per_s": 36384.0, "concurrency": 3072, "source": "TensorRT-LLM docs",
                            "setup": "ADP8 EP8, no MTP, NVFP4 MoE, BF16 KV cache, max_batch_size 384 per GPU"},
    "H200 min latency": {"tokens_per_s_user": 158.1, "source": "TensorRT-LLM docs (trtllm-bench)",
                         "setup": "batch 1, TP8 EP4, MTP 3, FP8 checkpoint"},
    "H200 max throughput": {"tokens_per_s": 11489.0, "concurrency": 1024, "source": "TensorRT-LLM docs (trtllm-bench)",
                            "setup": "ADP8 EP8, no MTP, FP8 checkpoint, max_batch_size 128 per GPU"},
}

# Blog 1's MTP table, B200 at GTC 2025 (TP8, experts EP4xTP2): tokens/s/user against draft tokens (acceptance in
# MTP_ACCEPTED). The no-MTP point derives KERNEL_S_B200; the other five test the model.
PUBLISHED_MTP_B200: dict[int, float] = {0: 111.0, 1: 198.0, 2: 250.0, 3: 253.0, 4: 245.0, 5: 239.0}

# TensorRT-LLM blog 10: DeepSeek-V3 on 8 GB200s, ADP8 EP8, round-robin attention-DP scheduling on a real (long-tail)
# dataset reached 25,664 of 39,552 tok/s, its perfectly balanced speed ("SOL TPS") -> 0.649 of balance.
ADP_ROUND_ROBIN_BALANCE = 25664 / 39552
