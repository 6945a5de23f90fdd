"""bwkit: the Blackwell Lab Kit helper library.

What the labs teach lives in modules named by topic (the lab that teaches each in brackets):

    hw (specs, rooflines) [00]        inspect (compile-only PTX/SASS) [01]       bench (honest timing) [00, 06]
    tensorcores, pipeline [01]        formats (elements, mx: FP8/FP6/FP4, MX, NVFP4, DeepSeek FP8) [02]
    gemm (the Triton ladder) [03]     gemm_bench (`bwkit bench gemm`) [03]      scaled_gemm (MXFP8/MXFP4/NVFP4) [04]
    layouts, cute_common, cute_gemm (CuTe DSL) [05]                              efficiency [06]
    moe, moe_lowp, moe_kernels, moe_ep (DeepSeek-R1 MoE) [07]                    perfmodel (DGX B200 serving) [08]
    gluon_gemm (Gluon tcgen05 kernels and their budgets) [09]
    cute_ladder, cute_ladder_nvfp4, ladder_model, ladder_bench (CuTe DSL to near-peak) [10]
    facts (every published figure the labs quote, with its source) [cited by all, taught by none]

The kit's machinery sits apart, in `bwkit.kit`: `runtime` (the interpreter switch behind `bwkit.setup()`),
`args` (the argument checks the modules share), `checks` and `exercises` (every exercise's check, defined once),
`kernel` (a Jupyter kernel driven cell by cell), `notebooks` (solutions -> labs), `execute`, `interp` (the
interpreter's out-of-bounds report), `grading` (`bwkit grade`, sandboxed), `hub` and `nbgrader` (class
deployment), `slides`, `deck`, `deckchart` and `excerpt` (the decks), `catalog`, `cli` and `commands`.

Importing bwkit imports neither triton nor torch: call `bwkit.setup()` first in every lab.
"""

from bwkit.kit.runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
