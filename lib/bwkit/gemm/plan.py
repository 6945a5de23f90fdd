"""One kernel plan per (step, dtype, target): the `triton.Config`s the ladder's native path tries, and compiles
that match a launch. See `bwkit.gemm` for the overview.

    from bwkit import gemm
    gemm.launch_configs("ws", "fp32", "sm_90a")          # what the native path tries there (fits its smem)
    gemm.plan_target((9, 0))                             # 'sm_90a': the plan a device of that capability uses
    k = compile_launch(kernel, {"a_ptr": torch.float16, "M": 8192, ..., "BLOCK_M": 128}, "sm_90a", 8, 3)

Why one table: the autotuner (`matmul_autotuned`, `matmul_persistent_tma`, `matmul_ws` with `config=None`), the
fixed-config wrappers on a GPU (`matmul_naive`, `matmul_kloop`, `matmul_grouped` called without blocks),
`compile_step`, lab 03's tables and the compile gate (tests/test_compile_gate.py) all read `launch_configs`, so
what is compiled and checked here is what a GPU launches.

How a launch is specialized (triton 3.9, `triton.runtime.jit` with the backend's `get_arg_specialization`): an int
argument equal to 1 becomes a constexpr, an int divisible by 16 and a tensor whose data pointer is 16-byte aligned
get `tt.divisibility = 16`. `launch_specialization` reproduces that from the argument values (tensors stand for
16-byte-aligned ones of their dtype), so `compile_launch` builds the kernel a launch with those shapes builds; the
divisibility decides whether loads vectorize and pipeline (e.g. `cp.async` on sm_90a) and so the shared memory.

Shared memory per block (`SMEM_LIMIT`): CUDA C++ Programming Guide, "Technical Specifications per Compute
Capability", maximum shared memory per thread block: 227 KB (232,448 B) for compute capability 9.0 and 10.x, 99 KB
(101,376 B) for 12.0. The plans below were chosen so that every config fits every launch the kit makes (8192^3 and
the seed's 16384 x 17290 x 16384, B as (K, N) and as `w.t()`); the gate compiles each one and says so.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from bwkit.gemm.kernels import DTYPES
from bwkit.hw import SPECS
from bwkit.kit.args import as_names, check_number
from bwkit.kit.runtime import NATIVE_PLANS
from bwkit.pipeline import SMEM_BYTES_PER_SM

__all__ = ["SMEM_LIMIT", "PLAN_TARGETS", "TUNED_STEPS", "STEPS", "SHAPES", "launch_configs", "plan_target",
           "launch_specialization", "compile_launch", "launch_variants", "step_args", "default_constexprs",
           "plan_table"]

# 227 KiB on sm_90a / sm_100a (bwkit.pipeline's SMEM_BYTES_PER_SM), 99 KiB on sm_120
SMEM_LIMIT: dict[str, int] = {"sm_90a": SMEM_BYTES_PER_SM, "sm_100a": SMEM_BYTES_PER_SM, "sm_120": 101_376}
PLAN_TARGETS = tuple(SMEM_LIMIT)
STEPS = ("naive", "kloop", "grouped", "autotuned", "persistent_tma", "ws")
TUNED_STEPS = ("autotuned", "persistent_tma", "ws")
# the launches the kit makes (gpu_check, lab 03, lab 06): aligned 8192^3, and the seed's ragged N
SHAPES = {"aligned": (8192, 8192, 8192), "seed": (16384, 17290, 16384)}
NAIVE_K = 256                      # the naive step loads all of K at once: K <= 256, the worst case is 256
# NUM_SMS compiled in: the SM counts of bwkit.hw's H100/H200, B200 and RTX 5090
_SMS = {t: SPECS[g].sms for t, g in (("sm_90a", "H200"), ("sm_100a", "B200"), ("sm_120", "RTX 5090"))}
# every name of a planned GPU -> its plan: the 'a' names of bwkit.kit.runtime.NATIVE_PLANS (the one list of the GPUs
# the kit's kernels are planned for: bwkit.setup() runs Triton in the interpreter on any other) and the bare ones
_ALIASES = {**NATIVE_PLANS, **{name.removesuffix("a"): t for name, t in NATIVE_PLANS.items()}}
_DTYPES = tuple(DTYPES)             # the ladder's dtype names: fp32, fp16, bf16, fp8
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
_ELEM = {"fp32": "fp32", "fp16": "16bit", "bf16": "16bit", "fp8": "fp8"}

# (BLOCK_M, BLOCK_N, BLOCK_K, num_stages, num_warps); the fixed steps have one config, the tuned ones several.
_DC = ("sm_90a", "sm_100a")        # Hopper and datacenter Blackwell share the 227 KB limit and these plans
_PLAN: dict[tuple[str, str, str], list[tuple[int, int, int, int, int]]] = {}
for _t in _DC:
    _PLAN.update({
        ("naive", "16bit", _t): [(128, 128, 0, 1, 8)], ("naive", "fp8", _t): [(128, 128, 0, 1, 8)],
        ("naive", "fp32", _t): [(64, 64, 0, 1, 4)],
        ("kloop", "16bit", _t): [(128, 128, 64, 3, 8)], ("kloop", "fp8", _t): [(128, 128, 128, 3, 8)],
        ("kloop", "fp32", _t): [(128, 128, 32, 3, 8)],
        ("autotuned", "16bit", _t): [(128, 256, 64, 3, 8), (256, 128, 64, 3, 8), (128, 128, 64, 4, 4),
                                     (128, 256, 64, 4, 8)],
        ("autotuned", "fp8", _t): [(128, 256, 128, 3, 8), (256, 128, 128, 3, 8), (128, 128, 128, 4, 4),
                                   (128, 256, 128, 4, 8)],
        ("autotuned", "fp32", _t): [(128, 128, 32, 4, 8), (128, 256, 32, 3, 8), (128, 128, 64, 3, 8),
                                    (128, 64, 64, 3, 4)],
        ("persistent_tma", "16bit", _t): [(128, 256, 64, 3, 8), (256, 128, 64, 3, 8), (128, 128, 64, 4, 4),
                                          (128, 64, 64, 5, 4)],
        ("persistent_tma", "fp8", _t): [(128, 256, 128, 3, 8), (256, 128, 128, 3, 8), (128, 128, 128, 4, 4),
                                        (128, 64, 128, 5, 4)],
        ("persistent_tma", "fp32", _t): [(128, 128, 32, 4, 8), (128, 128, 32, 3, 4), (128, 64, 64, 3, 4),
                                         (128, 128, 64, 2, 8)],
    })
_PLAN.update({
    ("naive", "16bit", "sm_120"): [(64, 64, 0, 1, 4)], ("naive", "fp8", "sm_120"): [(128, 128, 0, 1, 8)],
    ("naive", "fp32", "sm_120"): [(32, 32, 0, 1, 4)],
    ("kloop", "16bit", "sm_120"): [(128, 128, 32, 3, 8)], ("kloop", "fp8", "sm_120"): [(128, 128, 64, 3, 8)],
    ("kloop", "fp32", "sm_120"): [(64, 64, 32, 3, 4)],
    ("autotuned", "16bit", "sm_120"): [(128, 64, 64, 3, 4), (64, 128, 64, 3, 4)],
    ("autotuned", "fp8", "sm_120"): [(128, 64, 128, 3, 4), (128, 128, 64, 3, 8)],
    ("autotuned", "fp32", "sm_120"): [(128, 64, 32, 3, 4), (64, 64, 64, 3, 4)],
})
for (_s, _e, _t), _v in list(_PLAN.items()):
    if _s == "kloop":
        _PLAN[("grouped", _e, _t)] = _v                      # step 3 is step 2 in grouped order
    if _s == "persistent_tma" or (_s == "autotuned" and _t == "sm_120"):
        _PLAN[("ws", _e, _t)] = _v                           # step 6 tunes over step 5's tiles
        _PLAN.setdefault(("persistent_tma", _e, _t), _v)
GROUP_M = 8


def plan_target(target: str | tuple[int, int]) -> str:
    """The plan a target uses: 'sm_90a', 'sm_100a' (also sm_103a, B300) or 'sm_120' (also sm_121a).

    `target` is a name ('sm_100a', 'sm_120a', ...) or a compute capability (major, minor). Raises ValueError naming
    the targets the ladder has plans for otherwise (e.g. Ampere, which has no TMA and a 163 KB limit; on such a GPU
    `bwkit.setup()` runs Triton in the interpreter, so for the machine's own GPU this only happens with
    TRITON_INTERPRET=0).
    """
    from bwkit.kit.runtime import arch_name

    name = arch_name(tuple(target)) if isinstance(target, tuple) else target
    if not isinstance(name, str) or name not in _ALIASES:
        raise ValueError(f"bwkit.gemm has no kernel plan for {target!r}: the ladder's native path is planned for "
                         "sm_90a (Hopper), sm_100a/sm_103a (datacenter Blackwell) and sm_120/sm_121a (consumer "
                         "Blackwell); elsewhere pass explicit blocks to matmul_naive / matmul_kloop / "
                         "matmul_grouped, or config= to the TMA steps (bwkit.setup() runs Triton in the "
                         "interpreter on such a GPU unless TRITON_INTERPRET=0)")
    return _ALIASES[name]


def _check_step_dtype(step: str, dtype: str) -> None:
    if step not in STEPS:
        raise ValueError(f"unknown ladder step {step!r}; steps: {', '.join(STEPS)}")
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")


def _check_shape(shape, what: str) -> tuple[int, int, int]:
    """`shape` as an (M, N, K) tuple of positive ints; ValueError naming `what` otherwise."""
    if not isinstance(shape, tuple | list) or len(shape) != 3:
        raise ValueError(f"{what}: shape must be (M, N, K), three positive ints, got {shape!r}")
    for nm, v in zip("MNK", shape, strict=True):
        check_number(f"{what}: shape's {nm}", v)
    return tuple(shape)


def _dtype_name(dtype) -> str:
    if isinstance(dtype, str):
        return dtype
    if dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    raise ValueError(f"unsupported dtype {dtype}; choose one of {', '.join(_DTYPES)}")


def launch_configs(step: str, dtype="bf16", target: str | tuple[int, int] = "sm_100a") -> list:
    """The `triton.Config`s ladder step `step` tries for `dtype` operands on `target` (first = the default).

    Tuned steps ('autotuned', 'persistent_tma', 'ws') autotune over the list; the fixed ones use its single entry
    on a GPU when called without blocks ('naive' has no BLOCK_K: it is K). Every config fits the target's shared
    memory (`SMEM_LIMIT`) for the launches the kit makes, which tests/test_compile_gate.py compiles and checks.
    Raises ValueError (with the reason) for a step, dtype or target without a plan. Taught in lab 03, step 4.
    """
    import triton

    dtype = _dtype_name(dtype)
    _check_step_dtype(step, dtype)
    t = plan_target(target)
    rows = _PLAN.get((step, _ELEM[dtype], t))
    if rows is None:                                          # every (step, dtype, target) above has a plan
        raise ValueError(f"no kernel plan for step {step!r}, dtype {dtype!r} on {t}")
    out = []
    for bm, bn, bk, stages, warps in rows:
        kw = {"BLOCK_M": bm, "BLOCK_N": bn}
        if step != "naive":
            kw["BLOCK_K"] = bk
        if step not in ("naive", "kloop"):
            kw["GROUP_M"] = GROUP_M
        out.append(triton.Config(kw, num_warps=warps, num_stages=stages))
    return out


def default_constexprs(step: str, target: str, b_layout: str = "nk", c_tma: bool = True) -> dict:
    """The constexprs a wrapper adds for `step` besides the config: NUM_SMS, B_KMAJOR, WARP_SPECIALIZE, C_TMA."""
    if step not in STEPS:
        raise ValueError(f"unknown ladder step {step!r}; steps: {', '.join(STEPS)}")
    t = plan_target(target)
    if step not in ("persistent_tma", "ws"):
        return {}
    ce = {"NUM_SMS": _SMS[t], "B_KMAJOR": b_layout == "nk"}
    if step == "ws":
        ce.update(WARP_SPECIALIZE=t == "sm_100a", C_TMA=c_tma)     # matmul_ws: warp-specialized on sm_100 only
    return ce


def step_args(step: str, dtype, shape: tuple[int, int, int], b_layout: str = "kn", out_dtype=None) -> dict:
    """The runtime arguments of a ladder launch on contiguous A (M, K), B (K, N) or `w.t()` ('nk') and C (M, N).

    Tensors are given by dtype (they stand for 16-byte-aligned tensors), sizes and strides by value: what
    `launch_specialization` needs.
    """
    from bwkit.gemm.kernels import _DEFAULT_OUT

    dt = DTYPES[_dtype_name(dtype)]
    if b_layout not in ("kn", "nk"):
        raise ValueError(f"b_layout must be 'kn' (B is (K, N) row-major) or 'nk' (B = w.t()), got {b_layout!r}")
    M, N, K = _check_shape(shape, "step_args")
    out = out_dtype or _DEFAULT_OUT[dt]
    sbk, sbn = (1, K) if b_layout == "nk" else (N, 1)
    return {"a_ptr": dt, "b_ptr": dt, "c_ptr": out, "M": M, "N": N, "K": K, "stride_am": K, "stride_ak": 1,
            "stride_bk": sbk, "stride_bn": sbn, "stride_cm": N, "stride_cn": 1}


def launch_variants(step: str, dtype) -> list[tuple[str, tuple[int, int, int], str]]:
    """(shape name, (M, N, K), b_layout) of every launch the kit makes of `step`: the compile gate checks each.

    8192^3 with B as (K, N) and as `w.t()`, and the seed's 16384 x 17290 x 16384 with B = `w.t()` (its N makes a
    (K, N) B illegal for TMA; every step takes `w.t()`). The naive step needs N % BLOCK_N == 0 and K <= 256: it
    is checked at 8192 x 8192 x 256 only.
    """
    _check_step_dtype(step, _dtype_name(dtype))
    if step == "naive":
        M, N, _ = SHAPES["aligned"]
        return [("aligned", (M, N, NAIVE_K), "kn"), ("aligned", (M, N, NAIVE_K), "nk")]
    return [("aligned", SHAPES["aligned"], "kn"), ("aligned", SHAPES["aligned"], "nk"),
            ("seed", SHAPES["seed"], "nk")]


def _fake_tensor(dtype):
    import torch

    return _aligned(dtype) if isinstance(dtype, torch.dtype) else dtype


@functools.cache
def _aligned(dtype):
    import torch

    t = torch.empty(16, dtype=dtype)
    assert t.data_ptr() % 16 == 0
    return t


def launch_specialization(kernel, args: Mapping[str, object]) -> tuple[dict, dict, dict]:
    """(signature, constexprs, attrs) the Triton JIT builds for a launch of `kernel` with `args`.

    `args` maps every argument name to its value: a torch dtype (a 16-byte-aligned tensor of it), a tensor, an int,
    a float, a bool, or the constexpr's value. Uses the backend's own `native_specialize_impl` (ints equal to 1
    become constexprs; ints divisible by 16 and aligned pointers get tt.divisibility 16), honouring the kernel's
    `do_not_specialize` lists.
    """
    from triton._C.libtriton import native_specialize_impl
    from triton.backends.nvidia.compiler import CUDABackend

    from bwkit.inspect import _unwrap_triton

    jit = _unwrap_triton(kernel)
    missing = [p.name for p in jit.params if p.name not in args]
    unknown = [k for k in args if k not in jit.arg_names]
    if missing or unknown:
        raise ValueError(f"{jit.__name__}: missing argument(s) {missing}, unknown {unknown}; "
                         f"its arguments are {list(jit.arg_names)}")
    sig, consts, attrs = {}, {}, {}
    for i, p in enumerate(jit.params):
        v = args[p.name]
        if p.is_constexpr:
            sig[p.name], consts[p.name] = "constexpr", v
            continue
        ty, spec = native_specialize_impl(CUDABackend, _fake_tensor(v), p.is_const, not p.do_not_specialize,
                                          not p.do_not_specialize_on_alignment)
        sig[p.name] = ty
        if ty == "constexpr":
            consts[p.name] = spec
        elif isinstance(spec, str) and spec:
            attrs[(i,)] = CUDABackend.parse_attr(spec)
    return sig, consts, attrs


def compile_launch(kernel, args: Mapping[str, object], target: str = "sm_100a", num_warps: int = 4,
                   num_stages: int = 3, **options):
    """Compile `kernel` for `target` as a launch with `args` would be (`launch_specialization`); no GPU needed.

    Returns a `bwkit.inspect.Compiled`; its metadata adds 'signature' (with 'D' marking tt.divisibility 16) and
    'constexprs'. Triton's on-disk cache (~/.triton) makes a repeat compile cheap.
    """
    from bwkit import inspect as bwi

    sig, consts, attrs = launch_specialization(kernel, args)
    k = bwi.compile_triton(kernel, {n: t for n, t in sig.items() if n not in consts}, consts, target, num_warps,
                           num_stages, attrs=attrs, **options)
    names = list(sig)                                   # every argument, in order: attrs are keyed by position
    div = {names[i[0]] for i in attrs}
    k.metadata["signature"] = {n: (t + ("/D" if n in div else "")) for n, t in sig.items() if t != "constexpr"}
    k.metadata["constexprs"] = dict(consts)
    return k


def plan_table(dtypes=_DTYPES, targets=PLAN_TARGETS) -> list[dict]:
    """Every plan as rows {step, dtype, target, configs: ['128x256x64 s3 w8', ...]} (lab 03's plan table)."""
    dtypes, targets = as_names("plan_table: dtypes", dtypes), as_names("plan_table: targets", targets)
    rows = []
    for step in STEPS:
        for dt in dtypes:
            for t in targets:
                cfgs = launch_configs(step, dt, t)
                txt = [("x".join(str(c.kwargs[k]) for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K") if k in c.kwargs)
                        + ("xK" if step == "naive" else "") + f" s{c.num_stages} w{c.num_warps}") for c in cfgs]
                rows.append({"step": step, "dtype": dt, "target": t, "configs": txt})
    return rows
