"""What every benchmarks/gpu_check_*.py shares: its time budget, a table printed row by row, JSON written as it goes,
the dry run's FAKE marking and the "skipped: needs X" line, the accuracy rows of the GEMM checks (`check_dense`,
`check_nvfp4`, `DENSE_TOL`) and the MxNxK argument type. Standard library and bwkit (lib/) only (the GPU image has no
extras); torch only inside the functions that need it.

    from gpu_check_util import Check
    chk = Check("gpu_check_gemm", "the ladder vs cuBLAS", default_budget_s=85, argv=argv)
    chk.table(["kernel", "shape", "TFLOP/s"])
    if chk.spent(): ...                        # stop starting work when the budget is used
    chk.row(kernel="ws", shape="8192^3", **{"TFLOP/s": 650.0})   # printed now (flush), JSON rewritten now
    return chk.done()

Budget: `--budget` seconds, else env BWKIT_CHECK_BUDGET_S (gpu_check.py sets it per check), else the script's
default. JSON: `--out` file, else results/gpu_check/<name>.json on a real run and a temporary folder on a dry run
(nothing lands in the repository from `make test`). Dry-run rows carry "fake": true and print FAKE next to every
timed value.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lib") not in sys.path:                       # a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "lib"))

__all__ = ["Check", "ROOT", "DENSE_TOL", "parse_shape", "parse_shapes", "time_kernel", "dense_case", "nvfp4_case",
           "check_dense", "check_nvfp4"]

DENSE_TOL = {"bf16": 8e-3, "fp16": 1e-3}     # relative Frobenius error of a bf16 / fp16 GEMM output: its rounding


def parse_shape(text: str) -> tuple[int, int, int]:
    """An `argparse` type: 'MxNxK' (e.g. 8192x8192x8192) as (M, N, K)."""
    m = re.fullmatch(r"\s*(\d+)x(\d+)x(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"shape {text!r} is not MxNxK (e.g. 8192x8192x8192)")
    return tuple(int(v) for v in m.groups())


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    """An `argparse` type: comma-separated MxNxK shapes."""
    return [parse_shape(s) for s in text.split(",")]


class Check:
    """One check script's run: arguments, budget, table and JSON (see the module docstring)."""

    def __init__(self, name: str, description: str, default_budget_s: float, argv: list[str] | None = None,
                 add_args=None):
        p = argparse.ArgumentParser(prog=f"{name}.py", description=description)
        p.add_argument("--dry-run", action="store_true",
                       help="no GPU: parse, budget, print the table row by row and write JSON with FAKE timings")
        p.add_argument("--budget", type=float, default=None,
                       help=f"seconds before no new work starts (default: env BWKIT_CHECK_BUDGET_S or "
                            f"{default_budget_s:g})")
        p.add_argument("--out", type=Path, default=None, help="JSON results file")
        if add_args:
            add_args(p)
        self.args = p.parse_args(argv)
        self.name = name
        self.dry = self.args.dry_run
        env = os.environ.get("BWKIT_CHECK_BUDGET_S")
        self.budget_s = self.args.budget if self.args.budget is not None else float(env) if env else default_budget_s
        if not self.budget_s > 0:
            p.error(f"the budget must be a positive number of seconds, got {self.budget_s}")
        self.t0 = time.perf_counter()
        if self.args.out is not None:
            self.out = self.args.out
        elif self.dry:
            self.out = Path(tempfile.gettempdir()) / "bwkit-gpu-check-dry" / f"{name}.json"
        else:
            self.out = ROOT / "results" / "gpu_check" / f"{name}.json"
        self.columns: list[str] = []
        self.rows: list[dict] = []
        self.notes: list[str] = []
        self.meta: dict = {"check": name, "description": description, "dry_run": self.dry,
                           "budget_s": self.budget_s, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if self.dry:
            self.say(f"{name}: DRY RUN: every timing below is FAKE (made up to exercise the table), not a measurement")

    # -- time
    def elapsed(self) -> float:
        """Seconds since the check started."""
        return time.perf_counter() - self.t0

    def left(self) -> float:
        """Seconds of budget left."""
        return self.budget_s - self.elapsed()

    def spent(self, need_s: float = 0.0) -> bool:
        """True when less than `need_s` seconds of budget are left (then start nothing new)."""
        return self.left() < need_s

    # -- output
    def say(self, text: str) -> None:
        """Print a line now and keep it in the JSON's notes."""
        print(text, flush=True)
        self.notes.append(text)
        self._write()

    def skipped(self, why: str) -> int:
        """Print 'NAME: skipped: needs ...' and return exit status 0."""
        self.meta["skipped"] = why
        self.say(f"{self.name}: skipped: needs {why}")
        return 0

    def table(self, columns: list[str], title: str = "") -> None:
        """Start a table: print its title and header now."""
        self.columns = list(columns)
        if title:
            self.say(title)
        print("| " + " | ".join(self.columns) + " |", flush=True)
        print("|" + "---|" * len(self.columns), flush=True)

    def row(self, fake: bool | None = None, **values) -> dict:
        """Print one row now (FAKE-marked on a dry run) and rewrite the JSON with it."""
        from bwkit.bench import cell

        fake = self.dry if fake is None else fake
        cells = []
        for c in self.columns:
            v = values.get(c)
            txt = cell(v)
            cells.append(f"{txt} FAKE" if fake and isinstance(v, float) else txt)
        print("| " + " | ".join(cells) + " |", flush=True)
        row = {**values, "fake": fake, "t_s": round(self.elapsed(), 2)}
        self.rows.append(row)
        self._write()
        return row

    def accuracy(self, out, ref, tol: float, **labels) -> bool:
        """Print a row `labels` + rel err / tol / ok for `out` against `ref`; True when finite and within `tol`."""
        import torch

        from bwkit.bench import relative_error

        rel = relative_error(out, ref)
        good = rel < tol and bool(torch.isfinite(out).all())
        self.row(**labels, **{"rel err": f"{rel:.2e}", "tol": f"{tol:g}", "ok": "✅" if good else "❌"})
        return good

    def _write(self) -> None:
        if not self.rows and self.args.out is None and not self.dry:
            return       # nothing measured yet (or a check that cannot run here): nothing under results/
        if self.out.exists() and not self.out.is_file():      # e.g. --out /dev/null: never replace a device
            print(f"(not writing {self.out}: it is not a regular file)", flush=True)
            return
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.out.with_suffix(".tmp")
            tmp.write_text(json.dumps({"metadata": {**self.meta, "elapsed_s": round(self.elapsed(), 2)},
                                       "rows": self.rows, "notes": self.notes}, indent=1, default=str))
            tmp.replace(self.out)
        except OSError as e:                                # a read-only checkout must not stop the check
            print(f"(could not write {self.out}: {e})", flush=True)

    def done(self, status: int = 0) -> int:
        """Final line (rows, seconds, JSON path); returns `status`."""
        self.meta["status"] = status
        self.say(f"{self.name}: {len(self.rows)} row(s) in {self.elapsed():.0f} s of a {self.budget_s:.0f} s budget"
                 f"{' (dry run)' if self.dry else ''}; JSON: {self.out}")
        return status


def not_native(rt) -> str:
    """Why the Triton kernels do not run natively on `rt` (a `bwkit.setup()` Runtime whose can_time is False)."""
    if rt.has_gpu and rt.native_plan is None:
        return f"a GPU with a kernel plan (bwkit has none for {rt.arch}: bwkit.setup() ran Triton in the interpreter)"
    return "the native path (TRITON_INTERPRET is set: unset it to time kernels)"


def time_kernel(fn, reps: int = 10, warmup: int = 3):
    """`fn()` timed on the GPU, as every GPU check times: `bwkit.bench.time_fn` with ``head_start=True``.

    CUDA events, L2 flushed before each rep, a short GPU sleep queued before each start event so that only the
    GPU work is timed (`fn` must not synchronize). Call it after a first, untimed `fn()` (compile, autotune).
    """
    from bwkit.bench import time_fn

    return time_fn(fn, warmup=warmup, reps=reps, device="cuda", head_start=True)


def dense_case(M: int, N: int, K: int, dtype) -> tuple[object, object, object]:
    """A dense GEMM check on the GPU: random A (M, K) and B (N, K) of `dtype`, and A·Bᵀ in FP32."""
    import torch

    a = torch.randn(M, K, device="cuda", dtype=dtype)
    b = torch.randn(N, K, device="cuda", dtype=dtype)
    return a, b, a.float() @ b.float().t()


def nvfp4_case(M: int, N: int, K: int) -> tuple[list, object]:
    """An NVFP4 GEMM check on the GPU: `bwkit.formats.nvfp4_gemm_case` (operands, FP32 reference)."""
    from bwkit import formats as F

    return F.nvfp4_gemm_case(M, N, K)


def check_dense(chk: Check, gemm, shapes, *, column: str | None = None, **labels) -> bool:
    """Accuracy rows of a dense GEMM `gemm(a, b)` (A (M, K), B (N, K), from `dense_case`) in bf16 and fp16 against
    the FP32 product, within `DENSE_TOL`: one row per shape and dtype, `labels` added to each; True when all pass.
    `gemm` may be a dict {name: gemm}: each checked on the same operands, its name in column `column`."""
    import torch

    gemms = gemm if isinstance(gemm, dict) else {None: gemm}
    ok = True
    for M, N, K in shapes:
        for dtype, name in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
            if chk.spent(3):
                chk.say(f"[budget spent: dense {name} {M}x{N}x{K} not checked]")
                return ok
            a, b, ref = dense_case(M, N, K, dtype)
            for key, fn in gemms.items():
                which = {} if key is None else {column: key}
                ok &= chk.accuracy(fn(a, b), ref, DENSE_TOL[name], **labels, **which, dtype=name,
                                   shape=f"{M}x{N}x{K}")
    return ok


def check_nvfp4(chk: Check, gemm, shapes, tol: float, **labels) -> bool:
    """Accuracy rows of an NVFP4 GEMM `gemm(*operands, M, N, K)` (operands from `nvfp4_case`) against the FP32
    product of the same FP4 values times their scales, one per shape; True when all pass."""
    ok = True
    for M, N, K in shapes:
        if chk.spent(3):
            chk.say(f"[budget spent: nvfp4 {M}x{N}x{K} not checked]")
            return ok
        args, ref = nvfp4_case(M, N, K)
        ok &= chk.accuracy(gemm(*args, M, N, K), ref, tol, **labels, shape=f"{M}x{N}x{K}")
    return ok
