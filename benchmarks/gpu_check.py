"""Run every GPU check of the kit in one go, within 5 minutes on an H200 or a B200, and print one summary table.

    PYTHONPATH=lib python benchmarks/gpu_check.py            # on the GPU machine, no install needed
    python benchmarks/gpu_check.py --dry-run                 # any machine (make test): every check's dry run

Works with whatever torch/triton the machine has (prints them; the GPU image has torch, triton and no
nvidia-cutlass-dsl: the checks that need it print "skipped: needs ..." and exit 0). Nothing is fetched.

Budgets (`CHECKS`, seconds): each check gets its budget plus what earlier checks left unused, never more than the
time left before the deadline (`TOTAL_S` = 285 s, 15 s short of 5 minutes) minus a reserve for the checks after
it. A check receives its share in BWKIT_CHECK_BUDGET_S, starts no new row once `GRACE_S` before it is spent,
prints rows as they finish and rewrites its JSON (results/gpu_check/) after each; it is killed only at its share.
The authors' estimates of two checks were cut to fit: gpu_check_gluon.py 120 -> 35 s (its rows: the dense checks
at three shapes, NVFP4, one timing) and gpu_check_cute_ladder.py 150 -> 45 s (10 timed reps instead of 20; the
rung checks at one shape). The summary (results/gpu_check/summary.json) says which ran, which were skipped and why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOTAL_S = 285.0          # the whole run, versions included: 5 minutes (the machine's per-call limit is 10) - 15 s
GRACE_S = 8.0            # a check stops starting rows this long before its share ends
RESERVE_S = 6.0          # kept for each later check (start-up and its "skipped" line at least)
CHECKS = [  # (script, extra args, budget s); authors' estimates: gluon 120 s, cute_ladder 150 s (see above)
    ("gpu_check_gemm.py", [], 85),
    ("gpu_check_near_peak.py", ["--reps", "10"], 40),
    ("gpu_check_moe.py", [], 20),
    ("gpu_check_kernel_cost.py", [], 15),
    ("gpu_check_cute.py", [], 25),
    ("gpu_check_gluon.py", [], 35),
    ("gpu_check_cute_ladder.py", ["--reps", "10"], 45),
]
assert sum(b for *_, b in CHECKS) + 15 <= TOTAL_S, "the budgets must fit the deadline with the versions' time"


def _relay(proc: subprocess.Popen, lines: list[str]) -> None:
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)


def run_check(script: str, args: list[str], limit: float, env: dict, dry: bool) -> tuple[str, float]:
    """Run one check with `limit` seconds; return (status, wall s). Output is relayed line by line as it comes."""
    path = HERE / script
    if not path.exists():
        return "missing", 0.0
    env = {**env, "BWKIT_CHECK_BUDGET_S": f"{max(1.0, limit - GRACE_S):.0f}"}
    cmd = [sys.executable, str(path), *args, *(["--dry-run"] if dry else [])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[str] = []
    relay = threading.Thread(target=_relay, args=(proc, lines), daemon=True)
    relay.start()
    try:
        rc = proc.wait(timeout=limit)
        status = "ok" if rc == 0 else f"failed (rc {rc})"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = f"killed after {limit:.0f} s (rows printed so far are kept)"
    relay.join(timeout=5)
    skipped = next((ln.split("skipped: ", 1)[1].strip() for ln in lines if "skipped: needs" in ln), None)
    if status == "ok" and skipped and not any(ln.startswith("| ") for ln in lines):
        status = f"skipped: {skipped}"
    return status, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run the checks sequentially within `TOTAL_S`; return non-zero if a check failed or was killed."""
    argv = sys.argv[1:] if argv is None else argv
    unknown = [a for a in argv if a != "--dry-run"]
    if unknown:
        print(f"usage: gpu_check.py [--dry-run]; unknown argument(s) {unknown}", file=sys.stderr)
        return 2
    dry = "--dry-run" in argv
    t_start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "lib") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONUNBUFFERED": "1", "TRITON_DEFAULT_FP_FUSION": "1"}
    if dry:
        env["BWKIT_FORCE_CPU"] = "1"
        print(f"gpu_check: DRY RUN of {len(CHECKS)} checks: no GPU is used, every timing is FAKE", flush=True)
    print(f"python {sys.version.split()[0]}", flush=True)
    subprocess.run([sys.executable, "-c", "import torch, triton; print('torch', torch.__version__, '| triton', "
                    "triton.__version__, '| cuda', torch.version.cuda, '| gpu', torch.cuda.get_device_name(0) "
                    "if torch.cuda.is_available() else None)"], env=env, timeout=60)
    out = HERE.parent / "results" / "gpu_check" / "summary.json"
    rows, slack = [], 0.0
    for i, (script, args, budget) in enumerate(CHECKS):
        left = TOTAL_S - (time.perf_counter() - t_start)
        limit = min(budget + slack, left - RESERVE_S * (len(CHECKS) - i - 1))
        if limit < RESERVE_S:
            rows.append((script, budget, 0.0, f"not started: {left:.0f} s left of the {TOTAL_S:.0f} s deadline"))
            continue
        print(f"\n===== {script} (budget {budget} s, share {limit:.0f} s) =====", flush=True)
        status, wall = run_check(script, args, limit, env, dry)
        slack = max(0.0, budget + slack - wall)
        rows.append((script, budget, wall, status))
        print(f"----- {script}: {status} in {wall:.0f} s", flush=True)
        if not dry:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps([dict(zip(("check", "budget_s", "wall_s", "status"), r, strict=True))
                                           for r in rows], indent=1))
            except OSError:
                pass
    total = time.perf_counter() - t_start
    print("\n| check | budget s | wall s | status |\n|---|---|---|---|")
    for script, budget, wall, status in rows:
        print(f"| {script} | {budget} | {wall:.0f} | {status} |")
    print(f"total {total:.0f} s of {TOTAL_S:.0f} s{' (dry run)' if dry else ''}", flush=True)
    bad = [r for r in rows if not (r[3] == "ok" or r[3].startswith("skipped"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
