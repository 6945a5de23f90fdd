"""A producer/consumer timeline model of one GEMM CTA on Blackwell: TMA loads -> tcgen05.mma -> epilogue.

The kernel shape it models (CUTLASS's and Triton's warp-specialized Blackwell GEMMs): a TMA producer fills
`stages` shared-memory slots with A and B K-slices; the MMA issuer consumes a slot when its data has landed
and frees it when the MMA that read it completes (tcgen05.commit -> mbarrier); after the last K step of a tile
the epilogue drains the accumulator from TMEM. With one accumulator buffer the next tile's MMAs wait for the
epilogue; with two (`acc_buffers=2`, 2 x N TMEM columns) they overlap.

    from bwkit import pipeline as pl
    cfg = pl.PipelineConfig(stages=4)
    tl = pl.simulate(cfg)
    print(tl.summary())                     # TFLOP/s of this model, MMA busy %, bytes in flight
    pl.plot_stages(pl.sweep_stages(cfg))    # throughput vs stage count

Every time is in nanoseconds and every rate per SM. The model is deliberately simple: loads are a pipe with a
fixed latency and a bandwidth, MMAs run back to back at the Tensor Core rate, nothing else interferes. Its
defaults are *assumptions* for illustration (named in `PipelineConfig`), not measurements. `min_stages` finds
the fewest stages that hide the load latency, `PipelineConfig.from_times` builds a config from its three times,
and `stage_traffic` puts numbers on 2-CTA MMA and TMA multicast. Taught in lab 01 (steps 6-7).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bwkit.kit.args import check_number

__all__ = [
    "PipelineConfig", "Event", "Timeline", "simulate", "sweep_stages", "plot_timeline", "plot_stages",
    "StageTraffic", "stage_traffic", "SMEM_BYTES_PER_SM", "min_stages",
]

SMEM_BYTES_PER_SM = 227 * 1024  # largest dynamic shared memory per CTA on sm_90/sm_100 (of 228 KB per SM)


@dataclass(frozen=True)
class PipelineConfig:
    """One CTA's GEMM work and the machine rates the model assumes (all per SM; times in ns).

    Defaults: a 128x256x64 bf16 tile; `flops_per_ns` = B200 dense bf16 (2.25 PFLOP/s) / 148 SMs;
    `bytes_per_ns` and `load_latency_ns` are illustrative assumptions for data arriving from L2/HBM.
    `persistent=False` models one CTA per tile, one CTA on the SM at a time: a tile's first load waits for the
    previous tile's epilogue (nothing of the next tile overlaps, whatever `acc_buffers` says).
    """

    BLOCK_M: int = 128
    BLOCK_N: int = 256
    BLOCK_K: int = 64
    stages: int = 4
    bytes_per_element: float = 2.0
    k_steps: int = 32
    tiles: int = 3
    acc_buffers: int = 2
    flops_per_ns: float = 2.25e15 / 148 / 1e9
    bytes_per_ns: float = 200.0
    load_latency_ns: float = 800.0
    epilogue_ns: float = 1000.0
    persistent: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.persistent, bool):
            raise ValueError(f"PipelineConfig.persistent must be True or False, got {self.persistent!r}")
        for name in ("BLOCK_M", "BLOCK_N", "BLOCK_K", "stages", "k_steps", "tiles", "acc_buffers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"PipelineConfig.{name} must be a positive int, got {v!r}")
        for name in ("bytes_per_element", "flops_per_ns", "bytes_per_ns"):     # finite: inf gave 0 TFLOP/s
            check_number(f"PipelineConfig.{name}", getattr(self, name), integer=False)
        for name in ("load_latency_ns", "epilogue_ns"):
            check_number(f"PipelineConfig.{name}", getattr(self, name), integer=False, zero_ok=True)

    @classmethod
    def from_times(cls, load_latency_ns: float, transfer_ns: float, mma_ns: float, **fields) -> PipelineConfig:
        """A config whose load latency, per-stage transfer and per-K-step MMA times are the given ns (rates
        derived for the tile in `fields`, default 128x256x64 bf16)."""
        for name, v in (("load_latency_ns", load_latency_ns), ("transfer_ns", transfer_ns), ("mma_ns", mma_ns)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf or (
                    v == 0 and name != "load_latency_ns"):
                raise ValueError(f"PipelineConfig.from_times: {name} must be a number > 0 "
                                 f"(>= 0 for the latency), got {v!r}" + (" (a finite one: not infinity or NaN)"
                                                                         if v in (math.inf, -math.inf) or v != v
                                                                         else ""))
        shape = cls(**fields)
        return replace(shape, load_latency_ns=float(load_latency_ns),
                       bytes_per_ns=shape.stage_bytes / float(transfer_ns),
                       flops_per_ns=2 * shape.BLOCK_M * shape.BLOCK_N * shape.BLOCK_K / float(mma_ns))

    @property
    def stage_bytes(self) -> int:
        """Bytes of one stage: an A slice (BLOCK_M x BLOCK_K) plus a B slice (BLOCK_N x BLOCK_K)."""
        return int((self.BLOCK_M + self.BLOCK_N) * self.BLOCK_K * self.bytes_per_element)

    @property
    def smem_bytes(self) -> int:
        """Shared memory the ring of `stages` slots takes."""
        return self.stages * self.stage_bytes

    @property
    def mma_ns(self) -> float:
        """Tensor Core time of one K step: 2 * BLOCK_M * BLOCK_N * BLOCK_K / flops_per_ns."""
        return 2 * self.BLOCK_M * self.BLOCK_N * self.BLOCK_K / self.flops_per_ns

    @property
    def transfer_ns(self) -> float:
        """Time one stage occupies the load pipe: stage_bytes / bytes_per_ns."""
        return self.stage_bytes / self.bytes_per_ns


@dataclass(frozen=True)
class Event:
    """One bar of the timeline: `unit` ('TMA', 'MMA', 'epilogue') busy on (tile, k) from start to end (ns)."""

    unit: str
    tile: int
    k: int
    start: float
    end: float


@dataclass
class Timeline:
    """The simulated schedule and what it achieves."""

    config: PipelineConfig
    events: list[Event] = field(default_factory=list)

    @property
    def makespan_ns(self) -> float:
        """Time from the first load to the end of the last epilogue."""
        return max(e.end for e in self.events)

    @property
    def flops(self) -> float:
        """Useful FLOPs: 2 * BLOCK_M * BLOCK_N * BLOCK_K * k_steps * tiles."""
        c = self.config
        return 2.0 * c.BLOCK_M * c.BLOCK_N * c.BLOCK_K * c.k_steps * c.tiles

    @property
    def tflops(self) -> float:
        """Model throughput of this SM in TFLOP/s (FLOP per ns / 1000)."""
        return self.flops / self.makespan_ns / 1e3

    @property
    def mma_busy(self) -> float:
        """Fraction of the makespan the Tensor Core is busy."""
        return sum(e.end - e.start for e in self.events if e.unit == "MMA") / self.makespan_ns

    @property
    def max_bytes_in_flight(self) -> int:
        """Most bytes requested by TMA and not yet consumed by the MMA at any moment (<= stages x stage)."""
        c = self.config
        loads = {(e.tile, e.k): e for e in self.events if e.unit == "TMA"}
        mmas = {(e.tile, e.k): e for e in self.events if e.unit == "MMA"}
        marks = sorted([(loads[key].start, 1) for key in loads] + [(mmas[key].end, -1) for key in mmas],
                       key=lambda t: (t[0], t[1]))
        live = peak = 0
        for _, delta in marks:
            live += delta
            peak = max(peak, live)
        return peak * c.stage_bytes

    def summary(self) -> str:
        """One line: stages, model TFLOP/s per SM, MMA busy %, peak bytes in flight, smem used."""
        c = self.config
        return (f"stages={c.stages}: {self.tflops:.1f} TFLOP/s per SM (model), "
                f"MMA busy {100 * self.mma_busy:.0f}%, {self.max_bytes_in_flight / 1024:.0f} KiB in flight, "
                f"smem ring {c.smem_bytes / 1024:.0f} KiB")


_MAX_STEPS = 1_000_000     # K steps x tiles one simulation schedules (a few hundred MB of events past that)


def simulate(config: PipelineConfig) -> Timeline:
    """Schedule every load, MMA and epilogue of `config.tiles` tiles x `config.k_steps` K steps (a Timeline).

    Rules: the producer issues loads in order, each into slot i % stages once the MMA that last used that
    slot has finished (and, when not `persistent`, a tile's first load once the previous tile's epilogue is
    done); a load completes at max(issue + latency + transfer, previous completion + transfer) (a pipe of fixed
    latency and bandwidth). An MMA starts when its data has landed, the previous MMA is done
    and (first K step of a tile) its accumulator buffer has been drained by the epilogue; epilogues run one
    after another.
    """
    if not isinstance(config, PipelineConfig):
        raise TypeError(f"simulate takes a PipelineConfig, got {type(config).__name__}")
    c = config
    n = c.tiles * c.k_steps
    if n > _MAX_STEPS:
        raise ValueError(f"simulate: tiles x k_steps = {c.tiles} x {c.k_steps} = {n:,} load/MMA steps; the event "
                         f"model schedules each one (at most {_MAX_STEPS:,}): k_steps counts K steps "
                         f"(K // BLOCK_K), not K")
    tl = Timeline(c)
    load_done = [0.0] * n
    mma_end = [0.0] * n
    epi_end: list[float] = []
    last_issue = last_done = last_mma = 0.0
    for i in range(n):
        tile, k = divmod(i, c.k_steps)
        slot_free = mma_end[i - c.stages] if i >= c.stages else 0.0
        issue = max(last_issue, slot_free)
        if k == 0 and tile > 0 and not c.persistent:
            issue = max(issue, epi_end[tile - 1])          # the next CTA starts once this one has finished
        done = max(issue + c.load_latency_ns + c.transfer_ns, last_done + c.transfer_ns)
        last_issue, last_done, load_done[i] = issue, done, done
        tl.events.append(Event("TMA", tile, k, issue, done))
        start = max(done, last_mma)
        if k == 0 and tile >= c.acc_buffers:
            start = max(start, epi_end[tile - c.acc_buffers])
        mma_end[i] = last_mma = start + c.mma_ns
        tl.events.append(Event("MMA", tile, k, start, mma_end[i]))
        if k == c.k_steps - 1:
            e0 = max(mma_end[i], epi_end[-1] if epi_end else 0.0)
            epi_end.append(e0 + c.epilogue_ns)
            tl.events.append(Event("epilogue", tile, k, e0, epi_end[-1]))
    return tl


def sweep_stages(config: PipelineConfig, stages=range(1, 9)) -> list[Timeline]:
    """Simulate `config` once per stage count in `stages` (an iterable of ints); return the Timelines in order."""
    if not isinstance(config, PipelineConfig):
        raise TypeError(f"sweep_stages: config must be a PipelineConfig, got {type(config).__name__}")
    if not isinstance(stages, Iterable):
        raise TypeError(f"sweep_stages: stages must be stage counts, e.g. range(1, 9), got {stages!r}")
    out = []
    for s in stages:
        check_number("sweep_stages: a stage count", s)
        out.append(simulate(replace(config, stages=s)))
    if not out:
        raise ValueError("sweep_stages needs at least one stage count")
    return out


def min_stages(config: PipelineConfig, *, max_stages: int = 16, k_steps: int = 64, tol: float = 1e-3) -> int:
    """Smallest stage count whose model throughput is within `tol` of `max_stages` stages (`k_steps` per tile).

    The model's answer to "how many stages hide the load latency"; in steady state it is
    ceil((latency + transfer + MMA) / MMA) when the transfer is shorter than the MMA (lab 01, exercise 01.5).
    """
    if not isinstance(config, PipelineConfig):
        raise TypeError(f"min_stages takes a PipelineConfig, got {type(config).__name__}")
    if isinstance(max_stages, bool) or not isinstance(max_stages, int) or max_stages < 1:
        raise ValueError(f"min_stages: max_stages must be a positive int, got {max_stages!r}")
    if not 0 <= tol < 1:
        raise ValueError(f"min_stages: tol must be in [0, 1), got {tol!r}")
    best = simulate(replace(config, stages=max_stages, k_steps=k_steps)).tflops
    return next(s for s in range(1, max_stages + 1)
                if simulate(replace(config, stages=s, k_steps=k_steps)).tflops >= (1 - tol) * best)


def plot_timeline(timeline: Timeline, ax=None, max_ns: float | None = None, title: str | None = None):
    """Gantt chart of a Timeline (one row per unit, colour per tile), up to `max_ns` (a positive number of ns, or
    None: all of it); returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(timeline, Timeline):
        raise TypeError(f"plot_timeline takes a Timeline (what simulate returns), got {type(timeline).__name__}")
    if max_ns is not None:
        check_number("plot_timeline: max_ns", max_ns, integer=False)

    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 2.6))
    else:
        fig = ax.figure
    rows = {"TMA": 2, "MMA": 1, "epilogue": 0}
    for e in timeline.events:
        if max_ns is not None and e.start > max_ns:
            continue
        ax.barh(rows[e.unit], e.end - e.start, left=e.start, height=0.6, color=f"C{e.tile % 10}",
                edgecolor="black", linewidth=0.3, alpha=0.85 if e.unit != "TMA" else 0.45)
    ax.set_yticks(list(rows.values()), list(rows.keys()))
    ax.set_xlabel("time (ns, model)")
    if max_ns is not None:
        ax.set_xlim(0, max_ns)
    c = timeline.config
    ax.set_title(title or f"Pipeline model: {c.stages} stages, {c.BLOCK_M}x{c.BLOCK_N}x{c.BLOCK_K} tile "
                          f"(colour = output tile)")
    fig.tight_layout()
    return fig


def plot_stages(timelines: list[Timeline], ax=None, title: str | None = None,
                smem_limit: int = SMEM_BYTES_PER_SM):
    """Model TFLOP/s per SM vs stage count, the Tensor Core peak as a line, stage counts that overflow smem
    hatched. Returns the figure."""
    import matplotlib.pyplot as plt

    if isinstance(timelines, Timeline) or not isinstance(timelines, Iterable):
        raise TypeError("plot_stages takes a list of Timelines (what sweep_stages returns), got "
                        f"{type(timelines).__name__}")
    timelines = list(timelines)
    if not all(isinstance(t, Timeline) for t in timelines):
        raise TypeError("plot_stages takes a list of Timelines (what sweep_stages returns), got a list of "
                        f"{', '.join(sorted({type(t).__name__ for t in timelines}))}")
    if not timelines:
        raise ValueError("plot_stages needs at least one Timeline (what sweep_stages returns), got none")

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    xs = [t.config.stages for t in timelines]
    ys = [t.tflops for t in timelines]
    fits = [t.config.smem_bytes <= smem_limit for t in timelines]
    ax.bar(xs, ys, color=["C0" if f else "white" for f in fits], edgecolor="C0", label="model throughput")
    for x, y, f in zip(xs, ys, fits, strict=True):
        if not f:
            ax.bar([x], [y], color="white", edgecolor="C3", hatch="//")
    peak = timelines[0].config.flops_per_ns / 1e3
    ax.axhline(peak, color="k", linestyle="--", label=f"Tensor Core peak {peak:.1f} TFLOP/s per SM")
    ax.set_xlabel("pipeline stages (shared-memory slots)")
    ax.set_ylabel("TFLOP/s per SM (model)")
    ax.set_xticks(xs)
    ax.set_title(title or "Throughput vs stages (model; hatched = ring exceeds shared memory)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class StageTraffic:
    """Per-CTA bytes of one K step for a given MMA tile, CTA grouping and multicast."""

    smem_bytes: int
    l2_bytes: float
    flops: int

    @property
    def intensity(self) -> float:
        """FLOP per byte fetched from L2 by this CTA."""
        return self.flops / self.l2_bytes


def stage_traffic(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, bytes_per_element: float = 2.0, *,
                  cta_group: int = 1, multicast_a: int = 1, multicast_b: int = 1) -> StageTraffic:
    """Shared memory and L2 bytes per CTA per K step, and its FLOPs.

    BLOCK_M x BLOCK_N is the MMA tile: one CTA's (cta_group=1) or a CTA pair's (cta_group=2; each CTA keeps
    BLOCK_M/2 rows of A and BLOCK_N/2 rows of B in its shared memory and the MMA reads B from both). TMA
    multicast: an A (B) slice needed by `multicast_a` (`multicast_b`) CTAs of a cluster is read from L2 once
    and written to all of them, so each CTA's share of L2 traffic divides by that count (shared memory
    does not).
    """
    for nm, v in (("BLOCK_M", BLOCK_M), ("BLOCK_N", BLOCK_N), ("BLOCK_K", BLOCK_K),
                  ("multicast_a", multicast_a), ("multicast_b", multicast_b)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"stage_traffic: {nm} must be a positive int, got {v!r}")
    check_number("stage_traffic: bytes_per_element", bytes_per_element, integer=False)
    if cta_group not in (1, 2):
        raise ValueError(f"cta_group must be 1 or 2, got {cta_group!r}")
    if BLOCK_M % cta_group or BLOCK_N % cta_group:
        raise ValueError(f"BLOCK_M and BLOCK_N must split evenly over {cta_group} CTAs")
    a = BLOCK_M // cta_group * BLOCK_K * bytes_per_element
    b = BLOCK_N // cta_group * BLOCK_K * bytes_per_element
    flops = 2 * (BLOCK_M // cta_group) * BLOCK_N * BLOCK_K
    return StageTraffic(int(a + b), a / multicast_a + b / multicast_b, flops)
