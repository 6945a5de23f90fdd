"""The mutation catalogue: realistic wrong answers and correct answers in other forms, per exercise.

Each `labNN.py` holds ``CATALOGUE = {"NN.k": [Wrong(...), Right(...), ...]}``: code written the way a learner
writes it (not produced by the checks' own mistake models). `run_lab` executes the lab's solution notebook in a
real kernel and, at each exercise's check cell, runs every variant followed by the *unchanged* check cell, then
the check cell alone in a namespace that holds only the answers (it must be self-contained), then restores the
official answer. Used by tests/test_catalogue.py; the per-lab results go to artifacts/catalogue/ and the
terminal summary prints diagnosed / generic / missed / false alarms.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "catalogue"


@dataclass(frozen=True)
class Wrong:
    """A wrong answer as a learner writes it, and (a substring of) the diagnosis its check must name."""

    title: str
    code: str
    diagnosis: str


@dataclass(frozen=True)
class Right:
    """A correct answer written differently from the official one; its check must pass."""

    title: str
    code: str


@dataclass
class Outcome:
    """What the check cell did with one variant."""

    exercise: str
    kind: str            # "wrong" | "right" | "self-contained"
    title: str
    verdict: str         # "pass" | "fail" | "dead" | "timeout" | "error"
    text: str
    expected: str = ""
    named: str = ""      # the diagnosis the check printed ("Likely mistake: ..."), if any

    @property
    def category(self) -> str:
        """diagnosed / generic / misdiagnosed / missed / false alarm / ok / broken."""
        if self.verdict in ("dead", "timeout", "error"):
            return "broken"
        if self.kind == "wrong":
            if self.verdict == "pass":
                return "missed"
            if self.expected.lower() in self.text.lower() and (self.named or "Hint:" not in self.text):
                return "diagnosed"      # a named mistake, or a form message (the probe's BadAnswer) and no hint
            return "misdiagnosed" if self.named else "generic"
        return "ok" if self.verdict == "pass" else "false alarm"


@dataclass
class LabReport:
    """All outcomes of one lab."""

    lab: str
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Outcomes per category."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.category] = out.get(o.category, 0) + 1
        return out

    def save(self) -> None:
        """Write artifacts/catalogue/labNN.json."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        data = {"lab": self.lab, "counts": self.counts(), "problems": self.problems,
                "outcomes": [asdict(o) | {"category": o.category} for o in self.outcomes]}
        (ARTIFACTS / f"lab{self.lab}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))


ENV = {"BWKIT_FORCE_CPU": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "TRITON_DEFAULT_FP_FUSION": "1"}


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("bwkit", {}) or {}


def _verdict(r) -> tuple[str, str, str]:
    """(verdict, text, named diagnosis) of a check cell's result."""
    if r.status in ("dead", "timeout", "flood"):
        return ("dead" if r.status == "dead" else "timeout"), r.death or r.status, ""
    text = r.text
    if r.status == "ok":
        return ("pass" if "PASS ✅" in text and "FAIL ❌" not in text else "error"), text, ""
    ename = r.error["ename"]
    if ename not in ("CheckFailure", "NotAnswered"):
        return "error", f"{ename}: {r.error['evalue']}\n{text}", ""
    said = [m.group(1).strip() for m in re.finditer(r"Likely mistake(?: \([^)\n]*\))?: (.*)", text)]
    return "fail", text, " | ".join(said)       # a multi-part exercise names each wrong part's mistake


def run_lab(notebook: Path, catalogue: dict[str, list], timeout: float = 300.0) -> LabReport:
    """Run the catalogue of one lab in the lab's own context (see the module docstring)."""
    import os

    from bwkit.kit.exercises import get
    from bwkit.kit.kernel import Kernel

    nb = nbformat.read(notebook, as_version=4)
    lab = notebook.name[:2]
    report = LabReport(lab)
    env = {**os.environ, **ENV}
    work = Path(tempfile.mkdtemp(prefix=f"catalogue-{lab}-"))
    replay: list[str] = []        # the official cells run so far, to rebuild the context after a kernel death
    kernel = Kernel(work, env=env)
    kernel.start()
    done: set[str] = set()

    def restart():
        nonlocal kernel
        kernel.shutdown()
        kernel = Kernel(work, env=env)
        kernel.start()
        for src in replay:
            kernel.run(src, timeout=timeout)

    try:
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            m = _meta(cell)
            r = kernel.run(cell.source, timeout=timeout)
            replay.append(cell.source)
            if m.get("role") != "check":
                if r.status != "ok":
                    report.problems.append(f"cell {i} ({cell.get('id')}) of the official notebook: {r.status} "
                                           f"{(r.error or {}).get('ename', '')} {r.death}")
                continue
            ex_id = m["exercise"]
            verdict, text, _ = _verdict(r)
            if verdict != "pass":
                report.problems.append(f"{ex_id}: the official answer does not pass its check: {text[:300]}")
            solution_src = [c.source for c in nb.cells if _meta(c).get("exercise") == ex_id
                            and _meta(c).get("role") == "solution" and c.cell_type == "code"]
            for variant in catalogue.get(ex_id, []):
                kind = "wrong" if isinstance(variant, Wrong) else "right"
                pre = kernel.run(variant.code, timeout=timeout)
                if pre.status in ("dead", "timeout"):
                    report.outcomes.append(Outcome(ex_id, kind, variant.title, "dead", pre.death or pre.status,
                                                   getattr(variant, "diagnosis", "")))
                    restart()
                    continue
                chk = kernel.run(cell.source, timeout=timeout)
                v, t, named = _verdict(chk)
                report.outcomes.append(Outcome(ex_id, kind, variant.title, v, t, getattr(variant, "diagnosis", ""),
                                               named))
                if v in ("dead", "timeout"):
                    restart()
            names = [a.name for a in get(ex_id).reads]
            probe = (f"__bw_ns = {{n: globals()[n] for n in {names!r} if n in globals()}}\n"
                     f"exec(compile({cell.source!r}, '<check {ex_id}>', 'exec'), __bw_ns)")
            for src in solution_src:
                kernel.run(src, timeout=timeout)
            v, t, _ = _verdict(kernel.run(probe, timeout=timeout))
            report.outcomes.append(Outcome(ex_id, "self-contained", "check cell run with only the answers", v, t))
            done.add(ex_id)
    finally:
        kernel.shutdown()
    for ex_id in catalogue:
        if ex_id not in done:
            report.problems.append(f"{ex_id}: in the catalogue but not an exercise of {notebook.name}")
    report.save()
    return report
