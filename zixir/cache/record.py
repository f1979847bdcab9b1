"""The layout of a stored cache record: expiry, full key for hashed keys, then the value.

``>dI`` header: absolute expiry in wall-clock seconds (inf: never) and the length of the
full encoded key that follows it (0 unless the LMDB key is a hash); then the payload.
"""

from __future__ import annotations

import math
import struct

from zixir import serialization

__all__ = ["CURRENT_FORMAT", "FOREVER", "RECORD_HEADER", "expiry_of"]

RECORD_HEADER = struct.Struct(">dI")
#: The expiry of an entry that never expires.
FOREVER = math.inf
#: How every payload written now starts (zixir.serialization's header).
CURRENT_FORMAT = serialization.dumps(None)[:2]


def expiry_of(record: bytes) -> float:
    """The absolute expiry time stored in `record`."""
    return float(RECORD_HEADER.unpack_from(record)[0])
