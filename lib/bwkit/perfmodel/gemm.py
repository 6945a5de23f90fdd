"""GEMM cost helpers of the perfmodel: a weight-streaming GEMM's roof, and the grouped expert GEMM's.

A GEMM costs max(bytes / (gemm_bw_frac x HBM), FLOPs / (efficiency x peak of its format)). Dense GEMMs use the
large-GEMM fraction (`gemm_frac`, CUTLASS on B200); routed-expert GEMMs use DeepGEMM's grouped efficiency for their
tokens per expert (`derived.grouped_gemm_efficiency`) when `Factors.grouped_gemm` is on. Taught in lab 08, step 5.
"""

from __future__ import annotations

from bwkit import hw
from bwkit.perfmodel.derived import grouped_gemm_efficiency
from bwkit.perfmodel.factors import Factors, _peak
from bwkit.perfmodel.parameters import MATH_PRECISION
from bwkit.perfmodel.step import Cost

__all__ = ["gemm_cost", "expert_gemm_cost"]


def gemm_cost(spec: hw.GPUSpec, f: Factors, nbytes: float, flops: float, fmt: str) -> Cost:
    """A weight-streaming GEMM: max(bytes / (gemm_bw_frac x HBM), FLOPs / (gemm_frac x peak of `fmt`)) seconds."""
    frac = f.gemm_frac[MATH_PRECISION[fmt]]
    return Cost(nbytes, flops, max(nbytes / (spec.bandwidth * f.gemm_bw_frac), flops / (_peak(spec, fmt) * frac)))


def expert_gemm_cost(spec: hw.GPUSpec, f: Factors, nbytes: float, flops: float, fmt: str,
                     tokens_per_expert: float) -> Cost:
    """A grouped expert GEMM: the compute roof at DeepGEMM's grouped efficiency for `tokens_per_expert` rows.

    Without `Factors.grouped_gemm` it is a dense GEMM (`gemm_cost`). Never faster than the dense roof.
    """
    dense = gemm_cost(spec, f, nbytes, flops, fmt)
    if not f.grouped_gemm:
        return dense
    eff = min(grouped_gemm_efficiency(tokens_per_expert), f.gemm_frac[MATH_PRECISION[fmt]])
    return Cost(nbytes, flops, max(dense.seconds, flops / (_peak(spec, fmt) * eff)))
