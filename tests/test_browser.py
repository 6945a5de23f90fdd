"""Real-browser tests of the slide decks (JupyterLab's are test_runall_*): every deck is a talk one can give.

Uses Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it) driven by Python Playwright. One browser
and one page visit every slide of every deck (vertical ones too) at 1280x800, offline, and assert: no slide's
content is taller or wider than the slide area, words per slide (code, figures and notes excluded) have a median
of at most 70 and a maximum of 150, every slide carries speaker notes, every figure loads, nothing is requested
from the network. It writes one contact sheet per deck (every slide as a thumbnail) and a summary, report.json,
under artifacts/slides/.
"""

import io
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "artifacts" / "slides"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
MEDIAN_WORDS, MAX_WORDS = 70, 150
THUMB = (320, 200)

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: .ci/run installs Debian's chromium")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it and runs these tests",
                allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from bwkit.kit import slides  # noqa: E402

# Everything measured on the current slide, in the deck's own (unscaled) pixels; fragments all shown.
MEASURE = """([h, v]) => {
  Reveal.slide(h, v, 999);
  const s = Reveal.getCurrentSlide(), scale = Reveal.getScale(), top = s.getBoundingClientRect().top;
  const left = s.getBoundingClientRect().left;
  let bottom = 0, right = 0;
  for (const el of s.querySelectorAll('*')) {
    if (el.closest('aside.notes') || el.closest('.MathJax_Preview')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    bottom = Math.max(bottom, (r.bottom - top) / scale);
    right = Math.max(right, (r.right - left) / scale);
  }
  const clipped = [...s.querySelectorAll('pre, code, table, div')].filter(
    el => el.scrollHeight > el.clientHeight + 2 || el.scrollWidth > el.clientWidth + 2).filter(
    el => getComputedStyle(el).overflowX !== 'visible' || getComputedStyle(el).overflowY !== 'visible').length;
  const clone = s.cloneNode(true);
  clone.querySelectorAll('pre, code, aside, svg, img, script, style, .MathJax, .MathJax_Preview, .MathJax_CHTML,'
                         + ' mjx-container').forEach(e => e.remove());
  const words = clone.textContent.split(/\\s+/).filter(w => /[A-Za-z0-9]/.test(w)).length;
  const notes = s.querySelector('aside.notes');
  const imgs = [...s.querySelectorAll('img')];
  return {h, v, title: (s.querySelector('h1, h2') || {innerText: ''}).innerText, words, bottom, right, clipped,
          notes: notes ? notes.textContent.split(/\\s+/).filter(Boolean).length : 0,
          figures: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length};
}"""


@pytest.fixture(scope="module")
def decks():
    return slides.build_all(ROOT / "solutions", ROOT / "slides")


@pytest.fixture(scope="module")
def page():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        ctx = b.new_context(viewport={"width": 1280, "height": 800}, offline=True)
        pg = ctx.new_page()
        pg.external, pg.errors = [], []
        pg.on("request", lambda r: pg.external.append(r.url) if r.url.startswith(("http:", "https:")) else None)
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        b.close()


def test_one_deck_per_solution_notebook(decks):
    stems = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(d.name.removesuffix(".slides.html") for d in decks) == stems


def _open(page, deck: Path) -> None:
    page.external.clear()
    page.errors.clear()
    page.goto(deck.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady() && window.MathJax && MathJax.isReady", timeout=30000)
    page.evaluate("new Promise(r => MathJax.Hub.Queue(r))")  # typeset before measuring: math changes heights
    page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
    page.add_style_tag(content="* { transition: none !important; }")  # fragments shown at once, for screenshots


def _contact_sheet(shots: list[bytes], path: Path) -> None:
    from PIL import Image

    cols = 6
    rows = (len(shots) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (THUMB[0] + 8) + 8, rows * (THUMB[1] + 8) + 8), "#888")
    for k, png in enumerate(shots):
        im = Image.open(io.BytesIO(png)).convert("RGB")
        im.thumbnail(THUMB)
        sheet.paste(im, (8 + (k % cols) * (THUMB[0] + 8), 8 + (k // cols) * (THUMB[1] + 8)))
    sheet.save(path, quality=80)


def test_every_deck_is_a_talk(page, decks):
    OUT.mkdir(parents=True, exist_ok=True)
    t0, report, problems = time.monotonic(), {}, []
    for deck in decks:
        _open(page, deck)
        indices = page.evaluate("Reveal.getSlides().map(s => [Reveal.getIndices(s).h, Reveal.getIndices(s).v || 0])")
        assert len(indices) == page.evaluate("Reveal.getTotalSlides()")
        area = page.evaluate("[Reveal.getConfig().width, Reveal.getConfig().height]")
        rows, shots = [], []
        for hv in indices:
            m = page.evaluate(MEASURE, hv)
            rows.append(m)
            shots.append(page.screenshot(type="jpeg", quality=60))
        _contact_sheet(shots, OUT / f"{deck.stem.removesuffix('.slides')}.contact.jpg")
        name = deck.name
        for m in rows:
            where = f"{name} slide {m['h'] + 1}.{m['v'] + 1} ({m['title'][:50]!r})"
            if m["bottom"] > area[1] + 1:
                problems.append(f"{where}: content {m['bottom']:.0f}px tall, the slide area is {area[1]}px")
            if m["right"] > area[0] + 1:
                problems.append(f"{where}: content {m['right']:.0f}px wide, the slide area is {area[0]}px")
            if m["clipped"]:
                problems.append(f"{where}: {m['clipped']} block(s) scroll or clip their content")
            if m["words"] > MAX_WORDS:
                problems.append(f"{where}: {m['words']} words (at most {MAX_WORDS})")
            if m["notes"] < 5:
                problems.append(f"{where}: no speaker notes")
            if m["broken"]:
                problems.append(f"{where}: {m['broken']} figure(s) did not load")
        words = [m["words"] for m in rows]
        if statistics.median(words) > MEDIAN_WORDS:
            problems.append(f"{name}: median {statistics.median(words)} words per slide (at most {MEDIAN_WORDS})")
        if page.external:
            problems.append(f"{name}: requested from the network: {page.external[:3]}")
        if page.errors:
            problems.append(f"{name}: page errors {page.errors[:3]}")
        tallest = max(rows, key=lambda m: m["bottom"])
        report[name] = {"slides": len(rows), "median_words": statistics.median(words), "max_words": max(words),
                        "tallest_px": round(tallest["bottom"]), "slide_area_px": area,
                        "with_notes": sum(m["notes"] >= 5 for m in rows), "figures": sum(m["figures"] for m in rows)}
    report["seconds"] = round(time.monotonic() - t0, 1)
    (OUT / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    assert problems == [], "\n".join(problems)


def test_decks_step_through_and_open_the_speaker_view(page, decks):
    """Keyboard-order stepping (fragments included) reaches the end; `S` opens the speaker view with the notes."""
    for deck in decks:
        _open(page, deck)
        total = page.evaluate("Reveal.getTotalSlides()")
        steps = page.evaluate("""() => { Reveal.slide(0, 0, 0); const seen = new Set(); let n = 0;
          while (!(Reveal.isLastSlide() && !Reveal.availableFragments().next) && n < 5000) {
            seen.add(JSON.stringify([Reveal.getIndices().h, Reveal.getIndices().v])); Reveal.next(); n++; }
          seen.add(JSON.stringify([Reveal.getIndices().h, Reveal.getIndices().v])); return [seen.size, n]; }""")
        assert steps[1] < 5000, f"{deck.name}: never reached the last slide"
        assert steps[0] == total, f"{deck.name}: stepped through {steps[0]} of {total} slides"
    deck = decks[0]
    _open(page, deck)
    page.evaluate("Reveal.slide(1, 0)")
    want = page.evaluate("Reveal.getCurrentSlide().querySelector('aside.notes').textContent.trim().slice(0, 40)")
    with page.context.expect_page() as popup:
        page.keyboard.press("s")
    speaker = popup.value
    speaker.wait_for_function("document.querySelector('.speaker-controls-notes .value') && "
                              "document.querySelector('.speaker-controls-notes .value').textContent.length > 0",
                              timeout=15000)
    got = speaker.evaluate("document.querySelector('.speaker-controls-notes .value').textContent")
    assert " ".join(want.split()) in " ".join(got.split()), f"speaker view shows {got[:80]!r}, not the notes"
    speaker.close()
