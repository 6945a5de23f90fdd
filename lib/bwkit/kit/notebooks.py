"""Solutions are the single source: `make_labs` turns `solutions/NN_*.ipynb` into `labs/NN_*.ipynb`.

Conventions (the whole kit follows them; `bwkit make-labs` enforces them):

* An exercise is a set of cells sharing ``metadata["bwkit"]["exercise"] = "NN.k"``:
  - one or more ``role: "solution"`` cells (code or markdown) whose answer sits between the lines
    ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (in markdown write them inside ``<!-- -->``); the solution
    cell carries ``points`` (> 0) and ``title``;
  - one ``role: "hint"`` markdown cell with a collapsed ``<details>`` block;
  - exactly one ``role: "check"`` code cell that calls `bwkit.kit.checks`.
* In the lab, each code block between the markers becomes ``raise NotImplementedError("Exercise NN.k (title):
  ...")`` at the marker's indentation, each markdown block becomes a prompt, and every output is cleared.
  Cell ids and metadata are kept, so `bwkit grade` can find exercises by id.
* In the lab, every exercise code cell (solution and check) is tagged ``raises-exception``: JupyterLab's Run All
  then goes on past an unsolved exercise (it sends those cells with ``stop_on_error`` off), so every other cell
  runs and every plot appears. Solutions carry no such tag (strict nbval still fails on a failing check), and
  `bwkit grade` strips student tags.

Where the notebooks live (written once here, used by make-labs, grade, hub, nbgrader and slides): `REPO_ROOT`
(the kit's checkout; `KIT_LIB` its lib/), `NOTEBOOK_GLOB` and `lab_notebooks` (the ``NN_*.ipynb`` of a folder),
`solutions_dir` and `solution_notebooks` (a given folder, else ./solutions when present, else the kit's own), and
`is_hidden` (dot files, checkpoints, caches: never copied into a home, never graded).

Taught nowhere: this is the instructor's tool (README, "Writing a lab").
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["LabBuildError", "Exercise", "exercises", "lab_from_solution", "make_labs", "stale_labs",
           "BEGIN", "END", "RUN_ALL_TAG", "KIT_LIB", "REPO_ROOT", "NOTEBOOK_GLOB", "lab_notebooks", "solutions_dir",
           "solution_notebooks", "is_hidden"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
ROLES = ("solution", "hint", "check")
RUN_ALL_TAG = "raises-exception"   # JupyterLab's Run All does not stop at a cell with this tag

KIT_LIB = Path(__file__).resolve().parents[2]   # lib/: the folder holding the bwkit package
REPO_ROOT = KIT_LIB.parent                      # the kit's checkout: labs/, solutions/, .venv-nbgrader/
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"            # a lab's notebook: 00_hardware_roofline.ipynb, ...


def lab_notebooks(folder: str | Path) -> list[Path]:
    """The lab notebooks (`NOTEBOOK_GLOB`, ``NN_*.ipynb``) directly in `folder`, sorted by name."""
    return sorted(Path(folder).glob(NOTEBOOK_GLOB))


def solutions_dir(folder: str | Path | None = None) -> Path:
    """`folder` when given, else ``./solutions`` when it exists, else the kit's own ``solutions/``."""
    if folder is not None:
        return Path(folder)
    return Path("solutions") if Path("solutions").is_dir() else REPO_ROOT / "solutions"


def solution_notebooks(folder: str | Path | None = None) -> list[Path]:
    """The solution notebooks of `folder` (default `solutions_dir()`: ./solutions, else the kit's), sorted."""
    return lab_notebooks(solutions_dir(folder))


def is_hidden(rel: str | Path) -> bool:
    """Whether a file name, or a path relative to the folder walked, is hidden: a part that starts with '.'
    (``.ipynb_checkpoints`` too) or is ``__pycache__``. Hidden entries are never copied into a home nor graded.

    Pass a name or a relative path, not an absolute one: the folders above the one walked do not count.
    """
    return any(p.startswith(".") or p == "__pycache__" for p in Path(rel).parts)


class LabBuildError(ValueError):
    """A solution notebook breaks the exercise conventions; the message names the notebook and cell."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook: id ('00.2'), title, points and the ids of its cells by role."""

    id: str
    title: str
    points: float
    solution_cells: tuple[str, ...]
    hint_cells: tuple[str, ...]
    check_cell: str


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("bwkit", {}) or {}


def _where(path: str | Path, i: int, cell) -> str:
    return f"{path}: cell {i} (id {cell.get('id', '?')})"


def exercises(nb, path: str | Path = "<notebook>") -> list[Exercise]:
    """List the exercises of a notebook (in order of first appearance) and validate their cells."""
    found: dict[str, dict] = {}
    for i, cell in enumerate(nb.cells):
        m = _meta(cell)
        src = cell.get("source", "")
        has_markers = BEGIN in src or END in src
        if not m:
            if has_markers:
                raise LabBuildError(f"{_where(path, i, cell)} has solution markers but no bwkit exercise metadata")
            continue
        ex, role = m.get("exercise"), m.get("role")
        if not isinstance(ex, str) or not ex:
            raise LabBuildError(f"{_where(path, i, cell)}: metadata bwkit.exercise must be a non-empty string")
        if role not in ROLES:
            raise LabBuildError(f"{_where(path, i, cell)}: bwkit.role is {role!r}; expected one of {ROLES}")
        e = found.setdefault(ex, {"title": None, "points": None, "solution": [], "hint": [], "check": []})
        e[role].append(cell.get("id", str(i)))
        if role == "solution":
            if not has_markers:
                raise LabBuildError(f"{_where(path, i, cell)}: a solution cell needs '{BEGIN}' ... '{END}'")
            if "points" in m:
                pts = m["points"]
                if not isinstance(pts, (int, float)) or pts <= 0:
                    raise LabBuildError(f"{_where(path, i, cell)}: points must be a positive number, got {pts!r}")
                e["points"] = float(pts)
                e["title"] = m.get("title") or ex
        elif has_markers:
            raise LabBuildError(f"{_where(path, i, cell)}: solution markers in a {role!r} cell")
        if role == "check" and cell.cell_type != "code":
            raise LabBuildError(f"{_where(path, i, cell)}: a check cell must be a code cell")
        if role == "hint" and "<details>" not in src:
            raise LabBuildError(f"{_where(path, i, cell)}: a hint cell must hold a collapsed <details> block")
    out = []
    for ex, e in found.items():
        for role in ROLES:
            if not e[role]:
                raise LabBuildError(f"{path}: exercise {ex} has no {role!r} cell")
        if len(e["check"]) != 1:
            raise LabBuildError(f"{path}: exercise {ex} has {len(e['check'])} check cells; expected exactly 1")
        if e["points"] is None:
            raise LabBuildError(f"{path}: exercise {ex}: no solution cell carries 'points'")
        out.append(Exercise(ex, e["title"], e["points"], tuple(e["solution"]), tuple(e["hint"]), e["check"][0]))
    return out


def _strip(src: str, where: str, stub_code: str | None) -> str:
    """Replace each BEGIN..END block; `stub_code` None means markdown."""
    out: list[str] = []
    inside = False
    for line in src.split("\n"):
        if BEGIN in line:
            if inside:
                raise LabBuildError(f"{where}: '{BEGIN}' inside an open solution block (missing '{END}')")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            if stub_code is None:
                out.append("*Your answer here.*")
            else:
                out.append(f"{indent}{stub_code}")
            continue
        if END in line:
            if not inside:
                raise LabBuildError(f"{where}: '{END}' without a matching '{BEGIN}'")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise LabBuildError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def lab_from_solution(nb, path: str | Path = "<notebook>"):
    """Return the lab version of a solution notebook (a new object): solutions stubbed, outputs cleared."""
    titles = {e.id: e.title for e in exercises(nb, path)}
    lab = copy.deepcopy(nb)
    for i, cell in enumerate(lab.cells):
        m = _meta(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            if m.get("role") in ("solution", "check"):
                tags = list(cell.metadata.get("tags", []))
                if RUN_ALL_TAG not in tags:
                    cell.metadata["tags"] = tags + [RUN_ALL_TAG]
        if m.get("role") != "solution":
            continue
        ex = m["exercise"]
        stub = None
        if cell.cell_type == "code":
            stub = f'raise NotImplementedError("Exercise {ex} ({titles[ex]}): write your code here")'
        cell.source = _strip(cell.source, _where(path, i, cell), stub)
    return lab


def _dumps(nb) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # nbformat raises several types for broken JSON
        raise LabBuildError(f"{path}: not a readable notebook ({e})") from e


def _sources(solutions: Path, labs: Path) -> list[Path]:
    """The solution notebooks of `solutions`; raises FileNotFoundError when that folder is missing, LabBuildError
    when it holds no ``NN_*.ipynb`` (nothing to build or check: `--check` must not call that up to date), and
    NotADirectoryError when `labs` exists and is not a folder."""
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}" + (" (it is a file)" if solutions.exists()
                                                                           else ""))
    found = lab_notebooks(solutions)
    if not found:
        raise LabBuildError(f"no solution notebooks ({NOTEBOOK_GLOB}) in {solutions}")
    if labs.exists() and not labs.is_dir():
        raise NotADirectoryError(f"{labs} is not a folder (the labs are written there)")
    return found


def make_labs(solutions: str | Path = "solutions", labs: str | Path = "labs") -> list[Path]:
    """Write `labs/NN_*.ipynb` for every `solutions/NN_*.ipynb`; return the paths written.

    Raises FileNotFoundError (no `solutions` folder), LabBuildError (no notebook in it, or one that breaks the
    conventions) or NotADirectoryError (`labs` is a file)."""
    solutions, labs = Path(solutions), Path(labs)
    sources = _sources(solutions, labs)
    labs.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        lab = lab_from_solution(_read(src), src)
        dst = labs / src.name
        dst.write_text(_dumps(lab), encoding="utf-8")
        written.append(dst)
    return written


_CELL_PARTS = (("cell_type", "its type"), ("source", "its source"), ("outputs", "its outputs"),
               ("execution_count", "its execution count"), ("metadata", "its metadata"))


def _first_difference(have: str, want: dict) -> str:
    """Why the lab text `have` differs from `want` (the lab `make_labs` writes, as JSON): the first differing cell
    (index, id and which part) or the notebook's metadata; "" when only the formatting differs (indentation, key
    order, a source stored as a list of lines: the notebook is the same)."""
    import warnings

    try:
        with warnings.catch_warnings():   # nbformat warns about missing ids, which the comparison names anyway
            warnings.simplefilter("ignore")
            have = json.loads(_dumps(nbformat.reads(have, as_version=4)))
    except Exception as e:  # noqa: BLE001 - nbformat raises several types for broken JSON
        return f"it is not a readable notebook ({type(e).__name__})"
    if have == want:
        return ""
    got, cells = have.get("cells", []), want["cells"]
    for i, (h, w) in enumerate(zip(got, cells, strict=False)):
        if h == w:
            continue
        if h.get("id") != w.get("id"):
            return (f"cell {i} has id {h.get('id')!r} where make-labs writes the cell with id {w.get('id')!r} "
                    "(a cell was added, removed or moved)")
        parts = [name for key, name in _CELL_PARTS if h.get(key) != w.get(key)] or ["its fields"]
        return f"cell {i} (id {w.get('id')}): {' and '.join(parts)} differ{'s' if len(parts) == 1 else ''}"
    if len(got) != len(cells):
        extra = f" (the first extra: cell {len(cells)}, id {got[len(cells)].get('id')})" if len(got) > len(cells) \
            else ""
        return f"it has {len(got)} cells where make-labs writes {len(cells)}{extra}"
    return "the notebook's metadata differs"


def stale_labs(solutions: str | Path = "solutions", labs: str | Path = "labs") -> list[str]:
    """Return the problems that make `labs/` differ from what `make_labs` would write (empty when current); a lab
    that differs is named with its first differing cell (`_first_difference`; formatting alone does not count).

    Raises as `make_labs` does: a missing or empty `solutions` folder is an error, not an up-to-date labs/."""
    solutions, labs = Path(solutions), Path(labs)
    sources = _sources(solutions, labs)
    problems = []
    names = set()
    for src in sources:
        names.add(src.name)
        dst = labs / src.name
        want = _dumps(lab_from_solution(_read(src), src))
        if not dst.exists():
            problems.append(f"{dst} is missing")
            continue
        have = dst.read_text(encoding="utf-8")
        why = "" if have == want else _first_difference(have, json.loads(want))
        if why:
            problems.append(f"{dst} differs from what `bwkit make-labs` generates from {src}: {why}")
    for dst in sorted(labs.glob("*.ipynb")):
        if dst.name not in names:
            problems.append(f"{dst} has no solution notebook")
    return problems
