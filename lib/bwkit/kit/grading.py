"""Grade a class's lab notebooks exercise by exercise: ``bwkit grade SUBMISSIONS_DIR --lab NN``.

    bwkit grade submissions/ --lab 00 --out grades-00 --workers 2 --timeout 120

Student layout (``SUBMISSIONS_DIR``)
    * one folder per student: ``SUBMISSIONS_DIR/<student>/.../00_hardware_roofline.ipynb`` (the official file
      name is preferred; otherwise a notebook whose name starts with the lab number, otherwise the folder's only
      notebook). The folder name is the student id. Every other file in the folder is ignored (never copied,
      never imported, never loaded by pytest) and listed in the feedback.
    * or one file per student directly in ``SUBMISSIONS_DIR``: ``<student>.ipynb``,
      ``<student>_00_hardware_roofline.ipynb`` (an LMS export: the official name at the end is removed) or
      ``<student>__anything.ipynb`` (the id is what precedes ``__``).
    Hidden entries and ``.ipynb_checkpoints`` are skipped. Every entry gets a row in ``grades.csv``, also when its
    notebook is missing or unreadable (0 points and the reason).

What happens to each submission
    1. A *grading copy* is built from the official lab (generated from ``solutions/NN_*.ipynb`` with
       `bwkit.kit.notebooks.lab_from_solution`): every non-exercise cell, hint and check cell is the official one
       (matched by stable cell id: edited cells are replaced, deleted ones re-inserted in place); each exercise's
       solution cell is the student's (matched by cell id, then by ``metadata.bwkit`` exercise/role), with nbval
       comment markers (``# NBVAL_*``) removed and no tags (``raises-exception``, ``nbval-*``) kept; a missing
       solution cell becomes the lab's stub. Code cells a student added between an exercise's solution and its
       check are graded with that exercise; other added cells are not run. All outputs are cleared, so stored
       (possibly faked) outputs count for nothing.
    2. The copy runs under ``pytest --nbval-lax --nbval-current-env`` with a per-cell timeout, in a fresh
       temporary folder holding only that notebook (never ``solutions/`` or the student's folder), with
       ``--noconftest``, an explicit empty ini file, ``-p no:cacheprovider`` and plugin autoloading off, so no
       ``conftest.py``/``pytest.ini`` of anybody is loaded. Submissions run in parallel (``--workers``).
    3. Results are mapped to exercises by cell id (each cell of the copy carries the official id and
       ``metadata.bwkit``; the grader keeps the id -> exercise/role map on its side), never by nbval's
       ``Cell N`` names.

The kernel watchdog (why and how)
    nbval waits for a cell's reply for the whole ``--nbval-cell-timeout`` even when the kernel is dead
    (``os._exit``, a segfault, the OOM killer). The grader runs pytest through a small plugin of this module
    (a ``python -c`` worker calling ``_worker_main``) that wraps nbval's ``RunningKernel.get_message``: each wait is cut
    into 0.2 s slices and between slices it asks the kernel manager whether the kernel process is alive, so a
    death is reported within a fraction of a second, with its exit code or signal. The same wrapper enforces a
    hard per-cell deadline (timeout + grace) and kills a kernel that ignores nbval's interrupt. The plugin writes
    one JSON line per event (cell start, cell end with outcome, captured output and kernel liveness) to a pipe that
    the kernel does not inherit, so student code cannot forge results. After a kernel death (or a MemoryError,
    which can starve later cells) pytest stops; if exercises remain unrun, the copy is run again with the guilty
    exercise's cells replaced by the lab stub. Only the exercises that could not run lose points: the guilty one
    scores 0 with the reason, the others are graded normally.

Limits per student run
    ``RLIMIT_AS`` (``--memory-gib``, default 8: the kernel with torch and triton maps about 3.5 GiB; on a machine
    with an NVIDIA driver ``RLIMIT_DATA``, because CUDA reserves far more address space than it uses) and
    ``RLIMIT_CPU`` (``--cpu-limit`` seconds per kernel process), core dumps off, one BLAS/OpenMP thread, a
    wall-clock limit for the whole run; the kernel's process group is killed at the end.

Scoring
    An exercise scores its points when its check cell passes and the student's solution cell(s) ran without
    error; otherwise 0 with a diagnosis (the check's printed ✅/❌ lines, the error, the timeout or the crash).

Outputs (``--out``)
    ``grades.csv`` (student, one column per exercise, total, max, notes), ``feedback/<student>.md`` (each
    exercise's status, the check's diagnosis, notes and flags) and ``summary.md`` with
    ``score_distribution.png``. Exercises whose student cells use a bwkit function the official solution does not
    use (e.g. calling ``bwkit.hw.ridge_point`` to answer "write ridge_point") are flagged for review, as are cells
    that touch the check machinery; flags never change a score.

Not a sandbox: the kernel gets a reduced environment (no instructor tokens) and a fresh IPython profile (no
startup scripts or history shared between students), but student code runs with the instructor's user rights and
could read files by absolute path or alter the installed packages. For untrusted classes run the grader in a
container or a throw-away account. Taught nowhere: this is the instructor's tool (README, "Grading a class").
"""

from __future__ import annotations

import ast
import copy
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from bwkit.kit import notebooks

__all__ = [
    "GradingError",
    "GradeOptions",
    "Submission",
    "GradingCopy",
    "ExerciseResult",
    "StudentResult",
    "ClassReport",
    "find_lab",
    "find_submissions",
    "read_submission",
    "build_grading_copy",
    "grade_submission",
    "grade",
    "write_reports",
    "register_cli",
]

_NBVAL_MARKER = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MAX_OUTPUT = 3000
_GRACE_S = 15.0  # nbval: interrupt, then up to 5 s waiting for output, twice
_MAX_ATTEMPTS = 4
_STUDENT_ROLES = ("solution", "extra")
# The kernel sees only these variables (no instructor tokens): locale, paths, Python/CUDA/Triton/bwkit settings.
_ENV_KEEP = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TMPDIR", "TERM", "VIRTUAL_ENV",
             "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME"}
_ENV_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "TRITON_", "BWKIT_", "TORCH_", "CONDA_", "XDG_")
_SIGNALS = {signal.SIGKILL: "SIGKILL (killed: out of memory, or the wall-clock limit)",
            signal.SIGSEGV: "SIGSEGV (segmentation fault)", signal.SIGABRT: "SIGABRT (abort)",
            signal.SIGXCPU: "SIGXCPU (the CPU-time limit)", signal.SIGBUS: "SIGBUS (bus error)",
            signal.SIGFPE: "SIGFPE (arithmetic fault)", signal.SIGTERM: "SIGTERM"}


class GradingError(ValueError):
    """Bad input for the whole run (unknown lab, missing or empty submissions folder); the message says what."""


@dataclass(frozen=True)
class GradeOptions:
    """Limits of one student run: per-cell `timeout` (s), `memory_gib` (RLIMIT_AS), `cpu_seconds` (RLIMIT_CPU)."""

    timeout: float = 120.0
    memory_gib: float = 8.0
    cpu_seconds: float = 600.0

    def __post_init__(self):
        for name in ("timeout", "memory_gib", "cpu_seconds"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v <= 0:
                raise ValueError(f"GradeOptions.{name} must be a positive number, got {v!r}")


@dataclass
class Submission:
    """One student: id, the notebook found (or None) and why it cannot be graded (`problem`), ignored files."""

    student: str
    path: Path | None
    problem: str | None = None
    ignored: list[str] = field(default_factory=list)


@dataclass
class GradingCopy:
    """The notebook actually run, the id -> (exercise, role) map, and notes/flags for the feedback."""

    nb: object
    cells: dict[str, tuple[str | None, str]]
    notes: list[str]
    flags: dict[str, list[str]]
    attempted: dict[str, bool]


@dataclass
class ExerciseResult:
    """Score of one exercise: `status` is passed, check failed, error, timeout, crashed, not attempted or not run."""

    id: str
    title: str
    points: float
    max_points: float
    status: str
    detail: str = ""
    flags: list[str] = field(default_factory=list)


@dataclass
class StudentResult:
    """One row of grades.csv plus what goes into the student's feedback file."""

    student: str
    notebook: str | None
    exercises: list[ExerciseResult]
    notes: list[str]
    seconds: float = 0.0
    runs: int = 0

    @property
    def total(self) -> float:
        """Points scored over all exercises."""
        return sum(e.points for e in self.exercises)


@dataclass
class ClassReport:
    """Everything `grade` produced: the lab, its exercises, one result per student, and the output folder."""

    lab: str
    exercises: list[notebooks.Exercise]
    students: list[StudentResult]
    out: Path | None
    seconds: float = 0.0

    @property
    def max_points(self) -> float:
        """Points available in the lab."""
        return sum(e.points for e in self.exercises)


# ----------------------------------------------------------------------------------------------- finding inputs


def _repo_solutions() -> Path:
    return Path(__file__).resolve().parents[2] / "solutions"


def find_lab(lab: str, solutions: str | Path | None = None) -> Path:
    """Return the solution notebook for `lab` ('00', '0', '00_hardware_roofline' or a path to an .ipynb).

    `solutions` defaults to ./solutions when it exists, else the kit's own solutions/ folder.
    Raises `GradingError` listing the labs available.
    """
    if not isinstance(lab, str) or not lab.strip():
        raise GradingError(f"--lab must name a lab such as '00', got {lab!r}")
    lab = lab.strip()
    p = Path(lab)
    if p.suffix == ".ipynb":
        if p.is_file():
            return p
        raise GradingError(f"no solution notebook at {p}")
    if solutions is None:
        solutions = Path("solutions") if Path("solutions").is_dir() else _repo_solutions()
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise GradingError(f"no solutions folder at {solutions} (pass --solutions DIR)")
    available = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    key = lab.removesuffix(".ipynb")
    if key.isdigit():
        key = f"{int(key):02d}"
    for path in available:
        if path.stem == key or path.stem.split("_", 1)[0] == key:
            return path
    names = ", ".join(a.stem for a in available) or "none"
    raise GradingError(f"unknown lab {lab!r}: the labs in {solutions} are {names}")


def _skip(p: Path) -> bool:
    return p.name.startswith(".") or p.name in ("__pycache__", ".ipynb_checkpoints")


def _pick_notebook(folder: Path, lab_stem: str) -> tuple[Path | None, str | None]:
    found = sorted(
        (q for q in folder.rglob("*.ipynb")
         if q.is_file() and not any(_skip(Path(part)) for part in q.relative_to(folder).parts)),
        key=lambda q: (len(q.relative_to(folder).parts), str(q)))
    if not found:
        return None, f"no notebook in {folder.name}/ (expected {lab_stem}.ipynb)"
    exact = [q for q in found if q.stem == lab_stem]
    if exact:
        return exact[0], None
    number = lab_stem.split("_", 1)[0]
    numbered = [q for q in found if q.stem.startswith(number)]
    if len(numbered) == 1:
        return numbered[0], None
    if len(found) == 1:
        return found[0], None
    names = ", ".join(str(q.relative_to(folder)) for q in (numbered or found))
    return None, f"several notebooks in {folder.name}/ ({names}): name the one to grade {lab_stem}.ipynb"


def _student_from_file(stem: str, lab_stem: str) -> str:
    if stem.endswith(lab_stem) and stem != lab_stem:
        return stem[: -len(lab_stem)].rstrip("_-. ") or stem
    if "__" in stem:
        return stem.split("__", 1)[0] or stem
    return stem


def find_submissions(root: str | Path, lab_stem: str) -> list[Submission]:
    """List the submissions in `root` (layout in the module docstring), sorted by student id.

    Raises `GradingError` when `root` is not a folder or holds no submission.
    """
    root = Path(root)
    if not root.is_dir():
        raise GradingError(f"submissions folder {root} does not exist or is not a folder")
    subs: list[Submission] = []
    for entry in sorted(root.iterdir()):
        if _skip(entry):
            continue
        if entry.is_dir():
            path, problem = _pick_notebook(entry, lab_stem)
            ignored = sorted(str(q.relative_to(entry)) for q in entry.rglob("*")
                             if q.is_file() and q != path and not _skip(q))
            subs.append(Submission(entry.name, path, problem, ignored))
        elif entry.suffix == ".ipynb":
            subs.append(Submission(_student_from_file(entry.stem, lab_stem), entry))
    if not subs:
        raise GradingError(f"no submissions in {root}: expected one folder per student holding {lab_stem}.ipynb, "
                           f"or files named <student>.ipynb / <student>_{lab_stem}.ipynb")
    seen: dict[str, int] = {}
    for s in subs:
        n = seen.get(s.student, 0) + 1
        seen[s.student] = n
        if n > 1:
            s.student = f"{s.student}-{n}"
    return sorted(subs, key=lambda s: s.student)


def read_submission(path: Path):
    """Read a student notebook; raises `GradingError` with a clear message when it is not a readable notebook."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GradingError(f"cannot read {Path(path).name}: {e}") from e
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises JSON, validation and version errors
        raise GradingError(f"{Path(path).name} is not a readable notebook ({type(e).__name__}: {e})") from e
    if not isinstance(nb.get("cells"), list):
        raise GradingError(f"{Path(path).name} has no list of cells")
    return nb


# ----------------------------------------------------------------------------------------- the grading copy


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


_MACHINERY = re.compile(r"\b(bwkit\.checks|CheckFailure|builtins|sys\.modules|__import__|importlib|"
                        r"os\._exit|sys\.exit|signal\.)")


def _flags_for(student_src: str, official_src: str, aliases: dict[str, str]) -> list[str]:
    flags = []
    extra = sorted(_bwkit_names(student_src, aliases) - _bwkit_names(official_src, aliases))
    extra = [n for n in extra if not n.startswith("bwkit.kit.checks")]
    if extra:
        flags.append(f"uses {', '.join(extra)}, which the official solution does not: check that the answer "
                     "is the student's own work (no points were taken off)")
    hits = sorted(set(_MACHINERY.findall(student_src)))
    if hits:
        flags.append(f"touches the grading machinery ({', '.join(hits)}): review by hand")
    return flags


def build_grading_copy(student_nb, solution_nb, solution_path: str | Path = "<solution>") -> GradingCopy:
    """Build the notebook to run for one student (rules in the module docstring).

    `student_nb` is the student's notebook (any nbformat-4 node), `solution_nb` the official solution.
    """
    exs = notebooks.exercises(solution_nb, solution_path)
    lab = notebooks.lab_from_solution(solution_nb, solution_path)
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

    # Student code cells added inside an exercise (after its solution, before its check) are graded with it.
    extras: dict[str, list[str]] = {}
    ignored_added = 0
    current = None
    for c in student_nb.get("cells", []):
        if not isinstance(c, dict):
            continue
        cid = c.get("id")
        m = _bw(c)
        if cid not in official_ids and not m and _norm(_src(c)) in official_src:
            cid = official_src[_norm(_src(c))]  # an official cell that lost its id (old nbformat)
        if cid in official_ids or (m.get("exercise") and m.get("role") in notebooks.ROLES):
            ex, role = role_of.get(cid, (m.get("exercise"), m.get("role")))
            current = ex if role in ("solution", "hint") else None
            continue
        if c.get("cell_type") != "code" or not _src(c).strip():
            continue
        if current is not None:
            extras.setdefault(current, []).append(_strip_markers(_src(c)))
        else:
            ignored_added += 1

    notes: list[str] = []
    if ignored_added:
        notes.append(f"{ignored_added} code cell(s) you added outside an exercise were not run (only cells "
                     "between an exercise's solution and its check are graded with it)")
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
            student = by_id.get(cid)
            if student is not None and student.get("cell_type") != cell.cell_type:
                student = None
            if student is None:
                cands = [c for c in by_meta.get((ex, role), []) if c.get("cell_type") == cell.cell_type]
                student = cands[k] if k < len(cands) else None
            if student is None:
                notes.append(f"exercise {ex}: your solution cell is missing; the empty exercise was graded")
            else:
                src = _strip_markers(_src(student))
                tags = student.get("metadata", {}).get("tags") if isinstance(student.get("metadata"), dict) else None
                if src != _src(student) or (isinstance(tags, list) and any(
                        isinstance(t, str) and t.startswith(("nbval", "raises-exception")) for t in tags)):
                    notes.append(f"exercise {ex}: nbval markers/tags in your solution cell were ignored")
                new.source = src
                new.metadata = _clean_tags(new.metadata)
                if _norm(src) != _norm(cell.source):
                    attempted[ex] = True
                    if cell.cell_type == "code":
                        flags[ex] += [f for f in _flags_for(src, sol_src.get(cid, ""), aliases)
                                      if f not in flags[ex]]
            cells[cid] = (ex, "solution" if new.cell_type == "code" else "markdown-solution")
            out_cells.append(new)
            if new.cell_type == "code" and k + 1 == sum(1 for c in lab.cells if _bw(c).get("exercise") == ex
                                                         and _bw(c).get("role") == "solution"):
                for j, src in enumerate(extras.get(ex, [])):
                    xid = f"extra-{re.sub(r'[^A-Za-z0-9]', '-', ex)}-{j}"
                    extra_cell = nbformat.v4.new_code_cell(src, id=xid)
                    extra_cell.metadata["bwkit"] = {"exercise": ex, "role": "extra"}
                    cells[xid] = (ex, "extra")
                    out_cells.append(extra_cell)
                    attempted[ex] = True
                    flags[ex] += [f for f in _flags_for(src, sol_src.get(cid, ""), aliases) if f not in flags[ex]]
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


# ------------------------------------------------------------------------------------------- running a copy


def _kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


@dataclass
class _RunLog:
    events: list[dict]
    rc: int | None
    wall_limited: bool
    log_tail: str


def _run_copy(nb, opts: GradeOptions) -> _RunLog:
    """Run one grading copy in a fresh temp folder through the worker (`_worker_main` in a fresh Python)."""
    tmp = Path(tempfile.mkdtemp(prefix="bwkit-grade-"))
    try:
        work, cfg = tmp / "nb", tmp / "cfg"
        work.mkdir()
        cfg.mkdir()
        (work / "lab.ipynb").write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
        ini = cfg / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        n_code = sum(1 for c in nb.cells if c.cell_type == "code")
        wall = 120.0 + n_code * (opts.timeout + _GRACE_S)
        args = ["-q", "-p", "nbval.plugin", "-p", "no:cacheprovider", "--noconftest", "-c", str(ini),
                "--rootdir", str(work), "--confcutdir", str(work), "--nbval-lax", "--nbval-current-env",
                f"--nbval-cell-timeout={opts.timeout:g}", "--nbval-kernel-startup-timeout=60",
                "-W", "ignore", "--color=no", "-o", "console_output_style=classic", str(work / "lab.ipynb")]
        env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP or k.startswith(_ENV_PREFIXES)}
        runtime = tmp / "runtime"
        runtime.mkdir()
        env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0",
                   MALLOC_ARENA_MAX="2", JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1",
                   IPYTHONDIR=str(tmp / "ipython"))  # no shared IPython profile: no startup scripts, no history
        rfd, wfd = os.pipe()
        log = open(tmp / "pytest.log", "w+b")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-c", _WORKER_BOOT, "--worker", str(wfd), f"{opts.timeout + _GRACE_S:g}",
               str(int(opts.memory_gib * 2**30)), str(int(opts.cpu_seconds)), "--", *args]
        try:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, pass_fds=(wfd,), start_new_session=True)
        finally:
            os.close(wfd)
        events: list[dict] = []

        def reader():
            with os.fdopen(rfd, "r", encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        ev = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(ev, dict):
                        events.append(ev)

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        wall_limited = False
        try:
            rc = proc.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            wall_limited = True
            _kill_group(proc.pid)
            rc = proc.wait()
        for ev in list(events):
            if ev.get("event") == "kernel":
                _kill_group(ev.get("pid"))
        _kill_group(proc.pid)
        th.join(timeout=10)
        log.seek(0)
        tail = log.read()[-4000:].decode("utf-8", "replace")
        log.close()
        return _RunLog(events, rc, wall_limited, _ANSI.sub("", tail))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fatal(run: _RunLog, cellmap: dict[str, tuple[str | None, str]]) -> tuple[str | None, str] | None:
    """(cell id, reason) of the cell that killed the run, or None when the run ended normally."""
    ends = {}
    order = []
    for ev in run.events:
        if ev.get("event") == "start":
            order.append(ev.get("id"))
        elif ev.get("event") == "end":
            ends[ev.get("id")] = ev
            if not ev.get("kernel_alive", True):
                return ev.get("id"), ev.get("death") or "the kernel died"
            ex, role = cellmap.get(ev.get("id"), (None, "lab"))
            if ev.get("ename") == "MemoryError" and role in ("solution", "extra", "check"):
                return ev.get("id"), "MemoryError: the cell ran out of memory (limit per student run)"
    for cid in reversed(order):
        if cid not in ends:
            why = ("the run exceeded its wall-clock limit" if run.wall_limited
                   else f"the grading process died (exit code {run.rc})")
            return cid, why
    if run.rc not in (0, 1) and not ends:
        return None, f"pytest could not run the notebook (exit code {run.rc}): {run.log_tail[-600:]}"
    return None


def _blame(run: _RunLog, cell: str | None, cellmap) -> str | None:
    """The exercise to hold responsible for a fatal event in `cell`."""
    if cell is None:
        return None
    ex, role = cellmap.get(cell, (None, "lab"))
    if ex is not None and role in ("solution", "extra", "check"):
        return ex
    last = None
    for ev in run.events:
        if ev.get("event") != "start":
            continue
        if ev.get("id") == cell:
            return last
        e2, r2 = cellmap.get(ev.get("id"), (None, "lab"))
        if r2 in _STUDENT_ROLES:
            last = e2
    return last


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def _score(exs, gc: GradingCopy, results: dict[str, dict], crashed: dict[str, str],
           stopped: str | None) -> list[ExerciseResult]:
    out = []
    for e in exs:
        ids = [cid for cid, (ex, role) in gc.cells.items() if ex == e.id and role in ("solution", "extra")]
        check = results.get(e.check_cell)
        base = dict(id=e.id, title=e.title, max_points=e.points, points=0.0, flags=list(gc.flags[e.id]))
        if e.id in crashed:
            out.append(ExerciseResult(status="crashed", detail=crashed[e.id], **base))
            continue
        if not gc.attempted[e.id]:
            out.append(ExerciseResult(status="not attempted", detail="the exercise cell still holds the lab stub",
                                      **base))
            continue
        missing = [cid for cid in ids + [e.check_cell] if cid not in results]
        if missing:
            why = stopped or "the run stopped before it"
            out.append(ExerciseResult(status="not run", detail=f"could not run: {why}", **base))
            continue
        bad = [results[cid] for cid in ids if results[cid]["outcome"] != "passed"]
        check_text = (check or {}).get("output", "")
        if bad:
            r = bad[0]
            status = "timeout" if r.get("timeout") else "error"
            msg = (f"your code ran past the {r.get('timeout_s', 0):g} s cell timeout" if r.get("timeout")
                   else f"your code raised {_last_line(r.get('error', '')) or r.get('message', 'an error')}")
            detail = msg + (f"\n\nCheck output:\n{check_text}" if check_text.strip() else "")
            out.append(ExerciseResult(status=status, detail=detail, **base))
        elif check["outcome"] != "passed":
            status = "timeout" if check.get("timeout") else "check failed"
            detail = check_text.strip() or check.get("error", "") or check.get("message", "")
            if check.get("timeout"):
                detail = f"the check ran past the cell timeout\n{detail}"
            out.append(ExerciseResult(status=status, detail=detail, **base))
        else:
            base["points"] = e.points
            out.append(ExerciseResult(status="passed", detail=check_text.strip(), **base))
    return out


def grade_submission(sub: Submission, solution_nb, solution_path: Path, opts: GradeOptions) -> StudentResult:
    """Grade one submission; never raises (a grader failure becomes a 0 row with the reason in `notes`)."""
    t0 = time.monotonic()
    exs = notebooks.exercises(solution_nb, solution_path)
    name = str(sub.path.name) if sub.path else None

    def zero(status: str, why: str, notes: list[str]) -> StudentResult:
        rows = [ExerciseResult(e.id, e.title, 0.0, e.points, status, why) for e in exs]
        return StudentResult(sub.student, name, rows, notes, time.monotonic() - t0, 0)

    notes = []
    if sub.ignored:
        shown = ", ".join(sub.ignored[:8]) + (" ..." if len(sub.ignored) > 8 else "")
        notes.append(f"other files in your folder were ignored: {shown}")
    if sub.problem or sub.path is None:
        return zero("not run", sub.problem or "no notebook", [sub.problem or "no notebook"] + notes)
    try:
        student_nb = read_submission(sub.path)
    except GradingError as e:
        return zero("not run", str(e), [str(e)] + notes)
    try:
        gc = build_grading_copy(student_nb, solution_nb, solution_path)
        lab = notebooks.lab_from_solution(solution_nb, solution_path)
        notes += gc.notes
        crashed: dict[str, str] = {}
        results: dict[str, dict] = {}
        stopped = None
        runs = 0
        for _ in range(_MAX_ATTEMPTS):
            nb = _neutralize(gc, lab, set(crashed)) if crashed else gc.nb
            run = _run_copy(nb, opts)
            runs += 1
            for ev in run.events:
                if ev.get("event") == "end" and ev.get("id") in gc.cells:
                    ex = gc.cells[ev["id"]][0]
                    if ex not in crashed:
                        results[ev["id"]] = ev
            fatal = _fatal(run, gc.cells)
            if fatal is None:
                stopped = None
                break
            cell, why = fatal
            ex = _blame(run, cell, gc.cells)
            if ex is None or ex in crashed:
                stopped = why if cell is None else f"{why} in a lab cell ({cell})"
                notes.append(f"grading stopped early: {stopped}")
                break
            where = gc.cells.get(cell, (None, "lab"))[1]
            place = {"solution": "your solution cell", "extra": "a cell you added",
                     "check": "the check cell (calling your code)"}.get(where, f"the lab cell {cell} after it")
            crashed[ex] = f"{why} while running {place}; the other exercises were graded without it"
            for cid, (e2, _) in gc.cells.items():
                if e2 == ex:
                    results.pop(cid, None)
            remaining = [e for e in exs if e.id not in crashed and any(
                cid not in results for cid, (e2, r) in gc.cells.items()
                if e2 == e.id and r in ("solution", "extra", "check"))]
            if not remaining:
                break
        rows = _score(exs, gc, results, crashed, stopped)
        return StudentResult(sub.student, name, rows, notes, time.monotonic() - t0, runs)
    except Exception as e:  # the grader must never lose a student
        import traceback

        tb = traceback.format_exc(limit=3)
        return zero("not run", f"grader error: {type(e).__name__}: {e}", notes + [f"grader error:\n{tb}"])


# ------------------------------------------------------------------------------------------------- reporting


def _md_escape(s: str) -> str:
    return s.replace("```", "'''")


def _feedback(res: StudentResult, lab: str, max_points: float) -> str:
    lines = [f"# Lab {lab}: {res.student}, {res.total:g} / {max_points:g} points", ""]
    if res.notebook:
        lines.append(f"Notebook graded: `{res.notebook}`")
        lines.append("")
    if res.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in res.notes] + [""]
    for e in res.exercises:
        mark = "✅" if e.status == "passed" else "❌"
        lines += [f"## {e.id} {e.title}: {e.points:g} / {e.max_points:g} {mark} ({e.status})", ""]
        if e.detail.strip():
            lines += ["```", _md_escape(e.detail.strip()), "```", ""]
        for f in e.flags:
            lines.append(f"- ⚠️ flagged: {f}")
        if e.flags:
            lines.append("")
    return "\n".join(lines)


def _safe_name(student: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", student).strip("._") or "student"


def write_reports(report: ClassReport, out: str | Path) -> Path:
    """Write grades.csv, feedback/<student>.md, summary.md and score_distribution.png into `out`."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    ids = [e.id for e in report.exercises]
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student"] + ids + ["total", "max", "notes"])
        for s in report.students:
            pts = {e.id: e.points for e in s.exercises}
            w.writerow([s.student] + [f"{pts.get(i, 0):g}" for i in ids]
                       + [f"{s.total:g}", f"{report.max_points:g}", " | ".join(n.splitlines()[0] for n in s.notes)])
    for s in report.students:
        (out / "feedback" / f"{_safe_name(s.student)}.md").write_text(
            _feedback(s, report.lab, report.max_points), encoding="utf-8")
    totals = [s.total for s in report.students]
    n = len(totals)
    lines = [f"# Lab {report.lab}: class summary", "",
             f"{n} submission(s), {report.max_points:g} points available, graded in {report.seconds:.0f} s "
             "(wall time on the grading machine).", ""]
    if n:
        srt = sorted(totals)
        median = srt[n // 2] if n % 2 else (srt[n // 2 - 1] + srt[n // 2]) / 2
        lines += [f"Mean {sum(totals) / n:.2f}, median {median:g}, min {srt[0]:g}, max {srt[-1]:g}.", "",
                  "![score distribution](score_distribution.png)", "",
                  "| exercise | points | mean | full marks | crashed / timeout | not attempted | flagged |",
                  "|---|---|---|---|---|---|---|"]
        for e in report.exercises:
            rows = [x for s in report.students for x in s.exercises if x.id == e.id]
            lines.append(
                f"| {e.id} {e.title} | {e.points:g} | {sum(x.points for x in rows) / n:.2f} "
                f"| {sum(x.status == 'passed' for x in rows)} "
                f"| {sum(x.status in ('crashed', 'timeout') for x in rows)} "
                f"| {sum(x.status == 'not attempted' for x in rows)} | {sum(bool(x.flags) for x in rows)} |")
        flagged = [(s.student, x) for s in report.students for x in s.exercises if x.flags]
        if flagged:
            lines += ["", "## Flagged for review", ""]
            lines += [f"- {st}, {x.id}: {'; '.join(x.flags)}" for st, x in flagged]
        trouble = [s for s in report.students if s.notes]
        if trouble:
            lines += ["", "## Notes per student", ""]
            lines += [f"- {s.student}: {' | '.join(n.splitlines()[0] for n in s.notes)}" for s in trouble]
        _plot(totals, report, out / "score_distribution.png")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _plot(totals: list[float], report: ClassReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    top = report.max_points
    bins = np.arange(0, top + 1.5) - 0.5 if top <= 40 else 20
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(totals, bins=bins, color="#76b900", edgecolor="black")
    ax.set_xlabel(f"total points (out of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Lab {report.lab}: score distribution ({len(totals)} submissions)")
    ax.set_xlim(-0.5, top + 0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def grade(
    submissions: str | Path,
    lab: str,
    *,
    solutions: str | Path | None = None,
    out: str | Path | None = None,
    workers: int = 2,
    options: GradeOptions | None = None,
    progress: bool = True,
) -> ClassReport:
    """Grade every submission in `submissions` against lab `lab` and (when `out` is given) write the reports.

    `workers` submissions run at once; `options` sets the per-run limits. Raises `GradingError` for an unknown
    lab or an empty/missing submissions folder; problems with single submissions become rows, never errors.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    options = options or GradeOptions()
    import importlib.util

    missing = [m for m in ("pytest", "nbval", "ipykernel", "jupyter_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise GradingError(f"bwkit grade needs {', '.join(missing)}: install the test extra "
                           "(pip install -e '.[test]')")
    t0 = time.monotonic()
    sol_path = find_lab(lab, solutions)
    try:
        solution_nb = nbformat.read(sol_path, as_version=4)
        exs = notebooks.exercises(solution_nb, sol_path)
    except notebooks.LabBuildError as e:
        raise GradingError(f"the official notebook is not gradable: {e}") from e
    except Exception as e:
        raise GradingError(f"cannot read the official notebook {sol_path}: {e}") from e
    if not exs:
        raise GradingError(f"{sol_path} has no exercises to grade")
    subs = find_submissions(submissions, sol_path.stem)
    done = [0]
    lock = threading.Lock()

    def one(sub: Submission) -> StudentResult:
        try:
            res = grade_submission(sub, solution_nb, sol_path, options)
        except BaseException as e:  # grade_submission catches everything; this is the last safety net
            rows = [ExerciseResult(x.id, x.title, 0.0, x.points, "not run", f"grader error: {e!r}") for x in exs]
            res = StudentResult(sub.student, None, rows, [f"grader error: {e!r}"])
        with lock:
            done[0] += 1
            if progress:
                print(f"[{done[0]}/{len(subs)}] {res.student}: {res.total:g}/{sum(e.points for e in exs):g} "
                      f"({res.seconds:.1f} s, {res.runs} run(s))", file=sys.stderr, flush=True)
        return res

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, subs))
    report = ClassReport(sol_path.stem.split("_", 1)[0], exs, results, Path(out) if out else None,
                         time.monotonic() - t0)
    if out is not None:
        write_reports(report, out)
    return report


# ------------------------------------------------------------------------------------------------------- CLI


def register_cli(subparsers) -> None:
    """Add the `grade` subcommand to the `bwkit` command's subparsers."""
    g = subparsers.add_parser(
        "grade", help="grade a class's lab notebooks exercise by exercise",
        description="Grade every submission in SUBMISSIONS_DIR (one folder per student, or <student>.ipynb "
                    "files) against a lab; writes grades.csv, feedback/<student>.md and summary.md.")
    g.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    g.add_argument("--lab", required=True, help="lab number or name, e.g. 00 or 00_hardware_roofline")
    g.add_argument("--out", default=None, help="output folder (default: grades-<lab>)")
    g.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    g.add_argument("--timeout", type=float, default=120.0, help="per-cell timeout in seconds (default 120)")
    g.add_argument("--memory-gib", type=float, default=8.0, help="address-space limit per run (default 8)")
    g.add_argument("--cpu-limit", type=float, default=600.0, help="CPU seconds per kernel (default 600)")
    g.add_argument("--solutions", default=None, help="folder of solution notebooks (default: solutions/)")
    g.set_defaults(func=_cmd_grade)


def _cmd_grade(args) -> int:
    try:
        opts = GradeOptions(args.timeout, args.memory_gib, args.cpu_limit)
        if args.workers < 1:
            raise GradingError(f"--workers must be >= 1, got {args.workers}")
        lab_path = find_lab(args.lab, args.solutions)
        out = Path(args.out) if args.out else Path(f"grades-{lab_path.stem.split('_', 1)[0]}")
        report = grade(args.submissions, args.lab, solutions=args.solutions, out=out, workers=args.workers,
                       options=opts)
    except (GradingError, ValueError) as e:
        print(f"grade: {e}", file=sys.stderr)
        return 2
    print(f"graded {len(report.students)} submission(s) of lab {report.lab} in {report.seconds:.0f} s: "
          f"{out / 'grades.csv'}, {out / 'summary.md'}, {out / 'feedback'}/")
    return 0


# ---------------------------------------------------------------------------- the worker (runs pytest + nbval)


class _KernelGone(RuntimeError):
    """Raised inside nbval's wait when the kernel process is dead or was killed at the hard deadline."""


def _outputs_of(item) -> tuple[str, str, str]:
    """(printed text, 'Error: message', error name) of an nbval item's captured outputs."""
    text, error, ename = [], "", ""
    for out in getattr(item, "test_outputs", None) or []:
        kind = out.get("output_type")
        if kind == "stream":
            text.append(out.get("text", ""))
        elif kind in ("display_data", "execute_result"):
            text.append(str(out.get("data", {}).get("text/plain", "")) + "\n")
        elif kind == "error":
            ename = out.get("ename", "")
            error = f"{ename}: {out.get('evalue', '')}"
    joined = _ANSI.sub("", "".join(text))
    if len(joined) > _MAX_OUTPUT:
        joined = joined[: _MAX_OUTPUT // 2] + "\n[... output cut ...]\n" + joined[-_MAX_OUTPUT // 2:]
    return joined, _ANSI.sub("", error)[:_MAX_OUTPUT], ename


def _make_plugin(fd: int, hard_limit: float):
    """The worker's pytest plugin: kernel liveness watchdog, hard per-cell deadline, events to a private pipe."""
    from queue import Empty

    import pytest
    from nbval import kernel as nbk

    class WatchdogPlugin:
        def __init__(self):
            self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
            self.deadline: float | None = None
            self.proc = None  # the kernel's Popen
            self.death: str | None = None
            self.t0 = 0.0

        def emit(self, **ev) -> None:
            try:
                self._out.write(json.dumps(ev, ensure_ascii=False) + "\n")
                self._out.flush()
            except (OSError, ValueError):
                pass

        def describe_death(self) -> str:
            rc = self.proc.poll() if self.proc is not None else None
            if rc is None:
                return "the kernel died"
            if rc < 0:
                try:
                    sig = signal.Signals(-rc)
                except ValueError:
                    return f"the kernel was killed by signal {-rc}"
                return f"the kernel was killed by {_SIGNALS.get(sig, sig.name)}"
            return f"the kernel exited with code {rc} (os._exit or sys.exit outside the main thread?)"

        def pytest_configure(self, config) -> None:
            plugin = self
            orig_init, orig_get = nbk.RunningKernel.__init__, nbk.RunningKernel.get_message

            def init(k, *a, **kw):
                orig_init(k, *a, **kw)
                plugin.proc = getattr(getattr(k.km, "provisioner", None), "process", None)
                plugin.emit(event="kernel", pid=getattr(plugin.proc, "pid", None))

            def get_message(k, stream, timeout=None):
                end = None if timeout is None else time.monotonic() + timeout
                while True:
                    now = time.monotonic()
                    if plugin.deadline is not None and now > plugin.deadline:
                        plugin.death = (f"the cell was still running {hard_limit:g} s after it started (it "
                                        "ignored the timeout's interrupt); the kernel was killed")
                        km = getattr(k, "km", None)
                        if km is not None:
                            km.shutdown_kernel(now=True)
                        raise _KernelGone(plugin.death)
                    step = 0.2 if end is None else max(0.0, min(0.2, end - now))
                    try:
                        return orig_get(k, stream, timeout=step)
                    except Empty:
                        km = getattr(k, "km", None)
                        if km is not None and not km.is_alive():
                            plugin.death = plugin.describe_death()
                            raise _KernelGone(plugin.death) from None
                        if end is not None and time.monotonic() >= end:
                            raise

            nbk.RunningKernel.__init__ = init
            nbk.RunningKernel.get_message = get_message

        def pytest_runtest_protocol(self, item, nextitem):
            cell = getattr(item, "cell", None)
            self.emit(event="start", id=cell.get("id") if cell is not None else None)
            self.t0 = time.monotonic()
            self.death = None

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            # the hard deadline covers the cell's execution only (not the kernel start in the first setup)
            self.deadline = time.monotonic() + hard_limit
            try:
                yield
            finally:
                self.deadline = None

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(self, item, call):
            yield
            if call.when == "teardown" or (call.when == "setup" and call.excinfo is None):
                return
            exc = call.excinfo.value if call.excinfo is not None else None
            if isinstance(exc, pytest.skip.Exception):
                outcome = "skipped"
            elif exc is None:
                outcome = "passed"
            else:
                outcome = "failed" if call.when == "call" else "setup-error"
            text, error, ename = _outputs_of(item)
            message = _ANSI.sub("", str(exc))[:_MAX_OUTPUT] if exc is not None else ""
            km = getattr(getattr(getattr(item, "parent", None), "kernel", None), "km", None)
            alive = bool(km is not None and km.is_alive())
            timed_out = "Timeout" in message and "exceeded" in message
            death = None
            if outcome == "setup-error":
                death = f"the kernel could not start: {message[:400]}"
            elif not alive:
                death = self.death or (
                    "the cell ignored the timeout's interrupt; the kernel was stopped" if timed_out
                    else self.describe_death())
            cell = getattr(item, "cell", None)
            self.emit(event="end", id=cell.get("id") if cell is not None else None, outcome=outcome,
                      output=text, error=error, ename=ename, message=message, kernel_alive=alive, death=death,
                      timeout=timed_out, timeout_s=item.config.option.nbval_cell_timeout,
                      seconds=round(time.monotonic() - self.t0, 3))
            if not alive or ename == "MemoryError":
                item.session.shouldstop = death or "MemoryError"

    return WatchdogPlugin()


# jsonschema (via nbformat) imports the optional rfc3987_syntax, whose grammar takes ~1.5 s CPU to build;
# nbformat's schema never uses it, so the worker blocks it: a third of each run's start-up cost.
_WORKER_BOOT = ("import sys; sys.modules['rfc3987_syntax'] = None; from bwkit.kit.grading import _worker_main; "
                "sys.exit(_worker_main(sys.argv[1:]))")


def _worker_main(argv: list[str]) -> int:
    """`--worker FD HARD_LIMIT MEM_BYTES CPU_S -- PYTEST_ARGS`: the worker started by `_run_copy`.

    Sets the memory/CPU limits on itself first: the kernel nbval starts inherits them.
    """
    if len(argv) < 6 or argv[0] != "--worker" or argv[5] != "--":
        print("internal entry point of `bwkit grade`; use `bwkit grade` instead", file=sys.stderr)
        return 2
    import resource

    mem, cpu = int(argv[3]), int(argv[4])
    # CUDA reserves tens of GiB of address space (PROT_NONE) at initialisation, which RLIMIT_AS would refuse:
    # with an NVIDIA driver present the limit is on the data segment (heap and private writable maps) instead.
    which = resource.RLIMIT_DATA if os.path.exists("/dev/nvidiactl") else resource.RLIMIT_AS
    resource.setrlimit(which, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import pytest

    return int(pytest.main(argv[6:], plugins=[_make_plugin(int(argv[1]), float(argv[2]))]))


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
