"""Checks an LMDB ``data.mdb`` against the pages its last commit uses, before LMDB maps it.

LMDB maps the whole file; reading a page past its end kills the process with SIGBUS, so a
file cut short (a copy cut short, a full disk, a truncation) must be refused before
LMDB opens it. Everything here reads with plain ``pread`` calls, never a mapping.

A file may legitimately end before the last page its meta page counts: a page a commit
allocated and freed again is never written. So a file shorter than that count is walked
(every page the two B-trees of the last commit reference, and the named databases they
hold) and refused only if one of those pages lies past its end. The walk costs a read of
the tree's pages, paid only by such a file, once, at open.
"""

from __future__ import annotations

import os
import struct
import sys

from loguru import logger

from zixir.errors import CacheError
from zixir.observability import events

__all__ = ["check_data_file"]

_MAGIC = 0xBEEFC0DE  # LMDB's MDB_MAGIC
# Of a meta page (64-bit builds): mm_magic at byte 16, the page size (the free database's
# md_pad) at 40, the free and main databases' roots at 80 and 128, mm_last_pg at 136 and
# mm_txnid at 144.
_META = struct.Struct("=16xI20xI36xQ40xQQQ")
_HEADER = struct.Struct("=Q2xHHH")  # a page: its number, flags, lower (or overflow count)
_NODE = struct.Struct("=HHHH")  # a node: lo, hi, flags, key size
_PGNO = struct.Struct("=Q")
_BRANCH, _LEAF, _OVERFLOW, _LEAF2 = 0x01, 0x02, 0x04, 0x20
_BIGDATA, _SUBDATA = 0x01, 0x02
_NO_PAGE = 2**64 - 1  # P_INVALID: an empty database's root
_DB_ROOT = 40  # md_root in an MDB_db record


def check_data_file(directory: str) -> None:
    """Refuses ``data.mdb`` in `directory` when pages its last commit uses are missing.

    A missing file is a new cache; an empty one opens as an empty cache, with a warning.
    A file whose header is not LMDB's (or another word size's) is left to LMDB to judge.

    Raises:
        CacheError: the file ends before a page its last commit uses, or cannot be read.
    """
    path = os.path.join(directory, "data.mdb")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CacheError(f"cannot read the cache file {path!r}: {exc}") from exc
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            logger.bind(event=events.CACHE_EMPTY_FILE, path=str(path)).warning(
                "cache file {} is empty (0 bytes): it opens as an empty cache", path
            )
            return
        if sys.maxsize != 2**63 - 1:
            return  # the layout read here is the 64-bit one
        need, roots, page = _needed(fd)
        if need <= size:
            return
        missing = _first_missing(fd, roots, page, size // page)
        if missing is not None:
            raise CacheError(
                f"the cache file {path!r} is damaged: it is {size} bytes long but its last "
                f"commit uses page {missing} (pages of {page} bytes, {need} bytes in all); it "
                "was cut short (a copy cut short, a full disk, a truncation). Restore it "
                "from a copy, or delete it to start an empty cache"
            )
    except OSError as exc:
        raise CacheError(f"cannot read the cache file {path!r}: {exc}") from exc
    finally:
        os.close(fd)


def _needed(fd: int) -> tuple[int, list[int], int]:
    """The bytes the newest meta page counts, its two roots and the page size; (0, [], 1)
    when the header is not LMDB's, which LMDB then refuses itself."""
    first = os.pread(fd, _META.size, 0)
    if len(first) < _META.size:
        return 0, [], 1
    magic, page, free_root, main_root, last, txnid = _META.unpack(first)
    if magic != _MAGIC or page < 256 or page & (page - 1):
        return 0, [], 1
    second = os.pread(fd, _META.size, page)
    if len(second) == _META.size:
        magic2, _, free2, main2, last2, txnid2 = _META.unpack(second)
        if magic2 == _MAGIC and txnid2 > txnid:  # LMDB opens the newer one
            free_root, main_root, last = free2, main2, last2
    return (last + 1) * page, [free_root, main_root], page


def _first_missing(fd: int, roots: list[int], page: int, pages: int) -> int | None:
    """The first page reachable from `roots` at or past page number `pages` (the end of
    the file), or None when every one is inside it. A page of an unknown kind ends its
    branch of the walk: LMDB reports that one as corrupt when it reads it."""
    stack = [root for root in roots if root != _NO_PAGE]
    seen: set[int] = set()
    while stack:
        number = stack.pop()
        if number in seen:
            continue
        seen.add(number)
        if number >= pages:
            return number
        data = os.pread(fd, page, number * page)
        _, flags, lower, _ = _HEADER.unpack_from(data)
        if flags & _LEAF2 or not flags & (_BRANCH | _LEAF):
            continue
        for slot in range(16, min(lower, page), 2):
            offset = int.from_bytes(data[slot : slot + 2], sys.byteorder)
            if offset + _NODE.size > page:
                break
            lo, hi, node_flags, key_size = _NODE.unpack_from(data, offset)
            if flags & _BRANCH:
                stack.append(lo | hi << 16 | node_flags << 32)
                continue
            value = offset + _NODE.size + key_size
            if node_flags & _BIGDATA and value + 8 <= page:
                missing = _overflow_missing(fd, _PGNO.unpack_from(data, value)[0], page, pages)
                if missing is not None:
                    return missing
            elif node_flags & _SUBDATA and value + _DB_ROOT + 8 <= page:
                root = _PGNO.unpack_from(data, value + _DB_ROOT)[0]
                if root != _NO_PAGE:
                    stack.append(root)
    return None


def _overflow_missing(fd: int, first: int, page: int, pages: int) -> int | None:
    """The first page of the overflow run starting at `first` that is past the end of the
    file (its first or its last), or None when the whole run is inside it."""
    if first >= pages:
        return first
    header = os.pread(fd, _HEADER.size, first * page)
    count = int.from_bytes(header[12:16], sys.byteorder)  # mp_pages
    last = first + max(count, 1) - 1
    return last if last >= pages else None
