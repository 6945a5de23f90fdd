"""Benchmark `bwkit grade`: 30 synthetic submissions of lab 00 on this machine (target: under 5 minutes, 2 cores).

    .venv/bin/python benchmarks/bench_grading.py [--n 30] [--workers 2] [--timeout 60] [--keep DIR]

The class mixes correct notebooks, untouched labs, classic wrong answers, an edited check cell and a kernel crash
(os._exit, which costs a second run). The reference, measured in the same run, is one run of the solution
notebook through the grader's runner *without* the sandbox; the same run inside the sandbox gives the sandbox's
overhead per notebook, and the ratio is the grader's cost per submission (wall time x workers / submissions) over
the reference. All times are CPU-machine wall times; the CPU time of the student runs is printed too, since a
shared machine's load inflates wall time.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from bwkit.kit import grading, notebooks

ROOT = Path(__file__).resolve().parents[1]

WRONG = {
    "ex00-1-solution": "def ridge_point(peak_tflops, bandwidth_tbps):\n    return bandwidth_tbps / peak_tflops",
    "ex00-2-solution": "def gemm_intensity(M, N, K, in_bytes, out_bytes):\n"
                       "    return M * N * K / ((M * K + K * N) * in_bytes + M * N * out_bytes)",
    "ex00-4-solution": 'answer = "compute"',
    "ex00-3-solution": "import os\n\nos._exit(1)",
}


def _variant(sol, lab, i: int):
    kind = i % 6
    if kind == 1:
        return copy.deepcopy(lab), "untouched lab"
    nb = copy.deepcopy(sol)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    by = {c.get("id"): c for c in nb.cells}
    if kind == 2:
        by["ex00-1-solution"].source = WRONG["ex00-1-solution"]
        return nb, "00.1 wrong"
    if kind == 3:
        by["ex00-2-solution"].source = WRONG["ex00-2-solution"]
        by["ex00-4-solution"].source = WRONG["ex00-4-solution"]
        return nb, "00.2 and 00.4 wrong"
    if kind == 4:
        by["ex00-3-solution"].source = WRONG["ex00-3-solution"]
        return nb, "00.3 crashes the kernel"
    if kind == 5:
        by["ex00-1-check"].source = 'print("✅ 00.1")'
        return nb, "check cell edited"
    return nb, "correct"


def _one_run(sol, isolate: bool) -> float:
    """Wall time of one run of the solution notebook through the grader's runner (best of 2)."""
    from bwkit.kit.exercises import get, make_payload
    from bwkit.kit.grading.gradingcopy import build_grading_copy
    from bwkit.kit.grading.runner import defined_exercises, run_copy
    from bwkit.kit.grading.sandbox import Sandbox

    gc = build_grading_copy(sol, sol)
    ids = defined_exercises(e.id for e in notebooks.exercises(sol))
    payloads = {i: make_payload(get(i), 1) for i in ids}
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        run_copy(gc.nb, gc.cells, payloads, grading.GradeOptions(timeout=120), Sandbox(isolate=isolate))
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--keep", default=None, help="write the reports here (default: a temp folder)")
    args = p.parse_args()
    sols = sorted((ROOT / "solutions").glob("00_*.ipynb"))
    if not sols:
        print("bench_grading: solutions/00_*.ipynb does not exist yet", file=sys.stderr)
        return 2
    sol_path = sols[0]
    sol = nbformat.read(sol_path, as_version=4)
    lab = notebooks.lab_from_solution(sol, sol_path)
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        kinds = {}
        for i in range(args.n):
            nb, kind = _variant(sol, lab, i)
            d = subs / f"student{i:02d}"
            d.mkdir(parents=True)
            nbformat.write(nb, d / sol_path.name)
            kinds[f"student{i:02d}"] = kind
        ref = _one_run(sol, isolate=False)
        sandboxed = _one_run(sol, isolate=True)
        out = Path(args.keep) if args.keep else Path(tmp) / "out"
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        report = grading.grade(subs, "00", solutions=sol_path.parent, out=out, workers=args.workers,
                               options=grading.GradeOptions(timeout=args.timeout), progress=False)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        load = os.getloadavg()[0]
    per = wall * args.workers / args.n
    runs = sum(s.runs for s in report.students)
    print(f"lab {report.lab} ({sol_path.name}), {args.n} submissions, {args.workers} workers, "
          f"{os.cpu_count()} CPU cores (CPU-only machine)")
    by_kind: dict[str, list[float]] = {}
    for s in report.students:
        by_kind.setdefault(kinds[s.student], []).append(s.total)
    for kind, totals in by_kind.items():
        print(f"  {kind:<24} {len(totals):>3} submissions, scores {sorted(set(totals))} / {report.max_points:g}")
    print(f"grading wall time (CPU machine): {wall:.1f} s for {args.n} submissions ({runs} notebook runs); "
          f"target < 300 s: {'met' if wall < 300 else 'MISSED'}")
    print(f"per-submission cost: {wall / args.n:.2f} s wall, {per:.2f} s of one worker")
    print(f"CPU time of the student runs: {cpu:.1f} s, i.e. >= {cpu / args.workers:.1f} s wall on {args.workers} "
          f"idle cores (1-min load average at the end: {load:.1f}: other jobs share this machine)")
    print(f"reference (one run of the solution without the sandbox, same machine): {ref:.2f} s; in the "
          f"sandbox: {sandboxed:.2f} s (sandbox overhead {sandboxed - ref:+.2f} s per notebook)")
    print(f"grader cost per submission / reference = {per / ref:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
