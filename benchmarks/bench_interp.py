"""What the interpreter's memory checks cost: lab kernels launched plain vs through `bwkit.kit.interp`.

    python benchmarks/bench_interp.py

CPU only (the checks exist for the Triton interpreter): every ladder step of `bwkit.gemm` at a small ragged shape,
timed plain and under `interp.memory_checks` in the same run (best of 3, host clock, CPU timings). Prints the
checked / plain ratio per step: the price a learner pays for an out-of-bounds report instead of a dead kernel.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("BWKIT_FORCE_CPU", "1")

import bwkit  # noqa: E402

RT = bwkit.setup(quiet=True)

import torch  # noqa: E402

from bwkit import gemm  # noqa: E402
from bwkit.kit import interp, runtime  # noqa: E402

STEPS = [("naive", "kn", (64, 64, 64)), ("kloop", "kn", (70, 48, 48)), ("grouped", "kn", (70, 48, 48)),
         ("persistent_tma", "nk", (70, 48, 48)), ("ws", "nk", (70, 48, 48))]


def _best(fn, repeats: int = 3) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def _measure(run, step: str, a, b, c) -> tuple[float, float]:
    """(plain, checked) seconds of one launch of `run(a, b, out=c)`."""

    def checked():
        with interp.memory_checks({"a_ptr": a, "b_ptr": b, "c_ptr": c}, step):
            run(a, b, out=c)

    run(a, b, out=c)                                      # warm: the first launch builds the interpreter's state
    return _best(lambda: run(a, b, out=c)), _best(checked)


def main() -> int:
    if not runtime.interpreter_active():
        print("the Triton interpreter is not active here: nothing to compare (the checks run only there)")
        return 0
    print(f"{'step':<16}{'M x N x K':>12}{'plain s':>10}{'checked s':>11}{'ratio':>8}   (CPU timings, interpreter, "
          "best of 3)")
    for step, layout, (M, N, K) in STEPS:
        a, b = gemm.random_operands(M, N, K, "fp16", generator=torch.Generator().manual_seed(1), b_layout=layout)
        c = torch.empty((M, N), dtype=torch.float16)
        plain_s, checked_s = _measure(gemm.ladder_step(step).wrapper, step, a, b, c)
        print(f"{step:<16}{f'{M}x{N}x{K}':>12}{plain_s:>10.3f}{checked_s:>11.3f}{checked_s / plain_s:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
