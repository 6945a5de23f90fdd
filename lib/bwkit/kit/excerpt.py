"""Does a slide's code excerpt stand in its source? Lines matched in order, gaps only where the excerpt says.

An excerpt is consecutive lines of one source (stripped; blank lines dropped): a comment-only source line may
be passed over, and so may a trailing ``# comment``; any other line left out needs a ``...`` (or ``# ...``)
line in the excerpt, which stands for one or more lines. `excerpt_problem` says which excerpt line breaks
that rule and how. Used by `bwkit.kit.deck` (the ```` ```python src=... ```` fences of slides/src).
"""

from __future__ import annotations

__all__ = ["GAP", "excerpt_problem"]

GAP = None   # a '...' line of an excerpt: one or more source lines left out


def _same(w: str, h: str) -> bool:
    """An excerpt line matches a source line, or the source line with its trailing comment dropped."""
    return w == h or (h.startswith(w) and h[len(w):].lstrip().startswith("#"))


def _reach(want: list[str | None], have: list[str]) -> list[set[int]]:
    """reach[k]: where in `have` (stripped, blank lines dropped) the excerpt can stand after its first k lines,
    matched to consecutive lines; a comment-only line may be passed over, a `GAP` passes over one or more lines.
    reach[0] is every start; the list stops at the first line that cannot follow (so len(reach) - 1 lines match
    when it is shorter than len(want) + 1)."""
    reach = [set(range(len(have) + 1))]
    for w in want:
        now = _past_comments(reach[-1], have)
        if w is GAP:
            nxt = set(range(min(now) + 1, len(have) + 1))   # at least one line left out
        else:
            nxt = {p + 1 for p in now if p < len(have) and _same(w, have[p])}
        if not nxt:
            break
        reach.append(nxt)
    return reach


def _past_comments(at: set[int], have: list[str]) -> set[int]:
    """`at` and every position reached from it by passing over comment-only lines."""
    out, todo = set(at), list(at)
    while todo:
        p = todo.pop()
        if p < len(have) and have[p].startswith("#") and p + 1 not in out:
            out.add(p + 1)
            todo.append(p + 1)
    return out


def excerpt_problem(want: list[str | None], sources: list[str]) -> tuple[int, str] | None:
    """None when `want` is consecutive lines (with '...' gaps) of one of `sources`; else (index of the excerpt
    line that does not follow, what is wrong) for the source that matches the longest beginning."""
    best: tuple[int, list[str], list[set[int]]] | None = None
    for src in sources:
        have = [t.strip() for t in src.split("\n") if t.strip()]
        reach = _reach(want, have)
        if len(reach) == len(want) + 1:
            return None
        if best is None or len(reach) > len(best[2]):
            best = (len(reach) - 1, have, reach)
    if best is None:
        return 0, "nothing to compare with"
    k, have, reach = best
    w = want[k]
    if w is GAP:
        return k, "its '...' stands for lines left out, but the source has none left there"
    if k and want[k - 1] is GAP and any(p < len(have) and _same(w, have[p])
                                         for p in _past_comments(reach[k - 1], have)):
        return k, f"the '...' before {w!r} leaves out no line: drop it"
    now = min(_past_comments(reach[k], have)) if k else len(have)
    later = [p for p in range(now, len(have)) if _same(w, have[p])]
    if later:
        skipped = [h for h in have[now:later[0]] if not h.startswith("#")]
        return k, (f"{len(skipped)} source line(s) left out before {w!r} (from {skipped[0]!r}): show them or mark "
                   "the gap with a '...' line")
    return k, f"first line not found in order: {w!r}"
