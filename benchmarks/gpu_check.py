"""Run every GPU check of the kit in one go (under 5 minutes on an H200/B200) and print one summary table.

    PYTHONPATH=lib python benchmarks/gpu_check.py            # on the GPU machine, no install needed

Works with whatever torch/triton the machine has (prints them); nothing is fetched from the network. Each check
script prints its own table (kernel, shape, TFLOP/s, x cuBLAS / % peak ...) and exits 0 when it cannot run
here (no GPU, no Blackwell, no nvidia-cutlass-dsl). The summary says which ran, which were skipped and why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKS = [  # (script, extra args, time limit in s)
    ("gpu_check_gemm.py", [], 160),
    ("gpu_check_near_peak.py", [], 70),
    ("gpu_check_cute.py", [], 30),
    ("gpu_check_kernel_cost.py", [], 40),
]


def main() -> int:
    """Run the checks sequentially with per-check limits; return non-zero if any check failed."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "lib") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONUNBUFFERED": "1", "TRITON_DEFAULT_FP_FUSION": "1", "BWKIT_GEMM_BUDGET_S": "130"}
    print(f"python {sys.version.split()[0]}", flush=True)
    subprocess.run([sys.executable, "-c", "import torch, triton; print('torch', torch.__version__, '| triton', "
                    "triton.__version__, '| cuda', torch.version.cuda, '| gpu', torch.cuda.get_device_name(0) "
                    "if torch.cuda.is_available() else None)"], env=env)
    rows = []
    for script, args, limit in CHECKS:
        path = HERE / script
        if not path.exists():
            rows.append((script, "missing", 0.0))
            continue
        print(f"\n===== {script} =====", flush=True)
        t0 = time.time()
        try:
            rc = subprocess.run([sys.executable, str(path), *args], env=env, timeout=limit).returncode
            status = "ok" if rc == 0 else f"failed (rc {rc})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {limit} s"
        rows.append((script, status, time.time() - t0))
    print("\n| check | status | wall s |\n|---|---|---|")
    for script, status, secs in rows:
        print(f"| {script} | {status} | {secs:.0f} |")
    return 0 if all(s == "ok" for _, s, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
