"""A child placed on Ray, as its supervisor sees it: `RayChild`, a stand-in actor in this
process that runs the child's actor in a Ray actor, watches it, and stops or kills it.

The supervisor starts, monitors, restarts and stops the stand-in like any child; the
stand-in turns what happens to the Ray actor into what happens to itself. A crash in the
Ray actor (a told message raised) or the loss of it (``ray.kill``, its worker or node
died, out of memory) crashes the stand-in with the remote reason; a deliberate stop of
the stand-in stops the Ray actor; however the stand-in exits, it kills its Ray actor.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Final, cast

import pykka
from loguru import logger

from zixir._counters import counter
from zixir.actors.actor import Actor
from zixir.errors import ChildStartError, RayActorDiedError
from zixir.observability import events
from zixir.ray.calls import last_line
from zixir.ray.protocol import Failure, RemoteExit, Started
from zixir.ray.ref import RayChildRef

if TYPE_CHECKING:
    from zixir.actors.messages import ExitReason
    from zixir.actors.ref import ActorRef
    from zixir.actors.spec import ChildSpec
    from zixir.ray.placement import RayPlacement

__all__ = ["KILL_WAIT", "RAY_ACTOR_PREFIX", "RayChild"]

#: The start of the Ray actor names of placed children: ``zixir/<child name>/<uuid>``
#: (``ray.util.list_named_actors()`` lists the living ones).
RAY_ACTOR_PREFIX: Final = "zixir/"
#: Seconds an exiting stand-in waits for Ray to report its Ray actor dead after killing it.
KILL_WAIT: Final = 10.0

# Labelled by class names the code declares and the causes `failures.Cause` lists.
_DEATHS = counter(
    "zixir_ray_child_deaths",
    "Children's Ray actors that ended without being asked to, by actor class and cause",
    ("actor_class", "cause"),
)


class RayChild(Actor):
    """Stands in, in this process, for a child whose actor runs in a Ray actor.

    Its ref is a `RayChildRef`, whose messages go to the Ray actor directly.

    Args:
        spec: The child's spec; it has a placement.
    """

    def __init__(self, spec: ChildSpec) -> None:
        self._spec = spec  # before Actor.__init__, which makes the ref from it
        super().__init__()
        self._ray_actor: Any = None
        self._closing = False  # this side ends the Ray actor: its watch's answer is no news
        self._remote_ended = False  # the actor in the Ray actor has ended (crashed or stopped itself)

    def __str__(self) -> str:
        return f"{self._spec.actor_class.__name__} on Ray ({self.actor_urn})"

    def _new_ref(self) -> ActorRef[Any]:
        return RayChildRef(self, self._spec.actor_class, cast("RayPlacement", self._spec.placement))

    @property
    def ref(self) -> RayChildRef:
        """The child's ref (what `whereis` gives for it)."""
        return cast(RayChildRef, self.actor_ref)

    # ---- starting ---------------------------------------------------------------------

    def on_start(self) -> None:
        """Creates the Ray actor, waits (up to the spec's start_timeout) for it to be placed
        and to run the actor's ``on_start``, then watches it.

        Raises:
            ChildStartError: not connected to Ray, the placement could not be met in time,
                ``on_start`` did not return in time, or the Ray actor died while starting.
            RemoteError: ``__init__`` or ``on_start`` raised in the Ray actor.
        """
        from zixir.ray._runtime import require_ray
        from zixir.ray.connection import connected
        from zixir.ray.host import WATCH_GROUP, remote_class

        ray = require_ray("ChildSpec(placement=...)")
        spec, name = self._spec, self._spec.name
        placement = cast("RayPlacement", spec.placement)
        if connected() is None:
            raise ChildStartError(
                f"child {name!r} is placed on Ray ({placement!r}) but this process is not connected to a "
                "Ray cluster; call zixir.ray.connect() before starting it",
                name,
            )
        options = placement.ray_options()
        _shippable(spec.actor_class)
        label = f"{RAY_ACTOR_PREFIX}{name}/{self.actor_urn.rsplit(':', 1)[-1]}"
        host = self._ray_actor = (
            remote_class().options(name=label, **options).remote(spec.actor_class, spec.args, dict(spec.kwargs), name)
        )
        placed = host.ping.remote()
        started = host.start.remote()
        ready, _ = ray.wait([started], timeout=spec.start_timeout)
        if not ready:
            raise ChildStartError(self._late(bool(ray.wait([placed], timeout=0)[0])), name)
        try:
            outcome: Started | Failure = ray.get(started)
        except ray.exceptions.RayActorError as exc:
            from zixir.ray.failures import cause_of

            raise ChildStartError(
                f"child {name!r}: its Ray actor ({placement!r}) died while starting "
                f"({cause_of(exc)}): {last_line(exc)}",
                name,
            ) from None
        if type(outcome) is Failure:
            raise outcome.remote_error()
        self.ref.attach(host, cast(Started, outcome).attributes)
        host.watch.options(concurrency_group=WATCH_GROUP).remote().future().add_done_callback(self._watched)

    def _late(self, placed: bool) -> str:
        spec = self._spec
        if not placed:
            return (
                f"child {spec.name!r} could not be placed on Ray within its start_timeout of "
                f"{spec.start_timeout} s: no node could give it {spec.placement!r} (Ray keeps such an actor "
                "pending until one can); its Ray actor was killed. Free or add resources, ask for less, "
                "or raise start_timeout"
            )
        return (
            f"child {spec.name!r} did not return from on_start in its Ray actor within its start_timeout "
            f"of {spec.start_timeout} s; its Ray actor was killed. Make on_start return sooner (move long "
            "work to a message told from it) or raise start_timeout"
        )

    # ---- watching -----------------------------------------------------------------------

    def _watched(self, done: Any) -> None:
        """Ray's callback (in one of Ray's threads) once the watch answered: tells the stand-in."""
        try:
            message = RemoteExit(done.result(), None)
        except BaseException as exc:
            message = RemoteExit(None, exc)
        with contextlib.suppress(pykka.ActorDeadError):  # the stand-in has stopped meanwhile
            self.ref.tell(message)

    def on_receive(self, message: Any) -> Any:
        """Handles the watch's news; the child's own messages never come here."""
        if type(message) is RemoteExit:
            self._remote_exit(message)
            return None
        return super().on_receive(message)

    def _remote_exit(self, news: RemoteExit) -> None:
        if self._closing:
            return
        self._remote_ended = True
        spec = self._spec
        if news.error is not None:
            from zixir.ray.failures import cause_of

            cause = cause_of(news.error)
            why = last_line(news.error)
            self._died(cause, RayActorDiedError.__name__, why)
            raise RayActorDiedError(f"child {spec.name!r} lost its Ray actor ({cause}): {why}", spec.name, cause)
        ended = news.exit
        assert ended is not None
        if ended.kind == "crash":
            assert ended.failure is not None
            self._drain()
            self._died("exception", ended.failure.type_name, ended.failure.traceback)
            raise ended.failure.remote_error()
        if ended.kind == "normal":
            self.stop()  # it stopped itself: so does the child
        else:
            self.actor_ref.stop(block=False)  # it was stopped from outside: so is the child

    def _drain(self) -> None:
        """Waits until the call that crashed the Ray actor has answered (an ask of a class with
        ``crash_on_ask_error``): a call queued behind it runs once it has, and the kill that
        follows the crash must not take that answer away from its caller."""
        import ray

        if self._ray_actor is None:
            return
        with contextlib.suppress(Exception):  # gone already, or disconnected: nothing to wait for
            ray.get(self._ray_actor.call.remote(None), timeout=KILL_WAIT)

    def _died(self, cause: str, error_type: str, detail: str) -> None:
        spec = self._spec
        actor_class = spec.actor_class.__name__
        _DEATHS.labels(actor_class, cause).inc()
        logger.bind(
            event=events.RAY_CHILD_DIED, child=spec.name, actor_class=actor_class, cause=cause, error_type=error_type
        ).error("Child {!r} on Ray ended ({}): {}\n{}", spec.name, cause, error_type, detail)

    # ---- stopping -----------------------------------------------------------------------

    def on_stop(self) -> None:
        """A deliberate stop: the actor's ``on_stop`` runs in the Ray actor within the spec's
        shutdown timeout, then the Ray actor is killed (``ref.stop()`` returns once it is dead).

        A stop *told* to the stand-in while its Ray actor runs comes from a supervisor that
        abandoned the child after a missed health check: a hung actor would never run
        ``on_stop``, so it is killed at once, as unresponsive.

        Raises:
            RemoteError: ``on_stop`` raised in the Ray actor (the stand-in exits crashed,
                as a local actor whose ``on_stop`` raises).
        """
        import ray

        self._closing = True
        if self._remote_ended or self._ray_actor is None or not ray.is_initialized():
            self._kill()
            return
        if not self._stopped_from_outside:
            self._died("unresponsive", "Unresponsive", "did not answer a health check; its Ray actor is killed")
            self._kill()
            return
        spec = self._spec
        try:
            ended = ray.get(self._ray_actor.stop.remote(), timeout=spec.shutdown)
        except ray.exceptions.GetTimeoutError:
            logger.bind(
                event=events.RAY_CHILD_STOP_TIMED_OUT,
                child=spec.name,
                actor_class=spec.actor_class.__name__,
                timeout=spec.shutdown,
            ).warning("Child {!r} on Ray did not stop within {} s; its Ray actor is killed", spec.name, spec.shutdown)
            return
        except ray.exceptions.RayActorError:
            return  # gone already: there is nothing left to stop
        finally:
            self._kill()
        if ended.kind == "crash" and ended.failure is not None:
            raise ended.failure.remote_error()

    def on_exit(self, reason: ExitReason) -> None:
        """Kills the Ray actor, however the stand-in exits: nothing is left running on Ray."""
        self._closing = True
        self._kill()

    def _kill(self) -> None:
        """Kills the Ray actor (once) and waits, up to `KILL_WAIT` seconds, until it is dead:
        its resources are free for the next incarnation when the supervisor hears of the exit."""
        ray_actor, self._ray_actor = self._ray_actor, None
        if ray_actor is None:
            return
        import ray

        from zixir.ray.host import WATCH_GROUP

        with contextlib.suppress(Exception):  # disconnected, or gone already
            doomed = ray_actor.until_killed.options(concurrency_group=WATCH_GROUP).remote()
            ray.kill(ray_actor, no_restart=True)
            ray.wait([doomed], timeout=KILL_WAIT)


def _shippable(actor_class: type[Actor]) -> None:
    """Makes Ray send `actor_class` by value when its module exists only in this process's
    memory (code run with ``exec`` into a module object): a Ray worker could not import it
    by name. Classes of ``__main__`` and of modules with a file travel as Ray sends them."""
    module = sys.modules.get(actor_class.__module__)
    if module is None or module.__name__ == "__main__" or getattr(module, "__file__", None) is not None:
        return
    if module.__spec__ is None:
        from ray import cloudpickle

        cloudpickle.register_pickle_by_value(module)
