"""A Jupyter kernel driven cell by cell, that notices its own death: the engine of the grader and the catalogue tests.

    with Kernel(cwd="/tmp/work") as k:
        r = k.run("x = 1\nprint(x)", timeout=30)
        r.status, r.stdout, r.error          # "ok", "1\n", None

`run` waits for the cell in short slices and between them asks whether the kernel process is still alive, so a
segfault, ``os._exit`` or the OOM killer is reported within a second ("dead", with the exit code or signal)
instead of after the cell timeout; a cell over its time is interrupted, then the kernel is killed ("timeout");
output beyond `max_output` characters per cell (streams, displays, results and tracebacks alike) is cut and the
cell stopped ("flood"); a malformed message on the kernel's channel (bad signature, not JSON) is dropped and
counted (`CellResult.dropped`), never raised.
`command_prefix` runs the kernel inside a sandbox (e.g. bubblewrap). The connection uses IPC sockets in `cwd`'s
``.kernel`` folder, so the kernel needs no network; what the kernel process writes outside Jupyter goes to
``.kernel/kernel.log``. Taught nowhere: machinery of `bwkit grade` and tests/.
"""

from __future__ import annotations

import os
import queue
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Kernel", "CellResult", "KernelStartError"]


class KernelStartError(RuntimeError):
    """The kernel did not start or did not answer its first request."""


@dataclass
class CellResult:
    """What one cell did: status ("ok", "error", "timeout", "dead", "flood"), its outputs and its error."""

    status: str
    outputs: list[dict] = field(default_factory=list)      # nbformat-style output dicts
    error: dict | None = None                             # {"ename", "evalue", "traceback"} when status == "error"
    death: str = ""                                       # how the kernel died (status "dead")
    result: Any = None                                    # the execute_result's text/plain, if any
    seconds: float = 0.0
    dropped: str = ""                                     # malformed messages dropped: how many, the first reason

    @property
    def stdout(self) -> str:
        """Everything the cell wrote to stdout."""
        return "".join(o.get("text", "") for o in self.outputs if o.get("name") == "stdout")

    @property
    def text(self) -> str:
        """stdout, stderr and text/plain results, in order (what a reader of the cell would see as text)."""
        parts = []
        for o in self.outputs:
            if o["output_type"] == "stream":
                parts.append(o["text"])
            elif o["output_type"] in ("execute_result", "display_data"):
                parts.append(o.get("data", {}).get("text/plain", "") + "\n")
            elif o["output_type"] == "error":
                parts.append("\n".join(o.get("traceback", [])) + "\n")
        return "".join(parts)


def _size(content: dict) -> int:
    """Characters an output message carries (its data, metadata and traceback), counted without copying."""
    n = 0
    stack = [content]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            n += len(v)
        elif isinstance(v, dict):
            n += len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            n += len(v)
            stack.extend(v)
        else:
            n += 8
    return n


def _manager_class():
    from jupyter_client import KernelManager

    class PrefixedKernelManager(KernelManager):
        """A kernel manager whose kernel command starts with a sandbox prefix."""

        command_prefix: tuple[str, ...] = ()

        def format_kernel_cmd(self, extra_arguments=None):
            return list(self.command_prefix) + super().format_kernel_cmd(extra_arguments)

    return PrefixedKernelManager


class Kernel:
    """A python3 kernel with its own working folder and environment (see the module docstring)."""

    def __init__(self, cwd: str | Path, *, env: Mapping[str, str] | None = None,
                 command_prefix: Sequence[str] = (), max_output: int = 2_000_000, startup_timeout: float = 60.0):
        self.cwd = Path(cwd)
        self.env = dict(os.environ if env is None else env)
        self.command_prefix = tuple(command_prefix)
        self.max_output = max_output
        self.startup_timeout = startup_timeout
        self.km = None
        self.kc = None
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()

    def __enter__(self) -> Kernel:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def start(self) -> None:
        """Start the kernel and wait until it answers."""
        from jupyter_client.kernelspec import KernelSpec

        cls = _manager_class()
        km = cls()
        km.command_prefix = self.command_prefix
        # interrupts go as messages: a SIGINT to a sandbox launcher would not reach the kernel behind it
        km._kernel_spec = KernelSpec(argv=["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                     display_name="Python 3", language="python", interrupt_mode="message")
        conn_dir = self.cwd / ".kernel"
        conn_dir.mkdir(parents=True, exist_ok=True)
        km.connection_file = str(conn_dir / "kernel.json")
        km.transport = "ipc"          # unix sockets in the work folder: no TCP port, no network needed
        km.ip = str(conn_dir / "k")
        self.km = km
        self._log = open(conn_dir / "kernel.log", "wb")  # noqa: SIM115 - closed in shutdown
        try:
            km.start_kernel(cwd=str(self.cwd), env=self.env, stdout=self._log, stderr=self._log)
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=self.startup_timeout)
        except Exception as e:
            self.shutdown()
            raise KernelStartError(f"the kernel did not start: {type(e).__name__}: {e}") from e
        self.kc = kc

    @property
    def alive(self) -> bool:
        """True while the kernel process runs."""
        return self.km is not None and self.km.is_alive()

    def log_tail(self, n: int = 2000) -> str:
        """The last `n` characters the kernel process wrote outside Jupyter (e.g. glibc's 'corrupted size')."""
        try:
            return (self.cwd / ".kernel" / "kernel.log").read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def death(self) -> str:
        """How the kernel process ended ('killed by signal 11 (SIGSEGV)', 'exited with code 3')."""
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = proc.poll() if proc is not None else None
        if code is None:
            return "the kernel died"
        if code > 128 and self.command_prefix:   # a launcher (sandbox) reports its child's signal as 128 + N
            code = 128 - code
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "?"
            return f"the kernel was killed by signal {-code} ({name})"
        return f"the kernel exited with code {code}"

    def run(self, code: str, timeout: float = 120.0, max_output: int | None = None) -> CellResult:
        """Execute `code` as one cell; never hangs past `timeout` (+ a few seconds to interrupt/kill).

        `max_output` (default: the kernel's) bounds the characters of all the cell's outputs together."""
        if self.kc is None:
            raise RuntimeError("Kernel.run before start()")
        t0 = time.monotonic()
        if not self.alive:
            return CellResult("dead", death=self.death())
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        outputs: list[dict] = []
        res = CellResult("ok", outputs)
        size = 0
        limit = self.max_output if max_output is None else max_output
        dropped, first_bad = 0, ""
        deadline = t0 + timeout
        interrupted_at = None
        idle = False
        while not idle:
            now = time.monotonic()
            if interrupted_at is not None and now > interrupted_at + 3:
                self._kill()            # it ignored the interrupt
                break
            if interrupted_at is None and now > deadline:
                res.status = "timeout"
                interrupted_at = now
                self._interrupt()
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
                if not isinstance(msg, dict) or not isinstance(msg.get("content"), dict):
                    raise ValueError("a message without content")
                parent = msg.get("parent_header")
                kind, content = msg.get("msg_type"), msg["content"]
            except queue.Empty:
                if not self.alive:
                    res.status, res.death = "dead", self.death()
                    break
                continue
            except Exception as e:  # noqa: BLE001 - a forged or corrupt message (bad signature, not JSON): drop it
                dropped += 1
                first_bad = first_bad or f"{type(e).__name__}: {str(e)[:200]}"
                continue
            if not isinstance(parent, dict) or parent.get("msg_id") != msg_id:
                continue
            if kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "stream":
                text = content.get("text", "")
                text = text if isinstance(text, str) else str(text)
                if size + len(text) > limit:
                    text = text[: max(0, limit - size)]
                    if self._flood(res):
                        interrupted_at = interrupted_at or time.monotonic()
                size += len(text)
                if not text:
                    continue
                content = {"name": content.get("name") if content.get("name") in ("stdout", "stderr")
                           else "stdout", "text": text}
                if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == content["name"]:
                    outputs[-1]["text"] += content["text"]
                else:
                    outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
            elif kind in ("execute_result", "display_data", "error", "update_display_data"):
                n = _size(content)                 # every kind of output counts against the limit, not only text
                if size + n > limit:
                    if self._flood(res):
                        interrupted_at = interrupted_at or time.monotonic()
                    size = limit
                    continue                       # dropped: a flood of displays must not fill the grader's memory
                size += n
            if kind in ("execute_result", "display_data"):
                data = content.get("data", {}) if isinstance(content.get("data"), dict) else {}
                meta = content.get("metadata", {}) if isinstance(content.get("metadata"), dict) else {}
                outputs.append({"output_type": kind, "data": data, "metadata": meta})
                if kind == "execute_result":
                    res.result = data.get("text/plain")
            elif kind == "error":
                tb = content.get("traceback", [])
                err = {"ename": str(content.get("ename", "")), "evalue": str(content.get("evalue", "")),
                       "traceback": [str(x) for x in tb] if isinstance(tb, list) else []}
                outputs.append({"output_type": "error", **err})
                res.error = err
                if res.status == "ok":
                    res.status = "error"
            elif kind == "clear_output":
                outputs.clear()
        if idle:
            reply = self._shell_reply(msg_id)
            # the reply, not the error message on iopub, is what says a cell failed: code that silences
            # IPython's traceback display (showtraceback, set_custom_exc) still gets status "error" here
            if reply is not None and reply.get("status") == "error" and res.status == "ok":
                res.status = "error"
                if res.error is None:
                    res.error = {"ename": reply.get("ename", "Error"), "evalue": reply.get("evalue", ""),
                                 "traceback": []}
            elif reply is not None and reply.get("status") == "aborted" and res.status == "ok":
                res.status = "error"
                res.error = {"ename": "Aborted", "evalue": "the kernel aborted the request", "traceback": []}
        elif res.status in ("timeout", "flood") and self.alive:
            self._shell_reply(msg_id)
        res.seconds = time.monotonic() - t0
        if dropped:
            res.dropped = f"{dropped} malformed message(s) from the kernel were dropped ({first_bad})"
        return res

    def _flood(self, res: CellResult) -> bool:
        """Stop a cell whose output went over the limit (once): True when it was interrupted now."""
        if res.status in ("ok", "error"):
            res.status = "flood"
            self._interrupt()
            return True
        return False

    def _kill(self) -> None:
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _interrupt(self) -> None:
        try:
            self.km.interrupt_kernel()
        except Exception:  # noqa: BLE001 - a kernel that cannot be interrupted is killed after the grace
            pass

    def _shell_reply(self, msg_id: str, wait: float = 5.0) -> dict | None:
        """The content of the execute_reply to `msg_id` (None if none comes within `wait` seconds)."""
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                reply = self.kc.get_shell_msg(timeout=0.2)
            except queue.Empty:
                if not self.alive:
                    return None
                continue
            except Exception:  # noqa: BLE001 - a forged or corrupt message: dropped
                continue
            if not isinstance(reply, dict) or not isinstance(reply.get("parent_header"), dict):
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply.get("content", {})
        return None

    def shutdown(self) -> None:
        """Stop the kernel (and its process group) and close the channels."""
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
        if self.km is not None:
            try:
                if self.km.has_kernel:
                    self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
            try:
                self.km.cleanup_resources()
            except Exception:  # noqa: BLE001
                pass
        self.kc = None
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
