"""The reports of a graded class: grades.csv, feedback/<student>.md, summary.md and the score histogram."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

from bwkit.kit.grading.model import ClassReport, StudentResult

__all__ = ["write_reports"]


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


def _csv_text(s: str) -> str:
    """A text cell of grades.csv that a spreadsheet shows as text: one starting like a formula (= + - @, or a tab
    or CR before one) gets a leading quote, so a student named ``=HYPERLINK(...)`` is not run by Excel."""
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def _safe_name(student: str) -> str:
    """A file name for `student`, one to one: a name that had to be changed gets a hash of the original."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]+", "_", student).strip("._-") or "student"
    if safe != student:
        safe += "-" + hashlib.sha1(student.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return safe


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
            notes = " | ".join((n.splitlines() or [""])[0] for n in s.notes)
            w.writerow([_csv_text(s.student)] + [f"{pts.get(i, 0):g}" for i in ids]
                       + [f"{s.total:g}", f"{report.max_points:g}", _csv_text(notes)])
    for s in report.students:
        (out / "feedback" / f"{_safe_name(s.student)}.md").write_text(
            _feedback(s, report.lab, report.max_points), encoding="utf-8")
    totals = [s.total for s in report.students]
    n = len(totals)
    lines = [f"# Lab {report.lab}: class summary", "",
             f"{n} submission(s), {report.max_points:g} points available, graded in {report.seconds:.0f} s "
             "(wall time on the grading machine).", "",
             f"Isolation: {report.isolation or 'not recorded'}.", ""]
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
            lines += [f"- {s.student}: {' | '.join((n.splitlines() or [''])[0] for n in s.notes)}" for s in trouble]
        _plot(totals, report, out / "score_distribution.png")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _plot(totals: list[float], report: ClassReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    top = report.max_points
    bins = np.arange(0, top + 1.5) - 0.5 if top <= 40 else 20
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(totals, bins=bins, color="#76b900", edgecolor="black")
    ax.set_xlabel(f"total points (out of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Lab {report.lab}: score distribution ({len(totals)} submissions)")
    ax.set_xlim(-0.5, top + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))     # students come in whole numbers
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
