"""Running one grading copy: a fresh kernel in its sandbox, cell by cell, with the checks' probes in place.

Lab cells and the student's cells run as they are. At each exercise's check cell the runner does not run the
check: it sends the exercise's *probe* with inputs drawn from this run's secret seed
(`bwkit.kit.exercises.make_payload`), and keeps the answers it returns as data; the verdict is decided later,
outside the kernel (`score`). An exercise without a definition in `bwkit.kit.exercises` (a lab of your own) falls
back to running its check cell in the kernel, and the report says that verdict is not tamper-proof.

A dead kernel (segfault, ``os._exit``, out of memory) ends the run at once with the cell that killed it; a cell
over the timeout is interrupted (and the kernel killed if it ignores the interrupt); output floods are cut.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bwkit.kit.grading.model import GradeOptions
from bwkit.kit.grading.sandbox import Sandbox
from bwkit.kit.kernel import Kernel, KernelStartError

__all__ = ["CellRun", "RunLog", "run_copy", "defined_exercises", "ENV_KEEP"]

MAX_OUTPUT = 200_000            # characters a cell may print before it is stopped
_MAX_TEXT = 3000                # characters of a cell's output kept for the feedback
# The kernel sees only these variables (no instructor tokens): locale, paths, Python/CUDA/Triton/bwkit settings.
ENV_KEEP = {"PATH", "LANG", "TZ", "TERM", "VIRTUAL_ENV", "LD_LIBRARY_PATH"}
_ENV_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "TRITON_", "BWKIT_", "TORCH_")


@dataclass
class CellRun:
    """What one cell of the copy did (status: ok, error, timeout, dead, flood), and a probe's answers."""

    id: str
    status: str
    text: str = ""
    ename: str = ""
    error: str = ""
    death: str = ""
    seconds: float = 0.0
    answers: str | None = None          # a probe's JSON text (defined exercises only)


@dataclass
class RunLog:
    """One run of a copy: the cells it ran (in order) and, if it ended early, the cell and why."""

    cells: dict[str, CellRun] = field(default_factory=dict)
    fatal: tuple[str | None, str] | None = None
    seconds: float = 0.0


def defined_exercises(ids) -> set[str]:
    """The exercise ids among `ids` that have a definition (probe + judge) in `bwkit.kit.exercises`."""
    from bwkit.kit.exercises import get

    out = set()
    for i in ids:
        try:
            get(i)
            out.add(i)
        except (KeyError, ValueError):
            pass
    return out


def _probe_code(exercise_id: str, payload: str) -> str:
    return (f"__import__('bwkit.kit.exercises', fromlist=['probe']).probe({exercise_id!r}, globals(), "
            f"{payload!r})")


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP or k.startswith(_ENV_PREFIXES)}
    env.update(HOME=str(work), USER="student", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
               MPLCONFIGDIR=str(work / ".mpl"), IPYTHONDIR=str(work / ".ipython"),
               TRITON_CACHE_DIR=str(work / ".triton"), CUTE_DSL_DUMP_DIR=str(work / ".cute"),
               XDG_CACHE_HOME=str(work / ".cache"), TMPDIR="/tmp", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0", MALLOC_ARENA_MAX="2", PYTHONUNBUFFERED="1")
    return env


def _answers(result_text: str | None) -> str | None:
    """The probe's JSON text from the execute_result (a Python str literal), or None."""
    if not result_text or len(result_text) > 80 * 2**20:
        return None
    try:
        value = ast.literal_eval(result_text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def run_copy(nb, cellmap: dict[str, tuple[str | None, str]], payloads: dict[str, str], opts: GradeOptions,
             sandbox: Sandbox) -> RunLog:
    """Run the code cells of `nb` in a fresh sandboxed kernel; probes replace the check cells of `payloads`."""
    log = RunLog()
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bwkit-grade-"))
    os.chmod(work, 0o777)     # the sandbox's user (uid 65534) writes here
    kernel = Kernel(work, env=_env(work), command_prefix=sandbox.prefix(work), max_output=MAX_OUTPUT,
                    startup_timeout=90)
    wall = 120.0 + sum(opts.cell_timeout(cellmap.get(c.get("id"), (None, "lab"))[1]) + 10
                       for c in nb.cells if c.cell_type == "code")
    try:
        try:
            kernel.start()
        except KernelStartError as e:
            log.fatal = (None, f"the kernel did not start: {e}; {kernel.log_tail(400)}")
            return log
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cid = cell.get("id")
            ex, role = cellmap.get(cid, (None, "lab"))
            probe = role == "check" and ex in payloads
            code = _probe_code(ex, payloads[ex]) if probe else cell.source
            left = wall - (time.monotonic() - t0)
            if left <= 0:
                log.fatal = (cid, f"the run exceeded its wall-clock limit of {wall:.0f} s")
                break
            r = kernel.run(code, timeout=min(opts.cell_timeout(role), left))
            text = r.text if len(r.text) <= _MAX_TEXT else r.text[: _MAX_TEXT // 2] + "\n[... output cut ...]\n" \
                + r.text[-_MAX_TEXT // 2:]
            run = CellRun(cid, r.status, text, (r.error or {}).get("ename", ""),
                          f"{(r.error or {}).get('ename', '')}: {(r.error or {}).get('evalue', '')}"[:_MAX_TEXT],
                          r.death, r.seconds, _answers(r.result) if probe and r.status == "ok" else None)
            log.cells[cid] = run
            if r.status == "dead":
                why = [ln.strip() for ln in kernel.log_tail(2000).splitlines()
                       if any(w in ln for w in ("rror", "corrupted", "Killed", "Segmentation", "bort", "fault"))]
                log.fatal = (cid, r.death + (f" ({why[-1][:200]})" if why else ""))
                break
            if r.status in ("timeout", "flood") and not kernel.alive:
                log.fatal = (cid, "the cell printed too much output and ignored the interrupt; the kernel was "
                                  "stopped" if r.status == "flood" else
                                  "the cell ignored the timeout's interrupt; the kernel was stopped")
                break
            if run.ename == "MemoryError" and role in ("solution", "extra", "check"):
                # a kernel that hit its memory limit may starve every later cell: rerun without this exercise
                log.fatal = (cid, f"MemoryError: the cell ran out of memory (the limit is {opts.memory_gib:g} GiB "
                                  "per student run)")
                break
    finally:
        kernel.shutdown()
        sandbox.cleanup()
        shutil.rmtree(work, ignore_errors=True)
        log.seconds = time.monotonic() - t0
    return log
