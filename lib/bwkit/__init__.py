"""bwkit: the Blackwell Lab Kit helper library.

Modules are named by what they teach (the lab that teaches each in brackets):
`runtime` (interpreter switch) [00], `hw` (specs, rooflines) [00], `inspect` (compile-only PTX/SASS) [00, 01],
`bench` (timing) [00, 06], `checks` (exercise checks) [all], `tensorcores`, `pipeline` [01], `formats`, `mx`,
`scaled_gemm` [02], `gemm` [03, 04], `layouts`, `cute_gemm` [05], `efficiency` [06], `moe`, `moe_kernels`,
`moe_ep` [07], `perfmodel` [08]. Instructor tools: `notebooks` (solutions -> labs), `execute`, `grading`,
`slides`, `catalog`, `cli`.

Importing bwkit imports neither triton nor torch: call `bwkit.setup()` first in every lab.
"""

from bwkit.kit.runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
