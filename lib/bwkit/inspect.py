"""Compile-only inspection: build Triton and CuTe DSL kernels for a GPU you don't have and read PTX/SASS.

No GPU is needed: Triton's ahead-of-time compiler and the CuTe DSL both run on a CPU. The SASS view uses the
``nvdisasm`` that the triton wheel ships. Taught in lab 01.

    from bwkit import inspect as bwi
    k = bwi.compile_triton(matmul_kernel, {"a_ptr": "*fp16", ...}, {"BLOCK_M": 128}, target="sm_100a")
    bwi.histogram(k.ptx)            # Counter of PTX opcodes: tcgen05.mma..., cp.async.bulk.tensor..., ...
    print(k.sass()[:2000])
    bwi.resource_usage(k)           # {'REG': registers per thread, 'STACK', 'SHARED' (static), 'LOCAL' (spills)}
"""

from __future__ import annotations

import contextlib
import numbers
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "TARGETS", "Compiled", "compile_triton", "compile_cute", "disassemble", "histogram", "grep",
    "find_tool", "compare_histograms", "count_matching", "resource_usage",
]

# target name -> (compute capability as Triton's GPUTarget wants it, generation)
TARGETS: dict[str, tuple[int, str]] = {
    "sm_80": (80, "Ampere"),
    "sm_90a": (90, "Hopper"),
    "sm_100a": (100, "Blackwell (datacenter)"),
    "sm_120": (120, "Blackwell (consumer)"),
}


def _target_cc(target: str) -> int:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; supported targets: {', '.join(TARGETS)}")
    return TARGETS[target][0]


@dataclass
class Compiled:
    """A kernel compiled for one target: its PTX text and cubin bytes (plus the compiler's own object)."""

    name: str
    target: str
    ptx: str
    cubin: bytes | None
    metadata: dict = field(default_factory=dict)
    _sass: str | None = field(default=None, repr=False)
    _resources: dict | None = field(default=None, repr=False)

    def sass(self) -> str:
        """SASS disassembly of the cubin (cached)."""
        if self._sass is None:
            if not self.cubin:
                raise ValueError(f"{self.name} ({self.target}): no cubin to disassemble")
            self._sass = disassemble(self.cubin)
        return self._sass

    def ptx_target(self) -> str:
        """The `.target` directive of the PTX (e.g. 'sm_100a')."""
        m = re.search(r"^\s*\.target\s+(\S+)", self.ptx, re.M)
        return m.group(1).rstrip(",") if m else "?"

    def histogram(self, kind: str = "ptx", depth: int | None = None) -> Counter:
        """Instruction histogram of the 'ptx' or 'sass' text; `depth` keeps that many dotted parts."""
        if kind not in ("ptx", "sass"):
            raise ValueError(f"kind must be 'ptx' or 'sass', got {kind!r}")
        return histogram(self.ptx if kind == "ptx" else self.sass(), kind=kind, depth=depth)


def _unwrap_triton(kernel):
    """Return a JITFunction for `kernel`, even when the interpreter turned it into an InterpretedFunction."""
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    obj = kernel
    for _ in range(8):  # autotuner / heuristics wrappers hold the kernel in .fn
        if isinstance(obj, JITFunction):
            return obj
        if isinstance(obj, InterpretedFunction):
            return _as_jit(obj)
        obj = getattr(obj, "fn", None)
        if obj is None:
            break
    raise TypeError(f"compile_triton needs a @triton.jit kernel, got {type(kernel).__name__}")


def _as_jit(fn):
    from triton.runtime.jit import JITFunction

    return JITFunction(fn.fn, **getattr(fn, "kwargs", {}))


@contextlib.contextmanager
def _compiler_mode(jit_fn):
    """Compile even when the Triton interpreter is on.

    With TRITON_INTERPRET=1 at import, every `@triton.jit` function (the kernel's helpers and triton's own
    standard library, e.g. `tl.zeros`) is an InterpretedFunction; if the code generator calls one it patches
    the language for the interpreter and compilation breaks. So, while compiling, the interpreter is switched
    off and each reachable InterpretedFunction is swapped for a JITFunction; everything is restored after.
    """
    import triton.experimental.gluon.nvidia  # noqa: F401  (import it in the mode its kernels were made in)
    from triton.runtime.interpreter import InterpretedFunction

    changes: list[tuple[dict, str, object]] = []
    seen: set[int] = set()
    made: dict[int, object] = {}

    def visit(d: dict) -> None:
        if id(d) in seen:
            return
        seen.add(id(d))
        for key, val in list(d.items()):
            if isinstance(val, InterpretedFunction):
                if id(val) not in made:
                    made[id(val)] = _as_jit(val)
                changes.append((d, key, val))
                d[key] = made[id(val)]
                visit(val.fn.__globals__)
            elif isinstance(val, types.ModuleType) and val.__name__.startswith("triton.language"):
                visit(val.__dict__)

    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "0"
    try:
        if old not in (None, "", "0"):
            for name, mod in list(sys.modules.items()):
                if name.startswith("triton.language") and mod is not None:
                    visit(mod.__dict__)
            visit(jit_fn.fn.__globals__)
        yield
    finally:
        for d, key, val in reversed(changes):
            d[key] = val
        if old is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = old


def compile_triton(kernel, signature: dict[str, str], constexprs: dict | None = None, target: str = "sm_100a",
                   num_warps: int = 4, num_stages: int = 3, *, attrs: dict | None = None, **options) -> Compiled:
    """Compile a `@triton.jit` (or Gluon `@gluon.jit`) kernel for `target` without a GPU; return PTX, cubin and
    metadata.

    `signature` maps each runtime argument to a Triton type ('*fp16', '*fp32', 'i32', 'tensordesc<...>', ...);
    `constexprs` maps constexpr arguments to values (they are added to the signature as 'constexpr'). `attrs` are
    the specialization attributes a launch adds ({(arg index,): [['tt.divisibility', 16]]}, as
    `bwkit.gemm.launch_specialization` builds them). Extra `options` go to the compiler (e.g. `maxnreg`).
    Triton's kernel cache must be writable: when it is not (and `bwkit.setup()` has not already moved it), it moves
    to a private temporary folder first, saying so in one line (`bwkit.kit.runtime.ensure_triton_cache`).
    """
    import triton

    from bwkit.kit.runtime import ensure_triton_cache

    moved = ensure_triton_cache()
    if moved:
        print(moved.replace("bwkit.setup()", "bwkit.inspect.compile_triton", 1))
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    try:  # Gluon kernels compile through their own source class; a Triton without Gluon compiles the others
        from triton.experimental.gluon._runtime import GluonASTSource, GluonJITFunction
    except ImportError:
        GluonASTSource = GluonJITFunction = None

    cc = _target_cc(target)
    jit_fn = _unwrap_triton(kernel)
    if not isinstance(signature, Mapping):
        raise TypeError(f"compile_triton: signature must be a dict {{argument: Triton type}} such as "
                        f"{{'a_ptr': '*fp16', 'M': 'i32'}}, got {type(signature).__name__}")
    constexprs = dict(constexprs or {})
    _check_launch_args(signature, constexprs, num_warps)
    names = list(jit_fn.arg_names)
    unknown = [k for k in list(signature) + list(constexprs) if k not in names]
    if unknown:
        raise ValueError(f"{jit_fn.__name__} has no argument(s) {unknown}; its arguments are {names}")
    missing = [n for n in names if n not in signature and n not in constexprs]
    if missing:
        raise ValueError(f"{jit_fn.__name__}: give a type (signature) or a value (constexprs) for {missing}")
    sig = {n: (signature[n] if n in signature else "constexpr") for n in names}
    gluon = GluonJITFunction is not None and isinstance(jit_fn, GluonJITFunction)
    src = (GluonASTSource if gluon else ASTSource)(fn=jit_fn, signature=sig, constexprs=constexprs, attrs=attrs)
    opts = {"num_warps": num_warps, "num_stages": num_stages, **options}
    with _compiler_mode(jit_fn):
        k = triton.compile(src, target=GPUTarget("cuda", cc, 32), options=opts)
    keys = ("num_warps", "num_stages", "shared", "name") + (("tmem_size",) if gluon else ())
    meta = {key: getattr(k.metadata, key) for key in keys if hasattr(k.metadata, key)}
    return Compiled(jit_fn.__name__, target, k.asm["ptx"], k.asm.get("cubin"), meta)


def _check_launch_args(signature: Mapping, constexprs: dict, num_warps) -> None:
    """What Triton would fail on deep inside (a KeyError, an AssertionError), checked first: every signature type
    one Triton parses, constexpr values that are not numbers typed as text, num_warps a power of two."""
    from triton.language import str_to_ty

    for name, ty in signature.items():
        if not isinstance(ty, (str, tuple)):
            raise TypeError(f"compile_triton: signature[{name!r}] must be a Triton type string ('*fp16', 'i32', "
                            f"'tensordesc<...>'), got {type(ty).__name__} {ty!r:.60}")
        if isinstance(ty, str) and ty != "constexpr":
            try:
                str_to_ty(ty, None)
            except (KeyError, IndexError, ValueError) as e:
                raise ValueError(f"compile_triton: signature[{name!r}] = {ty!r} is not a Triton type ({e!r}); "
                                 f"e.g. '*fp16', '*bf16', '*fp32', '*fp8e4nv', '*u8', 'i32', 'i64', 'fp32'") from None
    for name, v in constexprs.items():
        if isinstance(v, str):
            try:
                float(v)
            except ValueError:
                continue                # a str constexpr (a mode name, say) is legitimate
            raise ValueError(f"compile_triton: constexprs[{name!r}] = {v!r} is a number typed as text: drop the "
                             f"quotes")
    if isinstance(num_warps, bool) or not isinstance(num_warps, int) or num_warps < 1 or num_warps & (num_warps - 1):
        raise ValueError(f"compile_triton: num_warps must be a power of two (1, 2, 4, 8, 16, 32), got {num_warps!r}"
                         + (" (a number typed as text: drop the quotes)" if isinstance(num_warps, str) else ""))


def compile_cute(fn, *args, target: str = "sm_100a", **kwargs) -> Compiled:
    """Compile a CuTe DSL `@cute.jit` function for sm_100a on any machine; return PTX and cubin.

    Runs ``cute.compile(fn, *args, options="--keep-ptx --keep-cubin --gpu-arch sm_100a --dump-dir TMP")``: the
    DSL writes PTX/CUBIN into a private temporary folder and reads them back, and `--gpu-arch` makes a GPU
    machine that is not a B200 (a Hopper, say) still compile for Blackwell. sm_100a is the only target here.
    """
    if target != "sm_100a":
        raise ValueError(f"compile_cute supports target 'sm_100a' only; got {target!r}. Supported targets: sm_100a")
    import cutlass.cute as cute

    if "options" in kwargs:
        raise ValueError("compile_cute sets the compile options itself; pass kernel arguments only")
    with tempfile.TemporaryDirectory(prefix="bwkit-cute-") as d:
        compiled = cute.compile(fn, *args, options=f"--keep-ptx --keep-cubin --gpu-arch {target} --dump-dir {d}",
                                **kwargs)
        ptx = getattr(compiled, "__ptx__", None) or ""
        cubin = getattr(compiled, "__cubin__", None)
    ptx = ptx if isinstance(ptx, str) else ptx.decode()
    if ".target" not in ptx:
        raise RuntimeError(f"the CuTe DSL returned no PTX text (got {ptx[:100]!r})")
    name = getattr(fn, "__name__", "cute_fn")
    return Compiled(name, target, ptx, cubin, {"compiled": compiled})


def find_tool(name: str) -> Path:
    """Path of a CUDA binary utility ('nvdisasm', 'cuobjdump', 'ptxas') from the triton wheel or PATH."""
    if name not in ("nvdisasm", "cuobjdump", "ptxas", "ptxas-blackwell"):
        raise ValueError(f"unknown tool {name!r}; known: nvdisasm, cuobjdump, ptxas, ptxas-blackwell")
    try:
        import triton

        p = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name
        if p.exists():
            return p
    except ImportError:
        pass
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(f"{name} not found: it ships in the triton wheel under triton/backends/nvidia/bin")


def _cuobjdump(cubin: bytes, flag: str, what: str) -> str:
    """stdout of `cuobjdump <flag>` on a cubin (written to a private temporary file)."""
    if not isinstance(cubin, (bytes, bytearray)) or not cubin:
        raise ValueError(f"{what} needs the cubin as non-empty bytes")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "k.cubin"
        f.write_bytes(bytes(cubin))
        res = subprocess.run([str(find_tool("cuobjdump")), flag, str(f)], capture_output=True, text=True,
                             timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"cuobjdump failed: {res.stderr.strip()}")
    return res.stdout


def disassemble(cubin: bytes) -> str:
    """SASS text of a cubin, via the `cuobjdump -sass` shipped with triton."""
    return _cuobjdump(cubin, "-sass", "disassemble")


_RESOURCES = ("REG", "STACK", "SHARED", "LOCAL")


def resource_usage(cubin_or_compiled: bytes | Compiled) -> dict[str, int]:
    """{'REG': registers per thread, 'STACK', 'SHARED' (static shared memory), 'LOCAL' (spilled bytes)} of a
    cubin (or a `Compiled`'s cubin, cached on it), from `cuobjdump -res-usage`.

    A cubin with several kernels (functions) gives the largest value of each field over them (what the most
    demanding kernel needs); a field cuobjdump does not report is left out. Raises ValueError without a cubin and
    RuntimeError when cuobjdump reports no kernel (no register count).
    """
    k = cubin_or_compiled if isinstance(cubin_or_compiled, Compiled) else None
    if k is not None and k._resources is not None:
        return dict(k._resources)
    out = _cuobjdump(k.cubin if k is not None else cubin_or_compiled, "-res-usage", "resource_usage")
    found: dict[str, int] = {}
    for key, v in re.findall(r"\b(" + "|".join(_RESOURCES) + r"):(\d+)", out):
        found[key] = max(found.get(key, 0), int(v))
    if "REG" not in found:
        raise RuntimeError(f"cuobjdump -res-usage gave no register count: {out[:200]}")
    if k is not None:
        k._resources = dict(found)
    return found


_SASS_LINE = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(.*?)\s*;")


def _ptx_ops(text: str):
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line or line[0] in ".{}()" or line.endswith(":") or line.startswith("$"):
            continue
        tok = line.replace(";", " ").split()
        if tok and tok[0].startswith("@"):
            tok = tok[1:]
        if tok and re.match(r"^[a-z][\w.:]*$", tok[0]):
            yield tok[0]


def _sass_ops(text: str):
    for raw in text.splitlines():
        m = _SASS_LINE.search(raw)
        if not m:
            continue
        tok = m.group(1).split()
        if tok and tok[0].startswith("@"):
            tok = tok[1:]
        if tok:
            yield tok[0]


def _text(fn: str, text, what: str = "PTX or SASS text") -> str:
    """`text` itself when it is a str; TypeError naming `fn` otherwise (a Compiled: say which text to pass)."""
    if isinstance(text, str):
        return text
    if isinstance(text, Compiled):
        raise TypeError(f"{fn}: text must be {what} (a str), got a Compiled: pass k.ptx (PTX) or k.sass() (SASS)")
    raise TypeError(f"{fn}: text must be {what} (a str), got {type(text).__name__}")


def _regex(fn: str, pattern, what: str = "pattern") -> re.Pattern:
    try:
        return re.compile(pattern)
    except (re.error, TypeError) as e:
        raise ValueError(f"{fn}: {what} {pattern!r} is not a regular expression ({e})") from None


def histogram(text: str | Compiled, kind: str = "ptx", depth: int | None = None) -> Counter:
    """Count instructions in PTX or SASS text. `depth=1` keeps only the base opcode ('tcgen05', 'HMMA').

    A `Compiled` is read as its PTX (kind='ptx') or SASS (kind='sass'). Text of the other kind (PTX with
    kind='sass', cuobjdump SASS with kind='ptx') raises ValueError instead of counting nothing.
    """
    if kind not in ("ptx", "sass"):
        raise ValueError(f"kind must be 'ptx' or 'sass', got {kind!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be an int >= 1 or None, got {depth!r}")
    if isinstance(text, Compiled):
        return text.histogram(kind, depth)
    text = _text("histogram", text)
    sass_lines = any(_SASS_LINE.search(raw) for raw in text.splitlines())
    if kind == "ptx" and sass_lines:
        raise ValueError("histogram: this text is SASS (cuobjdump lines /*0010*/ OPCODE ... ;), not PTX: pass "
                         "kind='sass'")
    if kind == "sass" and not sass_lines and next(_ptx_ops(text), None) is not None:
        raise ValueError("histogram: this text has no SASS instruction line (/*0010*/ OPCODE ... ;); it reads as "
                         "PTX: pass kind='ptx', or the SASS (k.sass())")
    ops = _ptx_ops(text) if kind == "ptx" else _sass_ops(text)
    if depth is not None:
        ops = (".".join(o.split(".")[:depth]) for o in ops)
    return Counter(ops)


def grep(text: str, pattern: str, limit: int | None = 20) -> list[str]:
    """Lines of `text` that match the regex `pattern` (stripped), at most `limit` of them (None: every one)."""
    text = _text("grep", text)
    rx = _regex("grep", pattern)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"grep: limit must be a positive int or None (every match), got {limit!r}")
    return [ln.strip() for ln in text.splitlines() if rx.search(ln)][:limit]


def _check_hist(fn: str, hist, name: str = "hist") -> None:
    if isinstance(hist, str) or not isinstance(hist, Mapping):
        raise TypeError(f"{fn}: {name} must be an instruction histogram (bwi.histogram(k.ptx) or k.histogram()), "
                        f"got {type(hist).__name__}")
    bad = next((op for op, n in hist.items() if not isinstance(op, str) or isinstance(n, bool)
                or not isinstance(n, numbers.Integral)), None)
    if bad is not None:
        raise TypeError(f"{fn}: {name} must map opcodes to counts (bwi.histogram(...)); its entry {bad!r} is "
                        f"{type(hist[bad]).__name__} {hist[bad]!r:.60}")


def count_matching(hist: Counter, pattern: str) -> int:
    """How many instructions of histogram `hist` have an opcode that the regex `pattern` matches (re.search)."""
    _check_hist("count_matching", hist)
    r = _regex("count_matching", pattern)
    return sum(n for op, n in hist.items() if r.search(op))


def compare_histograms(hists: dict[str, Counter], patterns: dict[str, str]) -> dict[str, dict[str, int]]:
    """Table {row label: {column: count}} of how many opcodes of each histogram match each regex pattern.

    `hists` maps a column name to a histogram, `patterns` a row label to a regex (in that order)."""
    fn = "compare_histograms"
    if isinstance(hists, str) or not isinstance(hists, Mapping):
        raise TypeError(f"{fn}: hists must be a dict {{column name: histogram}}, got {type(hists).__name__}")
    for col, h in hists.items():
        if isinstance(h, str) and isinstance(patterns, Mapping) and any(isinstance(v, Mapping)
                                                                        for v in patterns.values()):
            raise TypeError(f"{fn}: hists[{col!r}] is a regex and patterns holds histograms: the arguments are "
                            f"swapped; call compare_histograms(hists, patterns)")
        if isinstance(h, str) or not isinstance(h, Mapping):
            raise TypeError(f"{fn}: hists must be a dict {{column name: histogram}}; hists[{col!r}] is "
                            f"{type(h).__name__} {h!r:.60} (one histogram: pass {{'name': hist}})")
        _check_hist(fn, h, f"hists[{col!r}]")
    if isinstance(patterns, str) or not isinstance(patterns, Mapping):
        raise TypeError(f"{fn}: patterns must be a dict {{row label: regex}}, got {type(patterns).__name__} "
                        f"{patterns!r:.60}")
    rxs = {label: _regex(fn, rx, f"patterns[{label!r}] =") for label, rx in patterns.items()}
    return {label: {col: sum(n for op, n in h.items() if r.search(op)) for col, h in hists.items()}
            for label, r in rxs.items()}
