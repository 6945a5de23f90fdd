"""The labs inside an nbgrader course: ``bwkit nbgrader export COURSE_DIR [--lab 00 ...]``.

    bwkit nbgrader export course/ --lab 00     # course/source/00_hardware_roofline/00_hardware_roofline.ipynb, config
    bwkit nbgrader env                         # nbgrader NBGRADER_VERSION in its own venv (.venv-nbgrader/)
    cd course && ../.venv-nbgrader/bin/nbgrader generate_assignment 00_hardware_roofline   # then release, collect,
    ../.venv-nbgrader/bin/nbgrader autograde 00_hardware_roofline                          # autograde as usual

What the export writes (cell ids and ``metadata.bwkit`` are kept, so `bwkit grade` reads the same notebooks)
    * ``source/<lab>/<lab>.ipynb`` from ``solutions/<lab>.ipynb``, outputs cleared, with nbgrader cell metadata
      (schema 3): each exercise's solution cell is an *autograded answer* (``solution: true, grade: false``; the
      answer sits between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, nbgrader's own delimiters, which
      `nbgrader generate_assignment` replaces with its stub); each check cell is a locked *autograder test*
      (``grade: true, locked: true``) worth the exercise's points; every other cell is locked (read-only), so
      autograde restores it from the source, as `bwkit grade` does. ``grade_id`` is the kit's cell id.
    * ``jupyter/kernels/bwkit/kernel.json``: a kernel running the kit's Python (this process's, or ``--python``).
      The check cells import bwkit, and nbgrader may live in another environment (its pins need not match the
      kit's), so autograde must run this kernel, not its own ``python3``.
    * ``bwkit_nbgrader_config.py`` (rewritten by each export): ``Execute.kernel_name = "bwkit"``, the course's
      ``jupyter/`` put first on ``JUPYTER_PATH`` so that kernel is found, and a per-cell timeout for the CPU path.
    * ``nbgrader_config.py``: for a new course, the course root, its id and ``gradebook.db`` in the course folder,
      then a line loading ``bwkit_nbgrader_config.py``; an existing course's file only gets that line appended.

Scoring is the same as `bwkit grade` wherever a check decides (a stub, a wrong answer, a missing name all fail
the check cell). It differs where a solution cell raises *after* defining a right answer (`bwkit grade` gives 0,
nbgrader the points), and in trust: under nbgrader the check runs inside the student's kernel on the notebook's
fixed inputs, while `bwkit grade` draws fresh inputs and judges outside the kernel.
Taught nowhere: this is the instructor's tool (README, "Deployment: one machine, JupyterHub, or nbgrader").
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from bwkit.kit import commands, notebooks
from bwkit.kit.commands import install_once, reports

__all__ = ["NbgraderExportError", "NBGRADER_VERSION", "KERNEL_NAME", "nbgrader_notebook", "export_course",
           "env_path", "ensure_env", "register_cli"]

NBGRADER_VERSION = "0.9.6"
KERNEL_NAME = "bwkit"
CELL_TIMEOUT = 600  # seconds per cell under autograde: the CPU path of the later labs is slow (Triton interpreter)
_INCLUDE = "bwkit_nbgrader_config.py"


class NbgraderExportError(ValueError):
    """The export cannot proceed (unknown lab, a changed source notebook, a bad folder); the message says what."""


def _grade_id(cell_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", cell_id)


def nbgrader_notebook(solution_nb, path: str | Path = "<notebook>"):
    """The nbgrader source version of a solution notebook (a new object): nbgrader metadata on every cell."""
    exs = {e.id: e for e in notebooks.exercises(solution_nb, path)}  # validates the exercise conventions
    nb = copy.deepcopy(solution_nb)
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        m = cell.get("metadata", {}).get("bwkit", {}) or {}
        gid = _grade_id(cell.get("id") or f"cell-{i}")
        if gid in seen:
            raise NbgraderExportError(f"{path}: cell {i}: grade id {gid!r} is not unique (cell ids must be)")
        seen.add(gid)
        meta = {"grade": False, "solution": False, "locked": True, "task": False, "grade_id": gid,
                "schema_version": 3}
        role = m.get("role")
        if role == "solution":
            if cell.cell_type != "code":
                raise NbgraderExportError(
                    f"{path}: cell {i} (id {cell.get('id')}): a markdown solution cell has no nbgrader "
                    "counterpart graded by a check (nbgrader grades written answers by hand)")
            meta.update(solution=True, locked=False)
        elif role == "check":
            meta.update(grade=True, points=exs[m["exercise"]].points)
        if role in ("solution", "check"):
            tags = list(cell.metadata.get("tags", []))
            if notebooks.RUN_ALL_TAG not in tags:  # Run All goes on past a failing check, as in labs/
                cell.metadata["tags"] = tags + [notebooks.RUN_ALL_TAG]
        cell.metadata["nbgrader"] = meta
    return nb


def _kernel_json(python: str) -> str:
    spec = {"argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (Blackwell Lab Kit)", "language": "python", "metadata": {"debugger": True}}
    return json.dumps(spec, indent=1) + "\n"


_BWKIT_CONFIG = '''"""Blackwell Lab Kit settings of this nbgrader course (rewritten by each `bwkit nbgrader export`).

Autograde runs the kit's kernel (jupyter/kernels/{kernel}/kernel.json: the kit's Python), since the check cells
import bwkit and nbgrader may be installed in another environment.
"""

import os

c = get_config()  # noqa: F821 - provided by the config loader

_here = os.path.dirname(os.path.abspath(__file__))
_jupyter = os.path.join(_here, "jupyter")
_path = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != _jupyter]
os.environ["JUPYTER_PATH"] = os.pathsep.join([_jupyter, *_path])
c.Execute.kernel_name = "{kernel}"
c.Execute.timeout = {timeout}
'''

_NEW_CONFIG = '''"""nbgrader configuration of this course (written once by `bwkit nbgrader export`; edit it freely)."""

import os

c = get_config()  # noqa: F821 - provided by the config loader

_here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _here
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "gradebook.db")
'''

_INCLUDE_LINES = '''
# Blackwell Lab Kit: the kit's kernel and timeouts (bwkit nbgrader export)
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "{include}"))  # noqa: F821
'''


def _labs(labs: list[str] | None, solutions: str | Path | None) -> list[Path]:
    from bwkit.kit.grading.discovery import find_lab
    from bwkit.kit.grading.model import GradingError

    if not labs:
        found = notebooks.solution_notebooks(solutions or None)
        if not found:
            raise NbgraderExportError(f"no solution notebooks in {notebooks.solutions_dir(solutions or None)}")
        return found
    try:
        return [find_lab(lab, solutions) for lab in labs]
    except GradingError as e:
        raise NbgraderExportError(str(e)) from e


def export_course(course_dir: str | Path, labs: list[str] | None = None, *, solutions: str | Path | None = None,
                  python: str | None = None, course_id: str = "bwkit", force: bool = False) -> list[Path]:
    """Write the labs (default: every solution notebook) into the nbgrader course `course_dir`; return the files.

    A source notebook that exists with other content (an assignment already released) is replaced only with
    `force`. `python` is the interpreter of the kit's kernel (default: this one).
    """
    course = Path(course_dir)
    if course.exists() and not course.is_dir():
        raise NbgraderExportError(f"{course} exists and is not a folder")
    python = python or sys.executable
    if not Path(python).exists():
        raise NbgraderExportError(f"--python {python} does not exist")
    paths = _labs(labs, solutions)
    try:
        return _write_course(course, paths, python, course_id, force)
    except OSError as e:       # a file where a folder must be (COURSE_DIR's parent, nbgrader_config.py a folder)
        where = f" ({e.filename})" if e.filename else ""
        raise NbgraderExportError(f"cannot write the course {course}: {e.strerror or e}{where}") from e


def _write_course(course: Path, paths: list[Path], python: str, course_id: str, force: bool) -> list[Path]:
    written: list[Path] = []
    todo: list[tuple[Path, str]] = []
    for sol in paths:
        try:
            nb = nbgrader_notebook(nbformat.read(sol, as_version=4), sol)
        except notebooks.LabBuildError as e:
            raise NbgraderExportError(f"{sol} is not exportable: {e}") from e
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        dst = course / "source" / sol.stem / f"{sol.stem}.ipynb"
        if dst.exists() and dst.read_text(encoding="utf-8") != text and not force:
            raise NbgraderExportError(f"{dst} exists with other content (released already?): pass --force to "
                                      "replace it, then run `nbgrader generate_assignment --force`")
        todo.append((dst, text))
    for dst, text in todo:
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text, encoding="utf-8")
        written.append(dst)
    kdir = course / "jupyter" / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(_kernel_json(str(Path(python).absolute())), encoding="utf-8")
    written.append(kdir / "kernel.json")
    inc = course / _INCLUDE
    inc.write_text(_BWKIT_CONFIG.format(kernel=KERNEL_NAME, timeout=CELL_TIMEOUT), encoding="utf-8")
    written.append(inc)
    cfg = course / "nbgrader_config.py"
    if not cfg.exists():
        cfg.write_text(_NEW_CONFIG.format(course_id=course_id) + _INCLUDE_LINES.format(include=_INCLUDE),
                       encoding="utf-8")
        written.append(cfg)
    elif _INCLUDE not in cfg.read_text(encoding="utf-8"):
        with open(cfg, "a", encoding="utf-8") as f:
            f.write("\nimport os  # noqa: E402\n" + _INCLUDE_LINES.format(include=_INCLUDE))
        written.append(cfg)
    return written


# ------------------------------------------------------------------------------- nbgrader's own environment


def env_path() -> Path:
    """Where `ensure_env` builds nbgrader's venv: ``$BWKIT_NBGRADER_ENV`` or the kit's ``.venv-nbgrader/``."""
    return Path(os.environ.get("BWKIT_NBGRADER_ENV") or notebooks.REPO_ROOT / ".venv-nbgrader")


def ensure_env(path: str | Path | None = None, quiet: bool = True) -> Path:
    """Build (once) a venv holding nbgrader `NBGRADER_VERSION` from PyPI; return its ``bin/nbgrader``.

    Uses uv when the kit's venv has it (packages come from uv's cache after the first time), else venv + pip.
    The kit itself is not installed there: autograde runs the kit's kernel (see `export_course`).
    """
    path = Path(path) if path is not None else env_path()
    exe = path / "bin" / "nbgrader"
    stamp = path / f".installed-nbgrader-{NBGRADER_VERSION}"
    path.parent.mkdir(parents=True, exist_ok=True)

    def install() -> None:
        env = {**os.environ, "PIP_CONSTRAINT": "/dev/null"}  # some machines cap packages through a constraints file
        out = subprocess.DEVNULL if quiet else None
        uv = Path(sys.prefix) / "bin" / "uv"
        uv = str(uv) if uv.exists() else shutil.which("uv")
        py = str(path / "bin" / "python")
        if uv:
            steps = [[uv, "venv", "-q", "--allow-existing", "--python", sys.executable, str(path)],
                     [uv, "pip", "install", "-q", "--compile-bytecode", "--python", py,
                      f"nbgrader=={NBGRADER_VERSION}"]]
        else:
            steps = [[sys.executable, "-m", "venv", str(path)],
                     [py, "-m", "pip", "install", "-q", f"nbgrader=={NBGRADER_VERSION}"]]
        for cmd in steps:
            r = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise NbgraderExportError(f"building nbgrader's venv failed ({' '.join(cmd[:3])}...): "
                                          f"{r.stderr[-1500:]}")

    return install_once(exe, stamp, path.parent / f"{path.name}.lock", install)


# ------------------------------------------------------------------------------------------------------- CLI


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add `bwkit nbgrader export|env` to the bwkit command."""
    p = subparsers.add_parser("nbgrader", help="the labs as an nbgrader course; nbgrader's own venv")
    sub = p.add_subparsers(dest="nbgrader_cmd", required=True)
    e = commands.add_command(sub, "export", _cmd_export,
                             help="write the labs into an nbgrader course folder (source/<lab>/<lab>.ipynb)")
    e.add_argument("course_dir", metavar="COURSE_DIR")
    commands.add_lab_option(e, repeatable=True)
    commands.add_solutions_option(e)
    e.add_argument("--python", default=None, help="the kit's Python for the autograde kernel (default: this one)")
    e.add_argument("--course-id", default="bwkit", help="course id of a new course (default bwkit)")
    commands.add_force_option(e, "replace source notebooks that changed")
    where = "$BWKIT_NBGRADER_ENV, else the kit's .venv-nbgrader/"
    commands.add_install_command(sub, "env", "--path", ensure_env, reports("nbgrader", NbgraderExportError),
                                 help=f"build nbgrader {NBGRADER_VERSION}'s own venv (at --path)", where=where)


@reports("nbgrader", NbgraderExportError)
def _cmd_export(args: argparse.Namespace) -> int:
    written = export_course(args.course_dir, args.lab, solutions=args.solutions, python=args.python,
                            course_id=args.course_id, force=args.force)
    for w in written:
        print(f"wrote {w}")
    print(f"next: cd {args.course_dir} && nbgrader generate_assignment <lab> (nbgrader {NBGRADER_VERSION}: "
          "`bwkit nbgrader env` builds it)")
    return 0
