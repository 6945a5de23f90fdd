"""Slide decks: one talk per lab, self-contained and offline (`bwkit slides build`, `make slides`).

A deck is built from the lab's slide source `slides/src/NN_topic.md` (the talk: short slides, excerpts, charts,
speaker notes) and its solution notebook (everything numeric or pictorial, looked up by quote): `bwkit.kit.deck`
renders it, slides/README.md says why and how. The notebooks keep their `slideshow.slide_type` metadata for RISE
(live presenting from JupyterLab): `bwkit slides tag` fills it in from the headings (`#`/`##` new slide, `###`
sub-slide, the rest continues) and exercise cells (solution, hint, check) are `skip`; `deck_notebook` validates it.

`bwkit slides build` writes `slides/build/NN_topic.slides.html` plus `slides/build/vendor/` (reveal.js with its
notes, highlight and math plugins, and MathJax 2, installed from the npm registry by `slides/package.json`): the
decks open from disk with no network. Taught nowhere: this is the instructor's tool (README, "Presenting").
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from bwkit.kit.commands import reports
from bwkit.kit.notebooks import lab_notebooks

__all__ = ["SLIDE_TYPES", "SlideBuildError", "default_slide_type", "tag_notebook", "deck_notebook",
           "source_for", "build_deck", "build_all", "vendor_assets"]

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")


class SlideBuildError(ValueError):
    """A notebook cannot become a deck; the message names the notebook and the cell."""


def default_slide_type(cell) -> str:
    """The slide type a cell gets when it has none: from its markdown heading level, else continue ('-')."""
    if (cell.get("metadata", {}).get("bwkit") or {}).get("role") in ("solution", "hint", "check"):
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith("# ") or first.startswith("## "):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def tag_notebook(path: str | Path) -> int:
    """Give cells of `path` their default slide type where missing and tag figure cells `figure`.

    Returns how many tags were added. A `figure` cell whose image goes missing later fails the deck build.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    n = 0
    for cell in nb.cells:
        if "slide_type" not in cell.metadata.get("slideshow", {}):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = default_slide_type(cell)
            n += 1
        has_fig = any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        if has_fig and "figure" not in cell.metadata.get("tags", []):
            cell.metadata.setdefault("tags", []).append("figure")
            n += 1
    if n:
        nbformat.write(nb, path)
    return n


def deck_notebook(nb, path: str | Path = "<notebook>"):
    """The notebook as a deck: validated slide types, exercise cells and 'skip' cells dropped, figures present."""
    deck = copy.deepcopy(nb)
    keep = []
    for i, cell in enumerate(deck.cells):
        where = f"{path}: cell {i} (id {cell.get('id', '?')})"
        st = cell.metadata.get("slideshow", {}).get("slide_type", default_slide_type(cell))
        if st not in SLIDE_TYPES:
            raise SlideBuildError(f"{where}: unknown slide type {st!r}; known: {', '.join(SLIDE_TYPES)}")
        role = (cell.metadata.get("bwkit") or {}).get("role")
        if st == "skip" or role in ("solution", "hint", "check"):
            continue
        if cell.cell_type == "code":
            outs = cell.get("outputs", [])
            has_fig = any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}) for o in outs)
            fig_repr = any("<Figure size" in str(o.get("data", {}).get("text/plain", "")) for o in outs)
            wants_fig = "figure" in cell.metadata.get("tags", []) or fig_repr
            if wants_fig and not has_fig:
                raise SlideBuildError(f"{where}: draws a figure but has no stored image output "
                                      "(re-execute the notebook: `make solutions`)")
        cell.metadata.setdefault("slideshow", {})["slide_type"] = st
        keep.append(cell)
    if not keep:
        raise SlideBuildError(f"{path}: no cells left for the deck")
    first = keep[0].metadata["slideshow"]
    if first["slide_type"] in ("-", "fragment", "notes"):
        first["slide_type"] = "slide"
    deck.cells = keep
    return deck


def vendor_assets(slides_dir: str | Path, out_dir: str | Path) -> Path:
    """Install the pinned npm packages of `slides/package.json` and copy what decks need into out/vendor."""
    slides_dir, out_dir = Path(slides_dir), Path(out_dir)
    nm = slides_dir / "node_modules"
    if not (nm / "reveal.js" / "dist" / "reveal.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building slides needs npm (Node.js) to fetch reveal.js and MathJax")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=slides_dir,
                       check=True)
    vendor = out_dir / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for src, dst in [("reveal.js/dist", "reveal.js/dist"), ("reveal.js/plugin", "reveal.js/plugin")]:
        s, d = nm / src, vendor / dst
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
    for css in (vendor / "reveal.js" / "dist" / "theme").glob("*.css"):  # themes @import web fonts: drop them
        text = css.read_text(encoding="utf-8")
        offline = re.sub(r"@import url\((['\"]?)https?://[^)]*\1\);?", "", text)
        if offline != text:
            css.write_text(offline, encoding="utf-8")
    mj = nm / "mathjax"
    dst = vendor / "mathjax"
    if not (dst / "MathJax.js").exists():
        shutil.copytree(mj, dst, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("unpacked", "docs", "test", "*.md", "png", "svg", "eot", "otf"))
    return vendor


def source_for(notebook: str | Path, slides_dir: str | Path = "slides") -> Path:
    """The talk's source of a solution notebook: `slides/src/<stem>.md`."""
    return Path(slides_dir) / "src" / f"{Path(notebook).stem}.md"


def build_deck(notebook: str | Path, out_dir: str | Path, slides_dir: str | Path | None = None) -> Path:
    """Write `out_dir/<stem>.slides.html` from a solution notebook and its slide source (assets in out_dir/vendor)."""
    from bwkit.kit import deck

    notebook, out_dir = Path(notebook), Path(out_dir)
    src = source_for(notebook, slides_dir if slides_dir is not None else notebook.resolve().parent.parent / "slides")
    if not src.is_file():
        raise SlideBuildError(f"{notebook}: no slide source {src} (slides/README.md says how to write one)")
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as e:  # nbformat raises several types for broken JSON
        raise SlideBuildError(f"{notebook}: not a readable notebook ({e})") from e
    deck_notebook(nb, notebook)  # the notebook's own slide metadata (RISE) must stay valid too
    try:
        body = deck.render_deck(src, notebook)
    except deck.DeckSourceError as e:
        raise SlideBuildError(str(e)) from e
    leaks = re.findall(r"(?:src|href)=\"(https?://[^\"]+)\"", body)
    if leaks:
        raise SlideBuildError(f"{notebook}: the deck would load {leaks[0]} from the network")
    out = out_dir / f"{notebook.stem}.slides.html"
    out_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


def build_all(solutions: str | Path = "solutions", slides_dir: str | Path = "slides") -> list[Path]:
    """Vendor the assets once and build one deck per solution notebook into slides/build/."""
    out_dir = Path(slides_dir) / "build"
    vendor_assets(slides_dir, out_dir)
    return [build_deck(nb, out_dir, slides_dir) for nb in lab_notebooks(solutions)]


def register_cli(sub) -> None:
    """Add `bwkit slides build|tag` to the bwkit command."""
    p = sub.add_parser("slides", help="build offline slide decks from the solution notebooks, or tag cells")
    p.add_argument("action", choices=["build", "tag"])
    p.add_argument("notebooks", nargs="*", help="for 'tag': notebooks (default: solutions/*.ipynb)")
    p.set_defaults(func=_cmd)


@reports("slides", SlideBuildError)
def _cmd(args) -> int:
    if args.action == "tag":
        paths = args.notebooks or lab_notebooks("solutions")
        for p in paths:
            print(f"{p}: tagged {tag_notebook(p)} cell(s)")
    else:
        for p in build_all():
            print(f"wrote {p}")
    return 0
