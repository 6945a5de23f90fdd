"""bwkit: the Blackwell Lab Kit helper library.

Modules are named by what they teach: `hw` (specs, rooflines), `inspect` (compile-only PTX/SASS), `bench`
(timing), `checks` (exercise checks), `runtime` (interpreter switch), `notebooks` (solutions -> labs),
`formats`, `tensorcores`, `gemm`, `moe`, `perfmodel`, `grading`, ...

Importing bwkit imports neither triton nor torch: call `bwkit.setup()` first in every lab.
"""

from bwkit.runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
