"""Bar charts for the decks, drawn from a table a notebook cell printed (so the numbers are the lab's own).

``@chart "quote" cols="fp8 TF/s,bf16 TF/s" rows="H100 SXM,B200" ylabel="TFLOP/s"`` reads the cell's printed
table: columns are separated by two or more spaces, the header is the first line (or the first that names every
column of ``cols=``; ``header=N`` picks another), the first field of a row is its label. ``pattern=REGEX`` instead
reads one row per match (several may share a line): the group ``label`` and one named group per series (``cols``
picks and orders them). Options: ``kind=barh``, ``log=yes``, ``names=`` (legend names for the columns),
``labels=`` (names for the rows; list options split on ``|`` when they hold one, else on commas), ``fmt=`` (a
format for the value labels, e.g. ``{:.1f}``), ``hline=VALUE:TEXT`` (a reference line), ``w``/``hgt`` (inches).
An unknown option, or a value that does not read (``w=6in``, a regex that does not compile), raises ChartError.
"""

from __future__ import annotations

import io
import math
import re
import textwrap

__all__ = ["ChartError", "OPTIONS", "find_header", "parse_table", "chart_png", "read_option"]

OPTIONS = ("cols", "fmt", "header", "hgt", "hline", "kind", "labels", "log", "names", "pattern", "rows", "title",
           "w", "ylabel")
_CHOICES = {"kind": ("bar", "barh"), "log": ("yes", "no")}


class ChartError(ValueError):
    """The table or the options of a chart do not fit; the message says which."""


def _list(value: str) -> list[str]:
    """A list option: items split on '|' when there is one (names may hold commas), else on ','."""
    return [v.strip() for v in value.split("|" if "|" in value else ",")]


_EXAMPLES = {"h": "500", "n": "2", "header": "1"}


def read_option(opts: dict, key: str, kind: str = "number", *, default=None, minimum: int = 0,
                error: type[ValueError] = ChartError, where: str = ""):
    """Option `key` of a deck directive read as `kind`: "number" (a positive float), "int" (a whole number >=
    `minimum`), "value" (any finite float) or "regex" (compiled); `default` when absent. One that does not read
    raises `error`, its message opened by `where` (the slide source's file:line) when given. The one reader of
    option values for `bwkit.kit.deck` (DeckSourceError) and the charts (ChartError)."""
    if key not in opts:
        return default
    v, at = opts[key], f"{where}: " if where else ""
    if kind == "regex":
        try:
            return re.compile(v)
        except re.error as e:
            raise error(f"{at}{key}={v!r} is not a regular expression ({e})") from None
    try:
        x = int(v) if kind == "int" else float(v)
    except ValueError:
        hint = " (inches, no unit)" if key in ("w", "hgt") else \
            f" (write {key}={_EXAMPLES.get(key, '2')}, no unit)" if kind == "int" else ""
        raise error(f"{at}{key}={v!r} is not {'a whole number' if kind == 'int' else 'a number'}{hint}") from None
    if kind == "int" and x < minimum:
        raise error(f"{at}{key}={v} is too small (at least {minimum})")
    if (kind == "number" and not x > 0) or not math.isfinite(x):
        raise error(f"{at}{key}={v} is out of range")
    return x


def _num(s: str) -> float:
    t = re.sub(r"[,%×x\s]|TF/s|ms|us|µs|GB|TB/s", "", s.strip())
    t = t.rstrip("*")
    if t in ("-", "—", ""):
        return math.nan
    try:
        return float(t)
    except ValueError:
        return math.nan


def find_header(text: str, cols: list[str] | None = None) -> int:
    """Index (among non-empty lines) of a printed table's header: the first line naming every one of `cols`, else
    the first line of two or more fields followed by a line with as many."""
    lines = [re.split(r"\s{2,}", s.strip()) for s in text.split("\n") if s.strip()]
    for i, f in enumerate(lines):
        if cols and set(cols) <= set(f):
            return i
        if not cols and len(f) >= 2 and i + 1 < len(lines) and len(lines[i + 1]) in (len(f), len(f) + 1):
            return i
    return 0


def parse_table(text: str, header: int = 0) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(column names, [(row label, fields)]) of a printed table with columns split by 2+ spaces."""
    lines = [s for s in text.split("\n") if s.strip()]
    if header >= len(lines):
        raise ChartError(f"the output has {len(lines)} non-empty lines; header={header} asked")
    head = re.split(r"\s{2,}", lines[header].strip())
    rows = []
    for s in lines[header + 1:]:
        f = re.split(r"\s{2,}", s.strip())
        if len(f) == len(head) + 1:  # header without a label column
            head = [""] + head
        if len(f) == len(head):
            rows.append((f[0], f))
    return head, rows


def _select(text: str, opts: dict) -> tuple[list[str], list[str], list[list[float]]]:
    """(row labels, series names, values[series][row]) from the printed text and the chart options."""
    want_rows = _list(opts["rows"]) if opts.get("rows") else None
    want_cols = _list(opts["cols"]) if opts.get("cols") else None
    if opts.get("pattern"):
        rx = read_option(opts, "pattern", "regex")
        if "label" not in rx.groupindex:
            raise ChartError(f"pattern={opts['pattern']!r} has no (?P<label>...) group")
        found = [m for line in text.split("\n") for m in rx.finditer(line)]   # every match, line by line
        if not found:
            raise ChartError(f"no line matches pattern={opts['pattern']!r}")
        cols = want_cols or [g for g in rx.groupindex if g != "label"]
        table = [(" ".join(m.group("label").split()), {c: m.group(c) for c in cols}) for m in found]
    else:
        header = read_option(opts, "header", "int") if "header" in opts else find_header(text, want_cols)
        head, rows = parse_table(text, header)
        cols = want_cols or head[1:]
        missing = [c for c in cols if c not in head]
        if missing:
            raise ChartError(f"no column {missing[0]!r} in the header {head}")
        table = [(label, {c: f[head.index(c)] for c in cols}) for label, f in rows]
    if want_rows:
        by = {label: vals for label, vals in table}
        missing = [r for r in want_rows if r not in by]
        if missing:
            raise ChartError(f"no row labelled {missing[0]!r}; rows: {[label for label, _ in table]}")
        table = [(r, by[r]) for r in want_rows]
    values = [[_num(v[c]) for _, v in table] for c in cols]
    for c, vs in zip(cols, values, strict=True):
        if all(math.isnan(v) for v in vs):
            raise ChartError(f"column {c!r} holds no numbers")
    labels = [label for label, _ in table]
    if opts.get("labels"):
        labels = _list(opts["labels"])
        if len(labels) != len(table):
            raise ChartError(f"labels= names {len(labels)} rows; the chart has {len(table)}")
    return labels, cols, values


def _fmt(v: float, fmt: str | None) -> str:
    if math.isnan(v):
        return ""
    if fmt:
        try:
            return fmt.format(v)
        except (ValueError, KeyError, IndexError) as e:
            raise ChartError(f"fmt={fmt!r} is not a format for a number, like {{:.1f}} ({e})") from None
    a = abs(v)
    if a >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.1f}" if a >= 10 else f"{v:.2g}"


def chart_png(text: str, **opts: str) -> bytes:
    """A PNG bar chart of the numbers in `text` (a printed table) chosen by the options (see the module doc)."""
    unknown = set(opts) - set(OPTIONS)
    if unknown:
        raise ChartError(f"unknown option(s) {sorted(unknown)}; known: {sorted(OPTIONS)}")
    for key, choices in _CHOICES.items():
        if key in opts and opts[key] not in choices:
            raise ChartError(f"{key}={opts[key]!r}; it takes {' or '.join(choices)}")
    size = (read_option(opts, "w", default=9.0), read_option(opts, "hgt", default=4.6))
    hline = None
    if opts.get("hline"):
        v, _, hline_text = opts["hline"].partition(":")
        hline = (read_option({"hline": v}, "hline", "value"), hline_text)
    labels, cols, values = _select(text, opts)
    names = _list(opts["names"]) if opts.get("names") else cols
    if len(cols) == 1 and opts.get("names") and "|" not in opts["names"]:  # one series: commas are text
        names = [opts["names"]]
    if len(names) != len(cols):
        raise ChartError(f"names= gives {len(names)} names for {len(cols)} columns")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizontal = opts.get("kind") == "barh"
    fig, ax = plt.subplots(figsize=size, dpi=100)
    n, m = len(labels), len(cols)
    width = 0.8 / m
    for j, (name, vs) in enumerate(zip(names, values, strict=True)):
        pos = [i - 0.4 + width * (j + 0.5) for i in range(n)]
        bars = (ax.barh if horizontal else ax.bar)(pos, [0 if math.isnan(v) else v for v in vs], width,
                                                   label=name if m > 1 else None, color=f"C{j}")
        ax.bar_label(bars, labels=[_fmt(v, opts.get("fmt")) for v in vs], padding=2, fontsize=11)
    if not horizontal and sum(map(len, labels)) > 70:  # long labels under vertical bars: wrap them
        labels = [textwrap.fill(label, 14) for label in labels]
    (ax.set_yticks if horizontal else ax.set_xticks)(range(n), labels, fontsize=12)
    if horizontal:
        ax.invert_yaxis()
    if opts.get("log") == "yes":
        (ax.set_xscale if horizontal else ax.set_yscale)("log")
    if hline:
        v, label = hline
        (ax.axvline if horizontal else ax.axhline)(v, color="0.3", ls="--", lw=1)
        ax.annotate(label, xy=(0.99, v) if not horizontal else (v, 0.02),
                    xycoords=("axes fraction", "data") if not horizontal else ("data", "axes fraction"),
                    ha="right" if not horizontal else "left", va="bottom", fontsize=11, color="0.3")
    if opts.get("ylabel"):
        (ax.set_xlabel if horizontal else ax.set_ylabel)(opts["ylabel"], fontsize=12)
    if opts.get("title"):
        ax.set_title(opts["title"], fontsize=13)
    if m > 1:
        ax.legend(fontsize=11, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(**({"x": 0.12} if horizontal else {"y": 0.12}))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
