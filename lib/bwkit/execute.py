"""Re-execute solution notebooks in place, the way they are committed: CPU path, seeded, fresh kernel.

`bwkit execute solutions/00_hardware_roofline.ipynb` (or `make solutions` for all of them, then labs).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["execute_notebook"]


def execute_notebook(path: str | Path, timeout: int = 1200, force_cpu: bool = True) -> None:
    """Run every cell of `path` in a fresh kernel (cwd = its folder) and write the outputs back.

    `force_cpu` sets BWKIT_FORCE_CPU=1 so the stored outputs are those of the CPU path (what CI compares).
    Raises `nbclient.exceptions.CellExecutionError` on the first failing cell (nothing is written then).
    """
    import nbclient
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in ("BWKIT_FORCE_CPU", "PYTHONHASHSEED", "MPLBACKEND")}
    if force_cpu:
        os.environ["BWKIT_FORCE_CPU"] = "1"
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent.resolve())}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
