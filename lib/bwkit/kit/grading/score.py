"""Scoring: run a submission's grading copy (re-running around crashes) and turn the run logs into results."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from bwkit.kit import notebooks
from bwkit.kit.grading.discovery import read_submission
from bwkit.kit.grading.gradingcopy import _neutralize, build_grading_copy
from bwkit.kit.grading.model import ExerciseResult, GradeOptions, GradingCopy, GradingError, StudentResult, Submission
from bwkit.kit.grading.runner import _run_copy, _RunLog

__all__ = ["grade_submission"]

_MAX_ATTEMPTS = 4
_STUDENT_ROLES = ("solution", "extra")


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
