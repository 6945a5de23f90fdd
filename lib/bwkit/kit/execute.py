"""Re-execute solution notebooks in place, the way they are committed: CPU path, seeded, fresh kernel.

`bwkit execute solutions/00_hardware_roofline.ipynb` (or `make solutions` for all of them, then labs).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["execute_notebook", "readable_notebook", "NotebookError", "check_lab"]


class NotebookError(ValueError):
    """A file given as a notebook that is not one (not JSON, not nbformat); the message names it."""


def readable_notebook(path: str | Path):
    """`path` read as an nbformat-4 notebook. Raises FileNotFoundError (no file there) or `NotebookError` (the file
    is not a notebook), each with a one-line message naming the path."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # nbformat raises NotJSONError, ValidationError, KeyError, UnicodeDecodeError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise NotebookError(f"{path} is not a readable notebook ({type(e).__name__}: {first[:200]})") from e


def execute_notebook(path: str | Path, timeout: int = 1200, force_cpu: bool = True) -> None:
    """Run every cell of `path` in a fresh kernel (cwd = its folder) and write the outputs back.

    `force_cpu` sets BWKIT_FORCE_CPU=1 so the stored outputs are those of the CPU path (what CI compares).
    Raises FileNotFoundError / `NotebookError` for a path that is not a notebook (`readable_notebook`), and
    `nbclient.exceptions.CellExecutionError` on the first failing cell (nothing is written then).
    """
    import nbclient
    import nbformat

    path = Path(path)
    nb = readable_notebook(path)
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


def check_lab(path: str | Path, timeout: int = 600) -> list[str]:
    """Run a generated lab with errors allowed; return problems (empty = it fails only at exercise cells).

    A lab passes when every cell that raises is an exercise 'solution' or 'check' cell, and each exercise's
    stub raises `NotImplementedError` in its solution cell or its check says `NotAnswered` (so the learner sees
    where to write).
    Runs the CPU path.
    """
    import nbclient
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("BWKIT_FORCE_CPU")
    os.environ["BWKIT_FORCE_CPU"] = "1"
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                         resources={"metadata": {"path": str(path.parent.resolve())}})
        try:
            client.execute()
        except Exception as e:  # dead kernel, timeout
            return [f"{path}: the lab did not run to the end ({type(e).__name__}: {e})"]
    finally:
        if old is None:
            os.environ.pop("BWKIT_FORCE_CPU", None)
        else:
            os.environ["BWKIT_FORCE_CPU"] = old
    problems = []
    stubbed: dict[str, bool] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("bwkit") or {}
        role = meta.get("role")
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if errors and role not in ("solution", "check"):
            e = errors[0]
            problems.append(f"{path}: cell {i} (id {cell.get('id')}) is not an exercise cell but raised "
                            f"{e['ename']}: {e['evalue'][:200]}")
        if role in ("solution", "check"):
            hit = any(e["ename"] in ("NotImplementedError", "NotAnswered") for e in errors)
            stubbed[meta["exercise"]] = stubbed.get(meta["exercise"], False) or hit
    for ex, hit in stubbed.items():
        if not hit:
            problems.append(f"{path}: exercise {ex} never raised NotImplementedError (solution cell or check)")
    return problems
