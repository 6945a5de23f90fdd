"""Running a grading copy: the pytest + nbval worker process, its kernel watchdog plugin and the run limits."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bwkit.kit.grading.model import GradeOptions

__all__: list[str] = []  # internal: `_run_copy` (parent side) and `_worker_main` (the worker's entry point)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MAX_OUTPUT = 3000
_GRACE_S = 15.0  # nbval: interrupt, then up to 5 s waiting for output, twice
# The kernel sees only these variables (no instructor tokens): locale, paths, Python/CUDA/Triton/bwkit settings.
_ENV_KEEP = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TMPDIR", "TERM", "VIRTUAL_ENV",
             "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME"}
_ENV_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "TRITON_", "BWKIT_", "TORCH_", "CONDA_", "XDG_")
_SIGNALS = {signal.SIGKILL: "SIGKILL (killed: out of memory, or the wall-clock limit)",
            signal.SIGSEGV: "SIGSEGV (segmentation fault)", signal.SIGABRT: "SIGABRT (abort)",
            signal.SIGXCPU: "SIGXCPU (the CPU-time limit)", signal.SIGBUS: "SIGBUS (bus error)",
            signal.SIGFPE: "SIGFPE (arithmetic fault)", signal.SIGTERM: "SIGTERM"}


def _kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


@dataclass
class _RunLog:
    events: list[dict]
    rc: int | None
    wall_limited: bool
    log_tail: str


def _run_copy(nb, opts: GradeOptions) -> _RunLog:
    """Run one grading copy in a fresh temp folder through the worker (`_worker_main` in a fresh Python)."""
    tmp = Path(tempfile.mkdtemp(prefix="bwkit-grade-"))
    try:
        work, cfg = tmp / "nb", tmp / "cfg"
        work.mkdir()
        cfg.mkdir()
        (work / "lab.ipynb").write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
        ini = cfg / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        n_code = sum(1 for c in nb.cells if c.cell_type == "code")
        wall = 120.0 + n_code * (opts.timeout + _GRACE_S)
        args = ["-q", "-p", "nbval.plugin", "-p", "no:cacheprovider", "--noconftest", "-c", str(ini),
                "--rootdir", str(work), "--confcutdir", str(work), "--nbval-lax", "--nbval-current-env",
                f"--nbval-cell-timeout={opts.timeout:g}", "--nbval-kernel-startup-timeout=60",
                "-W", "ignore", "--color=no", "-o", "console_output_style=classic", str(work / "lab.ipynb")]
        env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP or k.startswith(_ENV_PREFIXES)}
        runtime = tmp / "runtime"
        runtime.mkdir()
        env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0",
                   MALLOC_ARENA_MAX="2", JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1",
                   IPYTHONDIR=str(tmp / "ipython"))  # no shared IPython profile: no startup scripts, no history
        rfd, wfd = os.pipe()
        log = open(tmp / "pytest.log", "w+b")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-c", _WORKER_BOOT, "--worker", str(wfd), f"{opts.timeout + _GRACE_S:g}",
               str(int(opts.memory_gib * 2**30)), str(int(opts.cpu_seconds)), "--", *args]
        try:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, pass_fds=(wfd,), start_new_session=True)
        finally:
            os.close(wfd)
        events: list[dict] = []

        def reader():
            with os.fdopen(rfd, "r", encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        ev = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(ev, dict):
                        events.append(ev)

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        wall_limited = False
        try:
            rc = proc.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            wall_limited = True
            _kill_group(proc.pid)
            rc = proc.wait()
        for ev in list(events):
            if ev.get("event") == "kernel":
                _kill_group(ev.get("pid"))
        _kill_group(proc.pid)
        th.join(timeout=10)
        log.seek(0)
        tail = log.read()[-4000:].decode("utf-8", "replace")
        log.close()
        return _RunLog(events, rc, wall_limited, _ANSI.sub("", tail))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------- the worker (runs pytest + nbval)


class _KernelGone(RuntimeError):
    """Raised inside nbval's wait when the kernel process is dead or was killed at the hard deadline."""


def _outputs_of(item) -> tuple[str, str, str]:
    """(printed text, 'Error: message', error name) of an nbval item's captured outputs."""
    text, error, ename = [], "", ""
    for out in getattr(item, "test_outputs", None) or []:
        kind = out.get("output_type")
        if kind == "stream":
            text.append(out.get("text", ""))
        elif kind in ("display_data", "execute_result"):
            text.append(str(out.get("data", {}).get("text/plain", "")) + "\n")
        elif kind == "error":
            ename = out.get("ename", "")
            error = f"{ename}: {out.get('evalue', '')}"
    joined = _ANSI.sub("", "".join(text))
    if len(joined) > _MAX_OUTPUT:
        joined = joined[: _MAX_OUTPUT // 2] + "\n[... output cut ...]\n" + joined[-_MAX_OUTPUT // 2:]
    return joined, _ANSI.sub("", error)[:_MAX_OUTPUT], ename


def _make_plugin(fd: int, hard_limit: float):
    """The worker's pytest plugin: kernel liveness watchdog, hard per-cell deadline, events to a private pipe."""
    from queue import Empty

    import pytest
    from nbval import kernel as nbk

    class WatchdogPlugin:
        def __init__(self):
            self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
            self.deadline: float | None = None
            self.proc = None  # the kernel's Popen
            self.death: str | None = None
            self.t0 = 0.0

        def emit(self, **ev) -> None:
            try:
                self._out.write(json.dumps(ev, ensure_ascii=False) + "\n")
                self._out.flush()
            except (OSError, ValueError):
                pass

        def describe_death(self) -> str:
            rc = self.proc.poll() if self.proc is not None else None
            if rc is None:
                return "the kernel died"
            if rc < 0:
                try:
                    sig = signal.Signals(-rc)
                except ValueError:
                    return f"the kernel was killed by signal {-rc}"
                return f"the kernel was killed by {_SIGNALS.get(sig, sig.name)}"
            return f"the kernel exited with code {rc} (os._exit or sys.exit outside the main thread?)"

        def pytest_configure(self, config) -> None:
            plugin = self
            orig_init, orig_get = nbk.RunningKernel.__init__, nbk.RunningKernel.get_message

            def init(k, *a, **kw):
                orig_init(k, *a, **kw)
                plugin.proc = getattr(getattr(k.km, "provisioner", None), "process", None)
                plugin.emit(event="kernel", pid=getattr(plugin.proc, "pid", None))

            def get_message(k, stream, timeout=None):
                end = None if timeout is None else time.monotonic() + timeout
                while True:
                    now = time.monotonic()
                    if plugin.deadline is not None and now > plugin.deadline:
                        plugin.death = (f"the cell was still running {hard_limit:g} s after it started (it "
                                        "ignored the timeout's interrupt); the kernel was killed")
                        km = getattr(k, "km", None)
                        if km is not None:
                            km.shutdown_kernel(now=True)
                        raise _KernelGone(plugin.death)
                    step = 0.2 if end is None else max(0.0, min(0.2, end - now))
                    try:
                        return orig_get(k, stream, timeout=step)
                    except Empty:
                        km = getattr(k, "km", None)
                        if km is not None and not km.is_alive():
                            plugin.death = plugin.describe_death()
                            raise _KernelGone(plugin.death) from None
                        if end is not None and time.monotonic() >= end:
                            raise

            nbk.RunningKernel.__init__ = init
            nbk.RunningKernel.get_message = get_message

        def pytest_runtest_protocol(self, item, nextitem):
            cell = getattr(item, "cell", None)
            self.emit(event="start", id=cell.get("id") if cell is not None else None)
            self.t0 = time.monotonic()
            self.death = None

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            # the hard deadline covers the cell's execution only (not the kernel start in the first setup)
            self.deadline = time.monotonic() + hard_limit
            try:
                yield
            finally:
                self.deadline = None

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(self, item, call):
            yield
            if call.when == "teardown" or (call.when == "setup" and call.excinfo is None):
                return
            exc = call.excinfo.value if call.excinfo is not None else None
            if isinstance(exc, pytest.skip.Exception):
                outcome = "skipped"
            elif exc is None:
                outcome = "passed"
            else:
                outcome = "failed" if call.when == "call" else "setup-error"
            text, error, ename = _outputs_of(item)
            message = _ANSI.sub("", str(exc))[:_MAX_OUTPUT] if exc is not None else ""
            km = getattr(getattr(getattr(item, "parent", None), "kernel", None), "km", None)
            alive = bool(km is not None and km.is_alive())
            timed_out = "Timeout" in message and "exceeded" in message
            death = None
            if outcome == "setup-error":
                death = f"the kernel could not start: {message[:400]}"
            elif not alive:
                death = self.death or (
                    "the cell ignored the timeout's interrupt; the kernel was stopped" if timed_out
                    else self.describe_death())
            cell = getattr(item, "cell", None)
            self.emit(event="end", id=cell.get("id") if cell is not None else None, outcome=outcome,
                      output=text, error=error, ename=ename, message=message, kernel_alive=alive, death=death,
                      timeout=timed_out, timeout_s=item.config.option.nbval_cell_timeout,
                      seconds=round(time.monotonic() - self.t0, 3))
            if not alive or ename == "MemoryError":
                item.session.shouldstop = death or "MemoryError"

    return WatchdogPlugin()


# jsonschema (via nbformat) imports the optional rfc3987_syntax, whose grammar takes ~1.5 s CPU to build;
# nbformat's schema never uses it, so the worker blocks it: a third of each run's start-up cost.
_WORKER_BOOT = ("import sys; sys.modules['rfc3987_syntax'] = None; "
                "from bwkit.kit.grading.runner import _worker_main; sys.exit(_worker_main(sys.argv[1:]))")


def _worker_main(argv: list[str]) -> int:
    """`--worker FD HARD_LIMIT MEM_BYTES CPU_S -- PYTEST_ARGS`: the worker started by `_run_copy`.

    Sets the memory/CPU limits on itself first: the kernel nbval starts inherits them.
    """
    if len(argv) < 6 or argv[0] != "--worker" or argv[5] != "--":
        print("internal entry point of `bwkit grade`; use `bwkit grade` instead", file=sys.stderr)
        return 2
    import resource

    mem, cpu = int(argv[3]), int(argv[4])
    # CUDA reserves tens of GiB of address space (PROT_NONE) at initialisation, which RLIMIT_AS would refuse:
    # with an NVIDIA driver present the limit is on the data segment (heap and private writable maps) instead.
    which = resource.RLIMIT_DATA if os.path.exists("/dev/nvidiactl") else resource.RLIMIT_AS
    resource.setrlimit(which, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import pytest

    return int(pytest.main(argv[6:], plugins=[_make_plugin(int(argv[1]), float(argv[2]))]))


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
