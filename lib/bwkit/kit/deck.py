"""A lab's talk: `slides/src/NN_topic.md` plus its solution notebook become one reveal.js deck (`bwkit slides build`).

The slide source holds what a presenter shows: one idea per slide, short lines, code excerpts, charts. Everything
numeric or pictorial comes from the notebook, looked up by a quote from a cell, so the deck cannot drift from the
lab without the build (and tests/test_slides.py) saying where:

* ``@figure "quote"``: the stored image of the notebook's code cell containing ``quote``;
* ``@chart "quote" ...``: a bar chart of the table that cell printed (slides/README.md lists the options);
* ``@output "quote" [lines=a-b]``: part of that cell's printed output;
* a fenced code block is an excerpt: its lines must be consecutive lines of one code cell of the *lab* (answers
  stubbed) or of the file named by ``src=`` (blank lines aside), a ``...`` (or ``# ...``) line standing for the one
  or more lines it leaves out, and it is at most 15 lines;
* ``@try NN.k``: a "try it" slide with the exercise's prompt and the lab's stub, never the answer;
* ``@notes "quote"``: the notebook's markdown cell containing ``quote`` goes into the speaker notes; ``Note:``
  starts the slide's own notes. `sync_problems` lists markdown cells, figures and exercises no slide uses.

Every directive knows its options (`OPTIONS`): a misspelt one, a number that is not one, a regex that does not
compile, each fails naming the source line.

Slides are separated by ``---`` lines (``--`` starts a vertical sub-slide); ``+ item`` list items appear one by
one (fragments); ``|||`` splits the body into two columns.
"""

from __future__ import annotations

import base64
import difflib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from markdown_it import MarkdownIt

from bwkit.kit import notebooks
from bwkit.kit.deckchart import read_option
from bwkit.kit.excerpt import GAP, excerpt_problem

__all__ = ["DeckSourceError", "Slide", "parse_source", "render_deck", "sync_problems", "MAX_CODE_LINES",
           "OPTIONS", "OUT_OF_ORDER"]

MAX_CODE_LINES = 15
_ROLES_HIDDEN = ("solution", "hint", "check")


class DeckSourceError(ValueError):
    """A slide source does not fit its notebook; the message names the source line and what is wrong."""


@dataclass
class Slide:
    """One slide of a source: its lines (title, markdown, directives, code), its notes and where it starts."""

    line: int
    vertical: bool
    body: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_source(text: str) -> list[Slide]:
    """Split a slide source into slides at ``---`` / ``--`` lines outside code fences."""
    slides: list[Slide] = [Slide(1, False)]
    fence, in_notes = False, False
    for n, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = not fence
        if not fence and stripped in ("---", "--"):
            slides.append(Slide(n + 1, stripped == "--"))
            in_notes = False
            continue
        if not fence and stripped == "Note:":
            in_notes = True
            continue
        if not fence and stripped.startswith("%"):  # a comment for the deck's author
            continue
        if in_notes and not stripped.startswith("@notes "):
            slides[-1].notes.append(line)
        else:
            slides[-1].body.append((n, line))
    return [s for s in slides if any(t.strip() for _, t in s.body)]


# ---------------------------------------------------------------------------------------------------- markdown
_MD = MarkdownIt("commonmark", {"html": True}).enable("table")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)


def markdown(text: str, *, fragments: bool = True, math: bool = True) -> str:
    """Markdown to HTML with math kept for MathJax and ``+`` list items as reveal.js fragments."""
    spans: list[str] = []

    def keep(m):
        spans.append(m.group(0))
        return f"MATHSPAN{len(spans) - 1}X"

    tokens = _MD.parse(_MATH.sub(keep, text))
    if fragments:
        for t in tokens:
            if t.type == "list_item_open" and t.markup == "+":
                t.attrSet("class", "fragment")
    out = _MD.renderer.render(tokens, _MD.options, {})
    tex = (lambda s: html.escape(s)) if math else (lambda s: "<code>" + html.escape(s) + "</code>")
    return re.sub(r"MATHSPAN(\d+)X", lambda m: tex(spans[int(m.group(1))]), out)


# ---------------------------------------------------------------------------------------------------- notebook
def _norm(s: str) -> str:
    return " ".join(s.split())


def _role(cell) -> str | None:
    return (cell.get("metadata", {}).get("bwkit") or {}).get("role")


def _text_output(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stdout":
            parts.append(o.get("text", ""))
        elif "text/plain" in o.get("data", {}) and not any(k.startswith(("image/", "text/markdown", "text/html"))
                                                           for k in o["data"]):  # not a rich object's repr
            parts.append(o["data"]["text/plain"])
    return "".join(parts)


def _images(cell) -> list[tuple[str, str]]:
    imgs = []
    for o in cell.get("outputs", []):
        for mime in ("image/png", "image/svg+xml"):
            if mime in o.get("data", {}):
                data = o["data"][mime]
                imgs.append((mime, "".join(data) if isinstance(data, list) else data))
    return imgs


class Lab:
    """A solution notebook, its lab version (answers stubbed) and lookups by quote."""

    def __init__(self, path: Path):
        self.path = path
        self.nb = nbformat.read(path, as_version=4)
        self.lab = notebooks.lab_from_solution(self.nb, path)
        self.exercises = {e.id: e for e in notebooks.exercises(self.nb, path)}
        self.used_cells: set[int] = set()

    def find(self, quote: str, kind: str, where: str, *, need=None) -> int:
        """Index of the one cell of `kind` ('code'/'markdown') whose source contains `quote`."""
        q = _norm(quote)
        hits = [i for i, c in enumerate(self.nb.cells)
                if c.cell_type == kind and _role(c) not in _ROLES_HIDDEN and q in _norm(c.source)
                and (need is None or need(c))]
        if len(hits) != 1:
            what = "no" if not hits else f"{len(hits)} (cells {', '.join(map(str, hits))})"
            raise DeckSourceError(f"{where}: {what} {kind} cell of {self.path.name} contains {quote!r}"
                                  + (" with the output asked for" if need and not hits else ""))
        self.used_cells.add(hits[0])
        return hits[0]

    def first_solution(self, ex_id: str) -> int:
        """Index of the exercise's first solution cell."""
        return next(i for i, c in enumerate(self.nb.cells) if c.get("id") in self.exercises[ex_id].solution_cells)

    def prompt_cells(self, ex_id: str) -> list[int]:
        """The exercise's prompt: the markdown cells just before its first solution cell, from the one that holds
        "Exercise NN.k" on (the prose before it belongs to the step, not to the exercise); all of those markdown
        cells when none names the exercise."""
        i, out = self.first_solution(ex_id) - 1, []
        while i >= 0 and self.nb.cells[i].cell_type == "markdown" and _role(self.nb.cells[i]) is None:
            out.insert(0, i)
            if f"Exercise {ex_id}" in self.nb.cells[i].source:
                break
            i -= 1
        return out


# ---------------------------------------------------------------------------------------------------- directives
_ARG = re.compile(r"""\s*(?:(\w+)=)?("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


def _args(rest: str, where: str) -> tuple[list[str], dict[str, str]]:
    """Positional words and key=value options of a directive; quotes group words (a quote may hold '=')."""
    pos: list[str] = []
    kw: dict[str, str] = {}
    rest = rest.strip()
    at = 0
    while at < len(rest):
        m = _ARG.match(rest, at)
        if not m or m.end() == at:
            raise DeckSourceError(f"{where}: cannot read the arguments {rest[at:]!r}")
        key, val = m.group(1), m.group(2)
        if val[0] in "\"'":
            if len(val) < 2 or val[-1] != val[0]:
                raise DeckSourceError(f"{where}: unclosed quote in {rest!r}")
            val = val[1:-1].replace('\\"', '"') if val[0] == '"' else val[1:-1]
        if key:
            kw[key] = val
        else:
            pos.append(val)
        at = m.end()
    return pos, kw


# The directives, the options each takes (key=value) and its flags (bare words after the quote). `@chart` takes
# the options of `deckchart.OPTIONS` too; an excerpt's fence (```python src=... hl=...) takes `_FENCE_OPTIONS`.
OPTIONS: dict[str, tuple[str, ...]] = {
    "figure": ("alt", "h", "n"),
    "chart": ("h",),
    "output": ("grep", "lines", "size", "wrap"),
    "table": ("cols", "header", "names", "rows", "size"),
    "try": ("stub",),
    "notes": (),
    "class": (),
}
_FENCE_OPTIONS = ("hl", "src")
_FLAGS = {"figure": ("fragment",), "chart": ("fragment",), "output": ("fragment",)}
_CHOICES = {"size": ("small",), "wrap": ("yes", "no"), "stub": ("yes", "no")}


def _known(name: str) -> tuple[str, ...]:
    if name == "excerpt":
        return _FENCE_OPTIONS
    if name == "chart":
        from bwkit.kit import deckchart

        return tuple(sorted(set(OPTIONS["chart"]) | set(deckchart.OPTIONS)))
    return OPTIONS[name]


def _check_options(name: str, pos: list[str], kw: dict[str, str], where: str, *, words: int = 1) -> None:
    """Refuse an option `name` does not know (naming the known ones) and extra bare words that are no flag;
    `words` is how many leading positional words are the directive's own (its quote)."""
    known = _known(name)
    what = "an excerpt" if name == "excerpt" else f"@{name}"
    for key in kw:
        if key not in known:
            close = difflib.get_close_matches(key, known, 1)
            hint = f"; did you mean {close[0]}=?" if close else ""
            listed = ", ".join(f"{k}=" for k in known) or "none"
            raise DeckSourceError(f"{where}: {what} has no option {key}= (known: {listed}){hint}")
        if key in _CHOICES and kw[key] not in _CHOICES[key]:
            raise DeckSourceError(f"{where}: {key}={kw[key]!r}; {what} takes {key}= "
                                  + " or ".join(_CHOICES[key]))
    flags = _FLAGS.get(name, ())
    extra = [w for w in pos[words:] if w not in flags]
    if extra:
        close = difflib.get_close_matches(extra[0], flags, 1)
        hint = f"; did you mean {close[0]}?" if close else ""
        allowed = f"its flags: {', '.join(flags)}" if flags else "it takes no more words"
        raise DeckSourceError(f"{where}: {what} does not know the word {extra[0]!r} ({allowed}){hint}")


def _option(kw: dict[str, str], key: str, where: str, kind: str = "int", *, default=None, minimum: int = 1):
    """Option `key` of a directive at `where`: a whole number >= `minimum` ("int") or a "regex"."""
    return read_option(kw, key, kind, default=default, minimum=minimum, error=DeckSourceError, where=where)


def _line_range(spec: str, n: int, where: str) -> range:
    m = re.fullmatch(r"(\d+)?-(\d+)?|(\d+)", spec)
    if not m:
        raise DeckSourceError(f"{where}: lines={spec!r} is not a range like 2-9")
    if m.group(3):
        a = b = int(m.group(3))
    else:
        a, b = int(m.group(1) or 1), int(m.group(2) or n)
    if not 1 <= a <= b or b > n:
        raise DeckSourceError(f"{where}: lines={spec} asks for lines {a} to {b}; the cell printed {n} line(s)")
    return range(a - 1, b)


def _excerpt(lab: Lab, code: list[tuple[int, str]], info: str, src: str, where: str, root: Path) -> str:
    """Check a fenced excerpt (its numbered lines) against the lab (or a repository file) and render it for the
    highlight plugin. `src` is the slide source's name and `where` its opening fence, for the messages."""
    text = "\n".join(t for _, t in code).strip("\n")
    lines = text.split("\n")
    if len(lines) > MAX_CODE_LINES:
        raise DeckSourceError(f"{where}: a code excerpt of {len(lines)} lines; at most {MAX_CODE_LINES}")
    lang, _, rest = info.partition(" ")
    pos, kw = _args(rest, where)
    _check_options("excerpt", pos, kw, where, words=0)
    want = [(n, GAP if t.strip() in ("...", "# ...") else t.strip()) for n, t in code if t.strip()]
    if "src" in kw:
        f = root / kw["src"]
        if not f.is_file():
            raise DeckSourceError(f"{where}: src={kw['src']} is not a file of the repository")
        sources = [f.read_text(encoding="utf-8")]
        origin = kw["src"]
    else:
        sources = [c.source for c in lab.lab.cells if c.cell_type == "code"]
        origin = f"a code cell of {lab.path.name} (lab version, answers stubbed)"
    problem = excerpt_problem([w for _, w in want], sources)
    if problem:
        k, message = problem
        at = f"{src}:{want[k][0]}" if k < len(want) else where
        raise DeckSourceError(f"{at}: the excerpt is not in {origin}; {message}")
    attrs = f' data-line-numbers="{html.escape(kw["hl"])}"' if "hl" in kw else ""
    return (f'<pre class="excerpt"><code class="language-{lang or "python"}" data-trim{attrs}>'
            f"{html.escape(text)}</code></pre>")


def _figure(lab: Lab, pos: list[str], kw: dict, where: str) -> str:
    if not pos:
        raise DeckSourceError(f'{where}: @figure needs a quote from the cell that draws it: @figure "plot_x("')
    k, h = _option(kw, "n", where, default=1) - 1, _option(kw, "h", where)
    i = lab.find(pos[0], "code", where, need=lambda c: bool(_images(c)))
    imgs = _images(lab.nb.cells[i])
    if not 0 <= k < len(imgs):
        raise DeckSourceError(f"{where}: cell {i} has {len(imgs)} image(s); n={k + 1} asked")
    mime, data = imgs[k]
    style = f' style="max-height:{h}px"' if h else ""
    frag = ' class="figure fragment"' if "fragment" in pos[1:] else ' class="figure"'
    alt = html.escape(kw.get("alt", f"figure from {lab.path.name}, cell {i}"))
    if mime == "image/svg+xml":
        data = base64.b64encode(data.encode("utf-8")).decode("ascii")
    return f'<img{frag}{style} alt="{alt}" src="data:{mime};base64,{data.strip()}">'


def _output(lab: Lab, pos: list[str], kw: dict, where: str) -> str:
    if not pos:
        raise DeckSourceError(f'{where}: @output needs a quote from the cell: @output "print(table"')
    grep = _option(kw, "grep", where, "regex")
    i = lab.find(pos[0], "code", where, need=lambda c: bool(_text_output(c).strip()))
    out = _text_output(lab.nb.cells[i]).rstrip("\n").split("\n")
    if "lines" in kw:
        out = [out[j] for j in _line_range(kw["lines"], len(out), where)]
    if grep:
        out = [s for s in out if grep.search(s)]
    if not out or len(out) > MAX_CODE_LINES:
        raise DeckSourceError(f"{where}: @output shows {len(out)} lines of cell {i}; 1 to {MAX_CODE_LINES} please")
    cls = "output" + " fragment" * ("fragment" in pos[1:]) + " small" * (kw.get("size") == "small")
    cls += " wrap" * (kw.get("wrap") == "yes")
    return f'<pre class="{cls}">{html.escape(chr(10).join(out))}</pre>'


def _markdown_output(cell) -> str:
    return "".join(o.get("data", {}).get("text/markdown", "") for o in cell.get("outputs", []))


def _table(lab: Lab, pos: list[str], kw: dict, where: str) -> str:
    """An HTML table of a cell's markdown table output (or printed table), with chosen columns and rows."""
    from bwkit.kit import deckchart

    if not pos:
        raise DeckSourceError(f'{where}: @table needs a quote from the cell that shows the table')
    i = lab.find(pos[0], "code", where,
                 need=lambda c: bool(_markdown_output(c).strip() or _text_output(c).strip()))
    cell = lab.nb.cells[i]
    md = _markdown_output(cell)
    if md.strip():
        lines = [ln.strip().strip("|") for ln in md.strip().split("\n") if ln.strip().startswith("|")]
        rows = [[f.strip() for f in ln.split("|")] for ln in lines if not re.fullmatch(r"[-:| ]+", ln)]
        head, body = rows[0], rows[1:]
    else:
        text = _text_output(cell)
        want = [c.strip() for c in kw["cols"].split(",")] if "cols" in kw else None
        header = _option(kw, "header", where, minimum=0)
        try:
            head, table = deckchart.parse_table(text, header if header is not None
                                                else deckchart.find_header(text, want))
        except deckchart.ChartError as e:
            raise DeckSourceError(f"{where}: table from cell {i}: {e}") from e
        body = [f for _, f in table]
    cols = [c.strip() for c in kw["cols"].split(",")] if "cols" in kw else head
    missing = [c for c in cols if c not in head]
    if missing:
        raise DeckSourceError(f"{where}: no column {missing[0]!r} in the table of cell {i}: {head}")
    if "rows" in kw:
        want = [r.strip() for r in kw["rows"].split(",")]
        by = {r[0]: r for r in body}
        if any(w not in by for w in want):
            raise DeckSourceError(f"{where}: no row {next(w for w in want if w not in by)!r} in cell {i}")
        body = [by[w] for w in want]
    names = [c.strip() for c in kw["names"].split(",")] if "names" in kw else cols
    idx = [head.index(c) for c in cols]
    th = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    trs = "".join("<tr>" + "".join(f"<td>{markdown(r[j], fragments=False)[3:-5]}</td>" for j in idx) + "</tr>"
                  for r in body)
    cls = ' class="data small"' if kw.get("size") == "small" else ' class="data"'
    return f"<table{cls}><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _chart(lab: Lab, pos: list[str], kw: dict, where: str) -> str:
    from bwkit.kit import deckchart

    if not pos:
        raise DeckSourceError(f'{where}: @chart needs a quote from the cell that prints the table')
    h = _option(kw, "h", where)   # read before drawing: a bad value is named before a slow chart
    i = lab.find(pos[0], "code", where, need=lambda c: bool(_text_output(c).strip()))
    try:
        png = deckchart.chart_png(_text_output(lab.nb.cells[i]), **{k: v for k, v in kw.items() if k != "h"})
    except deckchart.ChartError as e:
        raise DeckSourceError(f"{where}: chart from cell {i}: {e}") from e
    alt = html.escape(kw.get("title", f"chart of the table printed by cell {i} of {lab.path.name}"))
    frag = ' class="figure chart fragment"' if "fragment" in pos[1:] else ' class="figure chart"'
    style = f' style="max-height:{h}px"' if h else ""
    return f'<img{frag}{style} alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _try(lab: Lab, pos: list[str], kw: dict, where: str, slide_text: bool) -> tuple[str, str, list[int]]:
    """A try-it slide's badge + stub (and the prompt when the slide has no text), its notes, the cells used."""
    if not pos or pos[0] not in lab.exercises:
        raise DeckSourceError(f"{where}: @try needs an exercise of {lab.path.name}: one of {sorted(lab.exercises)}")
    ex = lab.exercises[pos[0]]
    prompt = lab.prompt_cells(ex.id)
    parts = [f'<p class="try-badge">Try it · exercise {ex.id} · {ex.points:g} point{"s" * (ex.points != 1)}</p>']
    if not slide_text:  # the prompt itself: from the exercise's heading on, headings dropped
        text = "\n\n".join(lab.nb.cells[i].source for i in prompt)
        at = text.find(f"Exercise {ex.id}")
        text = text[text.rfind("\n", 0, at) + 1:] if at >= 0 else text
        parts.append(markdown(re.sub(r"^#{1,4} .*\n?", "", text, flags=re.M)))
    if kw.get("stub", "yes") != "no":
        for c in lab.lab.cells:
            if c.get("id") in ex.solution_cells and c.cell_type == "code":
                stub = c.source.strip("\n").split("\n")
                if len(stub) > MAX_CODE_LINES:
                    raise DeckSourceError(f"{where}: the stub of {ex.id} has {len(stub)} lines; add stub=no")
                parts.append(f'<pre class="excerpt stub"><code class="language-python" data-trim>'
                             f"{html.escape(chr(10).join(stub))}</code></pre>")
    notes = [lab.nb.cells[i].source for i in prompt]
    notes += [c.source for c in lab.nb.cells if c.get("id") in ex.hint_cells]
    return "\n".join(parts), "\n\n".join(notes), prompt


# ---------------------------------------------------------------------------------------------------- rendering
def _render_slide(slide: Slide, lab: Lab, src: Path, root: Path, first: bool) -> tuple[str, set[str]]:
    """One <section>, and the exercises it offers as try-it."""
    blocks: list[list[str]] = [[]]
    md_buf: list[str] = []
    title = ""
    notes_cells: list[tuple[int, str]] = []   # (cell index, text): the notes follow the notebook's order
    tries: set[str] = set()
    has_text = any(t.strip() and not t.lstrip().startswith(("@", "#", "```", "|||")) for _, t in slide.body)
    classes = ["title-slide"] if first else []

    def flush():
        if md_buf:
            blocks[-1].append(markdown("\n".join(md_buf)))
            md_buf.clear()

    body = list(slide.body)
    k = 0
    while k < len(body):
        n, line = body[k]
        where = f"{src.name}:{n}"
        s = line.strip()
        if s.startswith("```"):
            flush()
            info, code = s[3:].strip(), []
            k += 1
            while k < len(body) and not body[k][1].strip().startswith("```"):
                code.append(body[k])
                k += 1
            if k == len(body):
                raise DeckSourceError(f"{where}: code fence never closed")
            while code and not code[0][1].strip():
                code.pop(0)
            while code and not code[-1][1].strip():
                code.pop()
            if not code:
                raise DeckSourceError(f"{where}: an empty code excerpt")
            blocks[-1].append(_excerpt(lab, code, info, src.name, where, root))
        elif not title and re.match(r"#{1,2} ", s):
            title = s
        elif s == "|||":
            flush()
            blocks.append([])
        elif s.startswith("@"):
            flush()
            name, _, rest = s[1:].partition(" ")
            pos, kw = _args(rest, where)
            if name not in OPTIONS:
                raise DeckSourceError(f"{where}: unknown directive @{name} ({', '.join(OPTIONS)})")
            _check_options(name, pos, kw, where, words=len(pos) if name in ("notes", "class") else 1)
            if name == "notes":
                for q in pos:
                    i = lab.find(q, "markdown", where)
                    notes_cells.append((i, lab.nb.cells[i].source))
            elif name == "figure":
                blocks[-1].append(_figure(lab, pos, kw, where))
            elif name == "chart":
                blocks[-1].append(_chart(lab, pos, kw, where))
            elif name == "output":
                blocks[-1].append(_output(lab, pos, kw, where))
            elif name == "table":
                blocks[-1].append(_table(lab, pos, kw, where))
            elif name == "try":
                part, try_notes, used = _try(lab, pos, kw, where, has_text)
                notes_cells.append((min(used, default=lab.first_solution(pos[0])), try_notes))
                blocks[-1].append(part)
                lab.used_cells.update(used)
                tries.add(pos[0])
                classes.append("try")
            elif name == "class":
                classes.extend(pos)
        else:
            md_buf.append(line)
        k += 1
    flush()
    if not title:
        raise DeckSourceError(f"{src.name}:{slide.line}: a slide needs a title line ('## What it says')")
    level = 1 if title.startswith("# ") else 2
    head = f"<h{level}>{markdown(title.lstrip('#').strip(), fragments=False)[3:-5]}</h{level}>"
    if len(blocks) > 1:
        main = '<div class="cols">' + "".join(f"<div>{''.join(b)}</div>" for b in blocks) + "</div>"
    else:
        main = "".join(blocks[0])
    own = "\n".join(slide.notes).strip()
    note_parts = [markdown(own, fragments=False, math=False)] if own else []
    for _, c in sorted(notes_cells, key=lambda nc: nc[0]):
        if c.strip():
            note_parts.append(markdown(c, fragments=False, math=False))
    notes = f'<aside class="notes">{"<hr>".join(note_parts)}</aside>' if note_parts else ""
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f"<section{cls}>{head}{main}{notes}</section>", tries


_STYLE = """
.reveal { font-size: 30px; }
.reveal .slides section { text-align: left; }
.reveal .slides section.title-slide { text-align: center; padding-top: 160px; }
.reveal .slides section.title-slide h1 { font-size: 60px; }
.reveal h1, .reveal h2 { text-transform: none; letter-spacing: normal; }
.reveal h2 { font-size: 42px; margin-bottom: 22px; }
.reveal p, .reveal li { line-height: 1.3; }
.reveal ul, .reveal ol { display: block; margin-left: 1.1em; }
.reveal li { margin: 8px 0; }
.reveal pre { box-sizing: border-box; width: 100%; margin: 12px 0; font-size: 19px; box-shadow: none; }
.reveal pre code { max-height: none; line-height: 1.3; padding: 10px 14px; }
.reveal pre.output { font-size: 20px; background: #f4f4f4; padding: 10px 14px; line-height: 1.3;
  white-space: pre; overflow: hidden; }
.reveal code { font-size: 0.9em; }
.reveal img.figure { display: block; margin: 8px auto; width: 100%; max-height: 560px; object-fit: contain; }
.reveal .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 36px; align-items: start; }
.reveal img.figure.chart { max-height: 500px; }
.reveal .cols img.figure { max-height: 470px; }
.reveal .try-badge { display: inline-block; background: #2a76dd; color: white; padding: 4px 14px;
  border-radius: 6px; font-size: 22px; }
.reveal section.try h2::before { content: "Try it: "; color: #2a76dd; }
.reveal table.data { font-size: 21px; border-collapse: collapse; margin: 10px 0; }
.reveal table.data th, .reveal table.data td { padding: 4px 10px; border-bottom: 1px solid #ccc; }
.reveal table.data.small { font-size: 17px; }
.reveal pre.output.small { font-size: 16px; }
.reveal pre.output.wrap { white-space: pre-wrap; }
.reveal .small { font-size: 22px; }
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="vendor/reveal.js/dist/reveal.css">
<link rel="stylesheet" href="vendor/reveal.js/dist/theme/white.css">
<link rel="stylesheet" href="vendor/reveal.js/plugin/highlight/monokai.css">
<style>{style}</style>
</head>
<body>
<div class="reveal"><div class="slides">
{sections}
</div></div>
<script src="vendor/reveal.js/dist/reveal.js"></script>
<script src="vendor/reveal.js/plugin/notes/notes.js"></script>
<script src="vendor/reveal.js/plugin/highlight/highlight.js"></script>
<script src="vendor/reveal.js/plugin/math/math.js"></script>
<script>
Reveal.initialize({{
  width: 1280, height: 720, margin: 0.04, center: false, hash: true, slideNumber: "c/t",
  transition: "fade", transitionSpeed: "fast",
  plugins: [RevealNotes, RevealHighlight, RevealMath.MathJax2],
  math: {{ mathjax: "vendor/mathjax/MathJax.js", config: "TeX-AMS_HTML-full",
          tex2jax: {{ ignoreClass: "notes|tex2jax_ignore" }} }},
}});
</script>
</body>
</html>
"""


def render_deck(source: str | Path, notebook: str | Path, root: str | Path | None = None) -> str:
    """The deck's HTML (assets referenced from vendor/) from a slide source and its solution notebook."""
    source, notebook = Path(source), Path(notebook)
    root = Path(root) if root else notebook.resolve().parent.parent
    lab = Lab(notebook)
    slides = parse_source(source.read_text(encoding="utf-8"))
    if not slides:
        raise DeckSourceError(f"{source.name}: no slides")
    out: list[str] = []
    stack: list[str] = []
    for j, s in enumerate(slides):
        sec, _ = _render_slide(s, lab, source, root, j == 0)
        if s.vertical:
            if not stack:
                raise DeckSourceError(f"{source.name}:{s.line}: '--' (a vertical slide) needs a slide before it")
            stack.append(sec)
        else:
            if stack:
                out.append(stack[0] if len(stack) == 1 else "<section>" + "\n".join(stack) + "</section>")
            stack = [sec]
    out.append(stack[0] if len(stack) == 1 else "<section>" + "\n".join(stack) + "</section>")
    title = re.sub(r"<[^>]+>", "", re.search(r"<h[12]>(.*?)</h[12]>", out[0]).group(1))
    return _PAGE.format(title=html.escape(html.unescape(title)), style=_STYLE, sections="\n".join(out))


OUT_OF_ORDER = "Out of order:"   # a line of a slide's own notes that says why it leaves the notebook's order


def sync_problems(source: str | Path, notebook: str | Path) -> list[str]:
    """What of the notebook the deck leaves out, or shows out of order: prose in no slide's notes, unused figures,
    exercises with no try, slides without notes, and a slide that uses a cell from before the one an earlier slide
    used (unless its own notes have a line ``Out of order: <why>``)."""
    source, notebook = Path(source), Path(notebook)
    lab = Lab(notebook)
    tries: set[str] = set()
    problems = []
    latest = -1   # the furthest notebook cell the slides so far used
    for j, s in enumerate(parse_source(source.read_text(encoding="utf-8"))):
        before = set(lab.used_cells)
        offered = _render_slide(s, lab, source, notebook.resolve().parent.parent, j == 0)[1]
        tries |= offered
        cells = (lab.used_cells - before) | {lab.first_solution(ex) for ex in offered}
        why = any(t.strip().startswith(OUT_OF_ORDER) for t in s.notes)
        if cells and min(cells) < latest - 1 and not why:
            problems.append(f"{source.name}:{s.line}: uses cell {min(cells)} of the notebook after a slide that used "
                            f"cell {latest}: follow the notebook's order, or say why in its notes "
                            f"('{OUT_OF_ORDER} ...')")
        latest = max(latest, max(cells, default=-1))
    for i, c in enumerate(lab.nb.cells):
        if i in lab.used_cells or _role(c) in _ROLES_HIDDEN:
            continue
        first = c.source.strip().split("\n", 1)[0][:70]
        if c.cell_type == "markdown":
            problems.append(f"markdown cell {i} ({first!r}) is in no slide's notes: add @notes \"...\"")
        elif _images(c):
            problems.append(f"figure of cell {i} ({first!r}) is on no slide: add @figure \"...\"")
    for j, s in enumerate(parse_source(source.read_text(encoding="utf-8"))):
        if j and not s.notes and not any(t.strip().startswith(("@notes", "@try")) for _, t in s.body):
            problems.append(f"{source.name}:{s.line}: a slide without speaker notes (add Note: or @notes)")
    for ex in lab.exercises:
        if ex not in tries:
            problems.append(f"exercise {ex} has no try-it slide: add @try {ex}")
    return problems
