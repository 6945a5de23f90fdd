"""Authoring helper for solution notebooks (instructors and kit developers; needs the `dev` extra: jupytext).

    python tools/nbsrc.py build SRC.py solutions/NN_topic.ipynb   # percent-format source -> executed notebook
    python tools/nbsrc.py export solutions/NN_topic.ipynb SRC.py  # notebook -> editable percent-format source

`build` converts with jupytext, sets default slide types (bwkit.kit.slides), gives cells stable ids (exercise
cells: ex<NN>-<k>-<role>[-i]; others c<index>), executes the notebook on the CPU path (`bwkit execute`) and
regenerates labs/. The .ipynb in solutions/ stays the single source: the .py is a scratch file, not committed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat

from bwkit.kit.slides import default_slide_type, tag_notebook


def _stable_ids(nb) -> None:
    used: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        m = cell.metadata.get("bwkit") or {}
        if m.get("exercise") and m.get("role"):
            base = "ex" + re.sub(r"[^A-Za-z0-9]", "-", m["exercise"]) + "-" + m["role"]
        else:
            base = f"c{i:03d}"
        n = used.get(base, 0)
        used[base] = n + 1
        cell.id = base if n == 0 else f"{base}-{n}"
        cell.metadata.pop("lines_to_next_cell", None)


def build(src: Path, dst: Path, execute: bool = True) -> None:
    import jupytext

    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    _stable_ids(nb)
    for cell in nb.cells:  # slide types for the decks and RISE (explicit ones in the source win)
        if "slide_type" not in cell.metadata.get("slideshow", {}):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = default_slide_type(cell)
    nbformat.validate(nb)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    if execute:
        subprocess.run([sys.executable, "-m", "bwkit.kit.cli", "execute", str(dst)], check=True)
        tag_notebook(dst)  # figure tags need the outputs
        subprocess.run([sys.executable, "-m", "bwkit.kit.cli", "make-labs"], check=True)


def export(src: Path, dst: Path) -> None:
    import jupytext

    nb = nbformat.read(src, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    jupytext.write(nb, dst, fmt="py:percent")


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("build", "export"):
        sys.exit(__doc__)
    if sys.argv[1] == "build":
        build(Path(sys.argv[2]), Path(sys.argv[3]), execute="--no-execute" not in sys.argv)
    else:
        export(Path(sys.argv[2]), Path(sys.argv[3]))
