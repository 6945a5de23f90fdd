"""The throw-away sandbox each student notebook runs in (Linux: bubblewrap, prlimit and a pids cgroup).

What a student's kernel sees and may do:
* **files**: the system (/usr, and of /etc only the few files programs need: `ETC_FILES`), the Python installation,
  the kit's venv and the kit's `lib/` read-only; one empty working folder of its own read-write (inside a private
  0700 folder of the grader's, out of other local users' reach); a private /tmp. Not visible: `solutions/`, the
  instructor's files, /etc/shadow and the rest of /etc,
  the grading output (`--out`), the submissions (its own included: it gets its code cell by cell, never the file),
  other students' folders, the instructor's home;
* **processes**: its own PID namespace (it cannot see or signal the grader or other students' kernels; everything
  in it dies when the run ends, detached children included), its own user (uid 65534 inside), no capabilities,
  a new session (no terminal);
* **network**: none (an empty network namespace; the grader talks to the kernel through unix sockets in the
  working folder);
* **limits**: address space (`--memory-gib`; on a machine with an NVIDIA driver the data segment, since CUDA
  reserves far more address space than it uses), CPU seconds (`--cpu-limit`), no core dumps, and at most
  `max_procs` processes (a pids cgroup when /sys/fs/cgroup/pids is writable, else RLIMIT_NPROC).
Where bubblewrap is missing (not Linux, or not installed: `apt-get install bubblewrap`) the grader refuses to run
unless `--no-sandbox` is given, and the report then says the runs were not isolated.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from bwkit.kit.notebooks import KIT_LIB

__all__ = ["Sandbox", "sandbox_available", "ISOLATION_TEXT", "NO_ISOLATION_TEXT"]

ISOLATION_TEXT = ("each notebook ran in a bubblewrap sandbox: system, venv and kit read-only; solutions, "
                  "grading output and other students' files not visible; own PID namespace, no network, "
                  "memory/CPU/process limits")
NO_ISOLATION_TEXT = ("NOT ISOLATED (--no-sandbox): student code ran with the grader's user rights and could read "
                     "the solutions, change the kit, other students' results and the reports; only memory/CPU "
                     "limits and a reduced environment applied")
_PIDS_CGROUP = Path("/sys/fs/cgroup/pids")
# What of /etc the sandbox sees (each only where it exists). Never all of /etc: a grader running as root maps the
# sandbox's uid to root outside, and /etc/shadow, /etc/ssh/*_key or the instructor's config would be readable.
ETC_FILES = ("passwd", "group", "nsswitch.conf", "host.conf", "hosts", "hostname", "localtime", "timezone",
             "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl/certs", "ssl/openssl.cnf", "ca-certificates.conf",
             "alternatives", "mime.types", "fonts", "os-release", "debian_version")


def sandbox_available() -> str | None:
    """None when a sandbox can be built here, else the reason it cannot (`grade` refuses to run without one)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform}): run the grader in a Linux container or VM"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    return None


def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(r for r in roots if r not in ("/usr", "/"))


def _kit_lib() -> str:
    return str(KIT_LIB)      # lib/ (holds bwkit): an editable install reads it


@dataclass
class Sandbox:
    """Builds the command prefix that runs a kernel isolated (or, with `isolate=False`, only limited)."""

    memory_gib: float = 8.0
    cpu_seconds: float = 600.0
    max_procs: int = 256
    isolate: bool = True

    def __post_init__(self):
        # whether bubblewrap is here is checked once per class, before any run, by `bwkit.kit.grading.grade`
        self._cgroup: Path | None = None

    @property
    def description(self) -> str:
        """What the runs were isolated from, for the report."""
        return ISOLATION_TEXT if self.isolate else NO_ISOLATION_TEXT

    def _limits(self) -> list[str]:
        mem = int(self.memory_gib * 2**30)
        which = "--data" if os.path.exists("/dev/nvidiactl") else "--as"
        cpu = int(self.cpu_seconds)
        out = ["prlimit", f"{which}={mem}", f"--cpu={cpu}:{cpu + 5}", "--core=0"]
        if self._cgroup is None and self.isolate:
            # without a pids cgroup: RLIMIT_NPROC counts the processes of the user the sandbox maps to
            out.append(f"--nproc={_user_processes() + self.max_procs}")
        return out + ["--"]

    def _cgroup_join(self) -> list[str]:
        if self._cgroup is None:
            return []
        return ["sh", "-c", f'echo $$ > {self._cgroup}/cgroup.procs && exec "$@"', "sh"]

    def prefix(self, work: Path) -> list[str]:
        """The command prefix for a kernel whose working (and only writable) folder is `work`."""
        self._cgroup = _make_cgroup(self.max_procs) if self.isolate else None
        if not self.isolate:
            return self._limits()
        w = str(Path(work).resolve())
        cmd = self._cgroup_join() + self._limits() + [
            "bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user",
            "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--hostname", "bwkit-grade",
            "--ro-bind", "/usr", "/usr"]
        for name in ETC_FILES:       # only what Python, torch and Jupyter read: never shadow, ssh keys, ...
            cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = Path("/" + name)
            if p.is_symlink():
                cmd += ["--symlink", os.readlink(p), f"/{name}"]
            elif p.is_dir():
                cmd += ["--ro-bind", str(p), f"/{name}"]
        # the private /tmp first: bwrap mounts in order, and the kit or its venv may live under /tmp (a CI clone)
        cmd += ["--tmpfs", "/tmp"]
        for root in _python_roots() + [_kit_lib()]:
            cmd += ["--ro-bind", root, root]
        cmd += ["--proc", "/proc", "--dev", "/dev"]
        for dev in sorted(Path("/dev").glob("nvidia*")):           # the GPU, for the native path
            cmd += ["--dev-bind", str(dev), str(dev)]
        cmd += ["--bind", w, w, "--chdir", w, "--unsetenv", "JPY_PARENT_PID"]
        return cmd

    def cleanup(self) -> None:
        """Remove the run's cgroup (its processes are gone once the kernel is shut down)."""
        if self._cgroup is not None:
            try:
                self._cgroup.rmdir()
            except OSError:
                pass
            self._cgroup = None


def _user_processes() -> int:
    uid = os.getuid()
    n = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                n += p.stat().st_uid == uid
            except OSError:
                pass
    return n


def _make_cgroup(max_procs: int) -> Path | None:
    """A fresh pids cgroup limited to `max_procs`, or None when cgroups cannot be written here."""
    if not os.access(_PIDS_CGROUP, os.W_OK):
        return None
    path = _PIDS_CGROUP / f"bwkit-grade-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_procs))
    except OSError:
        try:
            path.rmdir()
        except OSError:
            pass
        return None
    return path
