"""Every published number the perfmodel reads or is checked against, each with its source (one place; data only).

`serving`: the seed's GTC 2025 figures and TensorRT-LLM's documented runs (lab 08's first steps); `kernels`: kernel
and communication measurements the efficiency factors are derived from; `world`: the serving points collected to
check the model against ("the model against the world"), none of which feeds a factor. Everything is re-exported
here, so `from bwkit.perfmodel.published import X` works for all of them.
"""

from bwkit.perfmodel.published.kernels import (
    DEEPEP,
    DEEPGEMM_GROUPED_H800,
    DEEPGEMM_H800,
    EPLB_BALANCE,
    FLASHMLA_H800_TFLOPS,
    FP8_ATTENTION_SPEEDUP,
    H800_FP8_FLOPS,
    H800_HBM_BYTES_S,
    HOST_LINK_GBS,
    IB_NIC_GBS,
    MLA_DECODE_SM100,
    MLPERF_DEEPSEEK_R1,
    PREFILL_ATTENTION_SM100_BY_LEN,
    PREFILL_ATTENTION_TFLOPS,
    PREFILL_COMM_SMS,
)
from bwkit.perfmodel.published.serving import (
    ADP_BALANCED,
    ADP_ROUND_ROBIN_BALANCE,
    BLOG1_OPTIMISATIONS,
    KV_FRACTION,
    MTP_ACCEPTED,
    PUBLISHED,
    PUBLISHED_MTP_B200,
)
from bwkit.perfmodel.published.world import WORLD_POINTS

__all__ = [
    "MTP_ACCEPTED", "PUBLISHED", "PUBLISHED_MTP_B200", "ADP_ROUND_ROBIN_BALANCE", "ADP_BALANCED", "KV_FRACTION",
    "BLOG1_OPTIMISATIONS",
    "DEEPGEMM_H800", "DEEPGEMM_GROUPED_H800", "H800_HBM_BYTES_S", "H800_FP8_FLOPS", "FLASHMLA_H800_TFLOPS",
    "MLA_DECODE_SM100", "FP8_ATTENTION_SPEEDUP", "PREFILL_ATTENTION_TFLOPS", "DEEPEP", "EPLB_BALANCE",
    "HOST_LINK_GBS", "IB_NIC_GBS", "MLPERF_DEEPSEEK_R1", "PREFILL_COMM_SMS", "PREFILL_ATTENTION_SM100_BY_LEN",
    "WORLD_POINTS",
]
