"""Names of points: the run directory of each point, `key=value,key=value,...` (docs/sweeps.md).

Two distinct points never share a directory. A name is its points' grid values in spec order, each key at
most once, so the name is injective if (1) it can be split back into its keys and values and (2) no axis has
two values with the same text. (1): a key or a scalar value keeps the characters SAFE and escapes every other
one as %XX (its UTF-8 bytes), `%` itself included, so `,`, `=`, `[`, `]`, `/` and control characters appear
only as the separators this module writes; a list is `[a,b]` of such values. (2): the spec refuses an axis
whose values read the same (spec.py: `[1, 1.0]`, the same tables in another key order). Names made only of
SAFE characters, as every published sweep's are, are what they were before escaping existed. A name longer
than a file name may be (255 bytes) is cut and ends with `~` and 16 hex digits of its SHA-256: `~` is never
SAFE, so a cut name cannot equal a whole one.
"""
from __future__ import annotations

import hashlib
import string
from typing import Any

SAFE = frozenset(string.ascii_letters + string.digits + "._+-")
NAME_MAX = 255  # bytes in a file name (Linux, and most file systems)
HASH_DIGITS = 16


def label_text(value: Any) -> str:
    """A grid value as tables and plots show it (and names spell it, escaped): an integral float as an
    integer (`power=1` for 1.0), a list as [a,b]."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(label_text(v) for v in value) + "]"
    return str(value)


def escape(text: str) -> str:
    """`text` with every character outside SAFE as %XX per UTF-8 byte."""
    return "".join(c if c in SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text)


def value_name(value: Any) -> str:
    """A grid value as a name spells it: label_text, escaped; a list's brackets and commas kept."""
    if isinstance(value, list):
        return "[" + ",".join(value_name(v) for v in value) + "]"
    return escape(label_text(value))


def items_name(items: list[tuple[str, Any]], short: dict[str, str] | None = None) -> str:
    """`key=value,...` of (key, value) pairs, each key as `short` names it."""
    short = short or {}
    return ",".join(f"{escape(short.get(k, k))}={value_name(v)}" for k, v in items)


def short_names(keys: list[str]) -> dict[str, str]:
    """`section.key` → `key` in directory names, unless two keys would share it."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def point_name(items: list[tuple[str, Any]], short: dict[str, str]) -> str:
    """The directory name of a point with these grid values (module docstring); "base" without any."""
    name = items_name(items, short) or "base"
    if len(name) > NAME_MAX:  # every character is ASCII once escaped
        name = name[:NAME_MAX - HASH_DIGITS - 1] + "~" + hashlib.sha256(name.encode()).hexdigest()[:HASH_DIGITS]
    return name
