"""The model against the world: predict every collected published point (`published.WORLD_POINTS`) and score it.

`predict(point)` builds the point's layout, formats and workload from its `model` entry and runs the regime it
names ('steady' decode step with in-flight prefill, 'decode_pool', 'prefill_pool', 'burst'); `world_table()` lists
point, source, published value, the model's prediction and the error; `world_summary()` gives the median and worst
|error| per category. No factor is fitted here: the points only check the model. Taught in lab 08.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from bwkit.perfmodel.counting import max_concurrency
from bwkit.perfmodel.decode import decode_step
from bwkit.perfmodel.factors import _DEFAULT_FACTORS, Factors
from bwkit.perfmodel.parameters import RECIPE_FP8, RECIPE_NVFP4, Layout, Recipe, Workload
from bwkit.perfmodel.prefill import prefill_pool
from bwkit.perfmodel.published import WORLD_POINTS
from bwkit.perfmodel.regimes import burst, decode_pool

__all__ = ["WorldRow", "point_inputs", "predict", "world_table", "world_summary", "CATEGORIES"]

# Categories of points: steady-state decode throughput or per-user speed ('decode', with in-flight prefill where
# the run had it), disaggregated prefill pools ('prefill'), offline bursts with all requests queued ('burst').
CATEGORIES = ("decode", "prefill", "burst")


@dataclass(frozen=True)
class WorldRow:
    """One collected point: what was published, what the model predicts, and the relative error."""

    name: str
    category: str
    metric: str
    published: float
    predicted: float
    source: str
    when: str
    gpu: str

    @property
    def error(self) -> float:
        """Relative error of the prediction: predicted / published - 1."""
        return self.predicted / self.published - 1


def _recipe(spec: str | dict) -> Recipe:
    """The point's recipe: 'fp8' (DeepSeek's FP8 checkpoint) or changes to the NVFP4 recipe."""
    if spec == "fp8":
        return RECIPE_FP8
    if isinstance(spec, dict):
        return Recipe(**{**{k: getattr(RECIPE_NVFP4, k) for k in ("attention", "kv_cache")}, **spec})
    raise ValueError(f"world point: recipe must be 'fp8' or a dict of Recipe fields, got {spec!r}")


# What a world point (an entry of `WORLD_POINTS`) must hold, and what its `model` entry must hold.
_POINT_KEYS = ("name", "category", "metric", "published", "source", "when", "gpu", "model")
_MODEL_KEYS = ("system", "layout", "recipe", "workload", "regime")


def _check_point(point, keys: tuple[str, ...] = ("name", "metric", "model")) -> None:
    """TypeError unless `point` is a dict; ValueError naming the missing keys of it or of its `model` entry."""
    if not isinstance(point, dict):
        raise TypeError(f"a world point must be a dict like those of pm.WORLD_POINTS, got {type(point).__name__} "
                        f"{point!r:.60}")
    missing = [k for k in keys if k not in point]
    if missing:
        raise ValueError(f"world point {point.get('name', '?')!r} lacks {', '.join(missing)} (see pm.WORLD_POINTS[0] "
                         f"for the keys a point has)")
    m = point["model"]
    if not isinstance(m, dict) or any(k not in m for k in _MODEL_KEYS):
        lack = [k for k in _MODEL_KEYS if k not in m] if isinstance(m, dict) else list(_MODEL_KEYS)
        raise ValueError(f"world point {point['name']!r}: its 'model' entry must be a dict with "
                         f"{', '.join(_MODEL_KEYS)}; it lacks {', '.join(lack)}")


def point_inputs(point: dict) -> tuple[str, Layout, Recipe, Workload]:
    """(system, layout, recipe, workload) of a world point's `model` entry."""
    _check_point(point)
    m = point["model"]
    return m["system"], Layout(**m["layout"]), _recipe(m["recipe"]), Workload(**m["workload"])


def predict(point: dict, factors: Factors = _DEFAULT_FACTORS) -> float:
    """The model's prediction of `point` in the point's metric (tokens/s, tok/s/GPU, tok/s/user, input tok/s/GPU)."""
    _check_point(point)
    if not isinstance(factors, Factors):
        raise TypeError(f"predict: factors must be a Factors (e.g. pm.Factors()), got {type(factors).__name__}")
    m = point["model"]
    system, lay, rec, wl = point_inputs(point)
    regime, metric = m["regime"], point["metric"]
    kvf = m.get("kv_fraction", 0.85)
    if regime == "prefill_pool":
        r = prefill_pool(system, lay, rec, wl, m["tokens_per_gpu"], factors, offload=m.get("offload", False))
        return r.input_tokens_per_s_gpu
    if regime == "burst":
        b = burst(system, lay, rec, wl, m["num_requests"], max_num_tokens=m["max_num_tokens"], factors=factors,
                  kv_fraction=kvf)
        return {"tokens_per_s": b.tokens_per_s, "tokens_per_s_gpu": b.tokens_per_s_gpu}[metric]
    conc = m["concurrency"]
    if regime == "decode_pool":
        r = decode_pool(system, lay, rec, None if conc == "capacity" else conc, wl, factors, kv_fraction=kvf)
    elif regime == "steady":
        if conc == "capacity":
            conc = max_concurrency(system, lay, rec, wl, kv_fraction=kvf)
            conc -= conc % lay.attn_dp
        r = decode_step(system, lay, rec, conc, wl, factors, kv_fraction=kvf)
    else:
        raise ValueError(f"world point {point['name']!r}: unknown regime {regime!r}")
    return getattr(r, metric)


def world_table(points: list[dict] | None = None, factors: Factors = _DEFAULT_FACTORS) -> list[WorldRow]:
    """Every collected point with the model's prediction (default: all of `WORLD_POINTS`; one point: a list of it)."""
    if points is None:
        points = WORLD_POINTS
    elif isinstance(points, dict):
        points = [points]
    elif isinstance(points, str) or not isinstance(points, Iterable):
        raise TypeError(f"world_table: points must be a list of world points (dicts like pm.WORLD_POINTS), got "
                        f"{type(points).__name__}")
    rows = []
    for p in points:
        _check_point(p, _POINT_KEYS)
        rows.append(WorldRow(p["name"], p["category"], p["metric"], p["published"], predict(p, factors),
                             p["source"], p["when"], p["gpu"]))
    return rows


def world_summary(rows: list[WorldRow] | None = None) -> dict[str, dict[str, float]]:
    """Per category: number of points, median |error| and the worst error (signed, largest in size)."""
    if rows is None:
        rows = world_table()
    elif isinstance(rows, WorldRow):
        rows = [rows]
    elif isinstance(rows, str) or not isinstance(rows, Iterable):
        raise TypeError(f"world_summary: rows must be a list of WorldRow (from pm.world_table()), got "
                        f"{type(rows).__name__}")
    rows = list(rows)
    for r in rows:
        if not isinstance(r, WorldRow):
            hint = " (world points: pass pm.world_table(points) instead)" if isinstance(r, dict) else ""
            raise TypeError(f"world_summary: rows must be WorldRow (from pm.world_table()), got "
                            f"{type(r).__name__}{hint}")
    out = {}
    for cat in CATEGORIES:
        errs = [r.error for r in rows if r.category == cat]
        if errs:
            out[cat] = {"points": len(errs), "median_abs": statistics.median(abs(e) for e in errs),
                        "worst": max(errs, key=abs)}
    return out
