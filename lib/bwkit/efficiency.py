"""How close to peak can a tiled GEMM get at a given shape? An efficiency model from the spec table.

A GEMM kernel cuts C (M x N) into BLOCK_M x BLOCK_N tiles; each tile walks K in BLOCK_K steps on one SM (or on a
pair of SMs: Blackwell's `tcgen05` CTA pair, `cta_group=2`). Three things keep it from the datasheet peak, and
this module multiplies them out before anything runs:

1. **Tile quantization**: ragged M, N, K are padded up to whole tiles; the padding is computed and thrown away.
   `tile_efficiency = M*N*K / (padded M * padded N * padded K)`.
2. **Wave quantization**: the tiles are dealt to `sms // cta_group` slots; the busiest slot does
   `ceil(tiles / slots)` tiles, so the last, partial wave leaves SMs idle.
   `wave_efficiency = tiles / (ceil(tiles / slots) * slots)`.
3. **Per-wave roofline**: every wave must also bring its A and B strips from HBM. Tiles that run at the same
   time share strips through L2 (grouped rasterization); `l2_reuse` says how much: "none" (every tile reads
   its own strips: the per-tile roofline), "wave" (default: a wave of grouped tiles reads the union of its
   strips once) or "ideal" (each operand crosses HBM once). A wave takes max(compute, memory) time.

A kernel that does not overlap its epilogue (writing the C tile) with the next tile's main loop (one CTA per
tile, or a persistent loop without warp specialization) pays for it after every wave: `overlap_epilogue=False`.
`sustained` scales the datasheet peak to what the chip sustains (clocks under power, instruction issue): 1.0
means "datasheet"; `fit_sustained` fits it from one measurement. The prediction is a % of the *datasheet*
dense peak in `bwkit.hw`, like `bwkit.bench`'s % of peak.

    >>> from bwkit import efficiency as eff
    >>> p = eff.predict(16384, 17920, 16384, "128x256", gpu="B200", precision="bf16")
    >>> p.tiles, p.full_waves, round(p.pct_of_peak, 1)
    (8960, 61, 99.2)

On a GPU, `measure_table()` times cuBLAS, the kit's Triton kernel (`bwkit.gemm.LADDER[-1]`) and its CuTe
kernel (`bwkit.cute_gemm`, sm_100a only) at `TABLE_SHAPES` next to the prediction (`format_table` prints it;
`bwkit.bench.save_json` saves it to `results/`, which `load_results` / `plot_results` read back).

Not modelled: L2 bandwidth and capacity (reuse across waves), stream-K / split-K (cuBLAS uses them to fill the
last wave), clock changes within a run, shared-memory bank conflicts. Taught in lab 06.
"""

from __future__ import annotations

import json
import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bwkit import hw
from bwkit.bench import cell as _fmt  # a table cell: '-' for None
from bwkit.kit.args import as_items, as_names, check_number

__all__ = [
    "Tile", "TILES", "IN_BYTES", "L2_REUSE", "Prediction", "get_tile", "tile_counts", "tile_efficiency",
    "wave_efficiency", "slots", "tile_intensity", "hbm_bytes", "predict", "best_tile", "fit_sustained",
    "sweep_n", "plot_sweep", "CUTLASS_B200_PCT", "CUTLASS_SHAPE", "CUTLASS_SOURCE", "SEED_SHAPE",
    "find_results_dir", "load_results", "results_rows", "plot_results",
    "KERNELS", "TRITON_CONFIG", "CALIBRATION_SHAPE", "TABLE_SHAPES", "Runner", "make_runner", "measure_table",
    "format_table",
]

# Bytes per operand element by Tensor Core precision. fp4 = NVFP4: 4 bits + one 1-byte UE4M3 scale per 16 values.
IN_BYTES: dict[str, float] = {"fp4": 0.5 + 1 / 16, "fp8": 1.0, "bf16": 2.0, "tf32": 4.0}
L2_REUSE = ("none", "wave", "ideal")

# The seed's shape and the one CUTLASS publishes (M, N, K).
SEED_SHAPE = (16384, 17290, 16384)
CUTLASS_SHAPE = (16384, 17920, 16384)
CUTLASS_SOURCE = ("CUTLASS 3.8 README, 'Performance' section: figure of GEMM throughput on B200 at "
                  "M=K=16384, N=17920, captioned '% throughput of theoretical peak @ power', operands uniform "
                  "random integers in [-4, 4] (values transcribed from that figure by the kit's authors)")
# The caption says only "% throughput of theoretical peak @ power". Reading it as "relative to the peak at the
# clock the GPU sustains under its power limit" (possibly below the datasheet boost-clock peak of bwkit.hw) is an
# interpretation, not CUTLASS's words; either way these are not directly % of bwkit.hw's B200 figures.
CUTLASS_B200_PCT: dict[str, float] = {"MXFP8": 98.3, "F16": 96.9, "TF32": 95.8, "BF16": 94.2, "S8": 93.3,
                                      "MXFP4": 91.9, "F8": 91.2, "NVFP4": 88.5}


@dataclass(frozen=True)
class Tile:
    """One output tile: BLOCK_M x BLOCK_N of C, K in BLOCK_K steps; `cta_group=2` = a CTA pair on two SMs."""

    BLOCK_M: int
    BLOCK_N: int
    BLOCK_K: int = 64
    cta_group: int = 1

    def __post_init__(self) -> None:
        for nm in ("BLOCK_M", "BLOCK_N", "BLOCK_K"):
            v = getattr(self, nm)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Tile: {nm} must be a positive int, got {v!r}")
        if self.cta_group not in (1, 2):
            raise ValueError(f"Tile: cta_group must be 1 (one SM per tile) or 2 (a tcgen05 CTA pair), "
                             f"got {self.cta_group!r}")
        if self.BLOCK_M % self.cta_group:
            raise ValueError(f"Tile: BLOCK_M={self.BLOCK_M} must split evenly over cta_group={self.cta_group} SMs")

    @property
    def name(self) -> str:
        """'128x256' or '256x128 2-CTA'."""
        return f"{self.BLOCK_M}x{self.BLOCK_N}" + (" 2-CTA" if self.cta_group == 2 else "")


# Common Blackwell tile shapes (BLOCK_K = 64 for 16-bit operands: one 128-byte swizzle row).
TILES: dict[str, Tile] = {t.name: t for t in (Tile(128, 128), Tile(128, 256), Tile(256, 128, cta_group=2))}


def get_tile(tile: Tile | str | Sequence[int]) -> Tile:
    """A `Tile` from a Tile, a name in `TILES` ('128x256', '256x128 2-CTA') or (BLOCK_M, BLOCK_N[, BLOCK_K])."""
    if isinstance(tile, Tile):
        return tile
    if isinstance(tile, str):
        if tile not in TILES:
            raise ValueError(f"unknown tile {tile!r}; known: {', '.join(TILES)} (or pass a Tile)")
        return TILES[tile]
    if isinstance(tile, Sequence) and 2 <= len(tile) <= 3:
        return Tile(*tile)
    raise TypeError(f"tile must be a Tile, a name ({', '.join(TILES)}) or (BLOCK_M, BLOCK_N[, BLOCK_K]), "
                    f"got {tile!r}")


def _check_shape(M: int, N: int, K: int) -> None:
    for nm, v in (("M", M), ("N", N), ("K", K)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{nm} must be a positive int, got {v!r}")


def tile_counts(M: int, N: int, K: int, tile: Tile | str | Sequence[int]) -> tuple[int, int, int]:
    """(tiles along M, tiles along N, K steps) for an M x N x K GEMM cut into `tile`s."""
    _check_shape(M, N, K)
    t = get_tile(tile)
    return math.ceil(M / t.BLOCK_M), math.ceil(N / t.BLOCK_N), math.ceil(K / t.BLOCK_K)


def tile_efficiency(M: int, N: int, K: int, tile: Tile | str | Sequence[int]) -> float:
    """Useful fraction of the padded work: M*N*K / (padded M * padded N * padded K). Taught in lab 06, step 2."""
    t = get_tile(tile)
    tm, tn, tk = tile_counts(M, N, K, t)
    return (M * N * K) / (tm * t.BLOCK_M * tn * t.BLOCK_N * tk * t.BLOCK_K)


def slots(gpu: str | hw.GPUSpec, tile: Tile | str | Sequence[int] = "128x256") -> int:
    """Tiles that run at once on `gpu`: one per SM, or one per SM pair for a 2-CTA tile (sm_100a only)."""
    s = hw.get_spec(gpu)
    t = get_tile(tile)
    if t.cta_group == 2 and s.arch != "sm_100a":
        raise ValueError(f"a 2-CTA tile ({t.name}) uses tcgen05 cta_group::2, which only datacenter Blackwell "
                         f"(sm_100a) has; {s.name} is {s.arch}")
    return s.sms // t.cta_group


def wave_efficiency(tiles: int, num_slots: int) -> float:
    """tiles / (ceil(tiles / num_slots) * num_slots): busy fraction of SM-time over all waves."""
    for nm, v in (("tiles", tiles), ("num_slots", num_slots)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"wave_efficiency: {nm} must be a positive int, got {v!r}")
    return tiles / (math.ceil(tiles / num_slots) * num_slots)


def tile_intensity(tile: Tile | str | Sequence[int], in_bytes: float = 2.0) -> float:
    """FLOP per byte a tile loads: 2*BM*BN*BK / ((BM + BN)*BK*in_bytes) = 2*BM*BN / ((BM + BN)*in_bytes)."""
    t = get_tile(tile)
    check_number("tile_intensity: in_bytes", in_bytes, integer=False)
    return 2 * t.BLOCK_M * t.BLOCK_N / ((t.BLOCK_M + t.BLOCK_N) * in_bytes)


def _wave_footprint(n: int, tm: int, tn: int, group_m: int) -> tuple[int, int]:
    """(tile rows, tile columns) touched by `n` consecutive tiles in grouped order (groups of group_m rows)."""
    g = min(group_m, tm)
    if n <= g * tn:
        return min(g, n), min(tn, math.ceil(n / g))
    return min(tm, math.ceil(n / (g * tn)) * g), tn


def _check_traffic(what: str, l2_reuse: str, group_m: int, in_bytes: float | None, c_bytes: float) -> None:
    """ValueError naming the bad one of the HBM-traffic arguments of `hbm_bytes` and `predict`."""
    if l2_reuse not in L2_REUSE:
        raise ValueError(f"l2_reuse must be one of {', '.join(L2_REUSE)}, got {l2_reuse!r}")
    check_number("group_m", group_m)          # True is not a group of 1 row
    for nm, v in (("in_bytes", in_bytes), ("c_bytes", c_bytes)):
        if v is not None:
            check_number(f"{what}: {nm}", v, integer=False, zero_ok=nm == "c_bytes")


def hbm_bytes(M: int, N: int, K: int, tile: Tile | str | Sequence[int], gpu: str | hw.GPUSpec = "B200",
              precision: str = "bf16", *, l2_reuse: str = "wave", group_m: int = 8, in_bytes: float | None = None,
              c_bytes: float = 2.0) -> list[float]:
    """HBM bytes moved by each wave (A and B strips as `l2_reuse` says, plus the C tiles written)."""
    _check_traffic("hbm_bytes", l2_reuse, group_m, in_bytes, c_bytes)
    if precision not in IN_BYTES:
        raise ValueError(f"hbm_bytes: precision must be one of {', '.join(IN_BYTES)}, got {precision!r}")
    t = get_tile(tile)
    b_in = IN_BYTES[precision] if in_bytes is None else in_bytes
    tm, tn, tk = tile_counts(M, N, K, t)
    n_slots = slots(gpu, t)
    tiles = tm * tn
    k_bytes = min(K, tk * t.BLOCK_K) * b_in           # TMA zero-fills past K without reading
    out = []
    for w in range(math.ceil(tiles / n_slots)):
        n = min(n_slots, tiles - w * n_slots)
        c_wave = M * N * c_bytes * n / tiles          # C tiles are clipped at the edges when stored
        if l2_reuse == "none":
            ab = n * (t.BLOCK_M + t.BLOCK_N) * k_bytes
        elif l2_reuse == "wave":
            rows, cols = _wave_footprint(n, tm, tn, group_m)
            ab = (rows * t.BLOCK_M + cols * t.BLOCK_N) * k_bytes
        else:
            ab = (M + N) * K * b_in * n / tiles
        out.append(ab + c_wave)
    return out


@dataclass(frozen=True)
class Prediction:
    """What the model says about one GEMM on one GPU with one tile; times in seconds, % of datasheet peak."""

    M: int
    N: int
    K: int
    tile: str
    gpu: str
    precision: str
    tiles_m: int
    tiles_n: int
    k_steps: int
    tiles: int
    slots: int
    full_waves: int
    tile_eff: float
    wave_eff: float
    tile_intensity: float
    wave_intensity: float
    compute_s: float
    memory_s: float
    epilogue_s: float
    time_s: float
    bound: str
    sustained: float
    pct_of_peak: float

    @property
    def waves(self) -> float:
        """tiles / slots (a fraction: 60.5 means 60 full waves and a half-full one)."""
        return self.tiles / self.slots

    @property
    def tflops(self) -> float:
        """Predicted TFLOP/s (useful FLOPs only)."""
        return 2 * self.M * self.N * self.K / self.time_s / 1e12

    def explain(self) -> str:
        """A few lines: tiles, waves, efficiencies, bound and the predicted % of peak."""
        return (f"{self.gpu} {self.precision} {self.M}x{self.N}x{self.K}, tile {self.tile}: "
                f"{self.tiles_m} x {self.tiles_n} = {self.tiles} tiles on {self.slots} slots = {self.waves:.2f} "
                f"waves -> {self.full_waves}\n"
                f"  tile efficiency {self.tile_eff:.2%}, wave efficiency {self.wave_eff:.2%}, "
                f"{self.bound}-bound (wave intensity {self.wave_intensity:.0f} FLOP/B vs ridge "
                f"{hw.ridge_point(self.gpu, self.precision):.0f})\n"
                f"  predicted {self.pct_of_peak:.1f}% of the dense peak (sustained {self.sustained:.2f})")


def predict(M: int, N: int, K: int, tile: Tile | str | Sequence[int] = "128x256", gpu: str | hw.GPUSpec = "B200",
            precision: str = "bf16", *, l2_reuse: str = "wave", group_m: int = 8, overlap_epilogue: bool = True,
            sustained: float = 1.0, in_bytes: float | None = None, c_bytes: float = 2.0) -> Prediction:
    """Predict % of dense peak for C[M,N] = A[M,K] @ B[K,N] cut into `tile`s on `gpu` at `precision`.

    `l2_reuse` ('none' | 'wave' | 'ideal') and `group_m` set the HBM traffic (see `hbm_bytes`); `overlap_epilogue`
    False adds each wave's C write to its time; `sustained` (0, 1] scales the peak; `in_bytes` overrides the operand
    element size (default from `IN_BYTES`), `c_bytes` is the output's. Taught in lab 06, step 3.
    """
    spec = hw.get_spec(gpu)
    peak = spec.peak(precision)
    check_number("predict: sustained", sustained, integer=False)
    if not 0 < sustained <= 1:
        raise ValueError(f"sustained must be in (0, 1] (a fraction of the datasheet peak), got {sustained!r}")
    if not isinstance(overlap_epilogue, bool):
        raise TypeError(f"overlap_epilogue must be a bool, got {overlap_epilogue!r}")
    _check_traffic("predict", l2_reuse, group_m, in_bytes, c_bytes)
    t = get_tile(tile)
    tm, tn, tk = tile_counts(M, N, K, t)
    n_slots = slots(spec, t)
    tiles = tm * tn
    full_waves = math.ceil(tiles / n_slots)
    b_in = IN_BYTES[precision] if in_bytes is None else in_bytes
    per_wave = hbm_bytes(M, N, K, t, spec, precision, l2_reuse=l2_reuse, group_m=group_m, in_bytes=b_in,
                         c_bytes=c_bytes)
    # one tile on its slot: padded FLOPs at the slot's share of the (sustained) peak
    t_tile = 2 * t.BLOCK_M * t.BLOCK_N * tk * t.BLOCK_K / (sustained * peak * t.cta_group / spec.sms)
    compute = memory = total = epilogue = 0.0
    mem_bound_waves = 0
    for w, q in enumerate(per_wave):
        n = min(n_slots, tiles - w * n_slots)
        t_mem = q / spec.bandwidth
        compute += t_tile
        memory += t_mem
        mem_bound_waves += t_mem > t_tile
        total += max(t_tile, t_mem)
        if not overlap_epilogue:
            t_epi = M * N * c_bytes * n / tiles / spec.bandwidth
            epilogue += t_epi
            total += t_epi
    flops = 2 * M * N * K
    return Prediction(
        M, N, K, t.name, spec.name, precision, tm, tn, tk, tiles, n_slots, full_waves,
        tile_efficiency(M, N, K, t), wave_efficiency(tiles, n_slots), tile_intensity(t, b_in),
        2 * t.BLOCK_M * t.BLOCK_N * tk * t.BLOCK_K * min(n_slots, tiles) / per_wave[0],
        compute, memory, epilogue, total, "memory" if 2 * mem_bound_waves > len(per_wave) else "compute",
        sustained, 100.0 * flops / (total * peak))


def _ints(v, n: int | None = None) -> bool:
    """True for a non-empty sequence of ints (of length `n` when given): one tile's or one shape's numbers."""
    return (isinstance(v, Sequence) and not isinstance(v, str) and len(v) > 0 and n in (None, len(v))
            and all(isinstance(x, numbers.Integral) for x in v))


_TILES = "tiles (Tiles, names such as '128x256' or (BLOCK_M, BLOCK_N[, BLOCK_K]) tuples)"


def best_tile(M: int, N: int, K: int, tiles: Iterable[Tile | str | Sequence[int]] | None = None,
              gpu: str | hw.GPUSpec = "B200", precision: str = "bf16", **kw) -> Prediction:
    """The `Prediction` with the highest % of peak over `tiles` (default: `TILES` that `gpu` can run); ties go to
    the higher tile intensity."""
    spec = hw.get_spec(gpu)
    if tiles is None:
        tiles = [t for t in TILES.values() if t.cta_group == 1 or spec.arch == "sm_100a"]
    tiles = as_items(f"best_tile: {_TILES}", tiles, isinstance(tiles, (Tile, str)) or _ints(tiles))
    preds = [predict(M, N, K, t, spec, precision, **kw) for t in tiles]
    if not preds:
        raise ValueError("best_tile: no tiles given")
    # ties (common: many tiles quantize alike) go to the tile that loads fewer bytes per FLOP
    return max(preds, key=lambda p: (round(p.pct_of_peak, 6), p.tile_intensity))


def fit_sustained(measured_pct: float, M: int, N: int, K: int, tile: Tile | str | Sequence[int] = "128x256",
                  gpu: str | hw.GPUSpec = "B200", precision: str = "bf16", **kw) -> float:
    """The `sustained` factor that makes `predict` match one measured % of peak (compute-bound shapes).

    Raises ValueError when the measurement is above the model's ceiling for `tile` (its prediction at
    sustained = 1): no factor <= 1 can match it, so the measurement or the tile is not what the model assumes."""
    if not 0 < measured_pct <= 100:
        raise ValueError(f"measured_pct must be in (0, 100], got {measured_pct!r}")
    if measured_pct <= 1:
        warnings.warn(f"fit_sustained: measured_pct={measured_pct!r} is a percentage; did you pass a fraction? "
                      f"({measured_pct!r} of peak would be {100 * measured_pct:g} %)", stacklevel=2)
    kw.pop("sustained", None)
    raw = predict(M, N, K, tile, gpu, precision, sustained=1.0, **kw)
    if raw.bound != "compute":
        raise ValueError(f"fit_sustained needs a compute-bound shape; {M}x{N}x{K} with {raw.tile} is "
                         "memory-bound in the model")
    s = _sustained_for(measured_pct, raw)
    if s is None:
        raise ValueError(f"fit_sustained: measured {measured_pct:g} % is above the model's ceiling for "
                         f"{M}x{N}x{K} with {raw.tile} ({raw.pct_of_peak:.1f} % at sustained=1): no sustained <= 1 "
                         f"matches it; check the peak the measurement was divided by and the tile the kernel ran")
    return s


def _sustained_for(measured_pct: float, raw: Prediction) -> float | None:
    """measured / raw (the model at sustained = 1): the factor that makes the model match; None when the
    measurement is above that ceiling, where no factor <= 1 matches (`fit_sustained` and `measure_table`)."""
    if measured_pct > raw.pct_of_peak * (1 + 1e-9):
        return None
    return min(1.0, measured_pct / raw.pct_of_peak)


def _progress(items: list, desc: str, enabled: bool):
    """`items` wrapped in a tqdm bar when `enabled` and tqdm is installed (GPU images may lack it)."""
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=desc)


def _clock_and_power() -> dict:
    """SM clock (MHz) and board power (W) right now, when torch can read them (needs pynvml); else {}."""
    import torch

    out = {}
    for key, fn in (("sm_clock_mhz", "clock_rate"), ("power_w", "power_draw")):
        try:
            v = getattr(torch.cuda, fn)(0)
            out[key] = v / 1000 if key == "power_w" else v    # power_draw reports milliwatts
        except Exception:  # noqa: BLE001 - optional telemetry
            pass
    return out


def sweep_n(M: int, K: int, Ns: Iterable[int], tiles: Iterable[Tile | str | Sequence[int]] | None = None,
            gpu: str | hw.GPUSpec = "B200", precision: str = "bf16", *, progress: bool = False,
            **kw) -> dict[str, list[float]]:
    """Predicted % of peak for each N in `Ns`, per tile name; `progress` shows a tqdm bar over the Ns (when tqdm
    is installed: GPU images may lack it)."""
    spec = hw.get_spec(gpu)
    tiles = TILES.values() if tiles is None else tiles
    ts = [get_tile(t) for t in as_items(f"sweep_n: {_TILES}", tiles, isinstance(tiles, (Tile, str)) or _ints(tiles))]
    Ns = as_items("sweep_n: Ns (ints)", Ns, isinstance(Ns, numbers.Integral))
    out: dict[str, list[float]] = {t.name: [] for t in ts}
    for n in _progress(Ns, f"model sweep over N on {spec.name}", progress):
        for t in ts:
            out[t.name].append(predict(M, n, K, t, spec, precision, **kw).pct_of_peak)
    return out


def plot_sweep(M: int, K: int, Ns: Sequence[int], tiles=None, gpu: str | hw.GPUSpec = "B200",
               precision: str = "bf16", marks: Sequence[int] = (SEED_SHAPE[1], CUTLASS_SHAPE[1]), ax=None,
               progress: bool = False, **kw):
    """Saw-tooth of predicted % of peak against N (one line per tile), with vertical lines at `marks` (named in
    the legend); `Ns` and `marks` take one N or several."""
    import matplotlib.pyplot as plt

    Ns = as_items("plot_sweep: Ns (ints)", Ns, isinstance(Ns, numbers.Integral))
    marks = as_items("plot_sweep: marks (Ns)", marks, isinstance(marks, numbers.Integral))
    spec = hw.get_spec(gpu)
    curves = sweep_n(M, K, Ns, tiles, spec, precision, progress=progress, **kw)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    for i, (name, ys) in enumerate(curves.items()):
        ax.plot(list(Ns), ys, ["-", "--", ":"][i % 3], lw=1.2, color=f"C{i}", label=f"tile {name}")
        for n in marks:
            if n in Ns:
                y = ys[list(Ns).index(n)]
                ax.plot([n], [y], "o", color=f"C{i}", ms=5)
    # the marks are named in the legend (one line style each), not written on the plot: close marks
    # (17290 and 17920 are 3% of the right panel apart) would print their labels on top of each other
    for j, n in enumerate(marks):
        ax.axvline(n, color=("0.45", "0.1")[j % 2], ls=("--", ":")[j % 2], lw=0.9, label=f"N={n}")
    ax.set_xlabel("N")
    ax.set_ylabel("predicted % of dense peak")
    ax.set_title(f"Model: {precision}, M={M}, K={K}, {spec.name} ({spec.sms} SMs); not measured", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure


# ---------------------------------------------------------------------------------------------------- results
def find_results_dir(start: str | Path | None = None) -> Path | None:
    """The kit's `results/` folder: in `start` (default: the working directory) or a parent; None if absent."""
    here = Path(start) if start is not None else Path.cwd()
    for d in (here, *here.resolve().parents):
        if (d / "results").is_dir() and (d / "results" / "README.md").exists():
            return d / "results"
    return None


def load_results(folder: str | Path | None = None) -> list[dict]:
    """Every `bwkit.bench.save_json` file in `folder` (default `find_results_dir()`: [] when the kit has no
    results/ folder here), each with its 'file' name. A `folder` that does not exist raises FileNotFoundError."""
    from bwkit import bench

    folder = find_results_dir() if folder is None else Path(folder)
    if folder is None:
        return []
    if not folder.is_dir():
        raise (NotADirectoryError if folder.exists() else FileNotFoundError)(
            f"load_results: {str(folder)!r} is not a folder{'' if folder.exists() else ' (no such path)'}; leave "
            f"folder out for the kit's results/")
    out = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            d = bench.load_json(p)
        except (ValueError, json.JSONDecodeError) as e:
            raise ValueError(f"{p.name} in {folder}: not a bwkit results file ({e})") from e
        out.append({**d, "file": p.name})
    return out


def results_rows(files: Sequence[dict]) -> tuple[list[dict], list[str]]:
    """(usable rows, notes): rows with a positive measured TFLOP/s and a predicted % of peak, and why others
    were skipped (a zero or missing time is never data)."""
    rows, notes = [], []
    for i, f in enumerate(files):
        if not isinstance(f, dict) or not {"metadata", "results", "file"} <= f.keys():
            raise ValueError(f"results_rows: files[{i}] is not what load_results returns (a dict with 'metadata', "
                             f"'results' and 'file'), got {f!r:.80}")
        gpu = (f["metadata"].get("gpu") or {}).get("name") or "no GPU"
        for r in f["results"]:
            tfl, pct = r.get("tflops"), r.get("pct_peak")
            pred = (r.get("extra") or {}).get("predicted_pct")
            if not tfl or tfl <= 0 or pct is None:
                notes.append(f"{f['file']}: skipped {r.get('name')} {r.get('shape')}: no positive measurement "
                             f"({(r.get('extra') or {}).get('status', 'no time')})")
                continue
            rows.append({"file": f["file"], "gpu": gpu, "torch": f["metadata"].get("torch"),
                         "triton": f["metadata"].get("triton"), "name": r["name"], "shape": r["shape"],
                         "tflops": tfl, "pct_peak": pct, "predicted_pct": pred})
    return rows, notes


def plot_results(rows: Sequence[dict], ax=None):
    """Measured vs predicted % of peak, one marker per row, the y = x line and a +-5 point band."""
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.get("predicted_pct") is not None]
    if not rows:
        raise ValueError("plot_results: no rows with both a measured and a predicted % of peak")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    lo = min(min(r["pct_peak"], r["predicted_pct"]) for r in rows) - 5
    xs = [lo, 100]
    ax.plot(xs, xs, "k-", lw=0.8, label="model = measurement")
    ax.fill_between(xs, [x - 5 for x in xs], [x + 5 for x in xs], color="gray", alpha=0.15, label="+-5 points")
    groups = sorted({(r["gpu"], r["name"]) for r in rows})
    for i, (g, n) in enumerate(groups):
        sel = [r for r in rows if (r["gpu"], r["name"]) == (g, n)]
        ax.plot([r["predicted_pct"] for r in sel], [r["pct_peak"] for r in sel], "o", color=f"C{i}",
                label=f"{n} on {g}")
    ax.set_xlabel("predicted % of dense peak (model)")
    ax.set_ylabel("measured % of dense peak")
    ax.set_title("Saved results: measured vs predicted (from results/*.json)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return ax.figure


# ------------------------------------------------------------------------------------------------ measurement
KERNELS = ("cublas", "triton", "cute")
# The Triton kernel's fixed config on a GPU (so the model knows its tile): 128x256x64, 3 stages = 144 KB of SMEM.
TRITON_CONFIG = {"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "GROUP_M": 8, "num_warps": 8, "num_stages": 3}
CALIBRATION_SHAPE = (8192, 8192, 8192)
# Shapes of lab 06's comparison table: calibration, the seed's, CUTLASS's, one with a half-empty last wave.
TABLE_SHAPES = (CALIBRATION_SHAPE, SEED_SHAPE, CUTLASS_SHAPE, (8192, 768, 8192))


@dataclass
class Runner:
    """How to run one kernel at one shape: `fn` (None when it cannot run: `status` says why), its tile and
    whether it overlaps its epilogue with the next tile (for `predict`)."""

    kernel: str
    fn: object
    tile: Tile | None
    overlap_epilogue: bool
    status: str


def make_runner(kernel: str, a, w) -> Runner:
    """A `Runner` computing a @ w.T with `kernel` ('cublas', 'triton', 'cute'); imports each one lazily."""
    import torch

    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose from {', '.join(KERNELS)}")
    if kernel == "cublas":
        return Runner("cuBLAS (torch.matmul)", lambda: torch.matmul(a, w.t()), None, True, "ok")
    if kernel == "triton":
        try:
            from bwkit import gemm
        except Exception as e:  # noqa: BLE001 - any import failure becomes a row that says why
            return Runner("Triton (bwkit.gemm)", None, None, True, f"n/a: bwkit.gemm did not import ({e})")
        step = gemm.LADDER[-1]
        name = f"Triton {step.name} (bwkit.gemm)"
        import inspect as _inspect

        # the 'ws' step warp-specializes (epilogue overlapped with the next tile) on sm_100 only
        ws = a.is_cuda and torch.cuda.get_device_capability(a.device)[0] == 10
        if "config" in _inspect.signature(step.wrapper).parameters:
            cfg = TRITON_CONFIG
            tile = Tile(cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["BLOCK_K"])
            return Runner(name, lambda: step.wrapper(a, w.t(), config=cfg), tile, ws, "ok")
        return Runner(name, lambda: step.wrapper(a, w.t()), None, ws, "ok (tile chosen by the wrapper)")
    try:
        from bwkit import cute_gemm
    except Exception as e:  # noqa: BLE001 - cutlass is absent from some GPU images
        return Runner("CuTe tcgen05 (bwkit.cute_gemm)", None, None, False,
                      f"n/a: bwkit.cute_gemm did not import ({type(e).__name__}: {e})")
    name = "CuTe tcgen05 (bwkit.cute_gemm)"
    if not torch.cuda.is_available() or torch.cuda.get_device_capability(0)[0] != 10:
        return Runner(name, None, None, False, "n/a: the tcgen05 kernel needs datacenter Blackwell (sm_100a)")
    cfg = cute_gemm.GemmConfig()
    (M, K), N = a.shape, w.shape[0]
    try:
        cute_gemm.check_gemm_shapes(M, N, K, cfg)
    except ValueError as e:
        return Runner(name, None, None, False, f"n/a: {e}".split(";")[0])
    return Runner(name, lambda: cute_gemm.gemm_tcgen05(a, w, cfg), Tile(cfg.TILE_M, cfg.TILE_N, cfg.TILE_K),
                  False, "ok")


def measure_table(shapes: Sequence[tuple[int, int, int]] = TABLE_SHAPES, kernels: Sequence[str] = KERNELS, *,
                  precision: str = "bf16", warmup: int = 5, reps: int = 20, progress: bool = True,
                  dry_run_spec: str | hw.GPUSpec | None = None) -> list:
    """On a GPU: time each kernel at each shape (CUDA events, L2 flushed), next to the model's prediction.

    The first shape calibrates `sustained` per kernel (`fit_sustained`'s rule; a kernel measured above the
    model's ceiling there keeps sustained 1 and its row says so in extra['above_model']); every row then carries
    extra = {kernel, tile, predicted_pct, predicted_raw_pct (sustained 1), sustained, error_points, status}.
    Kernels that cannot run, or give a wrong result, become dict rows whose status says why (never a zero time).
    Raises RuntimeError without a CUDA GPU, unless `dry_run_spec` names a GPU: then the code path runs on the
    CPU (tests only; host-clock CPU timings, no % of peak, no calibration). Taught in lab 06, step 5 (and
    benchmarks/gpu_check_near_peak.py).
    """
    import torch

    from bwkit import bench

    if precision != "bf16":
        raise ValueError(f"measure_table times bf16 GEMMs only, got precision={precision!r}")
    shapes = as_items("measure_table: shapes ((M, N, K) tuples)", shapes, _ints(shapes, 3))
    for s in shapes:
        if not _ints(s, 3):
            raise ValueError(f"measure_table: each shape must be (M, N, K), got {s!r}")
        _check_shape(*s)
    kernels = as_names("measure_table: kernels", kernels)
    if bad := [k for k in kernels if k not in KERNELS]:
        raise ValueError(f"unknown kernel {bad[0]!r}; choose from {', '.join(KERNELS)}")
    if dry_run_spec is not None:
        device, spec = "cpu", hw.get_spec(dry_run_spec)
    elif not torch.cuda.is_available():
        raise RuntimeError("measure_table needs a CUDA GPU; on a CPU use predict() (the model needs no GPU)")
    else:
        device, spec = "cuda", bench.spec_for_device(torch.cuda.get_device_name(0))
        if spec is None:
            raise RuntimeError(f"{torch.cuda.get_device_name(0)} is not in bwkit.hw.SPECS: no peak to compare with")
        spec = replace(spec, sms=torch.cuda.get_device_properties(0).multi_processor_count)
    rows: list = []
    sustained: dict[str, float] = {}
    jobs = [(s, k) for s in shapes for k in kernels]
    for (M, N, K), kernel in _progress(jobs, "near-peak table", progress):
        dt = torch.bfloat16 if device == "cuda" else torch.float32   # the interpreter's bf16 tl.dot is wrong
        a = torch.randn(M, K, device=device, dtype=dt)
        w = torch.randn(N, K, device=device, dtype=dt)
        run = make_runner(kernel, a, w)
        shape = {"M": M, "N": N, "K": K}
        if run.fn is None:
            rows.append({"name": run.kernel, "shape": shape, "precision": precision, "extra": {"status": run.status}})
            continue
        try:
            out = run.fn()
            ref = torch.matmul(a, w.t())
            err = ((out.float() - ref.float()).abs().max() / ref.float().abs().max()).item()
            del ref, out
        except Exception as e:  # noqa: BLE001 - a failing kernel is a row, not a crash of the whole table
            rows.append({"name": run.kernel, "shape": shape, "precision": precision,
                         "extra": {"status": f"failed: {type(e).__name__}: {str(e)[:200]}"}})
            continue
        if not err < 2e-2:
            rows.append({"name": run.kernel, "shape": shape, "precision": precision,
                         "extra": {"status": f"wrong result: max rel error {err:.2e} vs torch.matmul"}})
            continue
        timing = bench.time_fn(run.fn, warmup=warmup, reps=reps, device=device)
        r = bench.gemm_result(run.kernel, M, N, K, timing, precision=precision, kernel=kernel,
                              status=run.status, max_rel_err=err,
                              **(_clock_and_power() if device == "cuda" else {}))
        if run.tile is not None:
            pred_kw = {"tile": run.tile, "overlap_epilogue": run.overlap_epilogue}
        else:   # cuBLAS: its tile is not visible; use the model's best common tile
            pred_kw = {"tile": get_tile(best_tile(M, N, K, gpu=spec, precision=precision).tile)}
            r.extra["tile_assumed"] = True
        raw = predict(M, N, K, gpu=spec, precision=precision, **pred_kw)
        if kernel not in sustained and r.pct_peak is not None and raw.bound == "compute":
            fit = _sustained_for(r.pct_peak, raw)
            if fit is None:     # never clamped silently: the row says the model's ceiling is below it
                r.extra["above_model"] = (f"measured {r.pct_peak:.1f} % > the model's {raw.pct_of_peak:.1f} % at "
                                          f"sustained=1: not calibrated (sustained 1)")
            sustained[kernel] = 1.0 if fit is None else fit
            r.extra["calibration"] = fit is not None
        s = sustained.get(kernel, 1.0)
        pred = predict(M, N, K, gpu=spec, precision=precision, sustained=s, **pred_kw)
        r.extra.update(tile=pred.tile, predicted_raw_pct=raw.pct_of_peak, predicted_pct=pred.pct_of_peak,
                       sustained=s, error_points=(r.pct_peak - pred.pct_of_peak) if r.pct_peak else None,
                       waves=pred.waves, tile_eff=pred.tile_eff, wave_eff=pred.wave_eff)
        rows.append(r)
        del a, w
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def format_table(rows: Sequence) -> str:
    """One text table: kernel, shape, tile, measured TFLOP/s, % peak, predicted % peak, error in points."""
    head = (f"{'kernel':<34}{'shape (MxNxK)':>20}{'tile':>17}{'TFLOP/s':>9}{'% peak':>8}{'pred %':>8}"
            f"{'err pts':>8}  note")
    lines = [head, "-" * len(head)]
    for r in rows:
        d = r.to_dict() if hasattr(r, "to_dict") else r
        shape = "x".join(str(v) for v in d["shape"].values())
        ex = d.get("extra") or {}
        if d.get("tflops") is None:
            lines.append(f"{d['name']:<34}{shape:>20}{'-':>17}{'-':>9}{'-':>8}{'-':>8}{'-':>8}  {ex.get('status')}")
            continue
        pct = d.get("pct_peak")
        pred, errp = ex.get("predicted_pct"), ex.get("error_points")
        note = ("calibration shape (fits sustained)" if ex.get("calibration") else
                "above the model's ceiling: not calibrated" if ex.get("above_model") else "")
        if ex.get("sustained") is not None:
            note = (note + f"; sustained {ex['sustained']:.3f}").lstrip("; ")
        if ex.get("sm_clock_mhz"):
            note += f"; SM clock {ex['sm_clock_mhz']} MHz after timing"
        tile = ("~" if ex.get("tile_assumed") else "") + str(ex.get("tile", "?"))
        lines.append(f"{d['name']:<34}{shape:>20}{tile:>17}{d['tflops']:>9.1f}"
                     f"{_fmt(pct, '.1f'):>8}{_fmt(pred, '.1f'):>8}{_fmt(errp, '+.1f'):>8}  {note}")
    if any((getattr(r, "extra", None) or {}).get("tile_assumed") for r in rows):
        lines.append("~ tile not visible (cuBLAS picks its own kernel): the model's best common tile is assumed")
    return "\n".join(lines)
