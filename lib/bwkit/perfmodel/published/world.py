"""Published DeepSeek-R1/V3 serving measurements collected to check the perfmodel against (data in `world.toml`).

None of these points feeds a factor: the factors come from `kernels` (kernel and communication microbenchmarks) and
two serving figures named in `serving` (blog 1's batch-1 run without MTP for the per-kernel cost, blog 10's
round-robin balance for long-tail traffic). Each point carries its source, date and configuration; `model` says how
`bwkit.perfmodel.against` expresses it (regime, layout, formats, workload, concurrency). Where a publication does not
state an input, the entry says so and the model uses the named default. Taught in lab 08, "the model against the world".

The points live in ``world.toml`` beside this module (its header comment gives the format); `points_from` turns
the parsed file into `WORLD_POINTS`, filling in the named sources, layouts, recipes and notes. Every point gets
its own copies of the presets, so changing one point's layout changes no other point.
"""

from __future__ import annotations

import copy
import re
import tomllib
from importlib import resources
from typing import Any

__all__ = ["WORLD_POINTS"]

# each point's keys, in this order; `url` comes from the point's source
_FIELDS = ("name", "category", "metric", "published", "source", "url", "when", "gpu", "gpus", "framework",
           "parallelism", "precision", "isl", "osl", "concurrency", "mtp", "notes", "model")
_NOT_STATED = ("osl", "concurrency")  # keys a point may omit: not stated, or not applicable (None)
_REF = re.compile(r"\{(\w+)\}")  # a preset named in a text: {NAME}


def _preset(data: dict, table: str, name: str, point: str, key: str) -> Any:
    """A copy of preset `name` of the file's `table`; an unknown name is a ValueError naming the point and key."""
    presets = data.get(table, {})
    if name not in presets:
        raise ValueError(f"world point {point!r}: {key} names {name!r}, which is not in [{table}] "
                         f"(known: {', '.join(presets) or 'none'})")
    return copy.deepcopy(presets[name])


def _point(raw: dict, data: dict) -> dict:
    """One point of `WORLD_POINTS` from its [[points]] table: presets filled in, keys in `_FIELDS` order."""
    name = raw.get("name", "<unnamed>")
    if unknown := raw.keys() - (set(_FIELDS) - {"url"}):
        raise ValueError(f"world point {name!r}: unknown key(s) {sorted(unknown)} (the url comes from the source)")
    cited = _REF.findall(raw.get("source", ""))
    if len(cited) != 1:
        raise ValueError(f"world point {name!r}: source must name one [sources] entry as {{NAME}}, "
                         f"got {raw.get('source')!r}")
    src = _preset(data, "sources", cited[0], name, "source")
    point = dict.fromkeys(_NOT_STATED) | {"when": src.get("when")} | raw
    point |= {"source": raw["source"].replace(f"{{{cited[0]}}}", src["text"]), "url": src["url"]}
    if missing := [k for k in _FIELDS if point.get(k) is None and k not in _NOT_STATED]:
        raise ValueError(f"world point {name!r}: missing {missing}")
    point["notes"] = _REF.sub(lambda m: _preset(data, "notes", m[1], name, "notes"), point["notes"])
    model = point["model"] = dict(point["model"])
    for key, table in (("layout", "layouts"), ("recipe", "recipes")):
        if isinstance(model.get(key), str):
            model[key] = _preset(data, table, model[key], name, f"model.{key}")
    return {k: point[k] for k in _FIELDS}


def points_from(data: dict) -> list[dict]:
    """The points of a parsed ``world.toml`` (`tomllib.loads`), in file order, presets filled in."""
    return [_point(raw, data) for raw in data.get("points", [])]


WORLD_POINTS: list[dict] = points_from(tomllib.loads(
    resources.files(__package__).joinpath("world.toml").read_text(encoding="utf-8")))
