"""Serving regimes built on the decode step and prefill pools: decode-only pools, bursts, and Poisson serving.

`decode_pool` is a disaggregated decode pool (prompts prefilled elsewhere). `burst` queues every request at once
(trtllm-bench's offline throughput): waves of as many requests as the KV cache holds, each prefilled in chunks of
`max_num_tokens` per attention group and then decoded, so throughput and time-to-first-token include the queueing.
`serve` takes Poisson arrivals (MLPerf Server) and approximates mean and 99th-percentile TTFT and TPOT; `max_rate`
finds the highest arrival rate that meets p99 limits (MLPerf's DeepSeek-R1 limits by default). Taught in lab 08.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

from bwkit import hw
from bwkit.kit.args import check_number
from bwkit.moe import DEEPSEEK_V3, DeepSeekMoEConfig
from bwkit.perfmodel.counting import max_concurrency
from bwkit.perfmodel.decode import decode_step
from bwkit.perfmodel.factors import _DEFAULT_FACTORS, Factors, _spec
from bwkit.perfmodel.parameters import Layout, Recipe, Workload, check_kinds, check_real
from bwkit.perfmodel.prefill import DEFAULT_MAX_NUM_TOKENS, prefill_parts
from bwkit.perfmodel.published import MLPERF_DEEPSEEK_R1
from bwkit.perfmodel.step import StepContext, StepResult, check_context, check_step_kw

__all__ = ["decode_pool", "BurstResult", "burst", "ServeResult", "serve", "max_rate", "request_prefill_s"]


def decode_pool(system: str | hw.GPUSpec, layout: Layout, recipe: Recipe, concurrency: int | None,
                workload: Workload, factors: Factors = _DEFAULT_FACTORS, **kw) -> StepResult:
    """One step of a disaggregated decode-only pool; `concurrency=None` fills the paged KV cache (KV 'roughly full')."""
    if concurrency is None:
        keep = {k: v for k, v in kw.items() if k in ("cfg", "activation_gb", "kv_fraction", "kv_policy")}
        concurrency = max_concurrency(system, layout, recipe, workload, **keep)
        concurrency -= concurrency % layout.attn_dp
        if concurrency < layout.attn_dp:
            raise ValueError(f"decode_pool: no request fits on {_spec(system).name} x{layout.num_gpus}")
    return decode_step(system, layout, recipe, concurrency, workload, factors, pool="decode", **kw)


def request_prefill_s(system: str | hw.GPUSpec, layout: Layout, recipe: Recipe, workload: Workload,
                      factors: Factors = _DEFAULT_FACTORS, cfg: DeepSeekMoEConfig = DEEPSEEK_V3,
                      max_num_tokens: int = DEFAULT_MAX_NUM_TOKENS) -> float:
    """Seconds of prefill work one request brings to its attention group when every group prefills in the same
    steps: attention side + communication + the expert work of all groups' requests on this GPU."""
    s = StepContext(_spec(system), layout, recipe, cfg, workload, factors, layout.attn_dp, 0)
    chunk = min(workload.isl, max_num_tokens)
    pp = prefill_parts(s, workload.isl, chunk * layout.attn_dp * cfg.top_k / layout.slots(cfg))
    return pp.attention_s + pp.comm_s + layout.attn_dp * pp.experts_s


@dataclass(frozen=True)
class BurstResult:
    """All requests queued at once: waves, total time, output throughput and time to first token."""

    system: str
    layout: Layout
    num_requests: int
    wave: int                        # requests admitted together (KV capacity, batch cap, or all of them)
    waves: float
    prefill_s: float                 # prefilling one wave
    decode_s: float                  # decoding one wave
    step: StepResult                 # the decode step of a full wave

    @property
    def total_s(self) -> float:
        """Seconds until the last request finishes."""
        return self.waves * (self.prefill_s + self.decode_s)

    @property
    def tokens_per_s(self) -> float:
        """Output tokens per second of the whole run (time to first token included)."""
        return self.num_requests * self.step.workload.osl / self.total_s

    @property
    def tokens_per_s_gpu(self) -> float:
        """Output tokens per second per GPU (trtllm-bench's 'Per GPU Output Throughput')."""
        return self.tokens_per_s / self.layout.num_gpus

    @property
    def ttft_mean_s(self) -> float:
        """Mean time to first token: wave k starts after k earlier waves; within a wave, half its prefill on average."""
        full, rest = int(self.waves), self.waves - int(self.waves)
        period = self.prefill_s + self.decode_s
        waited = self.wave * period * full * (full - 1) / 2 + rest * self.wave * full * period
        return waited / self.num_requests + self.prefill_s / 2

    def summary(self) -> str:
        """Rounded one-line description (stable for stored notebook outputs)."""
        return (f"{self.system} x{self.layout.num_gpus}, {self.num_requests:,} requests at once: waves of "
                f"{self.wave:,} ({self.waves:.1f}), prefill {self.prefill_s:.1f} s + decode {self.decode_s:.1f} s "
                f"each -> {self.tokens_per_s_gpu:,.0f} tok/s/GPU, mean TTFT {self.ttft_mean_s:.1f} s (model)")


def burst(system: str | hw.GPUSpec, layout: Layout, recipe: Recipe, workload: Workload, num_requests: int,
          max_batch: int | None = None, max_num_tokens: int = DEFAULT_MAX_NUM_TOKENS,
          factors: Factors = _DEFAULT_FACTORS, cfg: DeepSeekMoEConfig = DEEPSEEK_V3, kv_fraction: float = 0.9,
          kv_policy: str = "paged", activation_gb: float = 5.0) -> BurstResult:
    """`num_requests` requests queued at once (offline throughput): waves of what the KV cache holds.

    A wave of B requests is prefilled in chunks of `max_num_tokens` per attention group (every group prefilling
    in the same steps: all requests arrive together), then decoded for OSL / accepted steps at B requests; the next
    wave starts when it ends. `max_batch` caps requests per attention group. TTFT includes the queueing.
    """
    if not isinstance(num_requests, int) or num_requests <= 0:
        raise ValueError(f"burst: num_requests must be a positive int, got {num_requests!r}")
    if not isinstance(max_num_tokens, int) or max_num_tokens <= 0:
        raise ValueError(f"burst: max_num_tokens must be a positive int, got {max_num_tokens!r}")
    if max_batch is not None:
        check_number("burst: max_batch (requests per attention-DP group)", max_batch)
    cap = max_concurrency(system, layout, recipe, workload, cfg, activation_gb, kv_fraction, kv_policy)
    if max_batch is not None:
        cap = min(cap, max_batch * layout.attn_dp)
    wave = min(cap, num_requests)
    wave -= wave % layout.attn_dp
    if wave < layout.attn_dp:
        raise ValueError(f"burst: the KV cache of {_spec(system).name} x{layout.num_gpus} holds {cap} requests, "
                         f"fewer than one per attention-DP group ({layout.attn_dp})")
    f = replace(factors, prefill=False)
    step = decode_step(system, layout, recipe, wave, workload, f, cfg, activation_gb, kv_fraction, kv_policy)
    per_req = request_prefill_s(system, layout, recipe, workload, factors, cfg, max_num_tokens)
    chunks = wave / layout.attn_dp * workload.isl / min(max_num_tokens, workload.isl)
    prefill_s = wave / layout.attn_dp * per_req + chunks * step.times.get("kernel fixed cost", 0.0)
    decode_s = workload.osl / step.tokens_per_step * step.step_s
    return BurstResult(_spec(system).name, layout, num_requests, wave, num_requests / wave, prefill_s, decode_s, step)


@dataclass(frozen=True)
class ServeResult:
    """Poisson arrivals at `rate` requests/s: the steady decode step and the latency percentiles (approximations)."""

    rate: float
    step: StepResult
    prefill_s: float                 # service time of one prefill (own prefill + one decode step)
    ttft_mean_s: float
    ttft_p99_s: float
    tpot_mean_s: float
    tpot_p99_s: float
    utilisation: float               # share of the prefill capacity of one attention group in use

    @property
    def tokens_per_s(self) -> float:
        """Output tokens per second (equal to rate x OSL in steady state)."""
        return self.rate * self.step.workload.osl


def serve(system: str | hw.GPUSpec, layout: Layout, recipe: Recipe, workload: Workload, rate: float,
          factors: Factors = _DEFAULT_FACTORS, cfg: DeepSeekMoEConfig = DEEPSEEK_V3, kv_fraction: float = 0.85,
          kv_policy: str = "paged", max_num_tokens: int = DEFAULT_MAX_NUM_TOKENS, pct: float = 99.0) -> ServeResult:
    """Poisson arrivals at `rate` requests/s: concurrency by Little's law, TTFT and TPOT means and percentiles.

    Concurrency C = rate x (TTFT + OSL x TPOT), solved by iteration with the decode step (in-flight prefill
    included). TTFT = queueing + service: each attention group is an M/G/1 queue of prefills (service S = one
    request's prefill with every group prefilling in the same step, plus one decode step; arrivals rate / dp);
    Pollaczek-Khinchine gives the mean wait E[W] = lambda E[S^2] / 2(1 - rho), the tail is taken exponential,
    P(W > t) = rho exp(-rho t / E[W]) (Kingman's heavy-traffic form). TPOT: a request's steps see on average C/dp
    prefills of its group (one per running request), Poisson: its p-th percentile TPOT adds z x prefill share /
    sqrt(C/dp). Raises ValueError when the load does not fit (rho >= 1, or the KV cache). Approximations.
    """
    check_real("serve: rate", rate)
    if not rate > 0:
        raise ValueError(f"serve: rate must be > 0 requests/s, got {rate!r}")
    check_real("serve: pct", pct)
    if not 50.0 <= pct < 100.0:
        raise ValueError(f"serve: pct must be in [50, 100), got {pct!r}")
    check_kinds(layout=layout, workload=workload)
    check_number("serve: max_num_tokens", max_num_tokens)
    dp = layout.attn_dp
    prefill = request_prefill_s(system, layout, recipe, workload, factors, cfg, max_num_tokens)
    conc, step = dp, None
    for _ in range(60):
        step = decode_step(system, layout, recipe, conc, workload, factors, cfg, kv_fraction=kv_fraction,
                           kv_policy=kv_policy, max_num_tokens=max_num_tokens)
        tpot = step.step_s / step.tokens_per_step
        service = prefill + step.step_s
        rho = rate / dp * service
        if rho >= 1:
            raise ValueError(f"serve: {rate:.3g} requests/s need {rho:.2f} of each attention group's prefill "
                             f"capacity (>= 1): the queue grows without bound; lower the rate")
        wait = rate / dp * service ** 2 * (1 + (workload.isl_std / workload.isl) ** 2) / (2 * (1 - rho))
        new = rate * (wait + service + workload.osl * tpot)
        new = max(dp, int(math.ceil(new / dp)) * dp)
        if new == conc:
            break
        conc = new
    q = 1 - pct / 100
    wait_p = 0.0 if rho <= q else wait / rho * math.log(rho / q)
    share = step.times.get("prefill share", 0.0)
    tpot_p = tpot + NormalDist().inv_cdf(pct / 100) * share / math.sqrt(conc / dp) / step.tokens_per_step
    return ServeResult(rate, step, service, wait + service, wait_p + service, tpot, tpot_p, rho)


def max_rate(system: str | hw.GPUSpec, layout: Layout, recipe: Recipe, workload: Workload,
             ttft_s: float = MLPERF_DEEPSEEK_R1["Server"]["ttft_ms"] / 1e3,
             tpot_s: float = MLPERF_DEEPSEEK_R1["Server"]["tpot_ms"] / 1e3, pct: float = 99.0,
             factors: Factors = _DEFAULT_FACTORS, **kw) -> ServeResult:
    """The highest Poisson rate whose `pct` TTFT and TPOT meet the limits (default: MLPerf Server, 2 s / 80 ms).

    Bisection on the rate between 0 and the prefill capacity. ValueError if even a trickle misses the limits.
    The arguments are checked first, so that a bad one raises its own error rather than "misses the limits".
    """
    spec = _spec(system)
    check_number("max_rate: ttft_s", ttft_s, integer=False)
    check_number("max_rate: tpot_s", tpot_s, integer=False)
    check_real("max_rate: pct", pct)
    if not 50.0 <= pct < 100.0:
        raise ValueError(f"max_rate: pct must be in [50, 100), got {pct!r}")
    if not isinstance(factors, Factors):
        raise TypeError(f"max_rate: factors must be a Factors (e.g. pm.Factors()), got {type(factors).__name__}")
    check_step_kw("max_rate", kw, ("cfg", "kv_fraction", "kv_policy", "max_num_tokens"))
    check_kinds(layout=layout, recipe=recipe, workload=workload)
    cfg = kw.get("cfg", DEEPSEEK_V3)
    check_context(spec, layout, recipe, cfg)
    max_concurrency(spec, layout, recipe, workload, cfg, kv_fraction=kw.get("kv_fraction", 0.85),
                    kv_policy=kw.get("kv_policy", "paged"))       # raises when the weights alone do not fit

    def meeting(rate: float) -> ServeResult | None:
        """`serve` at `rate` if its `pct` TTFT and TPOT meet the limits; None if not (or if the queue breaks)."""
        try:
            r = serve(spec, layout, recipe, workload, rate, factors, pct=pct, **kw)
        except ValueError:
            return None
        return r if r.ttft_p99_s <= ttft_s and r.tpot_p99_s <= tpot_s else None

    lo, hi, best = 0.0, None, None
    probe = 1.0
    while hi is None:                                 # grow until the limits (or the queue) break
        r = meeting(probe)
        if r is not None:
            lo, best, probe = probe, r, probe * 2
        else:
            hi = probe
        if probe > 1e6:
            break
    for _ in range(40):
        mid = (lo + hi) / 2 if hi is not None else lo
        r = meeting(mid)
        if r is not None:
            lo, best = mid, r
        else:
            hi = mid
    if best is None:
        raise ValueError(f"max_rate: even {lo or probe:.3g} requests/s misses TTFT <= {ttft_s:g} s / TPOT <= "
                         f"{tpot_s * 1e3:g} ms at p{pct:g} on {spec.name} x{layout.num_gpus}")
    return best
