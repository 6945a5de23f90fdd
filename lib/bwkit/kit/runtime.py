"""Where a notebook runs and how: GPU detection, the Triton interpreter switch and its known-bug guard.

Every lab's first cell is::

    import bwkit
    rt = bwkit.setup()        # before `import triton`

`setup()` selects the Triton interpreter when there is no usable GPU (it must happen before triton is
imported: ``triton.jit`` decides at decoration time whether a kernel is compiled or interpreted), silences
Triton's FP-fusion warning (nbval compares stderr), seeds the random generators and returns a `Runtime`
that says which path each kind of cell takes. Taught in lab 00, step 1.

"No usable GPU" covers three cases, each announced in one printed line: no CUDA GPU at all; a CUDA install that
says a GPU is there but fails when asked about it (the CPU path is taken, as `bwkit doctor` reports); and a GPU the
kit's Triton kernels have no native plan for (`NATIVE_PLANS`: Ampere/Ada sm_80/86/89, sm_110a, ...), where the
Triton kernels run in the interpreter while torch still uses the GPU. `setup()` also makes sure Triton's on-disk
cache is writable (an unwritable ``$TRITON_CACHE_DIR`` or ``$HOME`` falls back to a private temporary folder).
"""

from __future__ import annotations

import os
import random
import stat
import sys
import tempfile
from dataclasses import dataclass

__all__ = [
    "NATIVE_PLANS",
    "native_plan",
    "ensure_triton_cache",
    "triton_cache_dir",
    "gpu_missing",
    "Runtime",
    "setup",
    "detect",
    "interpreter_active",
    "guard_dot_dtypes",
    "bf16_dot_error",
    "InterpreterBugError",
    "arch_name",
]

# Hardware path names, used by `bwkit doctor`, the lab catalog and the notebooks.
NATIVE_BLACKWELL = "sm_100a"
NATIVE_HOPPER = "sm_90a"
# The GPUs the kit's Triton kernels are planned for (`bwkit.gemm.plan`: tiles that fit their shared memory, TMA):
# architecture name -> plan target. Any other GPU runs the Triton kernels in the interpreter (`setup`).
NATIVE_PLANS: dict[str, str] = {"sm_90a": "sm_90a", "sm_100a": "sm_100a", "sm_103a": "sm_100a",
                                "sm_120a": "sm_120", "sm_121a": "sm_120"}


def arch_name(capability: tuple[int, int] | None) -> str:
    """The architecture name of a compute capability, as ptxas spells it: (9, 0) 'sm_90a', (10, 0) 'sm_100a',
    (10, 3) 'sm_103a' (B300), (11, 0) 'sm_110a', (12, 0) 'sm_120a', (12, 1) 'sm_121a'; older GPUs 'sm_80', 'sm_89';
    None 'cpu'. The 'a' suffix (arch-specific features: wgmma, tcgen05, TMA multicast) exists from 9.0 on (PTX ISA,
    "Target ISA notes")."""
    if capability is None:
        return "cpu"
    major, minor = capability
    if not (isinstance(major, int) and isinstance(minor, int)) or major < 1 or minor < 0:
        raise ValueError(f"arch_name: capability must be (major, minor) ints, got {capability!r}")
    return f"sm_{major}{minor}" + ("a" if major >= 9 else "")


def native_plan(capability: tuple[int, int] | None) -> str | None:
    """The `bwkit.gemm.plan` target ('sm_90a', 'sm_100a', 'sm_120') of a compute capability, None when the kit's
    Triton kernels are not planned for it (Ampere, Ada, sm_110a, ..., and the CPU)."""
    return None if capability is None else NATIVE_PLANS.get(arch_name(tuple(capability)))


@dataclass(frozen=True)
class Runtime:
    """What this machine offers a lab: the GPU (if any) and the path Triton kernels take."""

    gpu_name: str | None
    capability: tuple[int, int] | None
    sm_count: int | None
    memory_gib: float | None
    interpreter: bool

    @property
    def has_gpu(self) -> bool:
        """True when a CUDA GPU is visible to torch."""
        return self.gpu_name is not None

    @property
    def arch(self) -> str:
        """The GPU's architecture from its capability (`arch_name`): 'sm_90a', 'sm_100a', 'sm_103a', 'sm_120a', ...;
        'cpu' without a GPU."""
        return arch_name(self.capability)

    @property
    def native_plan(self) -> str | None:
        """The `bwkit.gemm.plan` target of this GPU ('sm_90a', 'sm_100a' also for sm_103a, 'sm_120' also for
        sm_121a); None without a GPU or on one the kit's Triton kernels are not planned for (`NATIVE_PLANS`)."""
        return native_plan(self.capability)

    @property
    def kind(self) -> str:
        """The machine kind of the lab catalog: 'cpu', 'sm_90a', 'sm_100a' (sm_100a, sm_103a), 'sm_120' (sm_120a,
        sm_121a) or 'other' (every GPU without a native plan: there `setup` runs Triton in the interpreter)."""
        if self.capability is None:
            return "cpu"
        return self.native_plan or "other"

    @property
    def is_blackwell_dc(self) -> bool:
        """Datacenter Blackwell (B200/GB200 sm_100a, B300/GB300 sm_103a): tcgen05 and TMEM available."""
        return self.capability is not None and self.capability[0] == 10

    @property
    def is_hopper(self) -> bool:
        """Hopper (H100/H200, sm_90a): wgmma and TMA available."""
        return self.capability is not None and self.capability[0] == 9

    @property
    def can_time(self) -> bool:
        """True when GPU timings are meaningful here (a GPU, kernels compiled, not interpreted)."""
        return self.has_gpu and not self.interpreter

    @property
    def triton_path(self) -> str:
        """How Triton kernels run here: 'native' or 'interpreter'."""
        return "interpreter" if self.interpreter else "native"

    def describe(self) -> str:
        """One human line about this machine, for a lab's first cell."""
        if not self.has_gpu:
            return ("No CUDA GPU: Triton kernels run in the Triton interpreter (CPU), GPU code is compiled "
                    "for sm_100a/sm_90a without running, number formats are emulated.")
        mem = f"{self.memory_gib:.0f} GiB" if self.memory_gib else "?"
        txt = f"GPU: {self.gpu_name} ({self.arch}, {self.sm_count} SMs, {mem})."
        if self.interpreter and self.native_plan is None:
            txt += (f" The kit's Triton kernels have no plan for {self.arch}: they run in the Triton interpreter "
                    "(CPU) and GPU code is compiled only; torch runs on the GPU.")
        elif self.interpreter:
            txt += " Triton interpreter forced (TRITON_INTERPRET=1)."
        elif self.is_blackwell_dc:
            txt += " Native Blackwell path: tcgen05 kernels run and are timed."
        elif self.is_hopper:
            txt += " Native Hopper path: wgmma kernels run and are timed; tcgen05 code is compiled only."
        elif self.kind == "sm_120":
            txt += (" Consumer Blackwell: no tcgen05/TMEM (it uses warp-level mma.sync with block-scaled kinds);"
                    " tcgen05 code is compiled only.")
        else:   # a GPU without a plan, TRITON_INTERPRET=0 given: native Triton, the kit's ladder needs explicit blocks
            txt += (f" Native Triton (TRITON_INTERPRET=0), but the kit's kernels have no plan for {self.arch}: "
                    "give them explicit blocks; wgmma/tcgen05 code is compiled only.")
        return txt


def _gpu_facts() -> tuple[str | None, tuple[int, int] | None, int | None, float | None]:
    """(name, capability, SMs, GiB) of CUDA device 0, all None without one; raises what a broken CUDA install
    raises when asked (`setup` then takes the CPU path, `bwkit doctor` says so)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return None, None, None, None
    if os.environ.get("BWKIT_FORCE_CPU") == "1" or not torch.cuda.is_available():
        return None, None, None, None
    props = torch.cuda.get_device_properties(0)
    return props.name, (props.major, props.minor), props.multi_processor_count, props.total_memory / 2**30


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _writable_dir(path: str) -> bool:
    """Whether `path` is (or can be made) a folder this process can create files in."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".bwkit-probe-")
        os.close(fd)
        os.remove(probe)
        return True
    except OSError:
        return False


def _private_dir(name: str) -> str:
    """A folder `name` in the temporary directory that only this user can use (created mode 0700; kept across
    runs, so Triton's cache still saves recompiles), or a fresh `mkdtemp` when that name is taken by someone else."""
    path = os.path.join(tempfile.gettempdir(), name)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if (stat.S_ISDIR(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == os.getuid())
                and not st.st_mode & 0o077 and _writable_dir(path)):
            return path
    except OSError:
        pass
    return tempfile.mkdtemp(prefix=name + "-")


def triton_cache_dir() -> str:
    """The folder Triton caches compiled kernels in, as triton 3.9 picks it (`triton.knobs.cache.dir`):
    ``$TRITON_CACHE_DIR``, else ``$TRITON_HOME/.triton/cache``, else ``~/.triton/cache``."""
    if os.environ.get("TRITON_CACHE_DIR") is not None:
        return os.environ["TRITON_CACHE_DIR"]
    return os.path.join(os.environ.get("TRITON_HOME", os.path.expanduser("~/")), ".triton", "cache")


def ensure_triton_cache() -> str | None:
    """Make Triton's kernel cache writable: when `triton_cache_dir()` cannot be created or written (a read-only
    home, ``HOME=/proc/...``, a bad ``$TRITON_CACHE_DIR``), point ``$TRITON_CACHE_DIR`` at a new private temporary
    folder (Triton reads it at each compile). Returns the line saying so, None when the cache was fine."""
    where = triton_cache_dir()
    if _writable_dir(where):
        return None
    fallback = _private_dir(f"bwkit-triton-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    os.environ["TRITON_CACHE_DIR"] = fallback
    return f"bwkit.setup(): Triton's cache folder {where} is not writable; using {fallback} (TRITON_CACHE_DIR)."


def gpu_missing(majors: tuple[int, ...], needs: str) -> str | None:
    """None when CUDA device 0 has a compute capability major in `majors`, else why not, in one sentence ending in
    `needs` (what the kernels need); used by the GPU checks before they launch anything."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible"
    major, minor = torch.cuda.get_device_capability(0)
    if major not in majors:
        return f"{torch.cuda.get_device_name(0)} is sm_{major}{minor}: {needs}"
    return None


def detect() -> Runtime:
    """Describe this machine without changing anything (`setup` also switches the interpreter on). Raises what
    CUDA raises on a broken install (`bwkit doctor` reports it; `setup` takes the CPU path)."""
    name, cap, sms, mem = _gpu_facts()
    return Runtime(name, cap, sms, mem, interpreter=interpreter_active())


def interpreter_active() -> bool:
    """True when Triton kernels are (or will be) run by the Triton interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def setup(seed: int = 0, *, quiet: bool = False) -> Runtime:
    """Prepare a lab: interpreter on a GPU-less machine, quiet Triton, seeded RNGs; return the `Runtime`.

    Call it in a notebook's first cell, before `import triton`. `seed` seeds python, numpy and torch.
    Set BWKIT_FORCE_CPU=1 to take the CPU path on a GPU machine (it also hides the GPUs from torch when torch
    is not imported yet). The interpreter is also switched on for a GPU the kit's kernels have no plan for
    (`NATIVE_PLANS`) unless TRITON_INTERPRET=0 is set, and when CUDA fails to describe its GPU (the CPU path is
    taken then, BWKIT_FORCE_CPU=1 set for the rest of the process). Each such fallback, and that of an unwritable
    Triton cache (`ensure_triton_cache`), prints one line, `quiet` or not; `quiet` drops only the `describe` line.
    Taught in lab 00, step 1.
    """
    if not isinstance(seed, int):
        raise TypeError(f"setup(seed=...) takes an int, got {type(seed).__name__}")
    if os.environ.get("BWKIT_FORCE_CPU") == "1" and "torch" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # hide GPUs from everything, not only from bwkit
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # triton 3.9 warns when unset
    # CuTe DSL writes kept PTX/CUBIN files to the working directory unless told otherwise (read at its import)
    os.environ.setdefault("CUTE_DSL_DUMP_DIR", os.path.join(tempfile.gettempdir(), "bwkit-cute"))
    os.makedirs(os.environ["CUTE_DSL_DUMP_DIR"], exist_ok=True)
    notes = [n for n in (ensure_triton_cache(),) if n]
    try:
        name, cap, sms, mem = _gpu_facts()
    except Exception as e:  # noqa: BLE001 - a broken CUDA install: whatever it raises, take the CPU path
        name = cap = sms = mem = None
        os.environ["BWKIT_FORCE_CPU"] = "1"   # so that detect() and every later check agree with this choice
        notes.append(f"bwkit.setup(): CUDA reports a GPU but fails when asked about it ({_first_line(e)}); "
                     "taking the CPU path (Triton interpreter).")
    why = None
    if name is None:
        why = "there is no GPU here"
    elif native_plan(cap) is None and os.environ.get("TRITON_INTERPRET") != "0":
        why = f"the kit's Triton kernels have no plan for {arch_name(cap)}"
    if why is not None and not interpreter_active():
        if "triton" in sys.modules:
            raise RuntimeError(
                f"bwkit.setup() must run before `import triton`: {why}, so Triton kernels need "
                "the interpreter, and triton.jit picks it when the kernel is defined. Restart the kernel and "
                "make `import bwkit; bwkit.setup()` the first cell"
                + (" (or set TRITON_INTERPRET=0 to compile natively anyway)." if name is not None else "."))
        os.environ["TRITON_INTERPRET"] = "1"
        if name is not None:
            notes.append(f"bwkit.setup(): {name} is {arch_name(cap)}, and the kit's Triton kernels are planned for "
                         "sm_90a, sm_100a/sm_103a and sm_120a/sm_121a only: Triton interpreter switched on (set "
                         "TRITON_INTERPRET=0 before setup() to compile natively anyway).")
    if interpreter_active():
        _fix_interpreter_patch_leak()
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    import torch

    torch.manual_seed(seed)
    rt = Runtime(name, cap, sms, mem, interpreter=interpreter_active())
    for note in notes:
        print(note)
    if not quiet:
        print(rt.describe())
    return rt


def _fix_interpreter_patch_leak() -> None:
    """Make the interpreter undo its language patches after a @triton.jit helper call (triton 3.9).

    Under TRITON_INTERPRET=1 a kernel that calls a `@triton.jit` function (`tl.zeros`, `tl.cdiv`, your own
    helpers) runs `InterpretedFunction.__call__`, which patches `triton.language` for the interpreter and never
    restores it; every later `bwkit.inspect.compile_triton` in the process then fails. This wraps the call so
    the patch scope is restored on return, as a kernel launch already does. Idempotent.
    """
    from triton.runtime import interpreter as interp

    if getattr(interp.InterpretedFunction.__call__, "_bwkit_fixed", False):
        return

    def __call__(self, *args, **kwargs):
        scope = interp._patch_lang(self.fn)
        try:
            return self.rewrite()(*args, **kwargs)
        except Exception as e:
            raise interp.InterpreterError(repr(e)) from e
        finally:
            scope.restore()

    __call__._bwkit_fixed = True
    interp.InterpretedFunction.__call__ = __call__


class InterpreterBugError(RuntimeError):
    """A Triton kernel would hit a known wrong-result bug of the Triton interpreter."""


_BF16_WHY = ("the Triton interpreter computes bf16 dot products wrongly, silently (it multiplies the raw bf16 bit "
             "patterns; triton issue 11584). Fix: on the CPU use float16 or float32 operands (x.half() or x.float(), "
             "exact for values that came from bf16; the bwkit.gemm wrappers convert for you); on a GPU bf16 is fine")


def bf16_dot_error(what: str, operands) -> InterpreterBugError:
    """The error for bf16 operands reaching `tl.dot` under the interpreter: what went wrong, why, and the fix."""
    return InterpreterBugError(f"{what}: operand(s) {list(operands)} are bfloat16, and {_BF16_WHY}.")


def guard_dot_dtypes(*tensors, what: str = "tl.dot") -> None:
    """Refuse bf16 operands for `tl.dot` under the Triton interpreter (it multiplies raw bit patterns).

    Triton issue 11584 (also 4972): the interpreter's bf16 `tl.dot` gives garbage, silently. Kernel wrappers
    in bwkit and every learner launch path (`bwkit.kit.interp.safe_launch`, `bwkit.gemm.launch`) call this or
    check each `tl.dot`'s operands; on a GPU it does nothing. Taught in lab 00, step 1.
    """
    import torch

    if not interpreter_active():
        return
    bad = [i for i, t in enumerate(tensors) if isinstance(t, torch.Tensor) and t.dtype == torch.bfloat16]
    if bad:
        raise bf16_dot_error(what, bad)
