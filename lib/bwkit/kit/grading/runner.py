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

__all__ = ["CellRun", "RunLog", "run_copy", "defined_exercises", "extra_budget", "ENV_KEEP"]

MAX_OUTPUT = 200_000            # characters a cell may output (text, displays, results) before it is stopped
_PROBE_OUTPUT = 80 * 2**20      # a probe's answers (tensors as base64) may be larger, up to what `_answers` reads
_MAX_TEXT = 3000                # characters of a cell's output kept for the feedback
# The kernel sees only these variables (no instructor tokens): locale, paths, Python/CUDA/Triton/bwkit settings.
ENV_KEEP = {"PATH", "LANG", "TZ", "TERM", "VIRTUAL_ENV", "LD_LIBRARY_PATH"}
_ENV_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "TRITON_", "BWKIT_", "TORCH_")
# ... except anything that looks like a credential (NVIDIA_API_KEY, BWKIT_HUB_TOKEN, ...): never passed on
_ENV_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


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
    dropped: str = ""                   # malformed messages from the kernel that were dropped (how many, why)


@dataclass
class RunLog:
    """One run of a copy: the cells it ran (in order) and, if it ended early, the cell and why."""

    cells: dict[str, CellRun] = field(default_factory=dict)
    fatal: tuple[str | None, str] | None = None
    seconds: float = 0.0


EXTRA_BUDGET_TEXT = ("{}: the cells you added used up their shared time budget of {:g} s (added cells may take "
                     "at most 3 cell timeouts in all)")


def extra_budget(opts: GradeOptions) -> float:
    """Seconds all the cells a student added may run in one run, together (3 student cell timeouts)."""
    return 3 * opts.timeout


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
    env = {k: v for k, v in os.environ.items() if (k in ENV_KEEP or k.startswith(_ENV_PREFIXES))
           and not any(w in k.upper() for w in _ENV_SECRET_WORDS)}
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
    # A private parent (mkdtemp: 0700, the grader's) holds the working folder: no other local user can reach it
    # (plant an IPython startup file, read the connection key). The sandbox's uid 65534 maps to the grader's own
    # uid outside (bubblewrap's user namespace), so the folder needs no wider rights; bwrap binds only `work`.
    private = Path(tempfile.mkdtemp(prefix="bwkit-grade-"))
    work = private / "work"
    work.mkdir(mode=0o700)
    kernel = Kernel(work, env=_env(work), command_prefix=sandbox.prefix(work), max_output=MAX_OUTPUT,
                    startup_timeout=90)
    roles = [cellmap.get(c.get("id"), (None, "lab"))[1] for c in nb.cells if c.cell_type == "code"]
    # The wall-clock budget does not grow with the cells a student adds: all added cells share extra_budget.
    extra_left = extra_budget(opts)
    wall = 120.0 + sum(opts.cell_timeout(r) + 10 for r in roles if r != "extra") + (extra_left + 10) * (
        "extra" in roles)
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
            limit = min(opts.cell_timeout(role), left)
            if role == "extra":
                if extra_left <= 0:
                    log.cells[cid] = CellRun(cid, "timeout", error=EXTRA_BUDGET_TEXT.format("not run",
                                                                                            extra_budget(opts)))
                    continue
                limit = min(limit, extra_left)
            r = kernel.run(code, timeout=limit, max_output=_PROBE_OUTPUT if probe else None)
            if role == "extra":
                extra_left -= r.seconds
            text = r.text if len(r.text) <= _MAX_TEXT else r.text[: _MAX_TEXT // 2] + "\n[... output cut ...]\n" \
                + r.text[-_MAX_TEXT // 2:]
            run = CellRun(cid, r.status, text, (r.error or {}).get("ename", ""),
                          f"{(r.error or {}).get('ename', '')}: {(r.error or {}).get('evalue', '')}"[:_MAX_TEXT],
                          r.death, r.seconds, _answers(r.result) if probe and r.status == "ok" else None,
                          r.dropped)
            if role == "extra" and r.status == "timeout" and limit < opts.cell_timeout(role):
                run.error = EXTRA_BUDGET_TEXT.format("interrupted", extra_budget(opts))
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
        shutil.rmtree(private, ignore_errors=True)
        log.seconds = time.monotonic() - t0
    return log
