"""LMDB's last committed transaction id, read from the two meta pages of ``data.mdb``.

The memory tier's staleness check needs only that id; mapping the meta pages read-only
gives it for two memory reads, where a read transaction costs a begin and an abort.
"""

from __future__ import annotations

import mmap
import os
import sys
from typing import Any

from loguru import logger

from zixir.observability import events

__all__ = ["MetaPages"]

_MAGIC, _VERSION = 0xBEEFC0DE, 1  # LMDB's MDB_MAGIC and MDB_DATA_VERSION
# A meta page: a 16-byte page header, then mm_magic and mm_version (u32 each), mm_address,
# mm_mapsize, two 48-byte MDB_db records and mm_last_pg (8 bytes each on 64-bit builds),
# then mm_txnid: at byte 144, word 18 of the page.
_MAGIC_WORD, _TXNID_WORD = 2, 18


class MetaPages:
    """The meta pages of one environment's ``data.mdb``, mapped read-only.

    LMDB writes each commit's meta page (alternating between the two) after the commit's
    data, so the larger of their transaction ids is the last commit whose data every
    process can read: what `Environment.info()` reports as ``last_txnid``, without its
    dict. A torn read during a commit can only give a wrong id, which never equals the
    tier's own unless no commit happened, so callers serve from memory on equality only.

    Attributes:
        view: The mapped pages as unsigned 64-bit words.
        first: The word of the first page's transaction id.
        second: The word of the second page's.
    """

    def __init__(self, handle: Any, mapped: mmap.mmap, first: int, second: int) -> None:
        self._file = handle
        self._map = mapped
        self._bytes = memoryview(mapped)
        self.view = self._bytes.cast("Q")
        self.first = first
        self.second = second

    @classmethod
    def open(cls, path: str, env: Any) -> MetaPages | None:
        """Maps the meta pages of the environment `env` open at `path`; None when the
        file's layout is not the one described here (another word size or byte order, a
        newer LMDB format), and then the caller opens a read transaction instead."""
        if sys.byteorder != "little" or sys.maxsize != 2**63 - 1:
            return None
        page = env.stat()["psize"]
        try:
            handle = open(os.path.join(path, "data.mdb"), "rb")  # noqa: SIM115 - closed by close()
        except OSError:
            return None
        try:
            # Reading a mapped page past the end of the file kills the process (SIGBUS)
            if os.fstat(handle.fileno()).st_size < 2 * page:
                raise ValueError("shorter than its two meta pages")
            mapped = mmap.mmap(handle.fileno(), 2 * page, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            handle.close()
            return None
        pages = cls(handle, mapped, _TXNID_WORD, page // 8 + _TXNID_WORD)
        words = pages.view
        expected = _MAGIC | _VERSION << 32
        if (
            words[_MAGIC_WORD] != expected
            or words[page // 8 + _MAGIC_WORD] != expected
            or (pages.last_txnid() != env.info()["last_txnid"])
        ):
            logger.bind(event=events.CACHE_META_UNKNOWN, path=str(path)).debug(
                "cache {}: unknown meta page layout, using read transactions", path
            )
            pages.close()
            return None
        return pages

    def last_txnid(self) -> int:
        """The id of the last committed transaction."""
        first, second = self.view[self.first], self.view[self.second]
        return int(max(second, first))

    def close(self) -> None:
        """Unmaps the pages (no view of them may be in use)."""
        self.view.release()
        self._bytes.release()
        self._map.close()
        self._file.close()
