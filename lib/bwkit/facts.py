"""The facts registry: every number the labs state from outside the kit, each once, with its source.

A `Fact` holds a value, its unit, where it comes from (source, date, configuration) and the *prose patterns* that
find it in a lab's markdown (a regular expression whose first group is the number as written). The values are not
copied here: each fact reads the module that already owns it — `bwkit.hw.SPECS` (hardware), `bwkit.moe.DEEPSEEK_V3`
(the model), `bwkit.perfmodel` (published serving figures), `bwkit.efficiency` (CUTLASS's published % of peak) —
so a figure lives in one place and the prose is checked against it: tests/test_facts.py fails when a notebook's
markdown states such a number differently.

    from bwkit import facts
    facts.get("B200.hbm_tbps").value            # 8.0
    facts.find_mismatches("... B200 at 7.7 TB/s ...")   # [(fact, "7.7")]

Taught nowhere directly: every lab cites these (lab 00 shows the hardware table they come from).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Fact", "FACTS", "get", "find_mismatches", "parse_number"]


@dataclass(frozen=True)
class Fact:
    """One external number: its value (read from the module that owns it), unit, source and prose patterns."""

    key: str
    read: Callable[[], float]
    unit: str
    source: str
    prose: tuple[str, ...] = ()
    rel_tol: float = 0.005            # how far a rounded mention may be from the value ("4.5" for 4,500 TFLOP/s)
    date: str = ""
    config: str = ""
    scale_units: dict[str, float] = field(default_factory=dict)   # e.g. {"PFLOP/s": 1000} for a TFLOP/s value

    @property
    def value(self) -> float:
        """The fact's value, read now from its owner module."""
        return float(self.read())


def parse_number(text: str) -> float:
    """'2,250' -> 2250.0; '4.5' -> 4.5; '~560' -> 560.0 (the number as a lab's prose writes it: a str)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_number takes the number as written (a str such as '2,250'), got "
                        f"{type(text).__name__} {text!r}")
    return float(text.replace(",", "").replace("~", "").replace("≈", "").strip())


def _spec(gpu: str, what: str, precision: str | None = None) -> Callable[[], float]:
    def read() -> float:
        from bwkit import hw

        s = hw.get_spec(gpu)
        return s.peak_tflops[precision] if precision else getattr(s, what)

    return read


def _hw_facts() -> list[Fact]:
    out: list[Fact] = []
    num = r"(\d[\d,]*(?:\.\d+)?)"
    for gpu in ("B200", "H200", "H100"):
        name = "H100 SXM" if gpu == "H100" else gpu
        src = f"bwkit.hw.SPECS[{name!r}] (its `sources` name the datasheet)"
        g = re.escape(gpu) + r"(?!\w)"
        # the GPU named once, no measurement in between
        near = r"(?:(?!B200|H200|H100|GB200|H800|measured|copy|achiev|model)[^.\n|]){0,45}?"
        out.append(Fact(f"{gpu}.hbm_tbps", _spec(name, "hbm_tbps"), "TB/s", src,
                        (rf"\b{g}{near}(?<![\d.,]){num} ?TB/s",
                         rf"{num} ?TB/s (?:of HBM )?(?:on|for) (?:an? |the )?{g}")))
        out.append(Fact(f"{gpu}.sms", _spec(name, "sms"), "SMs", src,
                        (rf"{num} SMs \((?:an? )?{g}\)", rf"\b{g}(?:'s)? (?:has )?{num} SMs",
                         rf"{num} SMs of (?:an? |the )?{g}")))
        for prec in ("fp4", "fp8", "bf16", "tf32"):
            if gpu != "B200" and prec == "fp4":
                continue
            p = prec.upper()
            out.append(Fact(f"{gpu}.peak_{prec}", _spec(name, "peak_tflops", prec), "TFLOP/s", src,
                            (rf"\b{g}(?:'s)? (?:dense )?{p}(?: peak)?(?: is|:| at)? ~?{num} ?(TFLOP/s|PFLOP/s)",
                             rf"\b{g}(?:'s)? {p} ridge point is {num} ?(TFLOP/s|PFLOP/s)"),
                            scale_units={"PFLOP/s": 1000.0, "TFLOP/s": 1.0}))
    out.append(Fact("smem.per_sm_kb", lambda: 228.0, "KB", "CUDA C++ Programming Guide, compute capability 9.0/10.0",
                    (r"(\d+) KB of shared memory(?: per SM)?", r"(\d+) KB per SM(?! of TMEM)(?=[^|\n]{0,20}shared)")))
    out.append(Fact("smem.per_block_kb", lambda: 227.0, "KB", "CUDA C++ Programming Guide, compute capability 9.0/10.0",
                    (r"(\d+) KB (?:maximum shared memory )?per (?:thread )?block",
                     r"block may use (\d+) KB")))
    out.append(Fact("tmem.per_sm_kb", _spec("B200", "tmem_kb_per_sm"), "KB", "PTX ISA, tcgen05 Tensor Memory",
                    (r"Tensor Memory \((\d+) KB per SM\)", r"(\d+) KB per-SM memory", r"TMEM[^.\n|]{0,20}?(\d+) KB")))
    return out


def _model_facts() -> list[Fact]:
    def cfg(attr: str) -> Callable[[], float]:
        def read() -> float:
            from bwkit.moe import DEEPSEEK_V3

            return getattr(DEEPSEEK_V3, attr)

        return read

    src = "deepseek-ai/DeepSeek-V3 configs/config_671B.json via bwkit.moe.DEEPSEEK_V3"
    return [
        Fact("deepseek.num_experts", cfg("num_experts"), "experts", src,
             (r"(\d+) routed experts (?:of width|and 1 shared)", r"(\d+) experts, top-")),
        Fact("deepseek.top_k", cfg("top_k"), "", src,
             (r"(?:\d+|256) experts, top-(\d+)", r"routed experts of width [\d,]+, top-(\d+)")),
        Fact("deepseek.expert_inter", cfg("expert_inter"), "", src,
             (r"expert width (\d[\d,]*)", r"routed experts of width (\d[\d,]*)")),
        Fact("deepseek.hidden_alt", cfg("hidden"), "", src, (r"shapes: hidden (\d[\d,]*)",)),
        Fact("deepseek.num_layers", cfg("num_layers"), "layers", src,
             (r"(\d+) (?:transformer )?layers(?=[^.\n]{0,20}(?:dense|the first))",)),
    ]


def _published_facts() -> list[Fact]:
    def mtp() -> float:
        from bwkit.perfmodel import MTP_ACCEPTED

        return MTP_ACCEPTED[3]

    def flashmla() -> float:
        from bwkit.perfmodel.published import FLASHMLA_H800_TFLOPS

        return FLASHMLA_H800_TFLOPS["dense decode (2025-04-22)"]

    def cutlass(kind: str) -> Callable[[], float]:
        def read() -> float:
            from bwkit.efficiency import CUTLASS_B200_PCT

            return CUTLASS_B200_PCT[kind]

        return read

    out = [
        Fact("mtp.accepted_3_drafts", mtp, "tokens/step", "TensorRT-LLM tech blog 1, MTP acceptance table (8xB200)",
             (r"(\d\.\d+) (?:tokens )?accepted(?: per step)?", r"~?(\d\.\d+) accepted")),
        Fact("flashmla.h800_dense_tflops", flashmla, "TFLOP/s", "FlashMLA README (since 2025-04-22)",
             (r"FlashMLA[^.\n|]{0,60}?dense decode (\d+)(?:/989)? TFLOP",
              r"FlashMLA[^.\n|]{0,40}?(\d+) TFLOPS on H800")),
    ]
    extra = {"BF16": (r"CUTLASS 3\.8 (?:\*\*)?publishes(?:\*\*)? \((\d+\.\d) ?% of peak at power",
                      r"(?:\d+\.\d) / (?:\d+\.\d) / (\d+\.\d) ?% \(NVFP4/FP8/BF16\)"),
             "NVFP4": (r"(\d+\.\d) / (?:\d+\.\d) / (?:\d+\.\d) ?% \(NVFP4/FP8/BF16\)",),
             "F8": (r"(?:\d+\.\d) / (\d+\.\d) / (?:\d+\.\d) ?% \(NVFP4/FP8/BF16\)",)}
    for kind in ("MXFP8", "F16", "TF32", "BF16", "S8", "MXFP4", "F8", "NVFP4"):
        out.append(Fact(f"cutlass.b200_pct_{kind}", cutlass(kind), "%", "CUTLASS 3.8 README figure (bwkit.efficiency)",
                        (rf"\b{kind}\b[ :]+(\d+\.\d) ?% of peak", rf"(\d+\.\d) ?% of peak (?:for |in )?{kind}\b")
                        + extra.get(kind, ())))
    return out


FACTS: list[Fact] = _hw_facts() + _model_facts() + _published_facts()
_BY_KEY = {f.key: f for f in FACTS}


def get(key: str) -> Fact:
    """The fact called `key` (e.g. 'B200.hbm_tbps')."""
    if key not in _BY_KEY:
        raise KeyError(f"no fact {key!r}; known: {', '.join(sorted(_BY_KEY))}")
    return _BY_KEY[key]


def find_mismatches(text: str, facts: Iterable[Fact] = FACTS) -> list[tuple[Fact, str, str]]:
    """(fact, number as written, the matched text) for every mention in `text` that differs from its fact;
    `facts` is one `Fact` or several (default: all of `FACTS`)."""
    if not isinstance(text, str):
        raise TypeError(f"find_mismatches: text must be a str (a lab's markdown), got {type(text).__name__}")
    if isinstance(facts, Fact):
        facts = (facts,)
    facts = list(facts) if isinstance(facts, Iterable) and not isinstance(facts, str) else facts
    if not isinstance(facts, list) or not all(isinstance(f, Fact) for f in facts):
        raise TypeError("find_mismatches: facts must be a Fact or several (e.g. [facts.get('B200.hbm_tbps')]), "
                        f"got {facts!r:.80}")
    out = []
    for fact in facts:
        value = fact.value
        for pattern in fact.prose:
            for m in re.finditer(pattern, text):
                written = m.group(1)
                try:
                    got = parse_number(written)
                except ValueError:
                    continue
                unit = m.group(2) if m.lastindex and m.lastindex >= 2 else None
                got *= fact.scale_units.get(unit, 1.0) if unit else 1.0
                if abs(got - value) > fact.rel_tol * abs(value) + _rounding(written) * fact.scale_units.get(unit, 1.0):
                    out.append((fact, written, m.group(0)))
    return out


def _rounding(written: str) -> float:
    """Half a unit of the last digit written: '4.5' may stand for 4.45..4.55."""
    w = written.replace(",", "")
    return 0.5 * 10 ** -(len(w.split(".")[1])) if "." in w else 0.5
