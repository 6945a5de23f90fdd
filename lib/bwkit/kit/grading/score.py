"""Scoring one submission: run its grading copy (re-running around crashes), then decide each exercise.

Verdicts are decided here, in the grader's process, from data only: the answers each probe returned for inputs
drawn from a secret seed of this run are judged by `bwkit.kit.exercises.judge` against references computed here.
Patching anything inside the student's kernel can change only that student's own answers.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import nbformat

from bwkit.kit import notebooks
from bwkit.kit.grading.discovery import read_submission
from bwkit.kit.grading.gradingcopy import _neutralize, build_grading_copy, is_above_cell
from bwkit.kit.grading.model import ExerciseResult, GradeOptions, GradingCopy, GradingError, StudentResult, Submission
from bwkit.kit.grading.runner import CellRun, RunLog, defined_exercises, run_copy
from bwkit.kit.grading.sandbox import Sandbox

__all__ = ["grade_submission"]

_MAX_ATTEMPTS = 4
_STUDENT_ROLES = ("solution", "extra")
_PLACES = {"solution": "your solution cell", "extra": "a cell you added", "check": "the check (calling your code)"}


def _blame(order: list[str], cell: str | None, cellmap) -> str | None:
    """The exercise to hold responsible for a fatal event in `cell` (its own, or the last student cell's)."""
    if cell is None:
        return None
    ex, role = cellmap.get(cell, (None, "lab"))
    if ex is not None and role in ("solution", "extra", "check"):
        return ex
    last = None
    for cid in order:
        if cid == cell:
            return last
        e2, r2 = cellmap.get(cid, (None, "lab"))
        if r2 in _STUDENT_ROLES:
            last = e2
    return last


def _cell_problem(r: CellRun, timeout: float) -> tuple[str, str]:
    """(status, message) for a student cell that did not end "ok"."""
    if r.status == "timeout" and "shared time budget" in r.error:
        return "timeout", r.error
    if r.status == "timeout":
        return "timeout", f"your code ran past the {timeout:g} s cell timeout (it was interrupted)"
    if r.status == "flood":
        return "error", "your code printed too much output; the cell was stopped"
    if r.ename in ("KeyboardInterrupt", "SystemExit"):
        return "error", f"your code raised {r.ename} itself (not a timeout): {r.error}"
    return "error", f"your code raised {r.error}"


def _judge(ex_id: str, r: CellRun, seed: int, timeout: float) -> tuple[bool, str, str]:
    """(passed, status, detail) of a probed check."""
    from bwkit.kit.exercises import get, judge

    if r.status != "ok":
        status, msg = _cell_problem(r, timeout)
        return False, status, msg.replace("your code", "your code, called by the check,", 1)
    if r.answers is None:
        return False, "check failed", ("the check could not read your answers (the probe returned no data: was "
                                       f"the notebook's machinery changed?) {r.text[-300:]}").strip()
    try:
        verdict = judge(get(ex_id), r.answers, seed)
    except Exception as e:  # noqa: BLE001 - malformed answer data from the kernel
        return False, "check failed", f"your answers could not be read as data ({type(e).__name__}: {e})"
    return verdict.ok, "passed" if verdict.ok else "check failed", verdict.text()


def _score(exs, gc: GradingCopy, results: dict[str, CellRun], crashed: dict[str, str], stopped: str | None,
           defined: set[str], seed: int, opts: GradeOptions) -> list[ExerciseResult]:
    out = []
    for e in exs:
        ids = [cid for cid, (ex, role) in gc.cells.items() if ex == e.id and role in _STUDENT_ROLES]
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
            out.append(ExerciseResult(status="not run", detail=f"could not run: {stopped or 'the run stopped'}",
                                      **base))
            continue
        above = [cid for cid in ids if is_above_cell(cid) and results[cid].status != "ok"]
        bad = [results[cid] for cid in ids if results[cid].status != "ok" and not is_above_cell(cid)]
        if bad:
            status, msg = _cell_problem(bad[0], opts.timeout)
            out.append(ExerciseResult(status=status, detail=msg, **base))
            continue
        check = results[e.check_cell]
        if e.id in defined:
            ok, status, detail = _judge(e.id, check, seed, opts.timeout)
        else:
            ok = check.status == "ok"
            status = "passed" if ok else ("timeout" if check.status == "timeout" else "check failed")
            detail = (check.text.strip() or check.error) + ("\n(verdict from the check cell in your kernel: "
                                                            "this exercise has no bwkit definition)")
        if ok:
            base["points"] = e.points
        if above:           # a scratch cell above the solution: noted, never scored
            _, why = _cell_problem(results[above[0]], opts.timeout)
            detail += f"\n(a cell you added above the solution did not run cleanly, which costs nothing: {why})"
        out.append(ExerciseResult(status=status, detail=detail, **base))
    return out


def _official_failures(run: RunLog, cellmap) -> list[tuple[str, CellRun]]:
    return [(cid, r) for cid, r in run.cells.items() if cellmap.get(cid, (None, "lab"))[1] == "lab"
            and r.status != "ok"]


def grade_submission(sub: Submission, solution_nb: nbformat.NotebookNode, solution_path: Path,
                     opts: GradeOptions) -> StudentResult:
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
        defined = defined_exercises(e.id for e in exs)
        seed = secrets.randbelow(2**31)
        from bwkit.kit.exercises import get, make_payload

        payloads = {i: make_payload(get(i), seed) for i in defined}
        crashed: dict[str, str] = {}
        results: dict[str, CellRun] = {}
        stopped = None
        runs = 0
        retried_official = False
        env_failure = ""
        attempt = 0
        while attempt < _MAX_ATTEMPTS:
            attempt += 1
            nb = _neutralize(gc, lab, set(crashed)) if crashed else gc.nb
            run = run_copy(nb, gc.cells, payloads, opts, Sandbox(opts.memory_gib, opts.cpu_seconds,
                                                                 isolate=opts.sandbox))
            runs += 1
            fails = _official_failures(run, gc.cells)
            if run.fatal is None and fails and not retried_official:
                retried_official = True      # an official cell failed: retry once (load, a flaky start)
                attempt -= 1
                continue
            for cid, r in run.cells.items():
                if gc.cells.get(cid, (None, "lab"))[0] not in crashed:
                    results[cid] = r
            if run.fatal is None:
                for cid, r in fails:
                    culprit = _blame(list(run.cells), cid, gc.cells)
                    if culprit is None:      # no student code had run yet: the machine or the limits, not them
                        env_failure = env_failure or (
                            f"the lab's own cell {cid} failed twice before any of your code ran ({r.status}: "
                            f"{r.error or r.death}): a problem of the grading machine or its limits, not of your "
                            "code; the instructor must fix it and grade again")
                        continue
                    if env_failure:          # a consequence of the lab's own failure, not of the student's code
                        continue
                    msg = (f"the official cell {cid} failed twice ({r.status}: {r.error or r.death}); "
                           "your code may have broken the lab's state: review by hand")
                    notes.append(msg)
                    gc.flags[culprit].append(msg)
                break
            cell, why = run.fatal
            ex = _blame(list(run.cells), cell, gc.cells)
            if ex is None or ex in crashed:
                stopped = why if cell is None else f"{why} in a lab cell ({cell})"
                notes.append(f"grading stopped early: {stopped}")
                break
            where = gc.cells.get(cell, (None, "lab"))[1]
            place = _PLACES.get(where, f"the lab cell {cell} after it")
            crashed[ex] = f"{why} while running {place}; the other exercises were graded without it"
            for cid, (e2, _) in gc.cells.items():
                if e2 == ex:
                    results.pop(cid, None)
            remaining = [e for e in exs if e.id not in crashed and any(
                cid not in results for cid, (e2, r) in gc.cells.items()
                if e2 == e.id and r in ("solution", "extra", "check"))]
            if not remaining:
                break
        for cid, r in results.items():
            if r.dropped:
                notes.append(f"cell {cid}: {r.dropped}; the rest of its output was graded")
        rows = _score(exs, gc, results, crashed, stopped, defined, seed, opts)
        if env_failure:
            notes.insert(0, f"GRADER PROBLEM: {env_failure}")
            for row in rows:
                if row.status != "passed":
                    row.detail = f"(not your fault) {env_failure}\n{row.detail}"
                    row.flags.append(env_failure)
        return StudentResult(sub.student, name, rows, notes, time.monotonic() - t0, runs)
    except Exception as e:  # the grader must never lose a student
        import traceback

        tb = traceback.format_exc(limit=3)
        why = f"grader error: {type(e).__name__}: {str(e)[:300]}"     # the first line is what grades.csv shows
        return zero("not run", why, notes + [f"{why}\n{tb}"])
