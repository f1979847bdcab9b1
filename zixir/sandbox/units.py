"""Memory sizes as people write them: ``"512MB"``, ``"1.5G"``, ``"256MiB"``, or plain bytes.

`parse_memory` reads them for the sandbox's `memory`, `max_output` and `max_worker_memory`.
"""

from __future__ import annotations

import re
from decimal import Decimal

from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["format_memory", "parse_memory"]

_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)
_ACCEPTED = (
    'an int (bytes) or a str such as "512MB", "2GB", "1.5G", "256MiB" or "10KB": '
    "KB/MB/GB/TB count in 1000s, KiB/MiB/GiB/TiB and bare K/M/G/T in 1024s, "
    "B or no unit is bytes (case-insensitive)"
)


def parse_memory(value: int | str, name: str = "memory") -> int:
    """Reads a memory size.

    Units are case-insensitive: ``KB``, ``MB``, ``GB``, ``TB`` are decimal (1000-based);
    ``KiB``, ``MiB``, ``GiB``, ``TiB`` are binary (1024-based), and so are the bare
    ``K``, ``M``, ``G``, ``T`` (as in ``ulimit`` and ``docker run -m``); ``B`` or no unit
    means bytes. Fractions are allowed (``"1.5G"``) and rounded down to whole bytes.

    Args:
        value: Bytes as an int, or a size string.
        name: The argument's name, for error messages.

    Returns:
        The size in bytes (at least 1).

    Raises:
        ArgumentTypeError: `value` is neither an int nor a str (bools are refused); a
            TypeError whose ``.argument`` is `name`.
        InvalidArgumentError: The string is not a size in an accepted form (the message
            lists them), or the size is below one byte; a ValueError whose ``.argument``
            is `name`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ArgumentTypeError(f"{name} must be {_ACCEPTED}; got {value!r}", name)
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(value)
        unit = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise InvalidArgumentError(f"{name} must be {_ACCEPTED}; got {value!r}", name)
        size = int(Decimal(match.group(1)) * unit)
    if size < 1:
        raise InvalidArgumentError(f"{name} must be at least 1 byte; got {value!r}", name)
    return size


def format_memory(size: float) -> str:
    """Formats bytes for messages: ``format_memory(67_108_864) == "64.0 MiB"``."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
