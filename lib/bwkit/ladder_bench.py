"""Lab 10 on a datacenter Blackwell GPU: every CuTe ladder rung checked against torch and timed against cuBLAS.

    from bwkit import ladder_bench as lb
    rows = lb.measure_ladder()          # B200 only: correctness at small shapes, then timings at 8192^3
    print(lb.format_ladder(rows))
    for row in lb.iter_ladder():        # the same rows, each as soon as it is measured (a budget: should_start=)
    print(lb.format_ladder(lb.fake_ladder()))   # any machine: the same table with FAKE timings (a dry run)

Timings come from `bwkit.bench.time_fn` (CUDA events, warm-up, L2 flushed, median). Each row also carries the
models' prediction (`bwkit.ladder_model`) so that measurement and model sit side by side. A rung that cannot run
is a row that says why, never a zero. Used by benchmarks/gpu_check_cute_ladder.py and lab 10's last step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bwkit.kit.args import as_items, check_flag, check_number

__all__ = ["LadderRow", "CHECK_SHAPES", "TIME_SHAPE", "TARGET", "variants", "check_rung", "check_nvfp4",
           "iter_ladder", "measure_ladder", "fake_ladder", "format_ladder", "gpu_reason"]

CHECK_SHAPES = [(512, 1024, 512), (1024, 2048, 1536)]   # multiples of a (2, 2) cluster's 256 x 512 and of K = 64
NVFP4_SHAPES = [(256, 384, 512), (1024, 1024, 2048)]
TIME_SHAPE = (8192, 8192, 8192)
TARGET = 0.95                  # lab 10's target: the best rung at >= 0.95x cuBLAS bf16 at 8192^3 (a target)


@dataclass(frozen=True)
class LadderRow:
    """One row of the ladder table: a rung, its correctness check and (on a GPU) its timing."""

    rung: str
    name: str
    shape: tuple[int, int, int]
    rel_err: float | None = None       # worst relative error over CHECK_SHAPES (vs torch in FP32)
    ms: float | None = None
    tflops: float | None = None
    pct_peak: float | None = None      # % of bwkit.hw's dense peak for this GPU and precision
    vs_baseline: float | None = None   # x cuBLAS bf16 (dense), x lab 05's NVFP4 kernel (NVFP4)
    model_pct: float | None = None     # bwkit.ladder_model's prediction (% of the datasheet peak)
    fake: bool = False
    note: str = ""


def gpu_reason() -> str | None:
    """None when this machine can run sm_100a kernels, else why not (in one sentence)."""
    from bwkit.kit.runtime import gpu_missing

    return gpu_missing((10,), "the rungs use tcgen05, TMEM, CTA pairs (cta_group::2) and cluster launch control, "
                              "which only datacenter Blackwell (sm_100a) has")


def _shape(what: str, shape) -> tuple[int, int, int]:
    """`shape` as (M, N, K), three positive ints; anything else raises naming `what`."""
    want = f"{what}: shape must be (M, N, K), three positive ints, e.g. (8192, 8192, 8192), got"
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise TypeError(f"{want} {type(shape).__name__} {shape!r:.60}")
    if len(shape) != 3:
        raise ValueError(f"{want} {shape!r:.60} ({len(shape)} items)")
    for name, v in zip("MNK", shape, strict=True):
        check_number(f"{what}: {name}", v)
    return tuple(shape)


def _shapes(what: str, shapes) -> list[tuple[int, int, int]]:
    """`shapes` as a non-empty list of (M, N, K); one (M, N, K) of numbers is a list of one."""
    flat = isinstance(shapes, (tuple, list)) and len(shapes) > 0 and not any(
        isinstance(v, (tuple, list)) for v in shapes)
    if flat and len(shapes) != 3:
        raise ValueError(f"{what}: shapes must be a list of (M, N, K), or one (M, N, K), got {shapes!r:.60}")
    out = [_shape(what, s) for s in as_items(f"{what}: shapes", shapes, flat, "one (M, N, K)")]
    if not out:
        raise ValueError(f"{what}: shapes is empty: give at least one (M, N, K)")
    return out


def _gpu_or_raise(what: str, instead: str) -> None:
    why = gpu_reason()
    if why:
        raise RuntimeError(f"{what} runs kernels on a datacenter Blackwell GPU (sm_100a): {why}. {instead}")


def variants():
    """(rung, label) for every dense variant of the ladder, in order: rungs 1-5 and 3-clc."""
    from bwkit import cute_ladder as lad

    out = [(r, f"rung {r.number}") for r in lad.RUNGS]
    out.insert(3, (lad.RUNG_CLC, "rung 3-clc"))
    return out


def check_rung(rung, shapes=CHECK_SHAPES, dtype=None) -> float:
    """Worst relative error of `rung` against an FP32 torch matmul over `shapes` (random operands)."""
    import torch

    from bwkit import bench
    from bwkit import cute_ladder as lad

    lad._check_dense("check_rung", rung, "check it with check_nvfp4()")
    shapes = _shapes("check_rung", shapes)
    if dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError(f"check_rung: dtype must be torch.bfloat16 (the default, None) or torch.float16, got "
                         f"{dtype!r}")
    _gpu_or_raise("check_rung", "Here compile the rung with bwkit.cute_ladder.compile_rung(rung, M, N, K) and read "
                  "its PTX (lab 10), or print format_ladder(fake_ladder()) for the table's dry run.")
    dtype = dtype or torch.bfloat16
    worst = 0.0
    for M, N, K in shapes:
        a = torch.randn(M, K, device="cuda", dtype=dtype)
        b = torch.randn(N, K, device="cuda", dtype=dtype)
        out = lad.run_rung(rung, a, b)
        torch.cuda.synchronize()
        err = bench.relative_error(out, a.float() @ b.float().t())
        worst = max(worst, err if math.isfinite(err) else math.inf)
    return worst


def check_nvfp4(shapes=NVFP4_SHAPES) -> float:
    """Worst relative error of the NVFP4 ladder kernel against FP32 of the same FP4 values and block scales."""
    from bwkit import bench
    from bwkit import cute_ladder_nvfp4 as l4
    from bwkit import formats as F

    shapes = _shapes("check_nvfp4", shapes)
    _gpu_or_raise("check_nvfp4", "Here compile the NVFP4 kernel with bwkit.cute_ladder_nvfp4.compile_nvfp4(M, N, K) "
                  "and read its PTX (lab 10), or check its shapes with check_nvfp4_rung(M, N, K).")
    worst = 0.0
    for M, N, K in shapes:
        ops, ref = F.nvfp4_gemm_case(M, N, K)
        worst = max(worst, bench.relative_error(l4.run_nvfp4(*ops, M, N, K), ref))
    return worst


def _model(rung, shape, precision="bf16") -> float:
    from bwkit import ladder_model as lm

    return lm.predict_rung(rung, *shape, precision=precision).pct_of_peak


def iter_ladder(shape=TIME_SHAPE, reps: int = 20, warmup: int = 5, nvfp4: bool = True, check_shapes=CHECK_SHAPES,
                should_start=None):
    """`measure_ladder`'s rows one at a time, each yielded as soon as it is measured: cuBLAS, every rung, NVFP4.

    `check_shapes`: where each rung is checked against torch. `should_start(what)`, when given, is asked before
    each rung (`what` is the rung) and before the NVFP4 row (`what` is 'nvfp4'); False skips it (no row), e.g.
    once a time budget is spent. Raises on a machine without a datacenter Blackwell GPU.
    """
    shape = _shape("measure_ladder", shape)
    check_shapes = _shapes("measure_ladder: check_shapes", check_shapes)
    check_flag("measure_ladder: nvfp4", nvfp4)
    if should_start is not None and not callable(should_start):
        raise TypeError(f"iter_ladder: should_start must be None or a function of the rung (or 'nvfp4') that returns "
                        f"True or False, got {type(should_start).__name__}")
    why = gpu_reason()
    if why:
        raise RuntimeError(f"measure_ladder needs a datacenter Blackwell GPU: {why}")
    import torch

    from bwkit import bench
    from bwkit import cute_ladder as lad

    torch.manual_seed(0)
    M, N, K = shape
    a, b, cub = bench.cublas_baseline(M, N, K, torch.bfloat16, warmup=warmup, reps=reps)
    yield LadderRow("cuBLAS", "torch.matmul(a, b.t())", shape, None, cub.timing.median_ms, cub.tflops,
                    cub.pct_peak, 1.0)
    for rung, _label in variants():
        if should_start is not None and not should_start(rung):
            continue
        try:
            err = check_rung(rung, shapes=check_shapes)
            r = bench.gemm_result(rung.name, M, N, K, bench.time_fn(lambda rung=rung: lad.run_rung(rung, a, b),
                                                                    warmup=warmup, reps=reps), precision="bf16")
            row = LadderRow(rung.number, rung.name, shape, err, r.timing.median_ms, r.tflops, r.pct_peak,
                            r.tflops / cub.tflops, _model(rung, shape))
        except Exception as e:  # noqa: BLE001 - a rung that cannot run is a row saying why
            row = LadderRow(rung.number, rung.name, shape, note=f"did not run: {type(e).__name__}: {e}")
        yield row
    if nvfp4 and (should_start is None or should_start("nvfp4")):
        yield _measure_nvfp4(shape, reps, warmup)


def measure_ladder(shape=TIME_SHAPE, reps: int = 20, warmup: int = 5, nvfp4: bool = True) -> list[LadderRow]:
    """On a B200: check every rung against torch, then time it and cuBLAS at `shape` (bf16). Raises elsewhere."""
    return list(iter_ladder(shape, reps, warmup, nvfp4))


def _measure_nvfp4(shape, reps: int, warmup: int) -> LadderRow:
    from bwkit import bench
    from bwkit import cute_gemm as cg
    from bwkit import cute_ladder_nvfp4 as l4
    from bwkit import formats as F

    M, N, K = shape
    try:
        err = check_nvfp4()
        ops, _ = F.nvfp4_gemm_case(M, N, K, reference=False)     # no 8192^3 CPU reference: only timed here
        base = bench.time_fn(lambda: cg.gemm_nvfp4(*ops, M, N, K), warmup=warmup, reps=reps)
        t = bench.time_fn(lambda: l4.run_nvfp4(*ops, M, N, K), warmup=warmup, reps=reps)
        r = bench.gemm_result("nvfp4", M, N, K, t, precision="fp4")
        return LadderRow("nvfp4", l4.NVFP4_RUNG.name, shape, err, t.median_ms, r.tflops, r.pct_peak,
                         base.median_ms / t.median_ms, _model(l4.NVFP4_RUNG, shape, "fp4"),
                         note="vs_baseline = x lab 05's NVFP4 kernel")
    except Exception as e:  # noqa: BLE001
        return LadderRow("nvfp4", l4.NVFP4_RUNG.name, shape, note=f"did not run: {type(e).__name__}: {e}")


def fake_ladder(shape=TIME_SHAPE) -> list[LadderRow]:
    """The table `measure_ladder` prints, with FAKE timings (the model's time, to exercise the formatting): a
    dry run for machines without a B200. Never data."""
    from bwkit import cute_ladder as lad
    from bwkit import cute_ladder_nvfp4 as l4
    from bwkit import hw

    M, N, K = shape = _shape("fake_ladder", shape)
    peak = hw.get_spec("B200").peak("bf16")
    cub_ms = 2 * M * N * K / (0.9 * peak) * 1e3
    rows = [LadderRow("cuBLAS", "torch.matmul(a, b.t())", shape, None, cub_ms, 2 * M * N * K / cub_ms / 1e9,
                      90.0, 1.0, fake=True)]
    for rung, _label in variants():
        why = _would_not_run(lambda rung=rung: lad.check_rung_shapes(M, N, K, rung))
        if why:                                     # measure_ladder's row for a rung that cannot take the shape
            rows.append(LadderRow(rung.number, rung.name, shape, fake=True, note=why))
            continue
        pct = _model(rung, shape)
        ms = 2 * M * N * K / (pct / 100 * peak) * 1e3
        rows.append(LadderRow(rung.number, rung.name, shape, None, ms, 2 * M * N * K / ms / 1e9, pct, cub_ms / ms,
                              pct, fake=True))
    why = _would_not_run(lambda: l4.check_nvfp4_rung(M, N, K))
    if why:
        rows.append(LadderRow("nvfp4", l4.NVFP4_RUNG.name, shape, fake=True, note=why))
    else:
        pct4 = _model(l4.NVFP4_RUNG, shape, "fp4")
        ms4 = 2 * M * N * K / (pct4 / 100 * hw.get_spec("B200").peak("fp4")) * 1e3
        rows.append(LadderRow("nvfp4", l4.NVFP4_RUNG.name, shape, None, ms4, 2 * M * N * K / ms4 / 1e9, pct4, 1.0,
                              pct4, fake=True, note="vs_baseline = x lab 05's NVFP4 kernel"))
    return [replace(r, note=(r.note + "; " if r.note else "") + "FAKE timing (dry run)") for r in rows]


def _would_not_run(check) -> str:
    """'' when `check()` passes, else the note `iter_ladder` gives a rung that raised (the shape it refuses)."""
    try:
        check()
    except ValueError as e:
        return f"did not run: {type(e).__name__}: {e}"
    return ""


def format_ladder(rows: list[LadderRow]) -> str:
    """A markdown table of the rows (one `LadderRow` or a list of them); FAKE rows are marked in every timed
    column."""
    from bwkit.bench import cell as _f

    rows = as_items("format_ladder: rows", rows, isinstance(rows, LadderRow), "a LadderRow")
    for i, r in enumerate(rows):
        if not isinstance(r, LadderRow):
            raise TypeError(f"format_ladder: rows[{i}] must be a LadderRow (from measure_ladder, iter_ladder or "
                            f"fake_ladder), got {type(r).__name__} {r!r:.60}")
    head = ("| rung | what | shape | rel. err | ms | TFLOP/s | % peak | x baseline | model % | note |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    out = [head]
    for r in rows:
        fake = " FAKE" if r.fake else ""
        out.append(f"| {r.rung} | {r.name} | {'x'.join(map(str, r.shape))} | {_f(r.rel_err, '.1e')} | "
                   f"{_f(r.ms, '.3f')}{fake} | {_f(r.tflops, '.0f')}{fake} | {_f(r.pct_peak, '.1f')}{fake} | "
                   f"{_f(r.vs_baseline, '.3f')}{fake} | {_f(r.model_pct, '.1f')} | {r.note} |")
    return "\n".join(out)
