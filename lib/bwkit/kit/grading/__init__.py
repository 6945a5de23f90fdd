"""Grade a class's lab notebooks exercise by exercise: ``bwkit grade SUBMISSIONS_DIR --lab NN``.

    bwkit grade submissions/ --lab 00 --out grades-00 --workers 2 --timeout 120

Student layout (``SUBMISSIONS_DIR``)
    * one folder per student: ``SUBMISSIONS_DIR/<student>/.../00_hardware_roofline.ipynb`` (the official file
      name is preferred; otherwise a notebook whose name starts with the lab number, otherwise the folder's only
      notebook). The folder name is the student id. Every other file in the folder is ignored (never copied,
      never imported) and listed in the feedback.
    * or one file per student directly in ``SUBMISSIONS_DIR``: ``<student>.ipynb``,
      ``<student>_00_hardware_roofline.ipynb`` (an LMS export: the official name at the end is removed) or
      ``<student>__anything.ipynb`` (the id is what precedes ``__``); a second file for the same id gets the first
      free suffix ``-2``, ``-3``, ... (never one a real folder already has).
    Notebook suffixes are matched case-insensitively (``bob.IPYNB``); any other top-level entry gets a 0-point row
    ("not a notebook"); the ``--out`` folder (or a previous run's output) is skipped.
    Hidden entries and ``.ipynb_checkpoints`` are skipped; symbolic links and special files (FIFOs, devices) are
    never followed or read. Every entry gets a row in ``grades.csv``, also when its notebook is missing or
    unreadable (0 points and the reason); feedback file names are one to one with student ids.

What happens to each submission
    1. A *grading copy* is built from the official lab (generated from ``solutions/NN_*.ipynb`` with
       `bwkit.kit.notebooks.lab_from_solution`): every non-exercise cell, hint and check cell is the official one
       (matched by stable cell id: edited cells are replaced, deleted ones re-inserted in place); each exercise's
       solution cell is the student's (matched by cell id, then by ``metadata.bwkit`` exercise/role), with nbval
       markers and tags dropped; copies of a solution cell (JupyterLab's copy/paste keeps the metadata, not the
       id) placed between it and its check run after it, in notebook order, as they would in Run All (copies
       elsewhere are not run, with a note); a missing solution cell becomes the lab's stub. Code cells a student
       added between an exercise's solution and its check, or right above its solution cell (no official cell
       between), are graded with that exercise; other added cells are not run; all added cells of a run share a
       time budget of 3 cell timeouts. Stored (possibly faked) outputs count for nothing. The official solution is
       graded once first (`check_solution`): if it does not get full marks the class is not graded.
    2. The copy runs cell by cell in a fresh Jupyter kernel inside a throw-away sandbox (`sandbox`: bubblewrap,
       see "Isolation"), driven by `bwkit.kit.kernel` (a death is noticed within a second; a cell over the
       timeout is interrupted, and the kernel killed if it ignores the interrupt; output floods are cut). The
       lab's own cells run under `GradeOptions.lab_timeout` (``--lab-timeout``), student code under `timeout`.
    3. **Verdicts are decided outside the student's process, from data only.** At each exercise's check cell the
       runner sends the exercise's probe (`bwkit.kit.exercises`) with inputs drawn from a fresh secret seed, so
       an answer hard-coding the notebook's example values fails; the probe returns the student's answers as
       plain data (JSON, tensors as raw bytes, never pickle) and the grader judges them against references
       computed in its own process, with the same definition (and diagnosis) as the learner's check cell.
       Patching anything inside the kernel (the checker, numpy, IPython's traceback display, the probe itself)
       can change only that student's own answers. A lab without exercise definitions falls back to running its
       check cells in the kernel; the feedback says that verdict is not tamper-proof.
    4. A kernel death (segfault, ``os._exit``, out of memory, a MemoryError) ends the run; if exercises remain,
       the copy is run again with the guilty exercise's cells replaced by the lab stub, so only that exercise
       loses its points. A run in which an official (non-student) cell fails is retried once, then graded and
       flagged for review (the note names the cell), never silently zeroed.

Isolation (Linux, `sandbox`)
    Each notebook runs in bubblewrap: the system, the Python installation, the kit's venv and ``lib/`` read-only;
    one empty working folder read-write; ``solutions/``, the instructor's files, ``--out`` and other students'
    files not visible; its own PID namespace (it cannot see or signal the grader or other kernels; detached
    children die with the run), its own unprivileged user, no network; address-space (``--memory-gib``), CPU
    (``--cpu-limit``) and process limits (a pids cgroup, else RLIMIT_NPROC), no core dumps. Where bubblewrap is
    unavailable (macOS, Windows, or Linux without the ``bubblewrap`` package) the grader refuses unless
    ``--no-sandbox`` is given, and then ``summary.md`` says the runs were not isolated. The kernel always gets a
    reduced environment (no instructor tokens) and a fresh IPython profile.

Scoring
    An exercise scores its points when its judged answers are right and the student's solution cell(s) ran
    without error; otherwise 0 with a diagnosis (the check's FAIL lines, the error, the timeout or the crash;
    KeyboardInterrupt and SystemExit raised by the student's own code are named as such).

Outputs (``--out``)
    ``grades.csv`` (student, one column per exercise, total, max, notes), ``feedback/<student>.md`` (each
    exercise's status, the check's diagnosis, notes and flags) and ``summary.md`` with
    ``score_distribution.png`` and the isolation used. Exercises whose student cells use a bwkit function the
    official solution does not use (e.g. calling ``bwkit.hw.ridge_point`` to answer "write ridge_point") are
    flagged for review, as are cells that touch the grading machinery; flags never change a score.
    Taught nowhere: this is the instructor's tool (README, "Grading a class").

Modules (a one-way dependency order: each imports only those above it)
    * `model`: the data classes (`GradeOptions`, `Submission`, `GradingCopy`, results) and `GradingError`;
    * `discovery`: finding the lab and the submissions, reading notebooks, student ids;
    * `gradingcopy`: building the grading copy (cell matching, nbval markers and tags, flags for review);
    * `sandbox`: the bubblewrap command line, limits and what is isolated;
    * `runner`: running a copy in a sandboxed kernel, cell by cell, probes in place of the checks;
    * `score`: one submission's runs (re-runs around crashes) and the verdicts (`grade_submission`);
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

from bwkit.kit import commands, notebooks
from bwkit.kit.grading import model
from bwkit.kit.grading.discovery import find_lab, find_submissions, read_submission
from bwkit.kit.grading.gradingcopy import build_grading_copy
from bwkit.kit.grading.model import (
    ClassReport,
    ExerciseResult,
    GradeOptions,
    GradingCopy,  # noqa: F401 - public through model.__all__
    GradingError,
    StudentResult,
    Submission,
)
from bwkit.kit.grading.report import write_reports
from bwkit.kit.grading.sandbox import ISOLATION_TEXT, NO_ISOLATION_TEXT, sandbox_available
from bwkit.kit.grading.score import grade_submission

__all__ = [
    *model.__all__,
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
    check_solution: bool = True,
) -> ClassReport:
    """Grade every submission in `submissions` against lab `lab` and (when `out` is given) write the reports.

    `workers` submissions run at once; `options` sets the per-run limits. Raises `GradingError` for an unknown
    lab, an empty/missing submissions folder or an `out` that cannot be written; problems with single submissions
    become rows, never errors. With `check_solution` (``--no-solution-check`` turns it off) the official solution
    is graded first, once, under the same limits, and the class is not graded unless it gets full marks: limits
    too tight for the lab (``--memory-gib 3``) would otherwise give every student 0.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    options = options or GradeOptions()
    import importlib.util

    missing = [m for m in ("ipykernel", "jupyter_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise GradingError(f"bwkit grade needs {', '.join(missing)} (pip install ipykernel jupyter_client)")
    if options.sandbox and (why := sandbox_available()) is not None:
        raise GradingError(f"cannot isolate student code: {why}; pass --no-sandbox to grade without isolation "
                           "(only for notebooks you trust)")
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
    subs = find_submissions(submissions, sol_path.stem, skip=Path(out) if out is not None else None)
    if out is not None:         # before grading: a bad --out must not cost a whole class's run
        _prepare_out(Path(out))
    if check_solution:
        _check_solution(solution_nb, sol_path, exs, options, progress)
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
                         time.monotonic() - t0, ISOLATION_TEXT if options.sandbox else NO_ISOLATION_TEXT)
    if out is not None:
        try:
            write_reports(report, out)
        except OSError as e:
            raise GradingError(f"cannot write the reports into {out}: {e.strerror or e}") from e
    return report


def _check_solution(solution_nb, sol_path: Path, exs, options: GradeOptions, progress: bool) -> None:
    """Grade the official solution once; raise `GradingError` unless it gets full marks under `options`."""
    t0 = time.monotonic()
    res = grade_submission(Submission("(official solution)", sol_path), solution_nb, sol_path, options)
    top = sum(e.points for e in exs)
    if progress:
        print(f"[solution check] the official solution: {res.total:g}/{top:g} ({time.monotonic() - t0:.1f} s)",
              file=sys.stderr, flush=True)
    if res.total < top:
        bad = next((e for e in res.exercises if e.status != "passed"), None)
        why = f"{bad.id} {bad.status}: {bad.detail.strip().splitlines()[-1][:300]}" if bad and bad.detail.strip() \
            else ""
        if res.notes and (res.notes[0].startswith("GRADER PROBLEM") or not why):
            why = res.notes[0].splitlines()[0][:500]
        raise GradingError(
            f"the official solution scores {res.total:g}/{top:g} under these limits (--timeout {options.timeout:g}, "
            f"--memory-gib {options.memory_gib:g}, --cpu-limit {options.cpu_seconds:g}): {why}; raise the limit "
            "that is too tight (e.g. --memory-gib) or fix the grading machine; --no-solution-check grades anyway")


def _prepare_out(out: Path) -> None:
    """Create the output folder (and feedback/), or raise `GradingError` saying why it cannot be."""
    if out.exists() and not out.is_dir():
        raise GradingError(f"--out {out} exists and is not a folder")
    try:
        (out / "feedback").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GradingError(f"cannot create the output folder {out}: {e.strerror or e}") from e


# ------------------------------------------------------------------------------------------------------- CLI


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `grade` subcommand to the `bwkit` command's subparsers."""
    g = commands.add_command(
        subparsers, "grade", _cmd_grade, help="grade a class's lab notebooks exercise by exercise",
        description="Grade every submission in SUBMISSIONS_DIR (one folder per student, or <student>.ipynb "
                    "files) against a lab; writes grades.csv, feedback/<student>.md and summary.md.")
    g.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    commands.add_lab_option(g)
    g.add_argument("--out", default=None, help="output folder (default: grades-<lab>)")
    g.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    g.add_argument("--timeout", type=float, default=120.0,
                   help="per-cell timeout in seconds of the cells that run student code (default 120)")
    g.add_argument("--lab-timeout", type=float, default=120.0,
                   help="per-cell timeout of the lab's own cells (setup, imports; default 120, never below "
                        "--timeout)")
    g.add_argument("--memory-gib", type=float, default=8.0, help="memory limit per run in GiB (default 8): the address "
                   "space, or the data segment where an NVIDIA driver is present (CUDA maps large address ranges)")
    g.add_argument("--cpu-limit", type=float, default=600.0, help="CPU seconds per kernel (default 600)")
    commands.add_solutions_option(g)
    g.add_argument("--no-solution-check", action="store_true",
                   help="do not grade the official solution first (one notebook run) to check the limits fit")
    g.add_argument("--no-sandbox", action="store_true",
                   help="run student code without isolation (only for notebooks you trust; the report says so)")


def _cmd_grade(args: argparse.Namespace) -> int:
    try:
        opts = GradeOptions(args.timeout, args.memory_gib, args.cpu_limit, sandbox=not args.no_sandbox,
                            lab_timeout=args.lab_timeout)
        if args.workers < 1:
            raise GradingError(f"--workers must be >= 1, got {args.workers}")
        lab_path = find_lab(args.lab, args.solutions)
        out = Path(args.out) if args.out else Path(f"grades-{lab_path.stem.split('_', 1)[0]}")
        report = grade(args.submissions, args.lab, solutions=args.solutions, out=out, workers=args.workers,
                       options=opts, check_solution=not args.no_solution_check)
    except (GradingError, ValueError, OSError) as e:
        print(f"grade: {e}", file=sys.stderr)
        return 2
    print(f"graded {len(report.students)} submission(s) of lab {report.lab} in {report.seconds:.0f} s: "
          f"{out / 'grades.csv'}, {out / 'summary.md'}, {out / 'feedback'}/")
    return 0
