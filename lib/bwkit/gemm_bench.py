"""`bwkit bench gemm`: the lab 03 GEMM ladder (and lab 04's block-scaled kernels) over a size sweep.

    bwkit bench gemm                            # GPU: time every step vs torch.matmul, write JSON + a plot
    bwkit bench gemm --sizes 1024,4096 --steps grouped,ws --dtype fp16 --out gemm-bench.json

On a GPU each ladder step is checked once against torch.matmul, then timed with `bwkit.bench.time_fn` (CUDA
events, L2 flushed) next to cuBLAS (`torch.matmul`); rows carry TFLOP/s, x cuBLAS and % of the published dense
peak (`bwkit.hw`). Without a GPU it says so and runs the CPU correctness sweep only (every step, fp32/fp16/fp8/
bf16, in the Triton interpreter, vs a float64 reference; MXFP8/MXFP4/NVFP4 vs a dequantize-then-matmul
reference), writing those results to the JSON file instead. The same happens on a GPU the kit's kernels have no
plan for (Ampere, Ada: `bwkit.setup()` runs Triton in the interpreter there). On datacenter Blackwell it also
times the NVFP4 GEMM against cuBLASLt (`torch._scaled_mm`).

The JSON goes to ``gemm-bench.json`` in the working directory by default (`DEFAULT_OUT`), never into the kit's
``results/`` folder: lab 06 reads every file there as `bwkit.bench.save_json` results, which these are not.
Call `bwkit.setup()` (the CLI does) before importing this module's helpers. Taught in lab 03 (steps 3 and 8).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from bwkit.kit.args import as_names, check_number

__all__ = ["register_cli", "DEFAULT_OUT", "parse_bench_options", "BenchOptionError",
           "run_gpu_sweep", "run_cpu_sweep", "run_cpu_scaled_sweep", "run_gpu_scaled",
           "nvfp4_contenders", "plot_sweep", "format_table", "DEFAULT_SIZES", "STEP_ADDS", "REFERENCE_POINTS",
           "ladder_model", "plot_ladder", "wave_reuse", "plot_launch_order", "PEAK_PRECISION"]

DEFAULT_SIZES = (1024, 2048, 4096, 8192)
DEFAULT_OUT = "gemm-bench.json"   # not in results/: lab 06 loads every *.json there as save_json results
_TIMED_STEPS = ("grouped", "autotuned", "persistent_tma", "ws")   # naive needs K <= 256; kloop = grouped, slower
# Which dense datasheet peak (`bwkit.hw`) a GEMM of each input dtype is measured against: fp16 runs at the bf16
# rate, fp32 matmuls run as TF32 (tl.dot's default; cuBLAS with allow_tf32).
PEAK_PRECISION: dict[str, str] = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "fp32": "tf32"}


# What each rung of the ladder adds (lab 03's summary table, one line per step).
STEP_ADDS: dict[str, str] = {
    "naive": "one tile per program, all of K at once",
    "kloop": "K loop + masks (row-major order)",
    "grouped": "grouped order: L2 reuse",
    "autotuned": "autotuned tile, warps, stages",
    "persistent_tma": "persistent programs + TMA",
    "ws": "warp specialization (epilogue overlap)",
}
# How bwkit.efficiency models each step: (BLOCK_M, BLOCK_N, BLOCK_K), GROUP_M (1 = row-major), and whether the
# epilogue overlaps the next tile's main loop (only the warp-specialized step, and only where the wrapper turns
# warp specialization on: datacenter Blackwell).
_MODEL_STEPS: dict[str, tuple[tuple[int, int, int], int, bool]] = {
    "kloop": ((128, 128, 64), 1, False), "grouped": ((128, 128, 64), 8, False),
    "autotuned": ((128, 256, 64), 8, False), "persistent_tma": ((128, 256, 64), 8, False),
    "ws": ((128, 256, 64), 8, True),
}
_LAUNCH_ORDER_TILES = 1024   # plot_launch_order draws every tile (64 x 64 takes ~7 s); wave_reuse has no limit
# What each row-taking helper reads: run_gpu_sweep's rows (run_cpu_sweep's have step/ok/err_ratio, no timings).
_ROW_KEYS = {"plot_ladder": ("name", "M", "tflops", "x_cublas", "device"),
             "format_table": ("name", "M", "N", "K", "tflops", "x_cublas", "rel_err"),
             "plot_sweep": ("name", "M", "tflops", "device")}


def _gpu_rows(fn: str, rows) -> list[dict]:
    """`rows` as a list of run_gpu_sweep row dicts; TypeError/ValueError naming `fn` and the keys it reads."""
    keys = _ROW_KEYS[fn]
    if isinstance(rows, dict) or isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
        raise TypeError(f"{fn}: rows must be a list of run_gpu_sweep row dicts, got {type(rows).__name__}"
                        + (" (one row: pass [row])" if isinstance(rows, dict) else ""))
    rows = list(rows)
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise TypeError(f"{fn}: rows[{i}] must be a dict (a run_gpu_sweep row), got {type(r).__name__}")
        missing = [k for k in keys if k not in r]
        if missing:
            cpu = " (run_cpu_sweep rows check correctness; nothing in them is timed)" if "ok" in r else ""
            raise ValueError(f"{fn} takes run_gpu_sweep rows (with {', '.join(keys)}); rows[{i}] lacks "
                             f"{', '.join(missing)}: its keys are {', '.join(map(str, r))}{cpu}")
    return rows


def _shapes(fn: str, shapes) -> list[tuple[int, int, int]]:
    """`shapes` as a list of (M, N, K) positive-int triples; ValueError naming `fn` for a flat (M, N, K)."""
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__iter__"):
        raise TypeError(f"{fn}: shapes must be a sequence of (M, N, K) triples, got {type(shapes).__name__}")
    shapes = list(shapes)
    if shapes and all(isinstance(v, (int, float)) for v in shapes):
        raise ValueError(f"{fn}: shapes must be a sequence of (M, N, K) triples; got the flat {tuple(shapes)}: "
                         f"wrap one shape as ({tuple(shapes)},)")
    out = []
    for i, s in enumerate(shapes):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__") or len(s) != 3:
            raise ValueError(f"{fn}: shapes[{i}] must be an (M, N, K) triple, got {s!r:.60}")
        for name, v in zip("MNK", s, strict=True):
            check_number(f"{fn}: shapes[{i}] {name}", v)
        out.append(tuple(s))
    return out


# Reference points beside the model, each with its kind (never "model") and its source.
REFERENCE_POINTS: tuple[dict, ...] = (
    {"gpu": "H200", "kind": "measured", "label": "cuBLAS bf16 (torch.matmul), 8192³", "tflops": (769.0, 798.0),
     "source": "measured on an H200 by the kit's authors (769-798 TFLOP/s over runs; versions not recorded)"},
    {"gpu": "B200", "kind": "published", "label": "CUTLASS 3.8 BF16, 94.2% of peak at power, 16384x17920x16384",
     "pct_of_peak": 94.2,
     "source": "CUTLASS 3.8 README 'Performance' figure (B200, % of peak at power; bwkit.efficiency."
               "CUTLASS_SOURCE)"},
)


def ladder_model(gpu: str = "B200", M: int = 8192, N: int = 8192, K: int = 8192,
                 precision: str = "bf16") -> list[dict]:
    """The `bwkit.efficiency` model of every ladder step on `gpu`: what it adds, TFLOP/s, % of the dense peak.

    Rows: step, adds, tflops and pct_of_peak (None for `naive`, which cannot run K > 256), bound, tile, kind
    ('model'). The model knows tile and wave quantization, the per-wave HBM traffic of row-major vs grouped order
    and the epilogue overlap; not L2 bandwidth, instruction issue or clocks under power. Taught in lab 03 (step 8).
    """
    from bwkit import efficiency, hw

    ladder = sorted(set(PEAK_PRECISION.values()))
    if precision not in ladder:
        raise ValueError(f"ladder_model: precision must be one of {', '.join(ladder)} (the Triton ladder's "
                         f"dtypes: {', '.join(f'{d} -> {p}' for d, p in PEAK_PRECISION.items())}), got {precision!r}"
                         + ("; no ladder step runs FP4 (the block-scaled GEMMs: run_gpu_scaled, lab 04)"
                            if precision == "fp4" else ""))
    spec = hw.get_spec(gpu)
    rows = [{"step": "naive", "adds": STEP_ADDS["naive"], "tflops": None, "pct_of_peak": None, "bound": None,
             "tile": "-", "kind": "model", "gpu": spec.name,
             "note": "not runnable here: the naive kernel loads all of K at once (K <= 256)"}]
    for step, (tile, group, overlap) in _MODEL_STEPS.items():
        p = efficiency.predict(M, N, K, efficiency.Tile(*tile), spec, precision, group_m=group,
                               overlap_epilogue=overlap and spec.arch == "sm_100a")
        rows.append({"step": step, "adds": STEP_ADDS[step], "tflops": p.tflops, "pct_of_peak": p.pct_of_peak,
                     "bound": p.bound, "tile": p.tile, "kind": "model", "gpu": spec.name, "note": ""})
    return rows


def plot_ladder(rows: list[dict] | None = None, gpus=("H200", "B200"), shape=(8192, 8192, 8192),
                precision: str = "bf16"):
    """The ladder as a chart: per step what it adds and its TFLOP/s; returns the figure.

    `rows` from `run_gpu_sweep` (a GPU): measured bars per step at the largest M there, next to cuBLAS. None: the
    `ladder_model` prediction for each of `gpus`, one panel each, beside `REFERENCE_POINTS` (labelled measured or
    published, with their sources in the legend) and the datasheet peak.
    """
    import matplotlib.pyplot as plt

    from bwkit import hw

    names = list(STEP_ADDS)
    labels = [f"{i + 1} {n}: {STEP_ADDS[n]}" for i, n in enumerate(names)]
    y = list(range(len(names)))
    if rows is not None:
        rows = _gpu_rows("plot_ladder", rows)
        if not rows:
            raise ValueError("plot_ladder: rows is empty; pass run_gpu_sweep's rows, or None for the model")
        size = max(r["M"] for r in rows)
        got = {r["name"]: r for r in rows if r["M"] == size}
        fig, ax = plt.subplots(figsize=(9, 3.8))
        vals = [got[n]["tflops"] if n in got else 0 for n in names]
        ax.barh(y, vals, color="C0", label="Triton step, measured (CUDA events, L2 flushed)")
        for i, n in enumerate(names):
            ax.text(vals[i], i, f" {got[n]['x_cublas']:.2f}x cuBLAS" if n in got else " not timed", va="center",
                    fontsize=8)
        if "cublas" in got:
            ax.axvline(got["cublas"]["tflops"], color="k", ls="--", label="cuBLAS (torch.matmul), measured")
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("TFLOP/s")
        ax.set_title(f"The GEMM ladder, {rows[0].get('dtype', precision)} {size}³, measured on {rows[0]['device']}",
                     fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        return fig
    gpus = as_names("plot_ladder: gpus", gpus)
    if not gpus:
        raise ValueError("plot_ladder: gpus is empty; name at least one GPU, e.g. ('H200', 'B200')")
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 3:
        raise ValueError(f"plot_ladder: shape must be an (M, N, K) triple, e.g. (8192, 8192, 8192), got {shape!r}")
    M, N, K = shape
    fig, axes = plt.subplots(1, len(gpus), figsize=(6 * len(gpus), 4.4), squeeze=False, sharey=True)
    for ax, gpu in zip(axes[0], gpus, strict=True):
        spec = hw.get_spec(gpu)
        model = ladder_model(gpu, M, N, K, precision)
        vals = [r["tflops"] or 0 for r in model]
        ax.barh(y, vals, color="C0", alpha=0.75, label="bwkit.efficiency model (not measured)")
        for i, r in enumerate(model):
            ax.text(vals[i], i, " n/a: needs K <= 256" if r["tflops"] is None else f" {r['pct_of_peak']:.0f}%",
                    va="center", fontsize=8)
        peak = spec.peak_tflops[precision]
        ax.axvline(peak, color="k", lw=1, label=f"datasheet dense {precision} peak ({peak:.0f})")
        for j, ref in enumerate(p for p in REFERENCE_POINTS if p["gpu"] == spec.name):
            lo, hi = ref["tflops"] if "tflops" in ref else (peak * ref["pct_of_peak"] / 100,) * 2
            ax.axvspan(lo, max(hi, lo + peak * 0.005), color=f"C{j + 1}", alpha=0.6,
                       label=f"{ref['kind']}: {ref['label']}")
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, peak * 1.25)
        ax.set_xlabel("TFLOP/s")
        ax.set_title(f"{spec.name}, {precision} {M}x{N}x{K}", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    axes[0][0].invert_yaxis()
    fig.suptitle("The GEMM ladder: what each step adds and its throughput (bars: bwkit.efficiency model, "
                 "% of the datasheet peak; bands: measured / published references)", fontsize=10)
    fig.tight_layout()
    return fig


def wave_reuse(num_pid_m: int, num_pid_n: int, wave: int, GROUP_M: int | None = None) -> dict:
    """The first `wave` tiles in launch order and the A / B strips they touch (each read once, reused from L2).

    Returns {'tiles': [(pid_m, pid_n), ...], 'a_strips': sorted row-tiles, 'b_strips': sorted column-tiles,
    'loads': distinct strips, 'uses': 2 x tiles (each tile reads one A and one B strip)}. Taught in lab 03, step 3.
    """
    from bwkit import gemm

    if not isinstance(wave, int) or wave < 1:
        raise ValueError(f"wave_reuse: wave must be a positive int, got {wave!r}")
    tiles = gemm.tile_order(num_pid_m, num_pid_n, GROUP_M, first=wave)
    a, b = sorted({m for m, _ in tiles}), sorted({n for _, n in tiles})
    return {"tiles": tiles, "a_strips": a, "b_strips": b, "loads": len(a) + len(b), "uses": 2 * len(tiles)}


def plot_launch_order(num_pid_m: int = 8, num_pid_n: int = 8, GROUP_M: int = 4, wave: int = 16):
    """Row-major vs grouped launch order on a grid of C tiles, with the A and B strips one wave reuses from L2.

    Each cell shows when its tile is launched; the first `wave` tiles (one wave: one tile per SM) are shaded, and
    the bars beside the grid mark the A strips (row-tiles) and B strips (column-tiles) that wave reads. Returns
    the figure. Taught in lab 03, step 3.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from bwkit import gemm

    check_number("plot_launch_order: num_pid_m", num_pid_m)
    check_number("plot_launch_order: num_pid_n", num_pid_n)
    if GROUP_M is None:
        raise ValueError("plot_launch_order: GROUP_M must be a positive int: the right panel is the grouped order "
                         "(the left one is already row-major)")
    if num_pid_m * num_pid_n > _LAUNCH_ORDER_TILES:
        raise ValueError(f"plot_launch_order: {num_pid_m} x {num_pid_n} = {num_pid_m * num_pid_n:,} tiles; it draws "
                         f"every one, at most {_LAUNCH_ORDER_TILES:,} (e.g. 32 x 32). The arguments are tile counts "
                         f"(cdiv(M, BLOCK_M), cdiv(N, BLOCK_N)), not M and N; wave_reuse counts a larger grid")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    for ax, group, name in ((axes[0], None, "row-major"), (axes[1], GROUP_M, f"grouped, GROUP_M={GROUP_M}")):
        order = gemm.tile_order(num_pid_m, num_pid_n, group)
        info = wave_reuse(num_pid_m, num_pid_n, wave, group)
        for t, (m, n) in enumerate(order):
            first = t < wave
            ax.add_patch(Rectangle((n, m), 1, 1, facecolor="C1" if first else "white", alpha=0.6 if first else 1,
                                   edgecolor="grey"))
            ax.text(n + 0.5, m + 0.5, str(t), ha="center", va="center", fontsize=7)
        for m in info["a_strips"]:
            ax.add_patch(Rectangle((-0.9, m), 0.6, 1, facecolor="C0", edgecolor="white"))
        for n in info["b_strips"]:
            ax.add_patch(Rectangle((n, -0.9), 1, 0.6, facecolor="C2", edgecolor="white"))
        ax.set_xlim(-1, num_pid_n)
        ax.set_ylim(num_pid_m, -1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: wave of {wave} tiles reads {len(info['a_strips'])} A + {len(info['b_strips'])} B "
                     f"strips\n({info['uses']} strip uses, {info['uses'] - info['loads']} served from L2)",
                     fontsize=9)
        ax.set_xlabel("column-tile pid_n (its B strip: green, above)")
        ax.set_ylabel("row-tile pid_m (its A strip: blue, left)")
    fig.suptitle(f"Launch order on a {num_pid_m}x{num_pid_n} grid of C tiles (number = launch index; orange = the "
                 f"first wave of {wave} programs)", fontsize=10)
    fig.tight_layout()
    return fig


def _step_call(name: str, a, b):
    """Call ladder step `name` on a GPU: the fixed steps with their plan's config (`gemm.launch_configs`), the
    tuned ones through their autotuner."""
    from bwkit import gemm

    return gemm.ladder_step(name).wrapper(a, b)


def _callable(name: str, a, b):
    """A zero-argument function running kernel `name` ('cublas' or a ladder step) on a @ b."""
    import torch

    if name != "cublas":
        return lambda: _step_call(name, a, b)
    if a.dtype == torch.float8_e4m3fn:
        one = torch.tensor(1.0, device=a.device)
        return lambda: torch._scaled_mm(a, b, one, one, out_dtype=torch.bfloat16)
    return lambda: torch.matmul(a, b)


def run_gpu_sweep(sizes=DEFAULT_SIZES, dtype: str = "bf16", steps=_TIMED_STEPS, shapes=None, reps: int = 30,
                  progress: bool = True) -> list[dict]:
    """Time `steps` and torch.matmul on square `sizes` (or explicit (M, N, K) `shapes`); return result rows.

    B is passed as `w.t()` of an (N, K) weight (the nn.Linear layout, legal for TMA at any N). Each row:
    name, M, N, K, ms, tflops, x_cublas, pct_peak, max_rel_err (vs torch.matmul), clock, device.
    """
    import torch

    from bwkit import bench, gemm

    if not torch.cuda.is_available():
        raise RuntimeError("run_gpu_sweep needs a CUDA GPU; use run_cpu_sweep on this machine")
    dt = gemm.DTYPES[dtype] if isinstance(dtype, str) and dtype in gemm.DTYPES else None
    if dt is None:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(gemm.DTYPES)}")
    steps = as_names("run_gpu_sweep: steps", steps)
    for s in steps:
        gemm.ladder_step(s)
    shapes = _shapes("run_gpu_sweep", shapes) if shapes is not None else [(n, n, n) for n in sizes]
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    jobs = [(shape, s) for shape in shapes for s in ("cublas", *steps)]
    bar = tqdm(jobs, desc="bench gemm", disable=not progress) if tqdm else jobs
    prec = PEAK_PRECISION[dtype]
    rows, cublas_tf = [], {}
    for (M, N, K), name in bar:
        a = torch.randn(M, K, device="cuda").to(dt)
        w = torch.randn(N, K, device="cuda").to(dt)
        b = w.t()
        fn = _callable(name, a, b)
        ref = (a.float() @ b.float())
        err = bench.relative_error(fn(), ref)
        t = bench.time_fn(fn, warmup=5, reps=reps)
        r = bench.gemm_result(name, M, N, K, t, precision=prec)
        if name == "cublas":
            cublas_tf[(M, N, K)] = r.tflops
        rows.append({"name": name, "M": M, "N": N, "K": K, "ms": t.median_ms, "tflops": r.tflops,
                     "x_cublas": r.tflops / cublas_tf[(M, N, K)], "pct_peak": r.pct_peak, "rel_err": err,
                     "clock": t.clock, "device": t.device, "dtype": dtype})
        del a, w, b, ref
    return rows


def run_cpu_sweep(dtypes=("fp32", "fp16", "fp8", "bf16"), shapes=((64, 64, 64), (37, 53, 48)),
                  steps=None) -> list[dict]:
    """Interpreter correctness of every ladder step x dtype x shape vs a float64 reference (poisoned output).

    TMA steps get B as `w.t()` (legal for any N). The naive step runs only where its preconditions hold
    (M, N multiples of 32, K a power of two <= 256).
    Each row: step, dtype, M, N, K, ok, max_abs_err, err_ratio (error / tolerance, <= 1 passes), note.
    """
    from bwkit import gemm

    dtypes = as_names("run_cpu_sweep: dtypes", dtypes)
    steps = as_names("run_cpu_sweep: steps", steps) if steps is not None else None
    shapes = _shapes("run_cpu_sweep", shapes)
    rows = []
    for s in (steps or [x.name for x in gemm.LADDER]):
        step = gemm.ladder_step(s)
        for dt in dtypes:
            for M, N, K in shapes:
                note = ""
                if s == "naive" and (M % 32 or N % 32 or K & (K - 1)):
                    continue
                try:
                    layout = "nk" if s in ("persistent_tma", "ws") else "kn"   # TMA-legal for any N
                    r = gemm.check_matmul(step.wrapper, M, N, K, dt, b_layout=layout)
                    ok, err, ratio = True, r["max_abs_err"], r["err_ratio"]
                except AssertionError as e:
                    ok, err, ratio, note = False, math.nan, math.nan, str(e)
                rows.append({"step": s, "dtype": dt, "M": M, "N": N, "K": K, "ok": ok, "max_abs_err": err,
                             "err_ratio": ratio, "note": note})
    return rows


def run_cpu_scaled_sweep(shapes=((40, 24, 128), (17, 33, 192))) -> list[dict]:
    """Interpreter correctness of the block-scaled GEMMs of bwkit.scaled_gemm (MXFP8, MXFP4, NVFP4)
    against the dequantize-then-matmul reference of `bwkit.formats`. Rows: step, dtype, M, N, K, ok, err_ratio.
    """
    import torch

    from bwkit import formats, scaled_gemm

    kernels = [("mxfp8_e4m3", scaled_gemm.mxfp8_matmul), ("mxfp4", scaled_gemm.mxfp4_matmul),
               ("nvfp4", scaled_gemm.nvfp4_matmul)]
    shapes = _shapes("run_cpu_scaled_sweep", shapes)
    rows = []
    for M, N, K in shapes:
        if K % 64:
            raise ValueError(f"run_cpu_scaled_sweep: K={K} must be a multiple of 64 (the interpreter's BLOCK_K)")
        for scheme, fn in kernels:
            a_q = formats.quantize(torch.randn(M, K) * 3, scheme)
            w_q = formats.quantize(torch.randn(N, K), scheme)
            ref = scaled_gemm.emulated_matmul(a_q, w_q).double()
            c = fn(a_q, w_q).double()
            atol = 4 * math.sqrt(K) * 2.0**-24 * float(ref.abs().max())
            ratio = float(((c - ref).abs() / (atol + 2.0**-20 * ref.abs())).max())
            rows.append({"step": f"{scheme} GEMM", "dtype": scheme, "M": M, "N": N, "K": K, "ok": ratio <= 1,
                         "max_abs_err": float((c - ref).abs().max()), "err_ratio": ratio, "note": ""})
    return rows


def nvfp4_contenders(n: int) -> tuple[dict, str | None]:
    """The NVFP4 GEMMs at n^3 on a datacenter Blackwell GPU, ready to time: ({name: (fn, precision)}, why cuBLASLt's
    NVFP4 `_scaled_mm` is missing or None). bf16 `torch.matmul`, the Triton `tl.dot_scaled` kernel, cuBLASLt."""
    import dataclasses

    import torch

    from bwkit import formats, scaled_gemm

    check_number("nvfp4_contenders: n", n)
    if not torch.cuda.is_available() or torch.cuda.get_device_capability()[0] != 10:
        raise RuntimeError("nvfp4_contenders needs datacenter Blackwell (sm_100): FP4 Tensor Cores; no such GPU "
                           "here (on a CPU: run_cpu_scaled_sweep checks the NVFP4 GEMM in the interpreter)")
    a, w = torch.randn(n, n), torch.randn(n, n)
    a_q, w_q = (dataclasses.replace(q, codes=q.codes.cuda(), scales=q.scales.cuda(),
                                    tensor_scale=q.tensor_scale.cuda())
                for q in (formats.quantize(a, "nvfp4"), formats.quantize(w, "nvfp4")))
    ab, wb = a.cuda().bfloat16(), w.cuda().bfloat16()
    fns = {"bf16 torch.matmul": (lambda: ab @ wb.T, "bf16"),
           "nvfp4 triton (tl.dot_scaled)": (lambda: scaled_gemm.nvfp4_matmul(a_q, w_q), "fp4")}
    try:
        ap = formats.pack_fp4(a_q.codes).view(torch.float4_e2m1fn_x2)
        wp = formats.pack_fp4(w_q.codes).view(torch.float4_e2m1fn_x2)
        sa = formats.to_blocked_scales(a_q.scales).view(torch.float8_e4m3fn)
        sw = formats.to_blocked_scales(w_q.scales).view(torch.float8_e4m3fn)
        torch._scaled_mm(ap, wp.T, sa, sw, out_dtype=torch.bfloat16)
    except Exception as e:  # noqa: BLE001 - NVFP4 in _scaled_mm depends on the torch build
        return fns, f"needs a torch build with NVFP4 _scaled_mm ({type(e).__name__}: {str(e)[:200]})"
    fns["nvfp4 cuBLASLt (_scaled_mm)"] = (lambda: torch._scaled_mm(ap, wp.T, sa, sw, out_dtype=torch.bfloat16), "fp4")
    return fns, None


def run_gpu_scaled(n: int = 8192, reps: int = 30) -> list[dict]:
    """Datacenter Blackwell only: NVFP4 Triton (`scaled_gemm.nvfp4_matmul`) vs cuBLASLt (`torch._scaled_mm`) vs bf16."""
    import torch

    from bwkit import bench

    if not torch.cuda.is_available() or torch.cuda.get_device_capability()[0] != 10:
        raise RuntimeError("run_gpu_scaled needs datacenter Blackwell (sm_100): FP4 Tensor Cores")
    fns, missing = nvfp4_contenders(n)
    if missing:
        print(f"torch._scaled_mm NVFP4 not available: {missing}")
    rows = []
    for name, (fn, prec) in fns.items():
        t = bench.time_fn(fn, warmup=5, reps=reps)
        r = bench.gemm_result(name, n, n, n, t, precision=prec)
        rows.append({"name": name, "M": n, "N": n, "K": n, "ms": t.median_ms, "tflops": r.tflops,
                     "pct_peak": r.pct_peak, "clock": t.clock, "device": t.device})
    return rows


def format_table(rows: list[dict]) -> str:
    """Text table of GPU rows: kernel, shape, TFLOP/s, x cuBLAS, % peak."""
    rows = _gpu_rows("format_table", rows)
    lines = [f"{'kernel':<16} {'shape (MxNxK)':<20} {'TFLOP/s':>8} {'x cuBLAS':>9} {'% peak':>7} {'rel err':>8}"]
    for r in rows:
        pct = f"{r['pct_peak']:.0f}%" if r.get("pct_peak") is not None else "n/a"
        lines.append(f"{r['name']:<16} {r['M']}x{r['N']}x{r['K']:<10} {r['tflops']:>8.1f} {r['x_cublas']:>9.2f} "
                     f"{pct:>7} {r['rel_err']:>8.1e}")
    return "\n".join(lines)


def plot_sweep(rows: list[dict], path: str | Path | None = None, ax=None):
    """TFLOP/s vs size for each kernel, cuBLAS dashed, the published dense peak as a line; returns the figure."""
    import matplotlib.pyplot as plt

    from bwkit import hw

    rows = _gpu_rows("plot_sweep", rows)
    if not rows:
        raise ValueError("plot_sweep: no rows to plot")
    dt = rows[0].get("dtype", "bf16")
    if dt not in PEAK_PRECISION:
        raise ValueError(f"plot_sweep: rows[0]['dtype'] = {dt!r}; run_gpu_sweep's dtypes are "
                         f"{', '.join(PEAK_PRECISION)}")
    fig, ax = (plt.subplots(figsize=(7, 4)) if ax is None else (ax.figure, ax))
    names = list(dict.fromkeys(r["name"] for r in rows))
    for i, n in enumerate(names):
        pts = [(r["M"], r["tflops"]) for r in rows if r["name"] == n]
        ax.plot(*zip(*pts, strict=True), "--" if n == "cublas" else "-o", color=f"C{i}",
                label="cuBLAS (torch.matmul)" if n == "cublas" else n)
    dev = rows[0]["device"]
    spec = hw.spec_for_device(dev)
    prec = PEAK_PRECISION[rows[0].get("dtype", "bf16")]
    if spec is not None and prec in spec.peak_tflops:
        ax.axhline(spec.peak_tflops[prec], color="k", lw=1, label=f"{spec.name} dense {prec} peak (datasheet)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("M (= N = K unless stated)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(f"Triton GEMM ladder vs cuBLAS, {rows[0].get('dtype', 'bf16')} on {dev} (CUDA events)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


class BenchOptionError(ValueError):
    """A `bwkit bench gemm` option that cannot be used; the message names it."""


_CPU_SWEEP = ("Running the CPU correctness sweep only (Triton interpreter, small shapes: every ladder step x "
              "fp32/fp16/fp8/bf16 vs a float64 reference, and the MXFP8/MXFP4/NVFP4 GEMMs vs a dequantize-then-matmul "
              "reference).")


def parse_bench_options(sizes: str | None, steps: str | None, out: str | Path) -> tuple[list[int], list[str], Path]:
    """The `bwkit bench gemm` options checked: (sizes, steps, out path). None means the default (`DEFAULT_SIZES`,
    the timed steps). Raises `BenchOptionError` naming the option: sizes must be positive ints, steps ladder steps
    that can be timed (not 'naive': it loads all of K at once, K <= 256), and `out` a file outside the kit's
    results/ folder (lab 06 reads every JSON file there as `bwkit.bench.save_json` results)."""
    for name, v in (("sizes", sizes), ("steps", steps)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"parse_bench_options: {name} must be a comma-separated str (as --{name} takes it, "
                            f"e.g. {'1024,4096' if name == 'sizes' else 'grouped,ws'!r}) or None, got "
                            f"{type(v).__name__} {v!r:.40}")
    if not isinstance(out, (str, Path)):
        raise TypeError(f"parse_bench_options: out must be a file path (str or Path), e.g. {DEFAULT_OUT!r}; got "
                        f"{type(out).__name__}")
    size_list = list(DEFAULT_SIZES)
    if sizes is not None:
        parts = [x.strip() for x in sizes.split(",")]
        if not all(parts) or not all(x.isascii() and x.isdigit() and int(x) > 0 for x in parts):
            raise BenchOptionError(f"--sizes takes comma-separated positive integers (M = N = K), e.g. 1024,4096; "
                                   f"got {sizes!r}")
        size_list = [int(x) for x in parts]
    step_list = list(_TIMED_STEPS)
    if steps is not None:
        step_list = [x.strip() for x in steps.split(",") if x.strip()]
        timed = [s for s in STEP_ADDS if s != "naive"]
        bad = [x for x in step_list if x not in timed]
        if not step_list or bad:
            why = " ('naive' cannot be timed: it loads all of K at once, K <= 256)" if "naive" in bad else ""
            raise BenchOptionError(f"--steps: unknown or untimed step(s) {bad or [steps]}{why}; choose from "
                                   f"{', '.join(timed)}")
    path = Path(out)
    if path.is_dir():
        raise BenchOptionError(f"--out {path} is a folder; give a file name, e.g. {path / DEFAULT_OUT}")
    above = path.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise BenchOptionError(f"--out {path}: {above} is not a folder")
    if path.parent.resolve().name == "results" and (path.parent / "README.md").is_file():
        raise BenchOptionError(f"--out {path}: not in the kit's results/ folder (lab 06 reads every JSON file "
                               f"there as bwkit.bench.save_json results); the default is {DEFAULT_OUT}")
    return size_list, step_list, path


def _cmd_bench_gemm(args: argparse.Namespace) -> int:
    try:
        sizes, steps, out = parse_bench_options(args.sizes, args.steps, args.out)
    except BenchOptionError as e:
        print(f"bench gemm: {e}", file=sys.stderr)
        return 2
    import bwkit

    rt = bwkit.setup(quiet=True)
    import json

    from bwkit import bench

    if rt.can_time and rt.native_plan is None:      # TRITON_INTERPRET=0 on a GPU the ladder is not planned for
        print(f"bench gemm: bwkit.gemm has no kernel plan for {rt.gpu_name} ({rt.arch}): the ladder is planned for "
              "sm_90a, sm_100a/sm_103a and sm_120a/sm_121a. Unset TRITON_INTERPRET to run the CPU correctness "
              "sweep in the interpreter instead.", file=sys.stderr)
        return 2
    if not rt.can_time:
        if not rt.has_gpu:
            print(f"bench gemm: no CUDA GPU here, so nothing is timed. {_CPU_SWEEP}")
        elif rt.native_plan is None:
            print(f"bench gemm: {rt.gpu_name} ({rt.arch}) has no kernel plan in bwkit.gemm, so Triton runs in the "
                  f"interpreter and nothing is timed. {_CPU_SWEEP}")
        else:
            print(f"bench gemm: the Triton interpreter is forced (TRITON_INTERPRET=1), so nothing is timed on "
                  f"{rt.gpu_name}. {_CPU_SWEEP}")
        given = [f"--{k}" for k in ("sizes", "steps", "dtype") if getattr(args, k) is not None]
        if given:
            print(f"bench gemm: {', '.join(given)} only apply to the GPU timing: not used here.")
        rows = run_cpu_sweep() + run_cpu_scaled_sweep()
        for r in rows:
            mark = "✅" if r["ok"] else "❌"
            print(f"{mark} {r['step']:<15} {r['dtype']:<5} {r['M']}x{r['N']}x{r['K']}  "
                  f"max abs err {r['max_abs_err']:.1e}, error/tolerance {r['err_ratio']:.2f} {r['note']}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"metadata": bench.metadata(), "cpu_correctness": rows}, indent=1))
        print(f"wrote {out}")
        return 0 if all(r["ok"] for r in rows) else 1
    rows = run_gpu_sweep(sizes, args.dtype or "bf16", steps, progress=True)
    print(format_table(rows))
    scaled = []
    if rt.is_blackwell_dc:
        scaled = run_gpu_scaled()
        for r in scaled:
            print(f"{r['name']:<28} {r['M']}^3 {r['tflops']:>8.1f} TFLOP/s")
    else:
        print("block-scaled GEMMs not timed: FP4/MX Tensor Cores need datacenter Blackwell (sm_100)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"metadata": bench.metadata(), "results": rows, "block_scaled": scaled}, indent=1))
    png = out.with_suffix(".png")
    plot_sweep(rows, png)
    print(f"wrote {out} and {png}")
    return 0


def register_cli(subparsers) -> None:
    """Add `bwkit bench gemm` to the `bwkit` command's subparsers."""
    bench_p = subparsers.add_parser("bench", help="benchmarks (GPU) or correctness sweeps (CPU)")
    sub = bench_p.add_subparsers(dest="bench_cmd", required=True)
    g = sub.add_parser("gemm", help="the lab 03 GEMM ladder vs torch.matmul over a size sweep")
    g.add_argument("--sizes", default=None,
                   help=f"comma-separated M=N=K sizes (GPU only; default {','.join(map(str, DEFAULT_SIZES))})")
    g.add_argument("--steps", default=None,
                   help=f"comma-separated ladder steps to time (GPU only; default {','.join(_TIMED_STEPS)})")
    g.add_argument("--dtype", default=None, choices=["bf16", "fp16", "fp8", "fp32"], help="GPU only; default bf16")
    g.add_argument("--out", default=DEFAULT_OUT,
                   help=f"JSON results path, not in results/ (default {DEFAULT_OUT}; on a GPU a .png plot is written "
                        "beside)")
    g.set_defaults(func=_cmd_bench_gemm)


if __name__ == "__main__":  # pragma: no cover
    from bwkit.kit.cli import main

    sys.exit(main(["bench", "gemm", *sys.argv[1:]]))
