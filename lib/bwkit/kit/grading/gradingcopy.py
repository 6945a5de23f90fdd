"""The grading copy: the official lab with each exercise's solution cells taken from the student's notebook."""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat

from bwkit.kit import notebooks
from bwkit.kit.grading.model import GradingCopy

__all__ = ["build_grading_copy", "is_above_cell"]


def is_above_cell(cell_id: str) -> bool:
    """A cell the student added right above an exercise's solution, run with it: its failure costs no points (it
    may be a scratch test of the function defined below it); `bwkit.kit.grading.score` notes it instead."""
    return cell_id.startswith("extra-") and "-above-" in cell_id

_NBVAL_MARKER = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)\s*$")


def _src(cell) -> str:
    s = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(s, list):
        s = "".join(x for x in s if isinstance(x, str))
    return s if isinstance(s, str) else ""


def _bw(cell) -> dict:
    md = cell.get("metadata") if isinstance(cell, dict) else None
    m = md.get("bwkit") if isinstance(md, dict) else None
    return m if isinstance(m, dict) else {}


def _strip_markers(src: str) -> str:
    return "\n".join(line for line in src.split("\n") if not _NBVAL_MARKER.match(line))


def _norm(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.strip().split("\n"))


def _clean_tags(md: dict) -> dict:
    md = copy.deepcopy(md)
    tags = [t for t in md.get("tags", []) if isinstance(t, str)
            and not t.startswith(("nbval", "raises-exception"))]
    if tags:
        md["tags"] = tags
    else:
        md.pop("tags", None)
    return md


def _aliases(sources: Iterable[str]) -> dict[str, str]:
    """Names bound to bwkit modules/objects by official cells: {'hw': 'bwkit.hw', 'bwkit': 'bwkit'}."""
    out: dict[str, str] = {}
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "bwkit":
                        out[a.asname or a.name.split(".")[0]] = a.name if a.asname else "bwkit"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "bwkit":
                for a in node.names:
                    out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _bwkit_names(src: str, aliases: dict[str, str]) -> set[str]:
    """Dotted bwkit names a cell imports or uses (via `aliases` or its own imports)."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return set(re.findall(r"\bbwkit(?:\.\w+)+", src))
    local = dict(aliases)
    local.update(_aliases([src]))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "bwkit":
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Attribute):
            parts = []
            cur = node
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in local:
                names.add(".".join([local[cur.id]] + parts[::-1]))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in local:
            names.add(local[node.id])
    # keep the longest chains only (bwkit.hw.ridge_point, not also bwkit.hw)
    return {n for n in names if not any(m.startswith(n + ".") for m in names)}


_MACHINERY = re.compile(r"\b(bwkit\.kit|kit\.checks|kit\.exercises|CheckFailure|builtins|"
                        r"sys\.modules|__import__|importlib|get_ipython|showtraceback|set_custom_exc|"
                        r"os\._exit|sys\.exit|signal\.|/proc/|ctypes)")


_DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "breakpoint"}


def _dynamic_code(src: str) -> set[str]:
    """Ways of running or looking up code the name-based flags cannot see: exec/eval/compile/__import__ calls,
    getattr/setattr with a computed name, __builtins__, vars()/globals() subscripts (e.g.
    ``exec(bytes.fromhex(...))``, ``getattr(__builtins__, '__imp' + 'ort__')``)."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return {n for n in _DYNAMIC_CALLS | {"__builtins__"} if re.search(rf"\b{n}\b", src)}
    hits: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            hits.add("__builtins__")
        elif isinstance(node, ast.Attribute) and node.attr in ("__builtins__", "__globals__", "__code__",
                                                                "__subclasses__"):
            hits.add(node.attr)
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in _DYNAMIC_CALLS:
                hits.add(f"{name}()")
            elif name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2 and not (
                    isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                hits.add(f"{name}() with a computed name")
    return hits


def _flags_ok(exercise_id: str | None) -> tuple[str, ...]:
    """The bwkit names the exercise's definition allows an answer to use (`Exercise.flags_ok`)."""
    from bwkit.kit.exercises import get

    try:
        return tuple(get(exercise_id).flags_ok) if exercise_id else ()
    except (KeyError, ValueError):
        return ()


def _allowed(name: str, ok: Iterable[str]) -> bool:
    return any(name == o or name.endswith("." + o) for o in ok)


def _flags_for(student_src: str, official_src: str, aliases: dict[str, str], ok: Iterable[str] = ()) -> list[str]:
    flags = []
    extra = sorted(_bwkit_names(student_src, aliases) - _bwkit_names(official_src, aliases))
    extra = [n for n in extra if not n.startswith("bwkit.kit.checks") and not _allowed(n, ok)]
    if extra:
        flags.append(f"uses {', '.join(extra)}, which the official solution does not: check that the answer "
                     "is the student's own work (no points were taken off)")
    hits = sorted(set(_MACHINERY.findall(student_src)) | (_dynamic_code(student_src) - _dynamic_code(official_src)))
    if hits:
        flags.append(f"touches the grading machinery ({', '.join(hits)}): review by hand")
    return flags


def build_grading_copy(student_nb: nbformat.NotebookNode, solution_nb: nbformat.NotebookNode,
                       solution_path: str | Path = "<solution>") -> GradingCopy:
    """Build the notebook to run for one student (rules in the `bwkit.kit.grading` docstring).

    `student_nb` is the student's notebook (any nbformat-4 node), `solution_nb` the official solution.
    """
    exs = notebooks.exercises(solution_nb, solution_path)
    lab = notebooks.lab_from_solution(solution_nb, solution_path)
    for c in lab.cells:   # the lab's Run-All tags (raises-exception) must not let a failing check pass
        c.metadata = _clean_tags(c.metadata)
    sol_src = {c.get("id"): _src(c) for c in solution_nb.cells}
    by_id: dict[str, dict] = {}
    by_meta: dict[tuple[str, str], list[dict]] = {}
    for c in student_nb.get("cells", []):
        if not isinstance(c, dict):
            continue
        cid = c.get("id")
        if isinstance(cid, str) and cid not in by_id:
            by_id[cid] = c
        m = _bw(c)
        if isinstance(m.get("exercise"), str) and isinstance(m.get("role"), str):
            by_meta.setdefault((m["exercise"], m["role"]), []).append(c)
    official_ids = {c.get("id") for c in lab.cells}
    role_of = {c.get("id"): (_bw(c).get("exercise"), _bw(c).get("role")) for c in lab.cells}
    official_src = {_norm(c.source): c.get("id") for c in lab.cells if c.source.strip()}

    # Student code cells added inside an exercise (after its solution, before its check) are graded with it, and
    # so are those right above its solution cell (helpers under the exercise's prompt, no official cell between).
    n_solutions: dict[str, int] = {}
    for c in lab.cells:
        if _bw(c).get("role") == "solution":
            n_solutions[_bw(c)["exercise"]] = n_solutions.get(_bw(c)["exercise"], 0) + 1
    # a solution cell that lost its id (old nbformat) is matched by metadata: the first ones are not copies
    by_meta_solution = {id(c) for (ex, role), cs in by_meta.items() if role == "solution"
                        and not any(i in by_id for i, r in role_of.items() if r == (ex, "solution"))
                        for c in cs[: n_solutions.get(ex, 0)]}
    extras: dict[str, list[str]] = {}
    above: dict[str, list[str]] = {}
    copies: dict[str, list[dict]] = {}
    late_copies: dict[str, int] = {}
    ignored_added = 0
    current = None
    pending: list[str] = []     # added code cells since the last official cell, outside an exercise
    for c in student_nb.get("cells", []):
        if not isinstance(c, dict):
            continue
        cid = c.get("id")
        m = _bw(c)
        if cid not in official_ids and not m and _norm(_src(c)) in official_src:
            cid = official_src[_norm(_src(c))]  # an official cell that lost its id (old nbformat)
        if cid in official_ids or (m.get("exercise") and m.get("role") in notebooks.ROLES):
            ex, role = role_of.get(cid, (m.get("exercise"), m.get("role")))
            copy_cell = (cid not in official_ids and role == "solution" and c.get("cell_type") == "code"
                         and id(c) not in by_meta_solution)
            if copy_cell:               # a copy of the solution cell (JupyterLab copy/paste keeps the metadata)
                if current == ex:       # between its solution and its check: run after it, as Run All would
                    copies.setdefault(ex, []).append(c)
                else:                   # after its check (or elsewhere): Run All would not grade it either
                    late_copies[ex] = late_copies.get(ex, 0) + 1
                continue
            if role == "solution" and current != ex and pending:
                above.setdefault(ex, []).extend(pending)
                pending = []
            ignored_added += len(pending)
            pending = []
            current = ex if role in ("solution", "hint") else None
            continue
        if c.get("cell_type") != "code" or not _src(c).strip():
            continue
        if current is not None:
            extras.setdefault(current, []).append(_strip_markers(_src(c)))
        else:
            pending.append(_strip_markers(_src(c)))
    ignored_added += len(pending)

    notes: list[str] = []
    if ignored_added:
        notes.append(f"{ignored_added} code cell(s) you added outside an exercise were not run (only cells "
                     "between an exercise's solution and its check, or right above its solution cell, are graded "
                     "with it)")
    for ex, n in sorted(late_copies.items()):
        notes.append(f"exercise {ex}: {n} copy(ies) of its solution cell placed outside the exercise (after its "
                     "check) were not run: the solution cell above the check is the one graded")
    aliases = _aliases(_src(c) for c in lab.cells if not _bw(c))
    flags: dict[str, list[str]] = {e.id: [] for e in exs}
    attempted: dict[str, bool] = {e.id: False for e in exs}
    cells: dict[str, tuple[str | None, str]] = {}
    out_cells = []
    used_meta: dict[tuple[str, str], int] = {}
    for cell in lab.cells:
        cid = cell.get("id")
        m = _bw(cell)
        ex, role = m.get("exercise"), m.get("role")
        new = copy.deepcopy(cell)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        new.metadata.pop("execution", None)
        if role == "solution":
            k = used_meta.get((ex, role), 0)
            used_meta[(ex, role)] = k + 1
            for j, src in enumerate(above.pop(ex, []) if k == 0 else []):
                xid = f"extra-{re.sub(r'[^A-Za-z0-9]', '-', ex)}-above-{j}"
                extra_cell = nbformat.v4.new_code_cell(src, id=xid)
                extra_cell.metadata["bwkit"] = {"exercise": ex, "role": "extra"}
                cells[xid] = (ex, "extra")
                out_cells.append(extra_cell)
                flags[ex] += [f for f in _flags_for(src, "", aliases, _flags_ok(ex)) if f not in flags[ex]]
            student = by_id.get(cid)
            if student is not None and student.get("cell_type") != cell.cell_type:
                student = None
            if student is None:
                cands = [c for c in by_meta.get((ex, role), []) if c.get("cell_type") == cell.cell_type]
                student = cands[k] if k < len(cands) else None
                if student is not None and student in copies.get(ex, []):
                    copies[ex].remove(student)      # the id was lost: this copy *is* the solution cell
            if student is None:
                notes.append(f"exercise {ex}: your solution cell is missing; the empty exercise was graded")
            else:
                src = _strip_markers(_src(student))
                tags = student.get("metadata", {}).get("tags") if isinstance(student.get("metadata"), dict) else None
                if src != _src(student) or (isinstance(tags, list) and any(   # the lab's own Run-All tag is fine
                        isinstance(t, str) and t.startswith(("nbval", "raises-exception"))
                        and t != notebooks.RUN_ALL_TAG for t in tags)):
                    notes.append(f"exercise {ex}: nbval markers/tags in your solution cell were ignored")
                new.source = src
                new.metadata = _clean_tags(new.metadata)
                if _norm(src) != _norm(cell.source):
                    attempted[ex] = True
                    if cell.cell_type == "code":
                        flags[ex] += [f for f in _flags_for(src, sol_src.get(cid, ""), aliases, _flags_ok(ex))
                                      if f not in flags[ex]]
            cells[cid] = (ex, "solution" if new.cell_type == "code" else "markdown-solution")
            out_cells.append(new)
            if new.cell_type == "code" and k + 1 == sum(1 for c in lab.cells if _bw(c).get("exercise") == ex
                                                         and _bw(c).get("role") == "solution"):
                more = [_strip_markers(_src(c)) for c in copies.get(ex, [])
                        if _norm(_src(c)) not in (_norm(cell.source), _norm(new.source))]
                if more:
                    notes.append(f"exercise {ex}: {len(more)} more copy(ies) of its solution cell were run after "
                                 "it, in notebook order (the last definition wins, as in Run All)")
                for j, src in enumerate(more + extras.get(ex, [])):
                    xid = f"extra-{re.sub(r'[^A-Za-z0-9]', '-', ex)}-{j}"
                    extra_cell = nbformat.v4.new_code_cell(src, id=xid)
                    extra_cell.metadata["bwkit"] = {"exercise": ex, "role": "extra"}
                    cells[xid] = (ex, "extra")
                    out_cells.append(extra_cell)
                    attempted[ex] = True
                    flags[ex] += [f for f in _flags_for(src, sol_src.get(cid, ""), aliases, _flags_ok(ex))
                                  if f not in flags[ex]]
            continue
        student = by_id.get(cid)
        if student is None and role == "check":
            student = (by_meta.get((ex, role)) or [None])[0]
        if role == "check":
            if student is None:
                notes.append(f"exercise {ex}: the check cell was deleted; the official one was re-inserted")
            elif _norm(_src(student)) != _norm(cell.source):
                notes.append(f"exercise {ex}: the check cell was edited; the official one was used")
        cells[cid] = (ex, role or "lab")
        out_cells.append(new)
    nb = nbformat.v4.new_notebook(cells=out_cells, metadata=copy.deepcopy(solution_nb.metadata))
    return GradingCopy(nb, cells, notes, flags, attempted)


def _neutralize(gc: GradingCopy, lab, exercise_ids: set[str]):
    """The copy with the student cells of `exercise_ids` replaced by the lab stubs (extras dropped)."""
    stubs = {c.get("id"): c.source for c in lab.cells}
    nb = copy.deepcopy(gc.nb)
    keep = []
    for c in nb.cells:
        ex, role = gc.cells.get(c.get("id"), (None, "lab"))
        if ex in exercise_ids and role == "extra":
            continue
        if ex in exercise_ids and role == "solution":
            c.source = stubs.get(c.get("id"), "")
        keep.append(c)
    nb.cells = keep
    return nb
