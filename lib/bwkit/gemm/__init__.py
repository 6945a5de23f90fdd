"""The Triton GEMM ladder: one problem, C = A @ B, solved by kernels that each add one idea.

    import bwkit; rt = bwkit.setup()           # first: picks the Triton interpreter on a GPU-less machine
    from bwkit import gemm
    c = gemm.matmul_kloop(a, b)                 # a: (M, K), b: (K, N), fp32 / fp16 / bf16 / fp8-e4m3
    for step in gemm.LADDER: ...                # (name, kernel, wrapper, default constexprs), in order

The steps (taught in lab 03, one per step): 1 `naive` (one output tile per program, the whole K strip loaded
at once), 2 `kloop` (a loop over K with masks for ragged edges), 3 `grouped` (L2-friendly program order), 4
`autotuned` (block shapes, warps and stages chosen by `triton.autotune` on a GPU, only when called; a fixed
config on the interpreter), 5 `persistent_tma` (one program per SM looping over tiles, operands loaded through
TMA tensor descriptors), 6 `ws` (step 5 with a warp-specialized, software-pipelined K loop for Blackwell).
Modules: `kernels` (the kernels and their wrappers; the `@triton.jit` helpers the kernels share: `_masked_kloop`
(steps 2-4), `_masked_store` (2-6), `_tile_counts` (3-6), `_tma_descriptors` and `_tma_kloop` (5-6)),
`plan` (one kernel plan per (step, dtype, target): `launch_configs`, the configs the native path tries, sized to
the target's shared memory, and `compile_launch`, a compile specialized as a real launch is), `ladder` (the
ladder as data, `compile_step`, the float64 reference and tolerances every check uses, and `fresh` / `launch`: a
learner's kernel on fresh operands and a NaN-poisoned C through the memory-safe `bwkit.kit.interp.safe_launch`).

Constraints: operands are 2-D CUDA (or, under the interpreter, CPU) tensors of the same dtype; accumulation is
fp32; C is fp32 for fp32 inputs, fp16 for fp16 and fp8 inputs, bf16 for bf16 inputs (override with
`out_dtype`). Under the interpreter bf16 operands are converted to fp32 exactly before the launch (the
interpreter's bf16 `tl.dot` is wrong, triton issue 11584). On a GPU fp32 operands use TF32 Tensor Cores
(Triton's default). TMA steps need one unit stride per operand and 16-byte-aligned other strides; pass a
weight stored as (N, K) as `w.t()`.

"""

from bwkit.gemm import kernels, ladder
from bwkit.gemm.kernels import *  # noqa: F403 - the package re-exports the kernels and the ladder
from bwkit.gemm.kernels import (  # the autotuner cache and the kernels' shared @triton.jit helpers (lab 03 prints them)
    _TUNED,
    _masked_kloop,
    _masked_store,
    _tile_counts,
    _tma_descriptors,
    _tma_kloop,
)
from bwkit.gemm.ladder import *  # noqa: F403
from bwkit.gemm.plan import (
    SMEM_LIMIT,
    compile_launch,
    launch_configs,
    launch_specialization,
    plan_table,
    plan_target,
)

__all__ = [*kernels.__all__, *ladder.__all__, "_TUNED",
           "_masked_kloop", "_masked_store", "_tile_counts", "_tma_descriptors", "_tma_kloop",
           "launch_configs", "plan_target", "plan_table", "compile_launch", "launch_specialization", "SMEM_LIMIT"]
