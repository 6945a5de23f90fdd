"""Published DeepSeek-R1/V3 serving measurements collected to check the perfmodel against (data only).

None of these points feeds a factor: the factors come from `kernels` (kernel and communication microbenchmarks) and
two serving figures named in `serving` (blog 1's batch-1 run without MTP for the per-kernel cost, blog 10's
round-robin balance for long-tail traffic). Each point carries its source, date and configuration; `model` says how
`bwkit.perfmodel.world` expresses it (regime, layout, formats, workload, concurrency). Where a publication does not
state an input, the entry says so and the model uses the named default. Taught in lab 08, "the model against the world".
"""

from __future__ import annotations

__all__ = ["WORLD_POINTS"]

_BEST = ("TensorRT-LLM docs, 'How to get best performance on DeepSeek-R1 in TensorRT-LLM' "
         "(docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md)")
_BEST_URL = "https://nvidia.github.io/TensorRT-LLM/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.html"
_PERF = ("TensorRT-LLM docs, 'Performance Overview', table 'Deepseek R1 0528' (docs/source/developer-guide/"
         "perf-overview.md at commit 03e27c7d; trtllm-bench throughput, all requests queued at once)")
_PERF_URL = "https://nvidia.github.io/TensorRT-LLM/developer-guide/perf-overview.html"
_EP = "LMSYS blog, 'Deploying DeepSeek with PD Disaggregation and Large-scale Expert Parallelism on 96 H100 GPUs'"
_EP_URL = "https://lmsys.org/blog/2025-05-05-large-scale-ep/"
_GB1 = "LMSYS blog, 'Deploying DeepSeek on GB200 NVL72 with PD and Large Scale EP (Part I)'"
_GB1_URL = "https://lmsys.org/blog/2025-06-16-gb200-part-1/"
_GB2 = "LMSYS blog, 'Deploying DeepSeek on GB200 NVL72 with PD and Large Scale EP (Part II)'"
_GB2_URL = "https://lmsys.org/blog/2025-09-25-gb200-part-2/"

_ADP8 = {"num_gpus": 8, "attn_tp": 1, "moe_tp": 1, "moe_ep": 8}
_DEP4 = {"num_gpus": 4, "attn_tp": 1, "moe_tp": 1, "moe_ep": 4}
_FP4 = {"kv_cache": "bf16"}                                            # RECIPE_NVFP4 fields changed, if any
_FP4_FP8KV = {"kv_cache": "fp8"}
_FP8 = "fp8"                                                           # RECIPE_FP8 (DeepSeek's FP8 checkpoint)
# SGLang's wide-EP decode on 72 H100s and 48 GB200s: EPLB with 32 redundant experts (288 slots), DeepEP low-latency
# all-to-all (one copy per routed expert), DP attention and DP dense FFN / LM head.
_SGL_DECODE_H100 = {"num_gpus": 72, "attn_tp": 1, "moe_tp": 1, "moe_ep": 72, "redundant_experts": 32,
                    "nvlink_domain": 8, "eplb": True, "a2a": "per_expert", "two_batch_overlap": True}
_SGL_DECODE_GB200 = {"num_gpus": 48, "attn_tp": 1, "moe_tp": 1, "moe_ep": 48, "redundant_experts": 32,
                     "nvlink_domain": 72, "eplb": True, "a2a": "per_expert"}
_SGL_PREFILL_H100 = {"num_gpus": 32, "attn_tp": 1, "moe_tp": 1, "moe_ep": 32, "redundant_experts": 32,
                     "nvlink_domain": 8, "eplb": True, "two_batch_overlap": True}

WORLD_POINTS: list[dict] = [
    # ------------------------------------------------------------------ steady-state serving (decode throughput)
    {"name": "B200 ADP8, FP16 KV, 1K/2K, 3,072 users", "category": "decode", "metric": "tokens_per_s",
     "published": 36384.0, "source": _BEST + ", 'B200 max-throughput for R1 with FP16 KV cache'", "url": _BEST_URL,
     "when": "TensorRT-LLM commit b626186 (2025)", "gpu": "B200", "gpus": 8, "framework": "TensorRT-LLM",
     "parallelism": "attention DP8, experts EP8", "precision": "NVFP4 MoE, BF16 attention, FP16 KV cache",
     "isl": 1024, "osl": 2048, "concurrency": 3072, "mtp": 0,
     "notes": "synthetic equal-length requests, 49,152 of them; max_num_tokens 1536, KV fraction 0.85",
     "model": {"regime": "steady", "system": "B200", "layout": _ADP8, "recipe": _FP4, "concurrency": 3072,
               "kv_fraction": 0.85, "workload": {"isl": 1024, "osl": 2048, "kind": "fixed"}}},
    {"name": "B200 ADP8, FP8 KV, 1K/2K, 7,168 users", "category": "decode", "metric": "tokens_per_s",
     "published": 43146.2, "source": _BEST + ", 'B200 max-throughput for R1-0528 with FP8 KV cache'",
     "url": _BEST_URL, "when": "TensorRT-LLM commit b626186 (2025)", "gpu": "B200", "gpus": 8,
     "framework": "TensorRT-LLM", "parallelism": "attention DP8, experts EP8",
     "precision": "DeepSeek-R1-0528-FP4: NVFP4 MoE, BF16 attention, FP8 KV cache and FP8 attention math",
     "isl": 1024, "osl": 2048, "concurrency": 7168, "mtp": 0,
     "notes": "dataset of the same doc (1K/2K); 114,688 requests; max_num_tokens 2048, KV fraction 0.93",
     "model": {"regime": "steady", "system": "B200", "layout": _ADP8, "recipe": _FP4_FP8KV, "concurrency": 7168,
               "kv_fraction": 0.93, "workload": {"isl": 1024, "osl": 2048, "kind": "fixed"}}},
    {"name": "H200 ADP8, FP8, 1K/2K, 1,024 users", "category": "decode", "metric": "tokens_per_s",
     "published": 11489.3, "source": _BEST + ", 'H200 max-throughput'", "url": _BEST_URL,
     "when": "2025 (same doc)", "gpu": "H200", "gpus": 8, "framework": "TensorRT-LLM",
     "parallelism": "attention DP8, experts EP8", "precision": "DeepSeek FP8 checkpoint, BF16 KV cache",
     "isl": 1024, "osl": 2048, "concurrency": 1024, "mtp": 0,
     "notes": "synthetic equal lengths (token-norm-dist, std 0), 5,120 requests; max_num_tokens 1151, KV fraction 0.8",
     "model": {"regime": "steady", "system": "H200", "layout": _ADP8, "recipe": _FP8, "concurrency": 1024,
               "kv_fraction": 0.8, "workload": {"isl": 1024, "osl": 2048, "kind": "fixed"}}},
    {"name": "B200 TP8 (experts EP2xTP4), batch 1, MTP 3", "category": "decode", "metric": "tokens_per_s_user",
     "published": 274.7, "source": _BEST + ", 'B200 min-latency'", "url": _BEST_URL, "when": "2025 (same doc)",
     "gpu": "B200", "gpus": 8, "framework": "TensorRT-LLM", "parallelism": "attention TP8, experts EP2 x TP4",
     "precision": "NVFP4 MoE, BF16 attention and KV cache", "isl": 1024, "osl": 2048, "concurrency": 1, "mtp": 3,
     "notes": "real dataset, 10 requests; TRTLLM MoE backend; per-user figure includes the time to first token",
     "model": {"regime": "steady", "system": "B200", "layout": {"num_gpus": 8, "attn_tp": 8, "moe_tp": 4, "moe_ep": 2},
               "recipe": _FP4, "concurrency": 1, "kv_fraction": 0.85,
               "workload": {"isl": 1024, "osl": 2048, "mtp_drafts": 3, "kind": "long-tail"}}},
    {"name": "H200 TP8 (EP4), batch 1, MTP 3", "category": "decode", "metric": "tokens_per_s_user",
     "published": 158.1, "source": _BEST + ", 'H200 min-latency'", "url": _BEST_URL, "when": "2025 (same doc)",
     "gpu": "H200", "gpus": 8, "framework": "TensorRT-LLM", "parallelism": "attention TP8, experts EP4 x TP2",
     "precision": "DeepSeek FP8 checkpoint", "isl": 1024, "osl": 2048, "concurrency": 1, "mtp": 3,
     "notes": "real dataset, 10 requests; per-user figure includes the time to first token",
     "model": {"regime": "steady", "system": "H200", "layout": {"num_gpus": 8, "attn_tp": 8, "moe_tp": 2, "moe_ep": 4},
               "recipe": _FP8, "concurrency": 1, "kv_fraction": 0.8,
               "workload": {"isl": 1024, "osl": 2048, "mtp_drafts": 3, "kind": "long-tail"}}},
    {"name": "H100 decode pool, 72 GPUs (9 nodes, IB), 256 per GPU", "category": "decode",
     "metric": "tokens_per_s_gpu", "published": 22282.0 / 8, "source": _EP + " (22,282 output tok/s per node)",
     "url": _EP_URL, "when": "2025-05-05", "gpu": "H100", "gpus": 72, "framework": "SGLang",
     "parallelism": "PD-disaggregated decode: DP attention x72, EP72 with EPLB (288 slots), TBO, InfiniBand",
     "precision": "DeepSeek FP8 checkpoint, BF16 KV cache", "isl": 2000, "osl": 100, "concurrency": 72 * 256,
     "mtp": 0, "notes": "batch 256 per GPU, KV length 2,000 (the blog's table); output length not stated for this "
                        "run (its batch-size ablation uses 100)",
     "model": {"regime": "decode_pool", "system": "H100 SXM", "layout": _SGL_DECODE_H100, "recipe": _FP8,
               "concurrency": 72 * 256, "workload": {"isl": 2000, "osl": 100, "kind": "fixed"}}},
    {"name": "GB200 decode pool, 48 GPUs, BF16 attention + FP8 MoE (Part I)", "category": "decode",
     "metric": "tokens_per_s_gpu", "published": 7583.0, "source": _GB1, "url": _GB1_URL, "when": "2025-06-16",
     "gpu": "GB200", "gpus": 48, "framework": "SGLang",
     "parallelism": "PD-disaggregated decode: DP attention x48, EP48 with EPLB (288 slots), NVL72 NVLink",
     "precision": "DeepSeek FP8 checkpoint (FP8 MoE), BF16 KV cache and attention",
     "isl": 2000, "osl": 100, "concurrency": None, "mtp": 0,
     "notes": "batch not stated: decode saturated with the slow-down API; the model uses its paged-KV capacity",
     "model": {"regime": "decode_pool", "system": "GB200", "layout": _SGL_DECODE_GB200, "recipe": _FP8,
               "concurrency": "capacity", "kv_fraction": 0.85, "workload": {"isl": 2000, "osl": 100, "kind": "fixed"}}},
    {"name": "GB200 decode pool, 48 GPUs, FP8 attention + NVFP4 MoE (Part II)", "category": "decode",
     "metric": "tokens_per_s_gpu", "published": 13386.0, "source": _GB2, "url": _GB2_URL, "when": "2025-09-25",
     "gpu": "GB200", "gpus": 48, "framework": "SGLang",
     "parallelism": "PD-disaggregated decode: DP attention x48, EP48 with EPLB, NVL72 NVLink",
     "precision": "NVFP4 MoE (and attention output projection), FP8 KV cache and attention", "isl": 2000, "osl": 100,
     "concurrency": 48 * 1408, "mtp": 0, "notes": "batch 1,408 per GPU ('chosen to make KV cache roughly full')",
     "model": {"regime": "decode_pool", "system": "GB200", "layout": _SGL_DECODE_GB200,
               "recipe": {"attention": "fp8", "kv_cache": "fp8"}, "concurrency": 48 * 1408,
               "workload": {"isl": 2000, "osl": 100, "kind": "fixed"}}},
    {"name": "GB200 decode pool, 48 GPUs, BF16 attention + FP8 MoE (Part II)", "category": "decode",
     "metric": "tokens_per_s_gpu", "published": 9087.0, "source": _GB2, "url": _GB2_URL, "when": "2025-09-25",
     "gpu": "GB200", "gpus": 48, "framework": "SGLang",
     "parallelism": "PD-disaggregated decode: DP attention x48, EP48 with EPLB, NVL72 NVLink",
     "precision": "DeepSeek FP8 checkpoint, BF16 KV cache and attention", "isl": 2000, "osl": 100,
     "concurrency": None, "mtp": 0, "notes": "batch not stated for this precision ('KV cache roughly full'): the "
                                             "model uses its paged-KV capacity",
     "model": {"regime": "decode_pool", "system": "GB200", "layout": _SGL_DECODE_GB200, "recipe": _FP8,
               "concurrency": "capacity", "kv_fraction": 0.85, "workload": {"isl": 2000, "osl": 100, "kind": "fixed"}}},
    # ------------------------------------------------------------------ prefill pools (input tokens per second)
    *[{"name": f"H100 prefill pool, 32 GPUs (4 nodes, IB), {isl // 1024}K prompts", "category": "prefill",
       "metric": "input_tokens_per_s_gpu", "published": per_node / 8,
       "source": _EP + f" ({per_node:,.0f} input tok/s per node)", "url": _EP_URL, "when": "2025-05-05",
       "gpu": "H100", "gpus": 32, "framework": "SGLang",
       "parallelism": "PD-disaggregated prefill: DP attention x32, EP32 with EPLB, TBO, InfiniBand",
       "precision": "DeepSeek FP8 checkpoint", "isl": isl, "osl": None, "concurrency": None, "mtp": 0,
       "notes": "16,384 tokens per GPU per forward" + note,
       "model": {"regime": "prefill_pool", "system": "H100 SXM", "layout": _SGL_PREFILL_H100, "recipe": _FP8,
                 "tokens_per_gpu": 16384, "workload": {"isl": isl, "osl": 1, "kind": "fixed"}}}
      for isl, per_node, note in [(1024, 57674.0, " (the blog's profiled setting)"), (2048, 54543.0, ""),
                                  (4096, 50302.0, "")]],
    {"name": "GB200 prefill instance, 4 GPUs, BF16 attention + FP8 MoE, 2K prompts", "category": "prefill",
     "metric": "input_tokens_per_s_gpu", "published": 18471.0, "source": _GB2, "url": _GB2_URL, "when": "2025-09-25",
     "gpu": "GB200", "gpus": 4, "framework": "SGLang",
     "parallelism": "prefill instance of 4 ranks: DP attention x4, EP4; weights partly offloaded to Grace memory",
     "precision": "DeepSeek FP8 checkpoint, BF16 attention", "isl": 2000, "osl": None, "concurrency": None, "mtp": 0,
     "notes": "tokens per forward not stated: the model uses 16,384 per GPU (SGLang's H100 setting)",
     "model": {"regime": "prefill_pool", "system": "GB200", "layout": {**_DEP4, "nvlink_domain": 72}, "recipe": _FP8,
               "tokens_per_gpu": 16384, "offload": True, "workload": {"isl": 2000, "osl": 1, "kind": "fixed"}}},
    {"name": "GB200 prefill instance, 2 GPUs, FP8 attention + NVFP4 MoE, 2K prompts", "category": "prefill",
     "metric": "input_tokens_per_s_gpu", "published": 26156.0, "source": _GB2, "url": _GB2_URL, "when": "2025-09-25",
     "gpu": "GB200", "gpus": 2, "framework": "SGLang",
     "parallelism": "prefill instance of 2 ranks: DP attention x2, EP2; weights partly offloaded to Grace memory",
     "precision": "NVFP4 MoE, FP8 attention and KV cache", "isl": 2000, "osl": None, "concurrency": None, "mtp": 0,
     "notes": "tokens per forward not stated: the model uses 16,384 per GPU",
     "model": {"regime": "prefill_pool", "system": "GB200",
               "layout": {"num_gpus": 2, "attn_tp": 1, "moe_tp": 1, "moe_ep": 2, "nvlink_domain": 72},
               "recipe": {"attention": "fp8", "kv_cache": "fp8"}, "tokens_per_gpu": 16384, "offload": True,
               "workload": {"isl": 2000, "osl": 1, "kind": "fixed"}}},
    # ------------------------------------------------------------------ offline bursts (all requests at once)
    *[{"name": f"{gpu} {lay}, {isl // 1000 if isl % 1000 == 0 else isl / 1024:g}K/"
               f"{osl // 1000 if osl % 1000 == 0 else osl / 1024:g}K offline", "category": "burst",
       "metric": "tokens_per_s_gpu", "published": value, "source": _PERF, "url": _PERF_URL,
       "when": "undated (docs at commit 03e27c7d)", "gpu": gpu, "gpus": n, "framework": "TensorRT-LLM",
       "parallelism": f"attention DP{n}, experts EP{n} ({lay}), ADP balance on",
       "precision": prec, "isl": isl, "osl": osl, "concurrency": None, "mtp": 0,
       "notes": f"{nreq:,} requests queued at once; max batch and tokens per iteration not stated (trtllm-bench "
                "defaults): the model admits what its paged KV holds, 8,192 tokens per iteration",
       "model": {"regime": "burst", "system": gpu, "layout": {"num_gpus": n, "attn_tp": 1, "moe_tp": 1, "moe_ep": n},
                 "recipe": recipe, "kv_fraction": 0.9, "num_requests": nreq, "max_num_tokens": 8192,
                 "workload": {"isl": isl, "osl": osl, "kind": "fixed"}}}
      for gpu, lay, n, prec, recipe, isl, osl, value, nreq in [
          ("B200", "DEP4", 4, "DeepSeek-R1-0528-NVFP4-v2, FP8 KV cache", _FP4_FP8KV, 1024, 1024, 6430.0, 3000),
          ("B200", "DEP4", 4, "DeepSeek-R1-0528-NVFP4-v2, FP8 KV cache", _FP4_FP8KV, 1024, 8192, 3862.0, 1500),
          ("B200", "DEP4", 4, "DeepSeek-R1-0528-NVFP4-v2, FP8 KV cache", _FP4_FP8KV, 8192, 1024, 1168.0, 1500),
          ("GB200", "DEP4", 4, "DeepSeek-R1-0528-NVFP4-v2, FP8 KV cache", _FP4_FP8KV, 1024, 1024, 6924.0, 3000),
          ("H200", "DEP8", 8, "DeepSeek-R1-0528 FP8", _FP8, 1024, 1024, 1620.0, 3000),
          ("H200", "DEP8", 8, "DeepSeek-R1-0528 FP8", _FP8, 1024, 8192, 1218.0, 1500),
      ]],
]
