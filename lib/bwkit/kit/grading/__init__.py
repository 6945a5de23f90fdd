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
    (``os._exit``, a segfault, the OOM killer). The grader runs pytest through a small plugin (`runner`: a
    ``python -c`` worker calling ``_worker_main``) that wraps nbval's ``RunningKernel.get_message``: each wait is cut
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

Modules (a one-way dependency order: each imports only those above it)
    * `model`: the data classes (`GradeOptions`, `Submission`, `GradingCopy`, results) and `GradingError`;
    * `discovery`: finding the lab and the submissions, reading notebooks, student ids;
    * `gradingcopy`: building the grading copy (cell matching, nbval markers and tags, flags for review);
    * `runner`: running a copy (the worker process, the watchdog plugin, limits, killing process groups);
    * `score`: one submission's runs (re-runs around crashes) and per-exercise results (`grade_submission`);
    * `report`: grades.csv, feedback/*.md, summary.md and the histogram (`write_reports`);
    * this package: `grade` (the whole class, in parallel) and the ``bwkit grade`` subcommand (`register_cli`).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from bwkit.kit import notebooks
from bwkit.kit.grading.discovery import find_lab, find_submissions, read_submission
from bwkit.kit.grading.gradingcopy import build_grading_copy
from bwkit.kit.grading.model import (
    ClassReport,
    ExerciseResult,
    GradeOptions,
    GradingCopy,
    GradingError,
    StudentResult,
    Submission,
)
from bwkit.kit.grading.report import write_reports
from bwkit.kit.grading.score import grade_submission

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


def register_cli(subparsers: argparse._SubParsersAction) -> None:
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


def _cmd_grade(args: argparse.Namespace) -> int:
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
