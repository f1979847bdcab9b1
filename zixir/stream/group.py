"""Streams that share one run of another: `tee` (every branch sees every item, within a
bounded lag) and `group_by` (one bounded substream per key)."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

from zixir import _validate
from zixir.errors import AsyncSourceError, BufferFullError, GroupLimitError, SourceConsumedError
from zixir.stream.buffer import check_overflow
from zixir.stream.run import Run
from zixir.stream.sources import Source
from zixir.stream.stages import Stage
from zixir.stream.stats import Tally
from zixir.stream.timing import _aclose, _close

if TYPE_CHECKING:
    from zixir.stream.stream import Stream

__all__ = ["GroupBy", "tee"]


class _Tee:
    """The run the branches of a tee share, and each branch's items not yet read."""

    def __init__(self, stream: Stream[Any], n: int, max_lag: int) -> None:
        self.stream = stream
        self.max_lag = max_lag
        self.buffers: list[deque[Any] | None] = [deque() for _ in range(n)]  # None: branch closed
        self.opened = [False] * n
        self.mode: str | None = None
        self.it: Any = None
        self.done = False
        self.error: BaseException | None = None
        self.cond = threading.Condition()
        self.acond: asyncio.Condition | None = None

    def claim(self, index: int, mode: str) -> None:
        with self.cond:
            if self.opened[index]:
                raise SourceConsumedError(f"tee branch {index} was run already: each branch of a tee runs once")
            if self.mode not in (None, mode):
                raise AsyncSourceError(f"the branches of this tee run {self.mode}; branch {index} cannot run {mode}")
            self.opened[index] = True
            self.mode = mode

    def _ahead(self, index: int) -> bool:
        return any(buf is not None and len(buf) >= self.max_lag for j, buf in enumerate(self.buffers) if j != index)

    def _route(self, item: Any) -> None:
        for buf in self.buffers:
            if buf is not None:
                buf.append(item)

    def _leave(self, index: int) -> bool:
        """Closes a branch; True when it was the last open one."""
        self.buffers[index] = None
        return all(buf is None for buf in self.buffers)

    def pull(self, index: int) -> Iterator[Any]:
        try:
            while True:
                with self.cond:
                    buf = self.buffers[index]
                    assert buf is not None
                    while not buf and not self.done and self._ahead(index):
                        self.cond.wait()  # the slowest branch is max_lag behind: wait for it
                    if not buf and not self.done:
                        if self.it is None:
                            self.it = iter(self.stream)
                        try:
                            self._route(next(self.it))
                        except StopIteration:
                            self.done = True
                        except BaseException as error:
                            self.done, self.error = True, error
                        self.cond.notify_all()
                    if buf:
                        item = buf.popleft()
                        self.cond.notify_all()
                    elif self.error is not None:
                        raise self.error
                    else:
                        return
                yield item
        finally:
            with self.cond:
                last = self._leave(index)
                self.cond.notify_all()
            if last and self.it is not None:
                _close(self.it)

    async def apull(self, index: int) -> AsyncIterator[Any]:
        if self.acond is None:
            self.acond = asyncio.Condition()
        cond = self.acond
        try:
            while True:
                async with cond:
                    buf = self.buffers[index]
                    assert buf is not None
                    while not buf and not self.done and self._ahead(index):
                        await cond.wait()
                    if not buf and not self.done:
                        if self.it is None:
                            self.it = self.stream.__aiter__()
                        try:
                            self._route(await anext(self.it))
                        except StopAsyncIteration:
                            self.done = True
                        except Exception as error:
                            self.done, self.error = True, error
                        cond.notify_all()
                    if buf:
                        item = buf.popleft()
                        cond.notify_all()
                    elif self.error is not None:
                        raise self.error
                    else:
                        return
                yield item
        finally:
            async with cond:
                last = self._leave(index)
                cond.notify_all()
            if last and self.it is not None:
                await _aclose(self.it)


class _TeeSource(Source):
    def __init__(self, shared: _Tee, index: int) -> None:
        self.shared = shared
        self.index = index

    def is_async(self) -> bool:
        return self.shared.stream._source.is_async()

    def open_sync(self, run: Run) -> Iterator[Any]:
        self.shared.claim(self.index, "sync")
        return self.shared.pull(self.index)

    def open_async(self, run: Run) -> AsyncIterator[Any]:
        self.shared.claim(self.index, "async")
        return self.shared.apull(self.index)

    def describe(self) -> str:
        return f"tee branch {self.index}"


def tee(stream: Stream[Any], n: int, max_lag: int) -> tuple[Stream[Any], ...]:
    """`n` branch streams over one shared run of `stream`."""
    from zixir.stream.stream import Stream

    shared = _Tee(stream, _validate.whole("n", n), _validate.whole("max_lag", max_lag))
    branches = []
    for index in range(n):
        branch: Stream[Any] = Stream(())
        branch._source = _TeeSource(shared, index)
        branches.append(branch)
    return tuple(branches)


class _Group:
    __slots__ = ("closed", "items", "key")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.items: deque[Any] = deque()
        self.closed = False


class _Router:
    """Reads upstream for the outer stream and every group, and routes each item."""

    def __init__(self, stage: GroupBy, up: Any, tally: Tally) -> None:
        self.stage = stage
        self.up = up
        self.tally = tally
        self.groups: dict[Hashable, _Group] = {}
        self.new: deque[_Group] = deque()
        self.done = False
        self.error: BaseException | None = None
        self.lock = threading.RLock()
        self.alock: asyncio.Lock | None = None

    def _route(self, item: Any) -> None:
        stage, tally = self.stage, self.tally
        tally.inp.n += 1
        key = stage.key(item)
        group = self.groups.get(key)
        if group is None:
            open_groups = sum(1 for g in self.groups.values() if not g.closed)
            if open_groups >= stage.max_groups:
                raise GroupLimitError(
                    f"group_by {tally.name!r} met a new key {key!r} with max_groups={stage.max_groups} groups "
                    "open: raise max_groups, or close groups you are done with",
                    stage.max_groups,
                )
            group = self.groups[key] = _Group(key)
            self.new.append(group)
        if group.closed:
            tally.skipped += 1
            return
        if len(group.items) >= stage.buffer:
            if stage.overflow == "fail":
                raise BufferFullError(
                    f"group {key!r} of group_by {tally.name!r} holds {stage.buffer} unread items: read "
                    'each group as it comes, raise buffer=, or choose overflow="drop_oldest"',
                    stage.buffer,
                )
            tally.skipped += 1
            if stage.overflow == "drop_newest":
                return
            group.items.popleft()
        group.items.append(item)

    def _failed(self, error: BaseException) -> None:
        self.done, self.error = True, error

    def step(self) -> None:
        """Reads and routes one upstream item (sync runs); call with `lock` held."""
        try:
            self._route(next(self.up))
        except StopIteration:
            self.done = True
        except BaseException as error:
            self._failed(error)
            raise

    async def astep(self) -> None:
        try:
            self._route(await anext(self.up))
        except StopAsyncIteration:
            self.done = True
        except BaseException as error:
            self._failed(error)
            raise

    def group_items(self, group: _Group) -> Iterator[Any]:
        try:
            while True:
                with self.lock:
                    while not group.items and not self.done:
                        self.step()
                    if not group.items:
                        return
                    item = group.items.popleft()
                yield item
        finally:
            group.closed = True
            group.items.clear()

    async def agroup_items(self, group: _Group) -> AsyncIterator[Any]:
        assert self.alock is not None
        try:
            while True:
                async with self.alock:
                    while not group.items and not self.done:
                        await self.astep()
                    if not group.items:
                        return
                    item = group.items.popleft()
                yield item
        finally:
            group.closed = True
            group.items.clear()


class _GroupSource(Source):
    def __init__(self, router: _Router, group: _Group, is_async: bool) -> None:
        self.router = router
        self.group = group
        self._async = is_async
        self._used = False

    def is_async(self) -> bool:
        return self._async

    def _claim(self) -> None:
        if self._used:
            raise SourceConsumedError(f"the group {self.group.key!r} was run already: each group runs once")
        self._used = True

    def open_sync(self, run: Run) -> Iterator[Any]:
        if self._async:
            raise AsyncSourceError("this group belongs to an async run: iterate it with `async for`")
        self._claim()
        return self.router.group_items(self.group)

    def open_async(self, run: Run) -> AsyncIterator[Any]:
        self._claim()
        return self.router.agroup_items(self.group)

    def describe(self) -> str:
        return f"group {self.group.key!r}"


class GroupBy(Stage):
    operator = "group_by"

    def __init__(
        self, key: Callable[[Any], Hashable], max_groups: int, buffer: int, overflow: str, name: str | None
    ) -> None:
        super().__init__(name)
        self.key = _validate.function("key", key, "a function from an item to its group's key")
        self.max_groups = _validate.whole("max_groups", max_groups)
        self.buffer = _validate.whole("buffer", buffer)
        self.overflow = check_overflow(overflow, ("fail", "drop_oldest", "drop_newest"))

    def _pair(self, router: _Router, group: _Group, is_async: bool) -> tuple[Hashable, Stream[Any]]:
        from zixir.stream.stream import Stream

        sub: Stream[Any] = Stream(())
        sub._source = _GroupSource(router, group, is_async)
        return group.key, sub

    def sync(self, up: Iterator[Any], tally: Tally, run: Run) -> Iterator[Any]:
        router = _Router(self, up, tally)
        try:
            while True:
                with router.lock:
                    while not router.new and not router.done:
                        router.step()
                    if not router.new:
                        if router.error is not None:
                            raise router.error
                        return
                    group = router.new.popleft()
                yield self._pair(router, group, False)
        finally:
            with router.lock:
                router.done = True
            _close(up)

    async def aio(self, up: AsyncIterator[Any], tally: Tally, run: Run) -> AsyncIterator[Any]:
        router = _Router(self, up, tally)
        router.alock = asyncio.Lock()
        try:
            while True:
                async with router.alock:
                    while not router.new and not router.done:
                        await router.astep()
                    if not router.new:
                        if router.error is not None:
                            raise router.error
                        return
                    group = router.new.popleft()
                yield self._pair(router, group, True)
        finally:
            router.done = True
            await _aclose(up)
