"""Every published number the perfmodel reads or is checked against, each with its source (one place; data only).

`serving`: the seed's GTC 2025 figures and TensorRT-LLM's documented runs (lab 08's first steps); `kernels`: kernel
and communication measurements the efficiency factors are derived from; `world`: the serving points collected to
check the model against ("the model against the world"), none of which feeds a factor. Everything is re-exported
here, so `from bwkit.perfmodel.published import X` works for all of them.
"""

from bwkit.perfmodel.published import kernels, serving, world
from bwkit.perfmodel.published.kernels import *  # noqa: F403 - the package re-exports its three modules
from bwkit.perfmodel.published.serving import *  # noqa: F403
from bwkit.perfmodel.published.world import *  # noqa: F403

__all__ = [*serving.__all__, *kernels.__all__, *world.__all__]
