"""Test session setup: the CPU path (Triton interpreter, chosen before triton is imported).

The suite tests the CPU path on every machine, GPU machines included, so that its results are the same
everywhere; `make test-gpu` (run by `make test` when a GPU is present) covers the native path. Set
BWKIT_TEST_GPU=1 to run these tests on the GPU path instead.
"""

import os

if os.environ.get("BWKIT_TEST_GPU") != "1":
    os.environ["BWKIT_FORCE_CPU"] = "1"

import bwkit  # noqa: E402

RT = bwkit.setup(quiet=True)

_STARTED = None


def pytest_sessionstart(session):
    import time

    global _STARTED
    _STARTED = time.time()


def pytest_terminal_summary(terminalreporter):
    """The mutation catalogue's report (issue: every check proven): per lab, how the catalogued answers fared."""
    import json
    from pathlib import Path

    art = Path(__file__).resolve().parents[1] / "artifacts" / "catalogue"
    files = sorted(p for p in art.glob("lab*.json") if _STARTED and p.stat().st_mtime >= _STARTED)
    if not files:
        return
    cols = ("diagnosed", "generic", "misdiagnosed", "missed", "ok", "false alarm", "broken")
    tr = terminalreporter
    tr.section("mutation catalogue (tests/catalogue): wrong answers diagnosed / generic / missed")
    tr.write_line(f"{'lab':<5}" + "".join(f"{c:>14}" for c in cols) + f"{'named %':>10}")
    tot = dict.fromkeys(cols, 0)
    for p in files:
        counts = json.loads(p.read_text())["counts"]
        for c in cols:
            tot[c] += counts.get(c, 0)
        wrong = sum(counts.get(c, 0) for c in ("diagnosed", "generic", "misdiagnosed", "missed"))
        pct = f"{100 * counts.get('diagnosed', 0) / wrong:.0f}" if wrong else "-"
        tr.write_line(f"{p.stem[3:]:<5}" + "".join(f"{counts.get(c, 0):>14}" for c in cols) + f"{pct:>10}")
    wrong = sum(tot[c] for c in ("diagnosed", "generic", "misdiagnosed", "missed"))
    tr.write_line(f"{'all':<5}" + "".join(f"{tot[c]:>14}" for c in cols)
                  + f"{100 * tot['diagnosed'] / max(wrong, 1):>10.0f}")
