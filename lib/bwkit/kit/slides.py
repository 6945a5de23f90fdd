"""Slide decks: one talk per lab, self-contained and offline (`bwkit slides build`, `make slides`).

A deck is built from the lab's slide source `slides/src/NN_topic.md` (the talk: short slides, excerpts, charts,
speaker notes) and its solution notebook (everything numeric or pictorial, looked up by quote): `bwkit.kit.deck`
renders it, slides/README.md says why and how. The notebooks keep their `slideshow.slide_type` metadata for RISE
(live presenting from JupyterLab): `bwkit slides tag` fills it in from the headings (`#`/`##` new slide, `###`
sub-slide, the rest continues) and exercise cells (solution, hint, check) are `skip`; `deck_notebook` validates it.

`bwkit slides build [LAB ...]` writes `slides/build/NN_topic.slides.html` (every lab's, or those named: ``03`` or
``03_triton_gemm``) plus `slides/build/vendor/` (reveal.js with its notes, highlight and math plugins, and MathJax
2, installed from the npm registry by `slides/package.json`; ``--out DIR`` writes both elsewhere): the decks open
from disk with no network. A lab is named by its number or name, not by a path to another notebook. Every
slide source needs its solution notebook and every notebook its source; a deck whose lab is gone is removed.
`slides/` and `solutions/` are the kit's own (`kit_root`), wherever the command runs. A bad input (an unknown lab,
a missing notebook, no npm, a build folder that cannot be written) is one line on stderr and exit status 2.
Taught nowhere: this is the instructor's tool (README, "Presenting").
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import nbformat

from bwkit.kit.commands import reports
from bwkit.kit.notebooks import NOTEBOOK_GLOB, REPO_ROOT, lab_notebooks

__all__ = ["SLIDE_TYPES", "SlideBuildError", "default_slide_type", "tag_notebook", "deck_notebook",
           "source_for", "build_deck", "build_all", "vendor_assets", "kit_root", "select_labs"]

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
    nb = _read(path)
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


def _read(path: Path):
    """The notebook at `path`; SlideBuildError (one line) when it is missing or not a notebook."""
    if not path.is_file():
        raise SlideBuildError(f"{path}: no such notebook")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # nbformat raises several types for broken JSON
        raise SlideBuildError(f"{path}: not a readable notebook ({type(e).__name__}: {e})".split("\n")[0]) from e


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
        if not (slides_dir / "package.json").is_file():
            raise SlideBuildError(f"{slides_dir}: no package.json to install reveal.js and MathJax from")
        npm = shutil.which("npm")
        if npm is None:
            raise SlideBuildError("building slides needs npm (Node.js) on PATH to fetch reveal.js and MathJax "
                                  f"into {nm} (once; or copy a node_modules/ there)")
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=slides_dir,
                              check=False)
        if done.returncode != 0 or not (nm / "reveal.js" / "dist" / "reveal.js").exists():
            raise SlideBuildError(f"`npm install` in {slides_dir} failed (exit status {done.returncode}); "
                                  "its messages are above")
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
        if not (mj / "MathJax.js").is_file():
            raise SlideBuildError(f"{mj}: no MathJax.js; run `npm install` in {slides_dir}")
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
    nb = _read(notebook)
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


_SOURCE_GLOB = NOTEBOOK_GLOB.replace(".ipynb", ".md")   # a lab's slide source: slides/src/NN_topic.md
_DECK_SUFFIX = ".slides.html"


def select_labs(names: list[str], wanted: list[str] | None,
                folders: Sequence[str | Path] | None = None) -> list[str]:
    """The labs of `names` (stems, ``03_triton_gemm``) that `wanted` names, in its order: each as ``03``, ``3``,
    the stem, or a path whose stem it is (``solutions/03_triton_gemm.ipynb``); all of them when `wanted` is empty.
    An unknown name raises SlideBuildError listing the labs. With `folders` (the solutions, the slide sources, the
    build folder) a path must lie in one of them: the deck is built from the kit's solution, so a path to another
    notebook (a lab, a copy elsewhere) raises SlideBuildError rather than building the kit's one in its place."""
    if not wanted:
        return list(names)
    out = []
    for w in wanted:
        stem = Path(w).name
        for suffix in (_DECK_SUFFIX, ".ipynb", ".md"):
            stem = stem.removesuffix(suffix)
        if stem.isdigit():
            stem = stem.zfill(2)
        if folders is not None and (len(Path(w).parts) > 1 or Path(w).is_file()):
            if Path(w).resolve().parent not in {Path(f).resolve() for f in folders}:
                number = stem.split("_", 1)[0]
                raise SlideBuildError(
                    f"{w} is not in the kit's {Path(folders[0])}: decks are built from the kit's solution notebooks "
                    "(and slide sources), never from another notebook such as a lab or a copy; pass the lab's "
                    f"number instead, e.g. `bwkit slides build {number if number.isdigit() else '03'}`")
        hits = [n for n in names if n == stem or n.split("_", 1)[0] == stem]
        if len(hits) != 1:
            raise SlideBuildError(f"no lab {w!r}; the labs: {', '.join(n.split('_', 1)[0] for n in names)} "
                                  f"(or their names, e.g. {names[0] if names else '00_topic'})")
        if hits[0] not in out:
            out.append(hits[0])
    return out


def _os_error(e: OSError, out_dir: Path) -> SlideBuildError:
    """One line for an OSError of a build: a build folder that cannot be written (read-only, a file in the way)
    says to build elsewhere; any other file names itself."""
    why = e.strerror or (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    name = Path(e.filename) if e.filename else None
    inside = name is not None and out_dir.resolve() in name.resolve().parents
    if name is None or inside or name.resolve() == out_dir.resolve():
        return SlideBuildError(f"cannot write the decks into {out_dir} ({why}" + (f": {name}" if inside else "")
                               + "): make it a folder you can write, or build elsewhere "
                               "(`bwkit slides build --out DIR`)")
    return SlideBuildError(f"{name}: {why} ({type(e).__name__})")


def build_all(solutions: str | Path = "solutions", slides_dir: str | Path = "slides",
              labs: list[str] | None = None, out_dir: str | Path | None = None) -> list[Path]:
    """Vendor the assets once and build one deck per lab (or per lab of `labs`, see `select_labs`) into `out_dir`
    (default slides/build/).

    Every slide source `slides/src/NN_*.md` needs its solution notebook and every solution notebook its source,
    else SlideBuildError before anything is built (an unknown name in `labs` too, or a path to a notebook outside
    `solutions`); a deck ``NN_*.slides.html`` in `out_dir` whose lab lacks its notebook or its source is removed
    (it would show a lab that is not there). A build folder that cannot be written is a one-line SlideBuildError."""
    solutions, slides_dir = Path(solutions), Path(slides_dir)
    if not solutions.is_dir():
        raise SlideBuildError(f"{solutions}: no such folder of solution notebooks")
    if not (slides_dir / "src").is_dir():
        raise SlideBuildError(f"{slides_dir / 'src'}: no such folder of slide sources")
    out_dir = slides_dir / "build" if out_dir is None else Path(out_dir)
    notebooks = {p.stem: p for p in lab_notebooks(solutions)}
    sources = {p.stem: p for p in sorted((slides_dir / "src").glob(_SOURCE_GLOB))}
    chosen = select_labs(sorted(set(notebooks) | set(sources)), labs,   # an unknown name: before any change
                         (solutions, slides_dir / "src", out_dir))
    try:
        return _build(notebooks, sources, chosen, solutions, slides_dir, out_dir)
    except OSError as e:   # a read-only kit, a file where the build folder goes
        raise _os_error(e, out_dir) from e


def _build(notebooks: dict[str, Path], sources: dict[str, Path], chosen: list[str], solutions: Path,
           slides_dir: Path, out_dir: Path) -> list[Path]:
    """`build_all` once its inputs are read: drop stale decks, check every lab has both files, vendor, build."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(20, "it is a file, not a folder", str(out_dir))
    for old in sorted(out_dir.glob(NOTEBOOK_GLOB.replace(".ipynb", _DECK_SUFFIX))):   # stale: no notebook/source
        stem = old.name.removesuffix(_DECK_SUFFIX)
        if stem not in notebooks or stem not in sources:
            old.unlink()
    orphans = sorted(set(sources) - set(notebooks))
    if orphans:
        raise SlideBuildError(f"{sources[orphans[0]]}: no solution notebook {solutions / (orphans[0] + '.ipynb')}"
                              + (f" (nor for {', '.join(orphans[1:])})" if orphans[1:] else "")
                              + ": restore it, or remove the slide source")
    missing = sorted(set(notebooks) - set(sources))
    if missing:
        raise SlideBuildError(f"{notebooks[missing[0]]}: no slide source {slides_dir / 'src' / (missing[0] + '.md')}"
                              " (slides/README.md says how to write one)")
    vendor_assets(slides_dir, out_dir)
    return [build_deck(notebooks[stem], out_dir, slides_dir) for stem in chosen]


def kit_root() -> Path:
    """The folder holding the kit's `slides/src/` and `solutions/`: the kit's checkout (`REPO_ROOT`), else the
    current directory; SlideBuildError when neither has them."""
    for root in (REPO_ROOT, Path.cwd()):
        if (root / "slides" / "src").is_dir() and (root / "solutions").is_dir():
            return root
    raise SlideBuildError(f"no slides/src/ and solutions/ in {REPO_ROOT} or here: run from the kit's root")


def register_cli(sub) -> None:
    """Add `bwkit slides build|tag` to the bwkit command."""
    p = sub.add_parser("slides", help="build offline slide decks from the solution notebooks, or tag cells")
    p.add_argument("action", choices=["build", "tag"])
    p.add_argument("notebooks", nargs="*", metavar="lab_or_notebook",
                   help="for 'build': the labs to build (03 or 03_triton_gemm; default: all); "
                        "for 'tag': notebooks (default: the kit's solutions/*.ipynb)")
    p.add_argument("--out", default=None, help="for 'build': the folder the decks are written to (default: the "
                   "kit's slides/build/)")
    p.set_defaults(func=_cmd)


def _shown(p: Path) -> str:
    """`p` relative to the current directory when it is below it."""
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


@reports("slides", SlideBuildError)
def _cmd(args) -> int:
    if args.action == "tag":
        paths = [Path(p) for p in args.notebooks] or lab_notebooks(kit_root() / "solutions")
        for p in paths:   # every one first: a typo in the last must not leave the others half done
            if not p.is_file():
                raise SlideBuildError(f"{p}: no such notebook")
        for p in paths:
            print(f"{p}: tagged {tag_notebook(p)} cell(s)")
    else:
        root = kit_root()
        for p in build_all(root / "solutions", root / "slides", args.notebooks, args.out):
            print(f"wrote {_shown(p)}")
    return 0
