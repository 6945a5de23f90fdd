"""Lab 08 (the DGX B200 serving model): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "08.1": [
        Wrong("no block scales", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    return n / 2                       # 4 bits per weight
""", "left out the block scales"),
        Wrong("MXFP4 scales", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    return n * 0.5 + n / 32
""", "MXFP4"),
        Wrong("every layer", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    return n * (0.5 + 1 / 16)
""", "num_moe_layers"),
        Wrong("GB", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    return n * (0.5 + 1 / 16) / 1e9    # in GB
""", "returned GB"),
        Wrong("GiB", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    return n * 0.5625 / 1024**3
""", "returned GiB"),
        Wrong("shared expert included", """
def routed_expert_bytes_nvfp4(cfg):
    experts = cfg.num_experts + cfg.num_shared_experts
    return cfg.num_moe_layers * experts * 3 * cfg.hidden * cfg.expert_inter * 0.5625
""", "shared expert"),
        Wrong("bits", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    return n * (4 + 8 / 16)              # 4 bits + an 8-bit scale per 16
""", "that is in bits"),
        Wrong("DeepSeek-R1's sizes hard-coded", """
def routed_expert_bytes_nvfp4(cfg):
    return 58 * 256 * 3 * 7168 * 2048 * (0.5 + 1 / 16)
""", "hard-coded DeepSeek-R1's sizes"),
        Wrong("the dense FFN's width", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.dense_inter
    return n * (0.5 + 1 / 16)
""", "dense_inter"),
        Wrong("top_k experts only", """
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.top_k * 3 * cfg.hidden * cfg.expert_inter
    return n * (0.5 + 1 / 16)
""", "not only the top_k"),
        Wrong("FP32 tensor scales added", """
def routed_expert_bytes_nvfp4(cfg):
    matrices = cfg.num_moe_layers * cfg.num_experts * 3
    n = matrices * cfg.hidden * cfg.expert_inter
    return n * (0.5 + 1 / 16) + 4 * matrices       # + one FP32 tensor scale per matrix
""", "FP32 tensor scale per matrix"),
        Right("from the perfmodel's counts", """
def routed_expert_bytes_nvfp4(cfg):
    return pm.component_params(cfg)["routed_experts"] * pm.STORAGE_BYTES["nvfp4"]
"""),
        Right("bits, exact fractions", """
from fractions import Fraction
def routed_expert_bytes_nvfp4(cfg):
    n = cfg.num_moe_layers * cfg.num_experts * 3 * cfg.hidden * cfg.expert_inter
    bits = n * 4 + (n // 16) * 8
    return float(Fraction(bits, 8))
"""),
    ],
    "08.7": [
        Wrong("all 671 B parameters", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    total = sum(v for k, v in p.items() if k != "mtp")
    return total * bytes_per_weight
""", "~37 B active"),
        Wrong("embedding table counted", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    active = (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["embedding"] + p["head"]
              + p["routed_experts"] * cfg.top_k / cfg.num_experts)
    return active * bytes_per_weight
""", "embedding"),
        Wrong("no shared expert", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = cfg.num_moe_layers * cfg.top_k * 3 * cfg.hidden * cfg.expert_inter
    return (p["attention"] + p["dense_ffn"] + p["router"] + p["head"] + routed) * bytes_per_weight
""", "shared expert"),
        Wrong("GB", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    return pm.active_params_per_token(cfg) * bytes_per_weight / 1e9
""", "returned GB"),
        Wrong("parameters, not bytes", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"]
            + p["routed_experts"] * cfg.top_k // cfg.num_experts)
""", "parameters, not bytes"),
        Wrong("routed experts in every layer", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = cfg.num_layers * cfg.top_k * 3 * cfg.hidden * cfg.expert_inter
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed) \\
        * bytes_per_weight
""", "every layer"),
        Wrong("no output head", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * cfg.top_k / cfg.num_experts
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + routed) * bytes_per_weight
""", "output head"),
        Wrong("no dense FFN layers", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * cfg.top_k / cfg.num_experts
    return (p["attention"] + p["shared_expert"] + p["router"] + p["head"] + routed) * bytes_per_weight
""", "dense FFN layers"),
        Wrong("no routers", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * cfg.top_k / cfg.num_experts
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["head"] + routed) * bytes_per_weight
""", "routers"),
        Wrong("8 of 256 hard-coded", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * 8 / 256          # a token picks 8 of the 256 experts
    active = p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed
    return active * bytes_per_weight
""", "8 of 256"),
        Wrong("top-8 hard-coded", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = cfg.num_moe_layers * 8 * 3 * cfg.hidden * cfg.expert_inter
    active = p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed
    return active * bytes_per_weight
""", "8 experts per token"),
        Wrong("integer division of top_k / num_experts", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * (cfg.top_k // cfg.num_experts)
    return (p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed) * bytes_per_weight
""", "left out the routed experts"),
        Wrong("attention kept in BF16", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * cfg.top_k / cfg.num_experts
    rest = p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed
    return p["attention"] * 2 + rest * bytes_per_weight          # the MLA projections stay BF16
""", "the attention weights too"),
        Wrong("one GPU's share", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    return pm.active_params_per_token(cfg) * bytes_per_weight / 8      # 8 GPUs share the weights
""", "one GPU's share"),
        Wrong("bits", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    return pm.active_params_per_token(cfg) * bytes_per_weight * 8
""", "that is in bits"),
        Wrong("~37 B hard-coded", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    return 37e9 * bytes_per_weight                   # DeepSeek-R1's active parameters
""", "~37 B active parameters"),
        Right("library active count", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    return pm.active_params_per_token(cfg) * bytes_per_weight
"""),
        Right("the one embedding row counted", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * cfg.top_k / cfg.num_experts
    one_row = cfg.hidden                             # the token's row of the embedding table
    active = p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed + one_row
    return active * bytes_per_weight
"""),
        Right("the embedding row in BF16, added in bytes", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    routed = p["routed_experts"] * cfg.top_k / cfg.num_experts
    weights = p["attention"] + p["dense_ffn"] + p["shared_expert"] + p["router"] + p["head"] + routed
    return weights * bytes_per_weight + cfg.hidden * 2      # + one BF16 embedding row
"""),
        Right("total minus what is not read", """
def weight_bytes_per_token(cfg, bytes_per_weight):
    p = pm.component_params(cfg)
    idle = p["routed_experts"] * (cfg.num_experts - cfg.top_k) / cfg.num_experts
    read = sum(p.values()) - p["mtp"] - p["embedding"] - idle
    return read * bytes_per_weight
"""),
    ],
    "08.2": [
        Wrong("no overlap", """
def expected_unique(num_experts, top_k, tokens):
    return min(top_k * tokens, num_experts)
""", "capped"),
        Wrong("missed experts", """
def expected_unique(num_experts, top_k, tokens):
    return num_experts * (1 - top_k / num_experts) ** tokens
""", "missed"),
        Wrong("with replacement", """
def expected_unique(num_experts, top_k, tokens):
    return num_experts * (1 - (1 - 1 / num_experts) ** (top_k * tokens))
""", "with replacement"),
        Wrong("a probability", """
def expected_unique(num_experts, top_k, tokens):
    return 1 - (1 - top_k / num_experts) ** tokens
""", "probability"),
        Wrong("8 of 256 hard-coded", """
def expected_unique(num_experts, top_k, tokens):
    return 256 * (1 - (1 - 8 / 256) ** tokens)
""", "hard-coded DeepSeek-R1's 8 of 256"),
        Wrong("probability an expert is missed", """
def expected_unique(num_experts, top_k, tokens):
    return (1 - top_k / num_experts) ** tokens
""", "probability that one expert is missed"),
        Right("sum over experts", """
def expected_unique(num_experts, top_k, tokens):
    p_hit = 1 - (1 - top_k / num_experts) ** tokens
    return sum(p_hit for _ in range(num_experts))
"""),
        Right("numpy float32", """
import numpy as np
def expected_unique(num_experts, top_k, tokens):
    return np.float32(num_experts) * (1 - np.power(1 - top_k / num_experts, tokens, dtype=np.float32))
"""),
    ],
    "08.3": [
        Wrong("prompt only", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return int(pool // (isl * pm.kv_bytes_per_token(cfg, "bf16")))
""", "only the prompt"),
        Wrong("no KV fraction", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "KV fraction"),
        Wrong("GiB", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 2**30 * kv_fraction
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "GiB"),
        Wrong("rounded", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return round(pool / ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "nearest request"),
        Wrong("not rounded at all", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return pool / ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16"))
""", "round down"),
        Wrong("fraction of the whole HBM", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb * kv_fraction - weights_gb - activation_gb) * 1e9
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "whole HBM"),
        Wrong("FP8 cache", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "fp8")))
""", "FP8 cache"),
        Wrong("paged average, ISL + OSL/2", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return int(pool // ((isl + osl / 2) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "ISL + OSL/2"),
        Wrong("rounded up", """
import math
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return math.ceil(pool / ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "rounded up"),
        Wrong("latent without the RoPE key", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    kv_per_token = 61 * 512 * 2                      # 61 layers x 512-element latent x BF16
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return int(pool // ((isl + osl) * kv_per_token))
""", "RoPE key"),
        Wrong("the B200 fraction hard-coded", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * 0.85
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "kv_fraction 0.85 whatever"),
        Wrong("the B200 run's numbers hard-coded", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (180 - 74.8 - 5) * 1e9 * 0.85
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "B200 run's numbers"),
        Wrong("1K + 2K tokens hard-coded", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return int(pool // (3072 * pm.kv_bytes_per_token(cfg, "bf16")))
""", "hard-coded 1024 + 2048"),
        Wrong("the pool of all 8 GPUs", """
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = 8 * (hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction     # DGX B200: 8 GPUs
    return int(pool // ((isl + osl) * pm.kv_bytes_per_token(cfg, "bf16")))
""", "whole node"),
        Right("numpy int64", """
import numpy as np
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    pool = np.float64(hbm_gb - weights_gb - activation_gb) * 1e9 * kv_fraction
    return np.int64(np.floor(pool / ((isl + osl) * 61 * (512 + 64) * 2)))
"""),
        Right("math.floor with the latent written out", """
import math
def requests_per_gpu(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048):
    kv_per_token = cfg.num_layers * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * 2
    return math.floor(kv_fraction * (hbm_gb - weights_gb - activation_gb) * 1e9 / ((isl + osl) * kv_per_token))
"""),
    ],
    "08.4": [
        Wrong("step times only", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return t_plain / t_mtp
""", "tokens accepted per step"),
        Wrong("inverted", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return accepted * t_mtp / t_plain
""", "wrong way round"),
        Wrong("acceptance alone", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return accepted
""", "acceptance itself"),
        Wrong("1 + accepted", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    tokens_per_step = 1 + accepted            # the main model's token plus the accepted drafts
    return tokens_per_step * t_plain / t_mtp
""", "main model's own token"),
        Wrong("hard-coded 2.82", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return (2.82 / t_mtp) / (1 / t_plain)
""", "whatever `accepted` says"),
        Wrong("as a percentage", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return 100 * accepted * t_plain / t_mtp          # in %
""", "percentage"),
        Wrong("gain in percent", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return (accepted / t_mtp * t_plain - 1) * 100    # +138 %, as the waterfall prints
""", "gain in percent"),
        Wrong("4 tokens per step", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    tokens_per_step = 4                              # the main model verifies 4 tokens per step
    return (tokens_per_step / t_mtp) / (1 / t_plain)
""", "4 tokens per step"),
        Wrong("accepted drafts only", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    drafts_accepted = accepted - 1
    return drafts_accepted * t_plain / t_mtp
""", "accepted - 1"),
        Right("tokens per second on both sides", """
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    plain_tps = 1.0 / t_plain
    mtp_tps = accepted / t_mtp
    return mtp_tps / plain_tps
"""),
        Right("numpy", """
import numpy as np
def mtp_speedup(t_plain, t_mtp, accepted=2.82):
    return np.divide(np.multiply(accepted, t_plain), t_mtp)
"""),
    ],
    "08.8": [
        Wrong("one token per step", """
def mtp_user_speed(step_s, drafts):
    return 1 / step_s
""", "tokens accepted per step"),
        Wrong("every draft accepted", """
def mtp_user_speed(step_s, drafts):
    return (1 + drafts) / step_s
""", "every draft"),
        Wrong("1 + accepted", """
def mtp_user_speed(step_s, drafts):
    return (1 + pm.MTP_ACCEPTED[drafts]) / step_s
""", "do not add 1"),
        Wrong("2.82 always", """
def mtp_user_speed(step_s, drafts):
    return 2.82 / step_s
""", "every draft count"),
        Wrong("times the step", """
def mtp_user_speed(step_s, drafts):
    return pm.MTP_ACCEPTED[drafts] * step_s
""", "multiplied by the step time"),
        Wrong("a 1-5 drafts list indexed by drafts - 1", """
ACCEPTED = [1.92, 2.58, 2.82, 2.99, 3.01]          # blog 1: 1-5 drafts
def mtp_user_speed(step_s, drafts):
    return ACCEPTED[drafts - 1] / step_s
""", "off by one"),
        Wrong("step taken as milliseconds", """
def mtp_user_speed(step_s, drafts):
    return pm.MTP_ACCEPTED[drafts] / (step_s * 1e3)
""", "treated it as milliseconds"),
        Wrong("ms per token", """
def mtp_user_speed(step_s, drafts):
    return step_s * 1e3 / pm.MTP_ACCEPTED[drafts]
""", "milliseconds per token"),
        Wrong("2.82 whenever MTP is on", """
def mtp_user_speed(step_s, drafts):
    return (2.82 if drafts else 1.0) / step_s
""", "for every draft count"),
        Right("published table copied", """
ACCEPTED = {0: 1.0, 1: 1.92, 2: 2.58, 3: 2.82, 4: 2.99, 5: 3.01}      # TensorRT-LLM blog 1
def mtp_user_speed(step_s, drafts):
    return ACCEPTED[drafts] / step_s
"""),
        Right("via the Workload", """
def mtp_user_speed(step_s, drafts):
    return pm.Workload(mtp_drafts=drafts).accepted / step_s
"""),
    ],
    "08.5": [
        Wrong("routed experts at batch 1", 'dominant = ("routed experts", "ADP imbalance (measured)")',
              "at batch 1"),
        Wrong("attention weights at batch 1", 'dominant = ("attention linear", "ADP imbalance (measured)")',
              "Fuse_A replicated"),
        Wrong("the attention at max throughput", 'dominant = ("kernel fixed cost", "KV cache + attention core")',
              "slowest attention-DP rank"),
        Wrong("prefill at max throughput", 'dominant = ("kernel fixed cost", "prefill share")', "prefill work itself"),
        Wrong("swapped", 'dominant = ("ADP imbalance (measured)", "kernel fixed cost")', "swapped"),
        Wrong("free-form words", 'dominant = ("kernel launches", "attention")', "exactly"),
        Wrong("one string", 'dominant = "kernel fixed cost"', "not one string"),
        Wrong("NVLink at max throughput", 'dominant = ("kernel fixed cost", "NVLink communication")',
              "NVLink collectives take"),
        Wrong("NVLink at batch 1", 'dominant = ("NVLink communication", "ADP imbalance (measured)")',
              "at batch 1; look at"),
        Wrong("MTP draft passes at batch 1", 'dominant = ("MTP draft passes", "ADP imbalance (measured)")',
              "MTP draft passes take"),
        Right("a list, other case and spacing", 'dominant = ["Kernel fixed cost", "ADP  imbalance (measured)"]'),
        Right("computed", """
lat_, thr_ = pm.min_latency(), pm.max_throughput()
dominant = (max(lat_.times, key=lat_.times.get), max(thr_.times, key=thr_.times.get))
"""),
    ],
    "08.6": [
        Wrong("whole step", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return 1 / tokens_per_s_user / n_kernels
""", "did not subtract"),
        Wrong("microseconds", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return (1 / tokens_per_s_user - rest_s) / n_kernels * 1e6
""", "microseconds"),
        Wrong("all kernels", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return 1 / tokens_per_s_user - rest_s
""", "all kernels"),
        Wrong("tokens per second as a time", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return (tokens_per_s_user - rest_s) / n_kernels
""", "invert it"),
        Wrong("step in ms, rest in s", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    step_ms = 1000 / tokens_per_s_user
    return (step_ms - rest_s) / n_kernels
""", "rest_s in seconds"),
        Wrong("parentheses forgotten", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return 1 / tokens_per_s_user - rest_s / n_kernels
""", "parentheses"),
        Wrong("subtraction reversed", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return (rest_s - 1 / tokens_per_s_user) / n_kernels
""", "wrong way round"),
        Wrong("111 tok/s/user hard-coded", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return (1 / 111 - rest_s) / n_kernels
""", "hard-coded blog 1's 111"),
        Wrong("851 kernels hard-coded", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return (1 / tokens_per_s_user - rest_s) / 851
""", "hard-coded the model's 851"),
        Wrong("the lab's 8.27 µs", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    return 8.27e-6
""", "8.27 µs whatever"),
        Right("milliseconds and back", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    step_ms = 1000.0 / tokens_per_s_user
    return (step_ms - rest_s * 1000.0) / n_kernels / 1000.0
"""),
        Right("solve the linear equation", """
def kernel_cost(rest_s, n_kernels, tokens_per_s_user):
    import numpy as np
    (x,), *_ = np.linalg.lstsq(np.array([[float(n_kernels)]]), np.array([1 / tokens_per_s_user - rest_s]),
                               rcond=None)
    return x
"""),
    ],
}
