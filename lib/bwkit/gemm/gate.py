"""The compile gate: every kernel config the kit launches on a GPU, compiled here for its targets and checked.

    from bwkit.gemm import gate
    results = gate.run(gate.all_jobs())            # compiles (once per job and process, in parallel), then
    problems = [p for r in results for p in gate.check(r)]     # shared memory, spills, promised instructions

A job is a plain tuple (picklable, hashable): ('ladder', step, dtype, target, (BM, BN, BK, stages, warps), shape,
b_layout), ('block_scaled', a_format, b_format, target), ('nvfp4', target, dequant), ('moe', kernel, target,
dtype), ('gluon', step), ('cute', which). `run_job` compiles one (as the launch specializes it, see
`bwkit.gemm.plan`) and returns its facts: shared memory (Triton's metadata; for CuTe the dynamic size its host
code passes at launch), registers and spilled bytes (`bwkit.inspect.resource_usage`: `cuobjdump -res-usage` on the
cubin, LOCAL), and instruction counts (`bwkit.inspect.count_matching`). `check` turns the facts into messages
that name the kernel, dtype, target, bytes and limit. tests/test_compile_gate.py runs it; the CuTe jobs need
nvidia-cutlass-dsl (skipped with a reason without it).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor

from bwkit.gemm import plan

__all__ = ["ladder_jobs", "scaled_jobs", "moe_jobs", "gluon_jobs", "cute_jobs", "all_jobs", "run_job", "run",
           "check", "describe", "SPILL_ALLOWANCE", "PATTERNS"]

PATTERNS = {"wgmma": r"^wgmma\.mma_async", "tcgen05.mma": r"^tcgen05\.mma", "mma.sync": r"^mma\.sync",
            "block_scale": r"block_scale", "block16": r"kind::mxf4nvf4\.block_scale\.block16",
            "TMA load": r"^cp\.async\.bulk\.tensor.*shared::c\w+\.global", "TMA store":
            r"^cp\.async\.bulk\.tensor.*\.global\.shared", "cp.async": r"^cp\.async\.(ca|cg)", "setmaxnreg":
            r"^setmaxnreg"}
# Spilled bytes (LOCAL in the cubin) allowed per job label prefix; none so far: every job must spill nothing.
SPILL_ALLOWANCE: dict[str, int] = {}
_MMA = {"sm_90a": "wgmma", "sm_100a": "tcgen05.mma", "sm_120": "mma.sync"}


# ---------------------------------------------------------------------------------------------------- the jobs
def _cfg_tuple(c) -> tuple[int, int, int, int, int]:
    return (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.kwargs.get("BLOCK_K", 0), c.num_stages, c.num_warps)


def ladder_jobs(steps=plan.STEPS, dtypes=("fp32", "fp16", "bf16", "fp8"), targets=plan.PLAN_TARGETS) -> list:
    """Every config of `launch_configs` for every step, dtype and target, at every launch of `launch_variants`."""
    jobs = []
    for step in steps:
        for dt in dtypes:
            for t in targets:
                for c in plan.launch_configs(step, dt, t):
                    for _, shape, layout in plan.launch_variants(step, dt):
                        jobs.append(("ladder", step, dt, t, _cfg_tuple(c), shape, layout))
    return jobs


def scaled_jobs(targets=plan.PLAN_TARGETS) -> list:
    """`bwkit.scaled_gemm` as its wrappers launch it on a GPU: every MX format pair; NVFP4 as each target runs it
    (dot_scaled on sm_100a, where `dequant=True` is also allowed; the decode to fp16 elsewhere)."""
    fmts = ("e2m1", "e4m3", "e5m2")
    jobs = [("block_scaled", a, b, t) for t in targets for a in fmts for b in fmts]
    for t in targets:
        jobs += [("nvfp4", t, True)] + ([("nvfp4", t, False)] if t == "sm_100a" else [])
    return jobs


def moe_jobs(targets=plan.PLAN_TARGETS) -> list:
    """`bwkit.moe_kernels.fused_moe`'s three kernels, DeepSeek-V3 sizes, bf16 and fp16, as a GPU launches them."""
    return [("moe", k, t, dt) for t in targets for dt in ("bf16", "fp16") for k in ("gate_up", "down", "combine")]


def gluon_jobs() -> list:
    """Every step of `bwkit.gluon_gemm.STEPS` at its default config (sm_100a; the wgmma step sm_90a)."""
    from bwkit import gluon_gemm as gg

    return [("gluon", name) for name in gg.STEPS]


def cute_jobs() -> list:
    """The kit's CuTe DSL GEMMs at 8192^3 (sm_100a): lab 05's dense (bf16, fp16) and NVFP4 kernels, every rung
    of `bwkit.cute_ladder` and its NVFP4 rung."""
    return [("cute", w) for w in ("dense-bf16", "dense-fp16", "nvfp4", "rung-1", "rung-2", "rung-3", "rung-3-clc",
                                  "rung-4", "rung-5", "rung-nvfp4")]


def all_jobs(cute: bool = True) -> list:
    """Every job of the gate (the CuTe ones only when `cute`)."""
    return ladder_jobs() + scaled_jobs() + moe_jobs() + gluon_jobs() + (cute_jobs() if cute else [])


# ---------------------------------------------------------------------------------------------------- compiling
def _cute_dynamic_smem(compiled) -> int | None:
    """The dynamic shared memory a CuTe DSL host function passes at launch (a constant in its LLVM IR)."""
    ir = str(compiled.ir_module)
    cfg = "!llvm.struct<(array<3 x i32>, array<3 x i32>, i64, ptr, ptr, i32)>"        # cudaLaunchConfig_t
    sizes = []
    for m in re.finditer(r"(%\w+) = llvm\.getelementptr (%\w+)\[0, 2\] : \(!llvm\.ptr\) -> !llvm\.ptr, "
                         + re.escape(cfg), ir):
        rest = ir[m.end():m.end() + 400]
        st = re.search(r"llvm\.store (%\w+), " + re.escape(m.group(1)) + r" : i64", rest)
        fn_start = ir.rfind("llvm.func", 0, m.start())
        if st is None:
            continue
        const = re.search(r"\n\s*" + re.escape(st.group(1)) + r" = llvm\.mlir\.constant\((\d+) : i64\)",
                          ir[fn_start:m.start()])
        if const:
            sizes.append(int(const.group(1)))
    return max(sizes) if sizes else None


def _compile(job):
    """Compile one job; return (bwkit.inspect.Compiled, target, CuTe dynamic smem or None)."""
    kind = job[0]
    if kind == "ladder":
        from bwkit.gemm.ladder import compile_step

        _, step, dt, t, (bm, bn, bk, stages, warps), shape, layout = job
        cfg = {"BLOCK_M": bm, "BLOCK_N": bn, "num_warps": warps, "num_stages": stages}
        if step != "naive":
            cfg["BLOCK_K"] = bk
        if step not in ("naive", "kloop"):
            cfg["GROUP_M"] = plan.GROUP_M
        return compile_step(step, dt, t, shape=shape, b_layout=layout, config=cfg), t, None
    if kind == "block_scaled":
        from bwkit import scaled_gemm as sg

        return sg.compile_block_scaled(job[1], job[2], job[3]), job[3], None
    if kind == "nvfp4":
        from bwkit import scaled_gemm as sg

        return sg.compile_nvfp4(job[1], dequant=job[2]), job[1], None
    if kind == "moe":
        import torch

        from bwkit import moe_kernels as mk

        return mk.compile_moe(job[1], job[2], {"bf16": torch.bfloat16, "fp16": torch.float16}[job[3]]), job[2], None
    if kind == "gluon":
        from bwkit import gluon_gemm as gg

        return gg.compile_step(job[1]), gg.STEPS[job[1]].target, None
    if kind == "cute":
        k = _compile_cute(job[1])
        return k, "sm_100a", _cute_dynamic_smem(k.metadata["compiled"])
    raise ValueError(f"unknown gate job {job!r}")


def _compile_cute(which: str):
    from bwkit import cute_gemm as cg
    from bwkit import cute_ladder as lad
    from bwkit import cute_ladder_nvfp4 as l4

    n = 8192
    if which.startswith("dense-"):
        return cg.compile_gemm(n, n, n, dtype=which.split("-")[1])
    if which == "nvfp4":
        return cg.compile_gemm_nvfp4(n, n, n)
    if which == "rung-nvfp4":
        return l4.compile_nvfp4(n, n, n)
    return lad.compile_rung(lad.rung_by_name(which[len("rung-"):]), n, n, n)


def run_job(job) -> dict:
    """Compile `job` and return its facts: label, target, shared, limit, regs, spill, warps, counts, or error."""
    from bwkit import inspect as bwi

    label = describe(job)
    try:
        k, target, dyn = _compile(job)
    except Exception as e:  # noqa: BLE001 - a job that does not compile is a gate failure, reported as such
        return {"job": job, "label": label, "error": f"{type(e).__name__}: {str(e)[:600]}"}
    try:
        res = bwi.resource_usage(k)     # several kernels (CuTe): the largest of each field
    except (ValueError, RuntimeError):  # no cubin, or cuobjdump found no kernel in it: registers and spill unknown
        res = {}
    shared = dyn if job[0] == "cute" else k.metadata.get("shared")
    hist = k.histogram()
    counts = {name: bwi.count_matching(hist, rx) for name, rx in PATTERNS.items()}
    return {"job": job, "label": label, "target": target, "shared": shared, "limit": plan.SMEM_LIMIT[target],
            "regs": res.get("REG"), "spill": res.get("LOCAL", 0), "warps": k.metadata.get("num_warps"),
            "counts": counts}


def describe(job) -> str:
    """A job in words: kernel, dtype, target, config and launch."""
    kind = job[0]
    if kind == "ladder":
        _, step, dt, t, (bm, bn, bk, s, w), (M, N, K), layout = job
        tile = f"{bm}x{bn}x{'K' if step == 'naive' else bk} s{s} w{w}"
        return f"ladder step {step!r} {dt} on {t} ({tile}; launch {M}x{N}x{K}, B {layout})"
    if kind == "block_scaled":
        return f"block-scaled GEMM {job[1]} x {job[2]} on {job[3]} (128x128x128, bwkit.scaled_gemm)"
    if kind == "nvfp4":
        return f"NVFP4 GEMM ({'decode + tl.dot' if job[2] else 'tl.dot_scaled'}) on {job[1]} (bwkit.scaled_gemm)"
    if kind == "moe":
        return f"fused MoE {job[1]} kernel {job[3]} on {job[2]} (bwkit.moe_kernels, DeepSeek-V3 sizes)"
    if kind == "gluon":
        return f"Gluon step {job[1]!r} (bwkit.gluon_gemm)"
    return f"CuTe DSL {job[1]} (8192^3, sm_100a)"


_CACHE: dict = {}


def _init_worker() -> None:
    os.environ.setdefault("BWKIT_FORCE_CPU", "1")
    import bwkit

    bwkit.setup(quiet=True)


def _run_many(jobs: list) -> list[dict]:
    return [run_job(j) for j in jobs]


def run(jobs, processes: int | None = None) -> list[dict]:
    """Facts of every job (in order), each distinct job compiled once per process (`_CACHE`).

    `processes` (default: env BWKIT_GATE_PROCS, else min(2, CPUs)) > 1 compiles in that many spawned workers; the
    CuTe jobs go to one worker together (the DSL's import is slow).
    """
    jobs = list(jobs)
    todo = list(dict.fromkeys(j for j in jobs if j not in _CACHE))
    if processes is None:
        processes = int(os.environ.get("BWKIT_GATE_PROCS", min(2, os.cpu_count() or 1)))
    if processes <= 1 or len(todo) < 8:
        for j in todo:
            _CACHE[j] = run_job(j)
    else:
        import multiprocessing as mp

        cute = [j for j in todo if j[0] == "cute"]
        rest = [j for j in todo if j[0] != "cute"]
        chunks = [rest[i::processes] for i in range(processes)]
        if cute:
            chunks[-1] = cute + chunks[-1]
        with ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn"), initializer=_init_worker) as ex:
            for chunk, out in zip(chunks, ex.map(_run_many, chunks), strict=True):
                _CACHE.update(zip(chunk, out, strict=True))
    return [_CACHE[j] for j in jobs]


# ---------------------------------------------------------------------------------------------------- checking
def _expected(job, target: str) -> dict[str, str]:
    """{count name: why} of the instructions the kit promises for `job` on `target` (each must appear)."""
    kind, want = job[0], {}
    if kind == "ladder":
        step, shape = job[1], job[5]
        want[_MMA[target]] = "tl.dot on this target's Tensor Cores (lab 01, lab 03 step 7)"
        if step in ("persistent_tma", "ws"):
            want["TMA load"] = "steps 5-6 load A and B through TMA descriptors (lab 03 step 5)"
        if step == "ws" and target == "sm_100a":
            want["setmaxnreg"] = "warp specialization on sm_100a (lab 03 step 6)"
        if step == "ws" and (shape[1] * (4 if job[2] == "fp32" else 2)) % 16 == 0:
            want["TMA store"] = "the half-tile TMA epilogue when C's rows are 16-byte aligned (lab 03 step 6)"
        if step in ("kloop", "grouped", "autotuned") and target != "sm_120" and shape == plan.SHAPES["aligned"]:
            want["cp.async"] = "the software-pipelined K loop of steps 2-4 (lab 03 step 7)"
    elif kind == "block_scaled":
        want[_MMA[target]] = "tl.dot_scaled on this target's MMA"
        fp4 = [f == "e2m1" for f in job[1:3]]
        if target == "sm_100a" or (target == "sm_120" and fp4[0] == fp4[1]):
            want["block_scale"] = ("a block-scaled MMA (lab 04; sm_90a emulates dot_scaled with bf16 wgmma, sm_120 "
                                   "a mixed FP4 x FP8 product)")
    elif kind == "nvfp4":
        want[_MMA[target]] = "the NVFP4 GEMM reaches the Tensor Cores"
        if not job[2]:
            want["block16"] = "tcgen05.mma kind::mxf4nvf4 block16 (lab 04)"
    elif kind == "moe" and job[1] != "combine":
        want[_MMA[target]] = "the grouped GEMMs' tl.dot (lab 07 step 5)"
    elif kind == "gluon":
        want[_MMA[target]] = "the step's MMA (lab 09)"
        want["TMA load"] = "TMA loads (lab 09)"
    elif kind == "cute":
        want["tcgen05.mma"] = "tcgen05 MMA (labs 05 and 10)"
        want["TMA load"] = "TMA loads (labs 05 and 10)"
        if "nvfp4" in job[1]:
            want["block16"] = "tcgen05.mma kind::mxf4nvf4 block16 (labs 05 and 10)"
    return want


def check(result: dict) -> list[str]:
    """Problems of one `run_job` result (empty when it passes): over the shared-memory limit, spills, a missing
    promised instruction, or a failed compile. Every message names the kernel, dtype, target and the numbers."""
    label = result["label"]
    if "error" in result:
        return [f"{label}: does not compile: {result['error']}"]
    out = []
    if result["shared"] is None:
        out.append(f"{label}: shared memory unknown (no size in the compiled kernel)")
    elif result["shared"] > result["limit"]:
        out.append(f"{label}: needs {result['shared']:,} B of shared memory per block, over the {result['target']} "
                   f"limit of {result['limit']:,} B (CUDA C++ Programming Guide, maximum per thread block): the "
                   "launch would fail (an autotuner scores it inf)")
    allowed = next((v for k, v in SPILL_ALLOWANCE.items() if label.startswith(k)), 0)
    if result["spill"] > allowed:
        out.append(f"{label}: spills {result['spill']:,} B of registers to local memory ({result['regs']} registers"
                   f" per thread; allowance {allowed} B)")
    for name, why in _expected(result["job"], result["target"]).items():
        if result["counts"].get(name, 0) == 0:
            out.append(f"{label}: no {name} instruction in the PTX, which the kit promises: {why}")
    return out
