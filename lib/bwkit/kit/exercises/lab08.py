"""Exercises of lab 08 (the DGX B200 serving model): what each check reads, the inputs it tries, the mistakes it names.

Inputs and references come from `bwkit.perfmodel` (the model's own step times, the published figures of
`bwkit.perfmodel.published`) and `bwkit.moe` (the DeepSeek-V3 config, plus made-up configs drawn from `rng`).
"""

from __future__ import annotations

import dataclasses
import math
import random

from bwkit import moe
from bwkit import perfmodel as pm
from bwkit.kit.checks import compare, describe_value
from bwkit.kit.exercises import codec
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.lab07 import random_config
from bwkit.kit.exercises.spec import Case, Exercise, Function, Mistake, Value
from bwkit.perfmodel.decode import dependent_kernels

__all__ = ["DOMINANT_OPTIONS"]

GB, GIB = 1e9, 2.0**30


def _single(exercise_id: str, title: str, *, flags_ok: tuple[str, ...] = (), **kw) -> Exercise:
    return dataclasses.replace(Exercise.single(exercise_id, title, **kw), flags_ok=flags_ok)


def _units(what: str) -> list[Mistake]:
    """GB / GiB mix-ups of an answer in bytes."""
    return [Mistake(f"you returned GB (10^9 bytes); the check wants {what} in bytes", ratio=1 / GB),
            Mistake(f"you returned GiB (2^30 bytes); the check wants {what} in bytes", ratio=1 / GIB)]


# ---------------------------------------------------------------------------------------------------- 08.1

def _expert_elements(cfg: moe.DeepSeekMoEConfig, *, layers: int | None = None, experts: int | None = None,
                     matrices: int = 3) -> float:
    L = cfg.num_moe_layers if layers is None else layers
    E = cfg.num_experts if experts is None else experts
    return L * E * matrices * cfg.hidden * cfg.expert_inter


def _made_up(rng: random.Random) -> moe.DeepSeekMoEConfig:
    """A made-up config (lab 07's `random_config`) whose top_k is neither DeepSeek-R1's 8 nor 8/256 of its experts,
    and whose expert count is neither 8 nor top_k: an answer that hard-codes R1's top-8 of 256 cannot pass on it,
    nor be taken for one that counts every expert."""
    for _ in range(1000):            # about 2 draws in 3 qualify
        cfg = random_config(rng)
        if 8 not in (cfg.top_k, cfg.num_experts) and cfg.top_k * 256 != cfg.num_experts * 8 and \
                cfg.top_k != cfg.num_experts:
            return cfg
    raise RuntimeError("lab 08: no made-up config in 1000 draws (random_config changed?)")


def _cfg_cases(rng: random.Random) -> list[Case]:
    return [Case((moe.DEEPSEEK_V3,), "DeepSeek-R1"), Case((_made_up(rng),), "a made-up config")]


def _r1_bytes(cfg: moe.DeepSeekMoEConfig) -> float:
    """08.1's answer for DeepSeek-R1, whatever `cfg` is (its sizes hard-coded)."""
    return _expert_elements(moe.DEEPSEEK_V3) * pm.STORAGE_BYTES["nvfp4"]


EX_08_1 = Exercise.single(
    "08.1", "NVFP4 expert bytes",
    reads=Function("routed_expert_bytes_nvfp4", "(cfg: moe.DeepSeekMoEConfig) -> float", "bytes"),
    cases=_cfg_cases, expected=lambda cfg: _expert_elements(cfg) * pm.STORAGE_BYTES["nvfp4"], rtol=1e-9,
    mistakes=[
        Mistake("you left out the block scales (one UE4M3 byte per 16 elements, +12.5 %)",
                value=lambda c: _expert_elements(c) * 0.5),
        Mistake("you used MX block scales (one byte per 32 elements): that is MXFP4, not NVFP4",
                value=lambda c: _expert_elements(c) * 17 / 32),
        Mistake("you counted a whole byte per FP4 element", value=lambda c: _expert_elements(c) * (1 + 1 / 16)),
        Mistake("an expert has three matrices (w1, w2, w3), not two",
                value=lambda c: _expert_elements(c, matrices=2) * 0.5625),
        Mistake("you counted all layers: the first num_dense_layers have a dense FFN, no experts (use "
                "cfg.num_moe_layers)", value=lambda c: _expert_elements(c, layers=c.num_layers) * 0.5625),
        Mistake("you included the shared expert(s): the check asks for the routed experts only",
                value=lambda c: _expert_elements(c, experts=c.num_experts + c.num_shared_experts) * 0.5625),
        *_units("the size"),
        Mistake("that is in bits (4 + 8/16 per element): the check wants bytes", ratio=8),
        Mistake("you hard-coded DeepSeek-R1's sizes (58 MoE layers, 256 experts, 7168, 2048): read them from cfg (the "
                "made-up config has others)", value=_r1_bytes),
        Mistake("cfg.dense_inter is the dense FFN's width; an expert's is cfg.expert_inter",
                value=lambda c: c.num_moe_layers * c.num_experts * 3 * c.hidden * c.dense_inter * 0.5625),
        Mistake("all num_experts experts are stored, not only the top_k a token picks",
                value=lambda c: _expert_elements(c, experts=c.top_k) * 0.5625),
        Mistake("you added a 4-byte FP32 tensor scale per matrix: the check counts what the prompt lists, the E2M1 "
                "elements and their UE4M3 block scales (the tensor scales add well under 0.1 %): leave them out",
                value=lambda c: _expert_elements(c) * 0.5625 + 4 * 3 * c.num_moe_layers * c.num_experts),
    ],
    hint="elements = num_moe_layers x num_experts x 3 x hidden x expert_inter; 0.5 byte each plus 1 byte per 16.")


# ---------------------------------------------------------------------------------------------------- 08.7

def _active(cfg: moe.DeepSeekMoEConfig, *, routed: str = "top_k", shared: bool = True, attention: bool = True,
            embedding: bool = False, mtp: bool = False, routed_layers: int | None = None, head: bool = True,
            dense: bool = True, router: bool = True) -> float:
    """Parameters one token reads at batch 1, or a classic miscount of them (routed: "top_k", "all", or
    "8 of 256" / "8 experts", DeepSeek-R1's top-8 of 256 hard-coded as a share or as a count)."""
    p = pm.component_params(cfg)
    experts = {"top_k": cfg.top_k, "all": cfg.num_experts, "8 of 256": cfg.num_experts * 8 / 256,
               "8 experts": 8, "none": 0}[routed]
    expert = 3 * cfg.hidden * cfg.expert_inter
    layers = cfg.num_moe_layers if routed_layers is None else routed_layers
    n = layers * experts * expert
    n += p["dense_ffn"] if dense else 0
    n += p["router"] if router else 0
    n += p["head"] if head else 0
    n += p["shared_expert"] if shared else 0
    n += p["attention"] if attention else 0
    n += p["embedding"] if embedding else 0
    n += p["mtp"] if mtp else 0
    return float(n)


def _is_total(got, want, cfg, wb) -> bool | None:
    try:
        g = float(got)
    except (TypeError, ValueError):
        return None
    totals = [_active(cfg, routed="all", embedding=e) * wb for e in (True, False)]
    return any(math.isclose(g, t, rel_tol=1e-6) for t in totals)


class _TokenBytes(float):
    """08.7's reference bytes, carrying what one embedding row may add (the prompt says a token looks up one)."""

    row: float = 0.0


def _expected_08_7(cfg: moe.DeepSeekMoEConfig, wb: float) -> float:
    ref = _TokenBytes(pm.active_params_per_token(cfg) * wb)
    ref.row = cfg.hidden * max(wb, pm.STORAGE_BYTES["bf16"])   # the row in bytes_per_weight or in BF16, its format
    return ref


def _compare_08_7(got, want) -> tuple[bool, list[str]]:
    """The active bytes (rtol 1e-9), or those plus the one embedding row a token looks up (counted or not)."""
    ok, lines = compare(got, float(want), rtol=1e-9)     # float(): the diagnosis names no _TokenBytes
    row = getattr(want, "row", 0.0)
    if ok or not row or isinstance(got, (bool, str, bytes)):
        return ok, lines
    try:
        g = float(got)
    except (TypeError, ValueError, RuntimeError):
        return ok, lines
    slack = 1e-9 * abs(float(want))
    return (True, []) if float(want) - slack <= g <= float(want) + row + slack else (False, lines)


def _cases_08_7(rng: random.Random) -> list[Case]:
    return [Case((moe.DEEPSEEK_V3, 1.0), "DeepSeek-R1, FP8 weights"),
            Case((moe.DEEPSEEK_V3, pm.STORAGE_BYTES["nvfp4"]), "DeepSeek-R1, NVFP4 weights"),
            Case((_made_up(rng), rng.choice([0.5625, 1.0, 2.0])), "a made-up config")]


def _near_37b(got, want, cfg, wb) -> bool | None:
    """`got` is DeepSeek-R1's ~37 B active parameters (36-38 B) x bytes_per_weight, whatever the config (asked of
    the made-up config only: on R1 itself a slip of a few % in a computed answer lands there too)."""
    if cfg == moe.DEEPSEEK_V3:
        return None
    try:
        g = float(got)
    except (TypeError, ValueError):
        return None
    return 36e9 * wb <= g <= 38e9 * wb


EX_08_7 = _single(
    "08.7", "weight bytes per token at batch 1",
    reads=Function("weight_bytes_per_token", "(cfg: moe.DeepSeekMoEConfig, bytes_per_weight: float) -> float",
                   "bytes"),
    cases=_cases_08_7, flags_ok=("component_params",),
    expected=_expected_08_7, compare=_compare_08_7,
    mistakes=[
        Mistake("you counted every expert (the ~671 B total parameters); a decoded token reads only its top_k "
                "experts per MoE layer: the ~37 B active parameters", when=_is_total),
        Mistake("you counted the whole embedding table: a token looks up one row of it, not 129,280",
                value=lambda c, wb: _active(c, embedding=True) * wb),
        Mistake("you counted the MTP module: without MTP it does not run",
                value=lambda c, wb: _active(c, mtp=True) * wb),
        Mistake("you forgot the shared expert(s): they run for every token",
                value=lambda c, wb: _active(c, shared=False) * wb),
        Mistake("you forgot the attention weights (MLA projections, BF16 in the serving recipe, read at every step)",
                value=lambda c, wb: _active(c, attention=False) * wb),
        Mistake("you counted routed experts in every layer; the first num_dense_layers have no experts",
                value=lambda c, wb: _active(c, routed_layers=c.num_layers) * wb),
        Mistake("you forgot the output head: every decoded token goes through it (hidden x vocab weights)",
                value=lambda c, wb: _active(c, head=False) * wb),
        Mistake("you forgot the dense FFN layers: the first num_dense_layers have a dense FFN, read in full",
                value=lambda c, wb: _active(c, dense=False) * wb),
        Mistake("you forgot the routers (one gate of num_experts x hidden per MoE layer): every token runs them",
                value=lambda c, wb: _active(c, router=False) * wb),
        Mistake("you hard-coded DeepSeek-R1's 8 of 256 experts: use cfg.top_k and cfg.num_experts (the made-up "
                "config has others)", value=lambda c, wb: _active(c, routed="8 of 256") * wb),
        Mistake("you hard-coded DeepSeek-R1's 8 experts per token: use cfg.top_k (the made-up config has another)",
                value=lambda c, wb: _active(c, routed="8 experts") * wb),
        Mistake("you returned parameters, not bytes: multiply by bytes_per_weight",
                value=lambda c, wb: _active(c)),
        *_units("the bytes"),
        Mistake("you left out the routed experts: each MoE layer reads the top_k experts the token picks (if you "
                "wrote cfg.top_k // cfg.num_experts, that is integer division: 0)",
                value=lambda c, wb: _active(c, routed="none") * wb),
        Mistake("here every weight is stored in bytes_per_weight, the attention weights too (the check's model, not "
                "the serving recipe's BF16 attention)",
                value=lambda c, wb: _active(c) * wb + pm.component_params(c)["attention"] * (2.0 - wb)),
        Mistake("that is one GPU's share (/ 8): the check wants the bytes the whole model reads for one token",
                ratio=1 / 8),
        Mistake("that is in bits: the check wants bytes", ratio=8),
        Mistake("you hard-coded DeepSeek-R1's ~37 B active parameters: count them from cfg (the made-up config has "
                "others)", when=_near_37b),
    ],
    hint="Every parameter a token multiplies through is read once: everything except the embedding table (one "
         "row: count it or not), the MTP module and the routed experts it does not pick (top_k of num_experts per "
         "MoE layer).")


# ---------------------------------------------------------------------------------------------------- 08.2

def _unique(E, k, T):
    return pm.unique_experts(E, k, T)


EX_08_2 = Exercise.single(
    "08.2", "expected unique experts",
    reads=Function("expected_unique", "(num_experts: int, top_k: int, tokens: int) -> float"),
    cases=lambda rng: [Case((256, 8, 1), "one token"), Case((256, 8, 4), "one MTP-3 step"),
                       Case((256, 8, 64), "64 tokens"),
                       Case((rng.choice([64, 128, 160]), rng.choice([2, 6]), rng.randint(2, 300)), "random")],
    expected=_unique, rtol=1e-9,
    mistakes=[
        Mistake("you ignored overlaps: top_k x tokens can exceed num_experts", value=lambda E, k, T: float(k * T)),
        Mistake("you capped top_k x tokens at num_experts: tokens overlap long before that",
                value=lambda E, k, T: float(min(k * T, E))),
        Mistake("you returned the expected number of experts *missed*",
                value=lambda E, k, T: E - _unique(E, k, T)),
        Mistake("a token picks top_k *distinct* experts: you drew its choices with replacement",
                value=lambda E, k, T: E * (1 - (1 - 1 / E) ** (k * T))),
        Mistake("you returned a probability (the share of experts read); multiply by num_experts",
                value=lambda E, k, T: _unique(E, k, T) / E),
        Mistake("you returned the probability that one expert is missed; the answer is num_experts x (1 - that)",
                value=lambda E, k, T: (1 - k / E) ** T),
        Mistake("you hard-coded DeepSeek-R1's 8 of 256: use num_experts and top_k (the made-up layer has others)",
                value=lambda E, k, T: _unique(256, 8, T)),
    ],
    hint="Linearity of expectation: each expert is missed by one token with probability 1 - top_k/num_experts.")


# ---------------------------------------------------------------------------------------------------- 08.3

KV_TOKEN = pm.kv_bytes_per_token()
_KV_LATENT, _KV_ROPE = moe.DEEPSEEK_V3.kv_lora_rank, moe.DEEPSEEK_V3.qk_rope_head_dim


DEFAULTS_08_3 = (180.0, 74.8, 5.0, 0.85, 1024, 2048)   # requests_per_gpu's defaults: B200, ADP8 weights


def _args(a: tuple) -> tuple:
    return tuple(a) + DEFAULTS_08_3[len(a):]


def _requests(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, isl=1024, osl=2048, *,
              unit=GB, tokens=None, kv=KV_TOKEN, frac_of_hbm=False) -> float:
    free = hbm_gb * kv_fraction - weights_gb - activation_gb if frac_of_hbm else \
        (hbm_gb - weights_gb - activation_gb) * kv_fraction
    return free * unit / ((isl + osl if tokens is None else tokens(isl, osl)) * kv)


def _cases_08_3(rng: random.Random) -> list[Case]:
    hbm = rng.choice([96.0, 141.0, 192.0])
    # ISL, OSL: never 1024 + 2048 (3,072 tokens), ISL != OSL and ISL != OSL / 2, so that the ISL-only, OSL-only,
    # ISL + OSL/2 and hard-coded-3072 answers all differ here
    rand = (hbm, round(rng.uniform(20, hbm - 30), 1), round(rng.uniform(2, 8), 1), round(rng.uniform(0.5, 0.95), 2),
            rng.choice([512, 1024, 4096]), rng.choice([256, 1536, 6144]))
    return [Case((), "B200, ADP8 (the defaults)"),
            Case((141.0, 100.8, 5.0, pm.KV_FRACTION["H200"], 1024, 2048), "H200, FP8 weights, fraction 0.8"),
            Case(rand, "random")]


def _floor(f):
    return lambda *a: int(f(*a) // 1)


def _float_not_floored(got, want, *args) -> bool | None:
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return None
    exact = _requests(*args)
    return float(got) != int(want) and math.isclose(float(got), exact, rel_tol=1e-6)


def _number(got) -> float | None:
    """`got` as a float when it is a single number (a Python or NumPy one), else None."""
    if isinstance(got, (bool, str, bytes)) or getattr(got, "shape", ()) != ():
        return None
    try:
        return float(got)
    except (TypeError, ValueError):
        return None


def _whole_node(got, want, *args) -> bool | None:
    """`got` is 8 GPUs' requests: 8 x the answer, or the pool of 8 GPUs divided (floor(8 x exact))."""
    g = _number(got)
    return None if g is None else g in (8.0 * want, float(int(8 * _requests(*args) // 1)))


def _b200_numbers(got, want, *args) -> bool | None:
    """`got` is the B200 run's answer whatever the HBM, weights, activations and fraction: for this case's ISL and
    OSL, or for the default ones."""
    g = _number(got)
    if g is None:
        return None
    isl_osl = _args(args)[4:]
    return g in (float(int(_requests(*DEFAULTS_08_3[:4], *isl_osl) // 1)), float(int(_requests() // 1)))


EX_08_3 = _single(
    "08.3", "requests per GPU",
    reads=Function("requests_per_gpu", "(hbm_gb=180.0, weights_gb=74.8, activation_gb=5.0, kv_fraction=0.85, "
                                       "isl=1024, osl=2048) -> int", "requests"),
    cases=_cases_08_3, flags_ok=("kv_bytes_per_token",),
    expected=lambda *a: int(_requests(*a) // 1), atol=0, rtol=0,
    mistakes=[
        Mistake("you reserved only the prompt (ISL), not ISL + OSL",
                value=_floor(lambda *a: _requests(*a, tokens=lambda i, o: i))),
        Mistake("you reserved only the output (OSL), not ISL + OSL",
                value=_floor(lambda *a: _requests(*a, tokens=lambda i, o: o))),
        Mistake("you sized each request at the paged cache's average occupancy, ISL + OSL/2; this exercise "
                "reserves the full ISL + OSL (TensorRT-LLM's default scheduler: a started request can always "
                "finish)", value=_floor(lambda *a: _requests(*a, tokens=lambda i, o: i + o / 2))),
        Mistake("you forgot the KV fraction (kv_cache_free_gpu_mem_fraction): the pool takes only that share of "
                "the free memory", value=_floor(lambda *a: _requests(*a) / _args(a)[3])),
        Mistake("you applied the KV fraction to the whole HBM; TensorRT-LLM applies it to the memory left after "
                "weights and activations", value=_floor(lambda *a: _requests(*a, frac_of_hbm=True))),
        Mistake("you forgot the activations / workspace",
                value=_floor(lambda *a: _requests(*(_args(a)[:2] + (0.0,) + _args(a)[3:])))),
        Mistake("you used an FP8 cache (1 byte per element); the model's cache is BF16 (pm.kv_bytes_per_token)",
                value=_floor(lambda *a: _requests(*a, kv=KV_TOKEN / 2))),
        Mistake("you counted one layer's latent (576 elements): the cache keeps one per layer, 61 of them",
                value=_floor(lambda *a: _requests(*a, kv=KV_TOKEN / moe.DEEPSEEK_V3.num_layers))),
        Mistake(f"you left out the RoPE key: MLA caches {_KV_LATENT} + {_KV_ROPE} = {_KV_LATENT + _KV_ROPE} elements "
                f"per token and layer (kv_lora_rank + qk_rope_head_dim), not {_KV_LATENT}",
                value=_floor(lambda *a: _requests(*a, kv=KV_TOKEN * _KV_LATENT / (_KV_LATENT + _KV_ROPE)))),
        Mistake("you converted GB with 2^30 (GiB); HBM sizes in GB are 10^9 bytes",
                value=_floor(lambda *a: _requests(*a, unit=GIB))),
        Mistake("you rounded to the nearest request; round down: a request either fits or it does not",
                value=lambda *a: round(_requests(*a))),
        Mistake("you rounded up (math.ceil): the last, partial request does not fit; round down",
                value=lambda *a: math.ceil(_requests(*a))),
        Mistake("round down to whole requests: a request either fits or it does not (int(pool // per_request))",
                when=_float_not_floored),
        Mistake("that is the whole node (8 GPUs); the check wants one GPU", when=_whole_node),
        Mistake(f"you used the B200 run's kv_fraction {DEFAULTS_08_3[3]} whatever the argument says",
                value=_floor(lambda *a: _requests(*(_args(a)[:3] + (DEFAULTS_08_3[3],) + _args(a)[4:])))),
        Mistake("you used the B200 run's numbers (180, 74.8, 5, 0.85) whatever the arguments say: compute from "
                "hbm_gb, weights_gb, activation_gb and kv_fraction", when=_b200_numbers),
        Mistake("you hard-coded 1024 + 2048 tokens per request: use isl + osl",
                value=_floor(lambda *a: _requests(*a, tokens=lambda i, o: 1024 + 2048))),
    ],
    hint="pool = (HBM - weights - activations) x fraction, in bytes (GB = 10^9); per request (ISL + OSL) tokens "
         "of KV cache; round down.")


# ---------------------------------------------------------------------------------------------------- 08.4

_DRAFTS_OF = {v: d for d, v in pm.MTP_ACCEPTED.items()}


def _speedup(t_plain, t_mtp, accepted=pm.MTP_ACCEPTED[3]):
    return accepted * t_plain / t_mtp


def _all_drafts_accepted(got, want, t_plain, t_mtp, accepted=pm.MTP_ACCEPTED[3]) -> bool | None:
    drafts = _DRAFTS_OF.get(accepted)
    if drafts is None or isinstance(got, str):
        return None
    try:
        return math.isclose(float(got), (1 + drafts) * t_plain / t_mtp, rel_tol=1e-3)
    except (TypeError, ValueError):
        return None


def _cases_08_4(rng: random.Random) -> list[Case]:
    t = {d: pm.min_latency(mtp_drafts=d).step_s for d in (0, 1, 3)}
    tp = rng.uniform(0.004, 0.02)
    return [Case((t[0], t[3]), "model step times, MTP 3 (accepted 2.82, the default)"),
            Case((t[0], t[1]), "MTP 1, accepted 1.92", {"accepted": pm.MTP_ACCEPTED[1]}),
            Case((tp, tp * rng.uniform(1.05, 1.6)), "random", {"accepted": round(rng.uniform(1.5, 3.5), 2)})]


EX_08_4 = Exercise.single(
    "08.4", "MTP speed-up",
    reads=Function("mtp_speedup", "(t_plain: float, t_mtp: float, accepted: float = 2.82) -> float"),
    cases=_cases_08_4, expected=_speedup, rtol=1e-3,
    mistakes=[
        Mistake("you left out the tokens accepted per step: with MTP one (longer) step yields `accepted` tokens, "
                "not 1", value=lambda tp, tm, accepted=2.82: tp / tm),
        Mistake("you divided the step times the wrong way round",
                value=lambda tp, tm, accepted=2.82: accepted * tm / tp),
        Mistake("the step with MTP is longer: the speed-up is not the acceptance itself",
                value=lambda tp, tm, accepted=2.82: accepted),
        Mistake("you counted every draft as accepted (1 + drafts tokens per step); use the measured acceptance",
                when=_all_drafts_accepted),
        Mistake("`accepted` already counts the main model's own token: 2.82 tokens per step with 3 drafts, not "
                "1 + 2.82", value=lambda tp, tm, accepted=2.82: (1 + accepted) * tp / tm),
        Mistake("you used 2.82 whatever `accepted` says: read the argument",
                value=lambda tp, tm, accepted=2.82: 2.82 * tp / tm),
        Mistake("you used 4 tokens per step (1 + 3 drafts) whatever `accepted` says: not every draft is accepted, "
                "and the argument gives the measured count", value=lambda tp, tm, accepted=2.82: 4 * tp / tm),
        Mistake("you returned the gain (speed-up - 1); the check wants the ratio",
                value=lambda tp, tm, accepted=2.82: accepted * tp / tm - 1),
        Mistake("you counted only the accepted drafts (accepted - 1): the main model's own token counts too",
                value=lambda tp, tm, accepted=2.82: (accepted - 1) * tp / tm),
        Mistake("you returned a percentage (x 100); the check wants the ratio (2.4, not 240)", ratio=100),
        Mistake("you returned the gain in percent, (speed-up - 1) x 100; the check wants the ratio",
                value=lambda tp, tm, accepted=2.82: (accepted * tp / tm - 1) * 100),
    ],
    hint="tokens/s = tokens per step / step time, for both runs: accepted / t_mtp against 1 / t_plain.")


# ---------------------------------------------------------------------------------------------------- 08.8

def _cases_08_8(rng: random.Random) -> list[Case]:
    return [Case((pm.min_latency(mtp_drafts=3).step_s, 3), "the model's MTP-3 step"),
            Case((pm.min_latency(mtp_drafts=1).step_s, 1), "the model's MTP-1 step"),
            Case((pm.min_latency(mtp_drafts=0).step_s, 0), "no MTP"),
            Case((round(rng.uniform(0.003, 0.03), 5), rng.choice([2, 4, 5])), "random")]


def _close(got, value: float) -> bool | None:
    g = _number(got)
    return None if g is None else math.isclose(g, value, rel_tol=1e-6)


def _off_by_one_table(got, want, step_s, drafts) -> bool | None:
    """`got` reads a list of the acceptances for 1..5 drafts ([1.92, 2.58, ...]) at [drafts] or [drafts - 1]
    (Python wraps [-1] to 5 drafts); an input on which that list raised IndexError cannot tell."""
    if isinstance(got, codec.AnswerError):
        return None
    table = [pm.MTP_ACCEPTED[d] for d in sorted(pm.MTP_ACCEPTED) if d > 0]
    shifted = [table[i] for i in (drafts, drafts - 1) if -len(table) <= i < len(table)]
    return any(_close(got, acc / step_s) for acc in shifted if acc != pm.MTP_ACCEPTED[drafts])


EX_08_8 = Exercise.single(
    "08.8", "tokens per step with MTP",
    reads=Function("mtp_user_speed", "(step_s: float, drafts: int) -> float", "tok/s/user"),
    cases=_cases_08_8, expected=lambda step_s, d: pm.MTP_ACCEPTED[d] / step_s, rtol=1e-6,
    mistakes=[
        Mistake("you left out the tokens accepted per step: an MTP step yields pm.MTP_ACCEPTED[drafts] tokens, "
                "not 1", value=lambda s, d: 1 / s),
        Mistake("you counted every draft as accepted (1 + drafts tokens per step); TensorRT-LLM measured fewer "
                "(2.82 for 3 drafts)", value=lambda s, d: (1 + d) / s),
        Mistake("pm.MTP_ACCEPTED already counts the main model's own token (1.00 without MTP): do not add 1",
                value=lambda s, d: (1 + pm.MTP_ACCEPTED[d]) / s),
        Mistake("you counted only the accepted drafts (accepted - 1): the main model's own token counts too",
                value=lambda s, d: (pm.MTP_ACCEPTED[d] - 1) / s),
        Mistake("you used 2.82 (3 drafts) for every draft count: read pm.MTP_ACCEPTED[drafts]",
                when=lambda got, want, s, d: _close(got, 2.82 / s)),
        Mistake("your table is off by one: index it by the number of drafts (pm.MTP_ACCEPTED[0] = 1.00 without MTP, "
                "[3] = 2.82); a list of 1.92, 2.58, ... starts at 1 draft",
                when=_off_by_one_table, sees_errors=True),
        Mistake("step_s is in seconds: you treated it as milliseconds", ratio=1e-3),
        Mistake("that is milliseconds per token; the check wants tokens per second",
                value=lambda s, d: s / pm.MTP_ACCEPTED[d] * 1e3),
        Mistake("you multiplied by the step time: tokens per second = tokens per step / seconds per step",
                value=lambda s, d: pm.MTP_ACCEPTED[d] * s),
    ],
    hint="pm.MTP_ACCEPTED[drafts] tokens per step (TensorRT-LLM's measured acceptance, 2.82 for 3 drafts), "
         "divided by the step time.")


# ---------------------------------------------------------------------------------------------------- 08.5

DOMINANT_OPTIONS = ("attention linear", "dense FFN + shared expert", "head + router", "routed experts",
                    "KV cache + attention core", "kernel fixed cost", "NVLink communication", "MTP draft passes",
                    "prefill share", "ADP imbalance (measured)")


def _dominant() -> tuple[str, str]:
    lat, thr = pm.min_latency(), pm.max_throughput()
    return max(lat.times, key=lat.times.get), max(thr.times, key=thr.times.get)


def _ms(which: str, key: str) -> str:
    """The model's time for `key` at minimum latency or maximum throughput, rounded for a diagnosis."""
    r = pm.min_latency() if which == "lat" else pm.max_throughput()
    return f"{r.times[key] * 1e3:.1f} ms"


def _gb(which: str, key: str) -> str:
    """The model's HBM bytes per GPU and step for `key` (a key of StepResult.bytes_per_gpu), for a diagnosis."""
    r = pm.min_latency() if which == "lat" else pm.max_throughput()
    gb = r.bytes_per_gpu[key] / GB
    return f"{gb:.2f} GB" if gb < 10 else f"{gb:.1f} GB"


def _norm(v) -> str:
    return " ".join(v.split()).lower() if isinstance(v, str) else ""


def _pair(got) -> tuple[str, str] | None:
    if isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(g, str) for g in got):
        return _norm(got[0]), _norm(got[1])
    return None


def _compare_dominant(got, want) -> tuple[bool, list[str]]:
    pair = _pair(got)
    if pair is None:
        return False, [f"got {describe_value(got)}, expected a tuple of two strings (two keys of StepResult.times): "
                       "(minimum latency, maximum throughput)"]
    lines = [f"{name}: you chose {g!r}" for name, g, w in zip(("(a) minimum latency", "(b) maximum throughput"),
                                                              got, want, strict=True) if _norm(g) != _norm(w)]
    return not lines, lines


def _chose(position: int, option: str):
    return lambda got, want: None if _pair(got) is None else _pair(got)[position] == _norm(option)


def _not_options(got, want) -> bool | None:
    pair = _pair(got)
    return None if pair is None else any(p not in [_norm(o) for o in DOMINANT_OPTIONS] for p in pair)


EX_08_5 = Exercise.single(
    "08.5", "dominant factors",
    reads=Value("dominant", "tuple[str, str]"),
    expected=_dominant, compare=_compare_dominant,
    mistakes=[
        Mistake("`dominant` is a tuple of two keys, (minimum latency, maximum throughput), not one string",
                when=lambda got, want: isinstance(got, str) or None),
        Mistake("write two keys of StepResult.times exactly as the breakdowns print them (e.g. \"routed experts\")",
                when=_not_options),
        Mistake("you swapped them: the tuple is (minimum latency, maximum throughput)",
                when=lambda got, want: _pair(got) == (_norm(want[1]), _norm(want[0]))),
        Mistake(f"(a): at batch 1 the busiest GPU reads {_gb('lat', 'routed experts')} of experts per step (the 4 "
                f"tokens of an MTP-3 step), in {_ms('lat', 'routed experts')}; the ~850 dependent kernels cost "
                f"{_ms('lat', 'kernel fixed cost')}", when=_chose(0, "routed experts")),
        Mistake(f"(a): the BF16 attention weights are {_gb('lat', 'attention weights')} per GPU (Fuse_A replicated, "
                f"the rest split over 8), {_ms('lat', 'attention linear')}; look at the per-kernel cost",
                when=_chose(0, "attention linear")),
        Mistake(f"(b): the {_gb('thr', 'routed experts')} of local experts take {_ms('thr', 'routed experts')}; look "
                "at the larger items", when=_chose(1, "routed experts")),
        Mistake(f"(b): the attention over 2K contexts is the largest kernel group "
                f"({_ms('thr', 'KV cache + attention core')}), but waiting for the slowest attention-DP rank costs "
                f"more ({_ms('thr', 'ADP imbalance (measured)')})",
                when=_chose(1, "KV cache + attention core")),
        Mistake(f"(b): the prefill work itself is {_ms('thr', 'prefill share')} per step; the waiting it causes across "
                "attention-DP ranks is larger", when=_chose(1, "prefill share")),
        Mistake(f"(a): the NVLink collectives take {_ms('lat', 'NVLink communication')} per step at batch 1; look at "
                "the larger items", when=_chose(0, "NVLink communication")),
        Mistake(f"(a): the MTP draft passes take {_ms('lat', 'MTP draft passes')}; look at the larger items",
                when=_chose(0, "MTP draft passes")),
        Mistake(f"(b): the NVLink collectives take {_ms('thr', 'NVLink communication')} per step at maximum "
                "throughput; look at the larger items", when=_chose(1, "NVLink communication")),
        Mistake(f"(b): at {pm.max_throughput().concurrency // 8} requests per GPU the ~850 kernels "
                f"({_ms('thr', 'kernel fixed cost')}) are shared by the whole batch; look at the attention-DP wait",
                when=_chose(1, "kernel fixed cost")),
    ],
    hint="Print max(r.times, key=r.times.get) for pm.min_latency() and pm.max_throughput(), or read the sorted "
         "breakdowns of steps 5 and 6.")


# ---------------------------------------------------------------------------------------------------- 08.6

def _cases_08_6(rng: random.Random) -> list[Case]:
    rest = pm.min_latency(mtp_drafts=0, factors=pm.Factors(kernel_s_sm100=0.0)).step_s
    n = dependent_kernels(moe.DEEPSEEK_V3, pm.LAYOUT_MIN_LATENCY)
    tps = rng.uniform(40, 150)
    return [Case((rest, n, pm.PUBLISHED_MTP_B200[0]), "blog 1's batch-1 run without MTP, 111 tok/s/user"),
            Case((round(rng.uniform(0.2, 0.8) / tps, 6), rng.randint(200, 1200), round(tps, 1)), "random")]


EX_08_6 = Exercise.single(
    "08.6", "per-kernel cost from a published run",
    reads=Function("kernel_cost", "(rest_s: float, n_kernels: int, tokens_per_s_user: float) -> float", "s"),
    cases=_cases_08_6, expected=lambda rest, n, tps: (1.0 / tps - rest) / n, rtol=1e-6,
    mistakes=[
        Mistake("you did not subtract the rest of the step: the kernels do not take the whole 9 ms",
                value=lambda rest, n, tps: 1 / tps / n),
        Mistake("you returned microseconds: return seconds", ratio=1e6),
        Mistake("you returned milliseconds: return seconds", ratio=1e3),
        Mistake("you returned the time of all kernels, not of one", value=lambda rest, n, tps: 1 / tps - rest),
        Mistake("you used the MTP run (253 tok/s/user) as if it made one token per step",
                value=lambda rest, n, tps: (1 / 253 - rest) / n),
        Mistake("a step's time is 1 / (tokens per second), not tokens per second: invert it first",
                value=lambda rest, n, tps: (tps - rest) / n),
        Mistake("you took the step in ms (1000 / tokens_per_s_user) but rest_s in seconds: use seconds for both",
                value=lambda rest, n, tps: (1e3 / tps - rest) / n),
        Mistake("parentheses: (1 / tokens_per_s_user - rest_s) / n_kernels; you divided only rest_s by the kernels",
                value=lambda rest, n, tps: 1 / tps - rest / n),
        Mistake("the subtraction is the wrong way round: the kernels take the published step minus rest_s",
                value=lambda rest, n, tps: (rest - 1 / tps) / n),
        Mistake("you hard-coded blog 1's 111 tok/s/user: use tokens_per_s_user",
                value=lambda rest, n, tps: (1 / pm.PUBLISHED_MTP_B200[0] - rest) / n),
        Mistake("you hard-coded the model's 851 kernels: use n_kernels",
                value=lambda rest, n, tps: (1 / tps - rest) / dependent_kernels(moe.DEEPSEEK_V3,
                                                                                pm.LAYOUT_MIN_LATENCY)),
        Mistake("you returned the model's 8.27 µs whatever the inputs: derive it from them",
                value=lambda rest, n, tps: pm.Factors().kernel_s_sm100),
    ],
    hint="Without MTP one step makes one token: the step takes 1 / tokens_per_s_user seconds; the kernels take "
         "what rest_s does not explain.")


register(EX_08_1, EX_08_2, EX_08_3, EX_08_4, EX_08_5, EX_08_6, EX_08_7, EX_08_8)
