"""Published kernel and communication measurements the perfmodel derives its efficiency factors from (data only).

Every entry names its source. Nothing here is a serving result: those are in `serving` (the seed and the documented
runs) and `world` (the collected points the model is checked against). Taught in lab 08.
"""

from __future__ import annotations

__all__ = ["DEEPGEMM_H800", "DEEPGEMM_GROUPED_H800", "H800_HBM_BYTES_S", "H800_FP8_FLOPS", "FLASHMLA_H800_TFLOPS",
           "MLA_DECODE_SM100", "FP8_ATTENTION_SPEEDUP", "PREFILL_ATTENTION_TFLOPS", "DEEPEP", "EPLB_BALANCE",
           "HOST_LINK_GBS", "IB_NIC_GBS", "MLPERF_DEEPSEEK_R1", "PREFILL_COMM_SMS",
           "PREFILL_ATTENTION_SM100_BY_LEN"]

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

# The same README (February-April 2025 versions, e.g. the fork z52527/DeepGEMM keeps them), grouped GEMMs for MoE on
# H800: (groups, M per group, N, K, TFLOP/s). N=4096/K=7168 is an expert's gate-up GEMM, N=7168/K=2048 its down GEMM.
# Rows with M >= 4096 are the contiguous layout (prefill), the others the masked layout (decode, CUDA-graph friendly).
DEEPGEMM_GROUPED_H800: list[tuple[int, int, int, int, float]] = [
    (4, 8192, 4096, 7168, 1297), (4, 8192, 7168, 2048, 1099), (8, 4096, 4096, 7168, 1288), (8, 4096, 7168, 2048, 1093),
    (1, 1024, 4096, 7168, 1233), (1, 1024, 7168, 2048, 925), (2, 512, 4096, 7168, 1040), (2, 512, 7168, 2048, 916),
    (4, 256, 4096, 7168, 932), (4, 256, 7168, 2048, 815),
]

# DeepSeek's FlashMLA README, dense MLA decoding in its compute-bound configuration on H800 SXM5 (989 TFLOP/s BF16):
# 580 TFLOP/s when it was released (February 2025), 660 since its performance update of 2025-04-22 (the current
# README). Its token-sparse FP8-cache decoding kernel: 410 on H800 and "up to 350" on B200 ("not really optimized yet").
FLASHMLA_H800_TFLOPS: dict[str, float] = {"dense decode (2025-02)": 580.0, "dense decode (2025-04-22)": 660.0,
                                          "sparse decode": 410.0}

# Every published B200 MLA-decode figure found (DeepSeek-R1 shapes: 576-wide latent, 512-wide values). `tflops` is
# the achieved rate, `math` the Tensor Core format it ran at; `frac` = tflops / that format's B200 peak. The CUTLASS
# figures are SGLang's bench_cutlass_mla.py, which reports KV-cache GB/s: with 128 query heads a BF16 cache token
# (1,152 bytes) carries 2 x 128 x (576 + 512) = 278,528 FLOPs, 241.8 FLOP/byte. The TokenSpeed/trtllm-gen figures are
# MTP-3 microbenchmarks (16 heads x 4 query tokens = 64 rows, 80K context): 11.14 GFLOP per request.
MLA_DECODE_SM100: dict[str, dict] = {
    "FlashMLA sparse decode": {
        "tflops": 350.0, "math": "bf16", "when": "2025-09-29",
        "source": "deepseek-ai/FlashMLA README ('up to 350 TFlops on B200 (which is not really optimized yet)')",
        "shape": "token-sparse, FP8 cache dequantized to BF16, 128 heads"},
    **{f"CUTLASS MLA, batch {batch}": {
        "tflops": gbs * 241.8 / 1e3, "math": "bf16", "when": "2025-06",
        "source": f"sgl-project/sglang PR #6929 (cutlass_mla_decode benchmark on B200, after the PR): {gbs:,.0f} GB/s",
        "shape": f"dense, BF16 cache, 128 heads, batch {batch}, {context} context"}
       for batch, gbs, context in [(128, 2195.9, "8K"), (256, 4047.3, "2K")]},
    **{f"{name} MLA, MTP 3": {
        "tflops": 64 * 11.14 / (us / 1e3), "math": "fp8", "when": "2026-05",
        "source": f"vllm-project/vllm PR #41778: {kernel}, batch 64, {us:,} us",
        "shape": "FP8 cache, 16 heads x 4 query tokens, 80K context"}
       for name, kernel, us in [("trtllm-gen", "trtllm_batch_decode_with_kv_cache_mla", 1420),
                                ("TokenSpeed", "tokenspeed_mla_decode", 610)]},
}
for _d in MLA_DECODE_SM100.values():
    _d["frac"] = _d["tflops"] / {"bf16": 2250.0, "fp8": 4500.0}[_d["math"]]

# FP8 MLA decode (FP8 cache, FP8 math) against BF16 on Blackwell: "attention is 1.8x faster" (LMSYS blog, "Deploying
# DeepSeek on GB200 NVL72 with PD and Large Scale EP (Part II)", 2025-09-25, kernel-level figure, TensorRT-LLM kernels
# through FlashInfer).
FP8_ATTENTION_SPEEDUP = 1.8

# Prefill (causal MHA, head dims 192/128) attention kernels, TFLOP/s: FlashMLA README (B200 dense MHA forward "as
# reported by NVIDIA") and FlashAttention-3 (Shah et al., arXiv 2407.08608: up to 740 TFLOP/s FP16 on H100, 75 %).
PREFILL_ATTENTION_TFLOPS: dict[str, tuple[float, float, str]] = {
    "sm_100a": (1460.0, 2250.0, "deepseek-ai/FlashMLA README, MHA prefill forward on B200"),
    "sm_90a": (740.0, 989.0, "FlashAttention-3 paper, H100 FP16 forward"),
}

# Causal prefill attention on B200 by sequence length, TFLOP/s (BF16, head dim 128): FlashAttention-4 forward in
# Dao-AILab/flash-attention PR #2605 (2026, B200): 697 at 1K, 927 at 2K, 1,090 at 4K tokens; FlashMLA's "up to 1460"
# stands for long sequences (16K).
PREFILL_ATTENTION_SM100_BY_LEN: dict[int, float] = {1024: 697.0, 2048: 927.0, 4096: 1090.0, 16384: 1460.0}

# DeepEP (deepseek-ai/DeepEP), expert-parallel all-to-all. V1 (docs/legacy.md), H800 with CX7 400 Gb/s InfiniBand:
# normal kernels (prefill, 4,096 tokens, FP8 dispatch, BF16 combine) reach 153/158 GB/s over NVLink (of ~160) at EP8 and
# 43-58 GB/s RDMA across nodes; low-latency kernels (decode, 128 tokens per rank) reach the RDMA bandwidths below
# (dispatch, combine), by EP size. V2 (README), SM100 (B200), EP8 over NVLink: 726 / 740 GB/s "logical" bandwidth
# (local-rank traffic included, 64 SMs).
DEEPEP: dict[str, dict] = {
    "nvlink_sm90": {"dispatch": 153.0, "combine": 158.0, "link": 160.0},
    "nvlink_sm100": {"dispatch": 726.0, "combine": 740.0, "link": 900.0, "logical": True},
    "rdma_normal": {16: 43.0, 32: 58.0, 64: 51.0},
    "rdma_low_latency": {8: (98.0, 127.0), 16: (63.0, 74.0), 32: (48.0, 53.0), 64: (43.0, 46.0),
                         128: (39.0, 39.0), 256: (39.0, 40.0)},
}

# DeepSeek's profile-data README (inference prefilling, EP32, two micro-batches): the computation stream runs on 108
# SMs and the all-to-all (DeepEP normal kernels) on 24 SMs of the H800's 132 while they overlap. In decoding the
# low-latency all-to-all occupies no SMs (RDMA issued, then the SMs are freed).
PREFILL_COMM_SMS = 24

# Expert-parallel load balance, TensorRT-LLM tech blog 4 ("Scaling Expert Parallelism in TensorRT-LLM, Part 1"),
# Table 1: DeepSeek-R1 on 32 GB200s, machine-translation dataset, tokens received per rank (mean 1,024).
EPLB_BALANCE: dict[str, dict] = {
    "no EPLB": {"std": 491.6, "mean": 1024.0, "ep": 32, "slots": 256},
    "EPLB": {"std": 52.0, "mean": 1024.0, "ep": 32, "slots": 288},
}

# Grace-Blackwell C2C link between CPU and GPU: 900 GB/s bidirectional (LMSYS GB200 Part II, "Scaling Down by
# Offloading"). InfiniBand NIC per GPU in DGX/HGX H100 and B200 nodes: ConnectX-7, 400 Gb/s = 50 GB/s.
HOST_LINK_GBS = 900.0
IB_NIC_GBS = 50.0

# MLPerf Inference (mlcommons/inference, loadgen/mlperf.conf): DeepSeek-R1 Server scenario latency limits, 99th
# percentile, milliseconds (Poisson arrivals); the interactive scenario's tighter limits.
MLPERF_DEEPSEEK_R1: dict[str, dict[str, float]] = {
    "Server": {"ttft_ms": 2000.0, "tpot_ms": 80.0, "percentile": 99.0},
    "Interactive": {"ttft_ms": 1500.0, "tpot_ms": 15.0, "percentile": 99.0},
}
