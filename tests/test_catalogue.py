"""Every exercise check proven against the mistakes learners make (tests/catalogue/, see its docstring).

For each lab with a catalogue: every wrong answer fails *with the diagnosis that names its mistake* (or at worst
a generic diff: at most 15 % of a lab's wrong answers), no wrong answer passes, every correct variant passes, no
variant kills or hangs the kernel, and every check cell works in a namespace holding only the answers.
"""

import importlib
from pathlib import Path

import pytest

from bwkit.kit.exercises import lab_exercises

ROOT = Path(__file__).resolve().parents[1]
LABS = sorted(p.stem[3:] for p in (ROOT / "tests" / "catalogue").glob("lab[0-9][0-9].py"))


def _notebook(lab: str) -> Path:
    return next((ROOT / "solutions").glob(f"{lab}_*.ipynb"))


@pytest.mark.parametrize("lab", LABS)
def test_catalogue(lab):
    from catalogue import run_lab

    catalogue = importlib.import_module(f"catalogue.lab{lab}").CATALOGUE
    for ex in lab_exercises(lab):
        variants = catalogue.get(ex.id, [])
        n_wrong = sum(type(v).__name__ == "Wrong" for v in variants)
        n_right = len(variants) - n_wrong
        assert n_wrong >= 3 and n_right >= 2, f"{ex.id}: the catalogue needs >= 3 wrong and >= 2 right answers"
    report = run_lab(_notebook(lab), catalogue)
    assert not report.problems, "\n".join(report.problems)
    bad = [o for o in report.outcomes if o.category in ("missed", "false alarm", "misdiagnosed", "broken")]
    assert not bad, "\n\n".join(f"{o.exercise} [{o.kind}] {o.title}: {o.category} (expected {o.expected!r})\n"
                                f"{o.text[:600]}" for o in bad)
    counts = report.counts()
    wrong = counts.get("diagnosed", 0) + counts.get("generic", 0)
    assert counts.get("diagnosed", 0) >= 0.85 * wrong, f"only {counts.get('diagnosed', 0)} of {wrong} wrong " \
        f"answers diagnosed by name: {[(o.exercise, o.title) for o in report.outcomes if o.category == 'generic']}"
