"""Efficiency factors derived from the published kernel and communication measurements in `perfmodel.published`.

Each function turns one published table into the number the model uses, so that a factor and its source cannot
drift apart: DeepGEMM's dense tables (`deepgemm_efficiency`) and grouped tables (`grouped_gemm_efficiency`, by
tokens per expert), the Blackwell MLA-decode bracket (`mla_decode_frac`), DeepEP's all-to-all bandwidths
(`nvlink_a2a_frac`, `rdma_bandwidth`) and blog 4's load-balance table (`ep_balance_cv`). Taught in lab 08.
"""

from __future__ import annotations

import math

from bwkit.kit.args import check_number
from bwkit.perfmodel.published import (
    DEEPEP,
    DEEPGEMM_GROUPED_H800,
    DEEPGEMM_H800,
    EPLB_BALANCE,
    FP8_ATTENTION_SPEEDUP,
    H800_FP8_FLOPS,
    H800_HBM_BYTES_S,
    MLA_DECODE_SM100,
    PREFILL_ATTENTION_SM100_BY_LEN,
)

__all__ = ["deepgemm_efficiency", "grouped_gemm_efficiency", "mla_decode_frac", "mla_decode_bracket",
           "nvlink_a2a_frac", "rdma_bandwidth", "ep_balance_cv", "GROUPED_M", "prefill_attention_frac_sm100"]


def deepgemm_efficiency(kind: str) -> float:
    """Fraction of peak that DeepGEMM reaches on DeepSeek's layer shapes, over its whole published table.

    'decode': total bytes (FP8 A and B, BF16 C) / total time / HBM peak — the bandwidth a weight-streaming GEMM
    really gets at decode batch sizes. 'prefill': total FLOPs / total time / FP8 peak. Taught in lab 08, step 5.
    """
    if kind not in DEEPGEMM_H800:
        raise ValueError(f"deepgemm_efficiency: kind must be one of {sorted(DEEPGEMM_H800)}, got {kind!r}")
    work = time = 0.0
    for m, n, k, rate in DEEPGEMM_H800[kind]:
        w = (m * k + n * k + 2 * m * n) if kind == "decode" else 2 * m * n * k
        work += w
        time += w / (rate * (1e9 if kind == "decode" else 1e12))
    peak = H800_HBM_BYTES_S if kind == "decode" else H800_FP8_FLOPS
    return work / time / peak


def _expert_efficiency_table() -> dict[int, float]:
    """Fraction of FP8 peak of one expert (gate-up then down GEMM, FLOP-weighted) at each published M per group."""
    by_m: dict[int, list[tuple[float, float]]] = {}
    for _, m, n, k, tflops in DEEPGEMM_GROUPED_H800:
        by_m.setdefault(m, []).append((2.0 * m * n * k, tflops * 1e12))
    return {m: sum(f for f, _ in rows) / sum(f / r for f, r in rows) / H800_FP8_FLOPS
            for m, rows in sorted(by_m.items())}


GROUPED_M: dict[int, float] = _expert_efficiency_table()


def grouped_gemm_efficiency(tokens_per_expert: float) -> float:
    """Compute efficiency (fraction of peak) of a grouped expert GEMM with `tokens_per_expert` rows per expert.

    Log-linear in M between DeepGEMM's grouped rows (H800: M = 256 ... 8,192, 0.45 ... 0.62 of peak); held at the
    ends (below 256 rows an expert GEMM is bandwidth-bound anyway). Assumed to transfer to Blackwell and FP4.
    """
    check_number("grouped_gemm_efficiency: tokens_per_expert", tokens_per_expert, integer=False, zero_ok=True)
    ms = sorted(GROUPED_M)
    m = min(max(tokens_per_expert, ms[0]), ms[-1])
    for lo, hi in zip(ms[:-1], ms[1:], strict=True):
        if m <= hi:
            t = math.log(m / lo) / math.log(hi / lo)
            return GROUPED_M[lo] + t * (GROUPED_M[hi] - GROUPED_M[lo])
    return GROUPED_M[ms[-1]]


def mla_decode_bracket() -> tuple[float, float]:
    """(lowest, highest) fraction of the math peak among the published B200 MLA-decode figures (`MLA_DECODE_SM100`)."""
    fr = [d["frac"] for d in MLA_DECODE_SM100.values()]
    return min(fr), max(fr)


def mla_decode_frac(math_format: str = "bf16") -> float:
    """Fraction of the `math_format` peak that TensorRT-LLM's MLA decode kernel reaches on B200 with 128 heads.

    FP8: trtllm-gen measured at 16 heads x 4 query tokens = 64 rows (vLLM PR #41778: 502 TFLOP/s, 0.112 of 4,500);
    a tcgen05 MMA tile holds 128 rows, so DeepSeek-R1's 128 heads (one query token each) fill the tiles the 64-row
    problem half-filled: the same KV streaming carries twice the FLOPs -> 0.223. BF16: FP8 attention is 1.8x faster
    than BF16 (LMSYS GB200 Part II) -> 0.223 x 2 / 1.8 = 0.248 of the BF16 peak.
    """
    fp8 = 2.0 * MLA_DECODE_SM100["trtllm-gen MLA, MTP 3"]["frac"]
    if math_format == "fp8":
        return fp8
    if math_format == "bf16":
        return fp8 * 2.0 / FP8_ATTENTION_SPEEDUP
    raise ValueError(f"mla_decode_frac: math_format must be 'bf16' or 'fp8', got {math_format!r}")


def nvlink_a2a_frac(arch: str) -> float:
    """Fraction of one-way NVLink bandwidth that DeepEP's all-to-all reaches, remote traffic only.

    sm_90a: V1 intranode 153 of ~160 GB/s (H800). sm_100a: V2 EP8 dispatch 726 GB/s "logical" (local-rank traffic
    included: 7/8 of it is remote) of 900 GB/s -> 0.71.
    """
    if arch == "sm_100a":
        d = DEEPEP["nvlink_sm100"]
        return d["dispatch"] * 7 / 8 / d["link"]
    d = DEEPEP["nvlink_sm90"]
    return d["dispatch"] / d["link"]


def rdma_bandwidth(ep: int, mode: str = "low_latency") -> tuple[float, float]:
    """(dispatch, combine) bytes/s over InfiniBand per GPU for an EP group of `ep` GPUs (DeepEP V1, CX7, H800).

    'low_latency' (decode): the published table by EP size, log-interpolated (held at the ends). 'normal' (prefill):
    the published internode normal-kernel bandwidth, the same for dispatch and combine.
    """
    check_number("rdma_bandwidth: ep (GPUs in the EP group)", ep)
    if mode not in ("low_latency", "normal"):
        raise ValueError(f"rdma_bandwidth: mode must be 'low_latency' or 'normal', got {mode!r}")
    table = DEEPEP["rdma_low_latency"] if mode == "low_latency" else DEEPEP["rdma_normal"]
    keys = sorted(table)
    e = min(max(ep, keys[0]), keys[-1])
    lo = max(k for k in keys if k <= e)
    hi = min(k for k in keys if k >= e)
    t = 0.0 if hi == lo else math.log(e / lo) / math.log(hi / lo)

    def at(k: int) -> tuple[float, float]:
        v = table[k]
        return (v, v) if isinstance(v, float) else v

    (d0, c0), (d1, c1) = at(lo), at(hi)
    return (d0 + t * (d1 - d0)) * 1e9, (c0 + t * (c1 - c0)) * 1e9


def ep_balance_cv(eplb: bool) -> float:
    """Coefficient of variation of tokens per EP rank at EP32 (blog 4, Table 1): 0.48 without EPLB, 0.051 with it."""
    d = EPLB_BALANCE["EPLB" if eplb else "no EPLB"]
    return d["std"] / d["mean"]


def prefill_attention_frac_sm100(seq_len: float) -> float:
    """Fraction of the B200 BF16 peak of causal prefill attention for prompts of `seq_len` tokens.

    Log-linear between FlashAttention-4's published B200 forward figures (1K 0.31, 2K 0.41, 4K 0.48 of 2,250) and
    FlashMLA's "up to 1460 TFLOP/s" (0.65) for long sequences; held at the ends.
    """
    check_number("prefill_attention_frac_sm100: seq_len", seq_len, integer=False)
    t = PREFILL_ATTENTION_SM100_BY_LEN
    ks = sorted(t)
    x = min(max(seq_len, ks[0]), ks[-1])
    for lo, hi in zip(ks[:-1], ks[1:], strict=True):
        if x <= hi:
            w = math.log(x / lo) / math.log(hi / lo)
            return (t[lo] + w * (t[hi] - t[lo])) / 2250.0
    return t[ks[-1]] / 2250.0
