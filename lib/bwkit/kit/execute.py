"""Re-execute solution notebooks in place, the way they are committed: CPU path, seeded, fresh kernel.

`bwkit execute solutions/00_hardware_roofline.ipynb` (or `make solutions` for all of them, then labs).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["execute_notebook", "readable_notebook", "solution_notebook", "NotebookError", "ExecutionFailed",
           "check_lab"]

BEGIN = "### BEGIN SOLUTION"   # as bwkit.kit.notebooks.BEGIN (not imported: that module imports nbformat eagerly)


class NotebookError(ValueError):
    """A file given as a notebook that is not one (not JSON, not nbformat, not a solution notebook where one is
    needed); the message names it."""


class ExecutionFailed(RuntimeError):
    """A notebook did not run to the end (a cell raised, timed out or killed its kernel); the one-line message names
    the notebook, the cell (index and id) and the error's first line, and says that nothing was written."""


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


def solution_notebook(path: str | Path):
    """`path` read as a solution notebook (`readable_notebook`); `NotebookError` when no cell holds a solution
    marker (a lab, a learner's copy, any other notebook): `bwkit execute` stores outputs in solution notebooks only,
    a lab keeps none (`bwkit make-labs` writes it from its solution)."""
    nb = readable_notebook(path)
    if any(BEGIN in cell.get("source", "") for cell in nb.cells):
        return nb
    is_lab = any((cell.get("metadata", {}).get("bwkit") or {}).get("exercise") for cell in nb.cells)
    what = f"a lab (its exercise cells hold stubs, no '{BEGIN}')" if is_lab else \
        f"not a solution notebook (no cell holds '{BEGIN}')"
    raise NotebookError(f"{path} is {what}: `bwkit execute` runs solution notebooks and stores their outputs, "
                        "and a lab keeps none: for a lab, edit its solution in solutions/, `bwkit execute` that, then "
                        "run `bwkit make-labs`; to try a lab, open it in JupyterLab and Run All")


def _failure(path: Path, nb, index: int | None, e: Exception) -> ExecutionFailed:
    """The `ExecutionFailed` for `e`, raised by nbclient while cell `index` (None: before any cell) of `nb` ran."""
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename is None:   # a timeout, a dead kernel, no such kernel: the exception itself says what happened
        lines = str(e).strip().splitlines()
        ename, evalue = type(e).__name__, lines[0] if lines else ""
    first = (str(evalue).strip().splitlines() or [""])[0][:200].rstrip(".")
    todo = "fix that cell in the notebook, then run this again"
    if type(e).__name__ == "CellTimeoutError":
        todo = "give it more time (`bwkit execute --timeout SECONDS`), or make that cell faster"
    if index is None or not 0 <= index < len(nb.cells):
        where = "before its first cell ran"
    else:
        where = f"at cell {index} (id {nb.cells[index].get('id', '?')})"
    return ExecutionFailed(f"{path} failed {where}: {ename}{': ' + first if first else ''}; nothing was written "
                           f"(the notebook is unchanged): {todo}")


def execute_notebook(path: str | Path, timeout: int = 1200, force_cpu: bool = True) -> None:
    """Run every cell of the solution notebook `path` in a fresh kernel (cwd = its folder) and write the outputs
    back.

    `force_cpu` sets BWKIT_FORCE_CPU=1 so the stored outputs are those of the CPU path (what CI compares).
    Raises FileNotFoundError / `NotebookError` for a path that is not a solution notebook (`solution_notebook`),
    and `ExecutionFailed` when a cell fails, times out or kills the kernel (nothing is written then).
    """
    import nbclient
    import nbformat

    path = Path(path)
    nb = solution_notebook(path)
    running: list[int] = []   # the index of the cell nbclient started last
    old = {k: os.environ.get(k) for k in ("BWKIT_FORCE_CPU", "PYTHONHASHSEED", "MPLBACKEND")}
    if force_cpu:
        os.environ["BWKIT_FORCE_CPU"] = "1"
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent.resolve())}},
                                         on_cell_start=lambda cell, cell_index: running.append(cell_index))
        try:
            client.execute()
        except Exception as e:  # noqa: BLE001 - CellExecutionError, CellTimeoutError, DeadKernelError, NoSuchKernel
            raise _failure(path, nb, running[-1] if running else None, e) from e
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
