"""Plain-data encoding of exercise inputs and answers: JSON with tensors as raw bytes, never pickle.

The grader sends an exercise's inputs into a student's sandboxed kernel and reads the answers back as data; the
self-study check takes the same round trip, so both paths see the same values. Encoded: None, bool, int, float
(NaN and infinities too), str, list, tuple, dict, torch tensors (any dtype, fp8/fp4 included) and NumPy arrays
(raw bytes, base64), NumPy scalars (float32/float16 keep their dtype), dataclass instances of `bwkit` modules (by
field), and exceptions raised while computing an answer. Anything else becomes an `Opaque` (its type name and a
short repr). Decoding builds only those types: a dataclass is rebuilt only if its class lives in a `bwkit` module.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["encode", "decode", "dumps", "loads", "Opaque", "AnswerError", "Unanswerable", "Encoded", "CodecError",
           "MAX_BYTES", "STUB_MESSAGE"]

MAX_BYTES = 64 * 2**20   # one answer or input payload, encoded

# what the stub of an exercise raises (`bwkit make-labs`: 'Exercise NN.k (title): write your code here')
STUB_MESSAGE = re.compile(r"Exercise \d+\.\d+\b.*write your code here", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")   # terminal colour codes


class CodecError(ValueError):
    """A payload that is not plain data this codec knows, or one that is too large."""


@dataclass(frozen=True)
class Opaque:
    """An answer the codec cannot carry as data: its type name and a short repr."""

    type: str
    repr: str


@dataclass(frozen=True)
class AnswerError:
    """The learner's code raised while the answer was computed (type, message, and kernel-side details)."""

    type: str
    message: str
    details: dict | None = None

    @property
    def not_implemented(self) -> bool:
        """True when the stub is still in place: a NotImplementedError with the stub's message ('Exercise NN.k
        (title): write your code here'; nbgrader's stub has none, `raise NotImplementedError()`), not any
        NotImplementedError (a helper's 'only for FP8', a meta tensor's 'Cannot copy out of meta tensor')."""
        if self.type not in ("NotImplementedError", "NotAnswered"):
            return False
        text = self.message.strip()
        return not text or bool(STUB_MESSAGE.search(text)) or "raise NotImplementedError()" in text


@dataclass(frozen=True)
class Unanswerable:
    """No answer for one input, through no exception of the learner's code: it could not be carried (`kind`
    "unreadable": too large, not data), or it ran past the check's time limit ("timeout"); `text` says which."""

    kind: str
    text: str


@dataclass(frozen=True)
class Encoded:
    """A value already encoded (`encode(value)`): `encode` passes its data through as is."""

    data: Any


def _tensor_dtypes():
    import torch

    names = {}
    for n in dir(torch):
        v = getattr(torch, n)
        if isinstance(v, torch.dtype):
            names[str(v).replace("torch.", "")] = v
    return names


def encode(x: Any, _depth: int = 0) -> Any:
    """`x` as JSON-able data (see the module docstring for what is carried)."""
    import numpy as np

    if _depth > 40:
        raise CodecError("answer nested more than 40 levels deep")
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return x if abs(x) < 2**63 else {"__bigint__": str(x)}
    if isinstance(x, float):        # np.float64 is a float: repr(float(x)) is 'nan', not 'np.float64(nan)'
        return float(x) if math.isfinite(x) else {"__float__": repr(float(x))}
    if isinstance(x, np.floating) and x.dtype != np.float64:   # keep the precision: it sets the tolerance
        return {"__npscalar__": {"dtype": x.dtype.str, "value": encode(float(x), _depth + 1)}}
    if isinstance(x, np.generic):
        return encode(x.item(), _depth + 1)
    if isinstance(x, BaseException):
        details = getattr(x, "details", None)
        message = _ANSI.sub("", str(x))[:4000]            # CuTe DSL colours its errors for a terminal
        return {"__error__": {"type": type(x).__name__, "message": message,
                              "details": details if isinstance(details, dict) else None}}
    if isinstance(x, AnswerError):
        return {"__error__": {"type": x.type, "message": x.message, "details": x.details}}
    if isinstance(x, Encoded):
        return x.data
    if isinstance(x, Unanswerable):
        return {"__unanswerable__": {"kind": str(x.kind), "text": str(x.text)}}
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        t = x.detach().cpu().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return {"__tensor__": {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                               "data": base64.b64encode(raw).decode("ascii")}}
    if isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x)
        if a.dtype.kind not in "biufc":
            raise CodecError(f"NumPy arrays of dtype {a.dtype} are not carried")
        return {"__ndarray__": {"dtype": a.dtype.str, "shape": list(a.shape),
                                "data": base64.b64encode(a.tobytes()).decode("ascii")}}
    if isinstance(x, list):
        return [encode(v, _depth + 1) for v in x]
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return {"__tuple__": [encode(v, _depth + 1) for v in x]}
    if isinstance(x, dict):
        return {"__dict__": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in x.items()]}
    if dataclasses.is_dataclass(x) and not isinstance(x, type) and type(x).__module__.startswith("bwkit."):
        cls = type(x)
        fields = {f.name: encode(getattr(x, f.name), _depth + 1) for f in dataclasses.fields(x) if f.init}
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if isinstance(x, Opaque):
        return {"__object__": {"type": x.type, "repr": x.repr}}
    text = repr(x)
    return {"__object__": {"type": type(x).__name__, "repr": text if len(text) < 200 else text[:197] + "..."}}


def decode(d: Any) -> Any:
    """Inverse of `encode` (tensors come back with their dtype and shape; unknown objects as `Opaque`)."""
    import numpy as np

    if d is None or isinstance(d, (bool, int, float, str)):
        return d
    if isinstance(d, list):
        return [decode(v) for v in d]
    if not isinstance(d, dict) or len(d) not in (1, 2):
        raise CodecError(f"not an encoded value: {str(d)[:80]}")
    if "__tuple__" in d:
        return tuple(decode(v) for v in d["__tuple__"])
    if "__dict__" in d:
        return {_key(decode(k)): decode(v) for k, v in d["__dict__"]}
    if "__float__" in d:
        return float(d["__float__"])
    if "__npscalar__" in d:
        s = d["__npscalar__"]
        dt = np.dtype(s["dtype"])
        if dt.kind != "f":
            raise CodecError(f"NumPy scalar dtype {dt} is not carried")
        return dt.type(decode(s["value"]))
    if "__bigint__" in d:
        return int(d["__bigint__"])
    if "__error__" in d:
        e = d["__error__"]
        return AnswerError(str(e.get("type")), str(e.get("message")), e.get("details"))
    if "__unanswerable__" in d:
        u = d["__unanswerable__"]
        return Unanswerable(str(u.get("kind")), str(u.get("text")))
    if "__object__" in d:
        return Opaque(str(d["__object__"].get("type")), str(d["__object__"].get("repr")))
    if "__tensor__" in d:
        import torch

        t = d["__tensor__"]
        dtype = _tensor_dtypes().get(t["dtype"])
        if dtype is None:
            raise CodecError(f"unknown tensor dtype {t['dtype']!r}")
        raw = base64.b64decode(t["data"])
        shape = _shape(t["shape"], dtype.itemsize, len(raw))
        if not raw:
            return torch.empty(shape, dtype=dtype)
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
        return flat.view(dtype).reshape(shape).clone()
    if "__ndarray__" in d:
        a = d["__ndarray__"]
        dt = np.dtype(a["dtype"])
        if dt.kind not in "biufc":
            raise CodecError(f"NumPy dtype {dt} is not carried")
        raw = base64.b64decode(a["data"])
        return np.frombuffer(raw, dtype=dt).reshape(_shape(a["shape"], dt.itemsize, len(raw))).copy()
    if "__dataclass__" in d:
        mod_name, _, qual = str(d["__dataclass__"]).partition(":")
        if not mod_name.startswith("bwkit.") or "." in qual:
            raise CodecError(f"refusing to build {d['__dataclass__']!r}: only bwkit dataclasses are carried")
        cls = getattr(importlib.import_module(mod_name), qual, None)
        if cls is None or not dataclasses.is_dataclass(cls):
            raise CodecError(f"{d['__dataclass__']!r} is not a dataclass")
        return cls(**{k: decode(v) for k, v in d["fields"].items()})
    raise CodecError(f"not an encoded value: {str(d)[:80]}")


def _shape(shape: Any, itemsize: int, nbytes: int) -> list[int]:
    """A carried shape, checked against the data it came with: the element count times the item size must be
    the data's length and within `MAX_BYTES` (an empty "data" with shape [16384, 16384] would otherwise make the
    grader allocate 2 GiB for a 200-byte answer)."""
    if not isinstance(shape, list) or len(shape) > 32 or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_BYTES for n in shape):
        raise CodecError(f"not a shape: {str(shape)[:80]}")
    count = 1
    for n in shape:
        count *= n
        if count * max(itemsize, 1) > MAX_BYTES:
            raise CodecError(f"a tensor of shape {shape} is over the {MAX_BYTES // 2**20} MiB limit")
    if count * itemsize != nbytes:
        raise CodecError(f"a tensor of shape {shape} needs {count * itemsize} bytes of data, got {nbytes}")
    return shape


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def dumps(x: Any) -> str:
    """`encode` then JSON text; raises CodecError above MAX_BYTES."""
    text = json.dumps(encode(x), separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_BYTES:
        raise CodecError(f"payload of {len(text) / 2**20:.0f} MiB is over the {MAX_BYTES // 2**20} MiB limit")
    return text


def loads(text: str) -> Any:
    """JSON text then `decode`; raises CodecError on anything that is not plain data."""
    if len(text) > MAX_BYTES:
        raise CodecError(f"payload of {len(text) / 2**20:.0f} MiB is over the {MAX_BYTES // 2**20} MiB limit")
    try:
        return decode(json.loads(text))
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as e:
        raise CodecError(f"not a payload: {e}") from e
