"""A small supervision tree: a scoring service whose model worker may crash.

Run with ``python examples/scoring_tree.py``. The model worker crashes on bad input;
its supervisor restarts it and callers holding a handle never notice.
"""

from __future__ import annotations

from zixir import Actor, ChildSpec, Supervisor, engine, handle, whereis


class Model(Actor):
    """Scores feature vectors against fixed weights."""

    def __init__(self, weights: list[float]) -> None:
        super().__init__()
        self.weights = weights

    def score(self, features: list[float]) -> float:
        return engine.dot_product(self.weights, features)

    def reload(self, features: list[float]) -> None:
        engine.dot_product(self.weights, features)  # raises on a bad vector: a crash


class Audit(Actor):
    """Counts scores; started after the model, stopped before it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def record(self) -> int:
        self.seen += 1
        return self.seen


def main() -> None:
    root = Supervisor.start(
        children=[
            ChildSpec("model", Model, kwargs={"weights": [0.5, 0.25, 0.25]}),
            ChildSpec("audit", Audit),
        ],
        strategy="rest_for_one",  # a model crash restarts the audit too: it depends on it
        max_restarts=3,
        max_seconds=5.0,
    )
    model = handle("model")
    print("score:", model.proxy().score([1.0, 2.0, 2.0]).get())
    first = whereis("model")
    model.proxy().reload.defer([1.0])  # a told message that raises: the model crashes
    assert first is not None and first.wait_exit(5.0) is not None
    print("score after the crash:", model.proxy().score([2.0, 0.0, 0.0]).get())
    for child in root.proxy().which_children().get():
        print(f"  {child.name}: restarts={child.restarts} last crash={child.last_crash}")
    root.stop()


if __name__ == "__main__":
    main()
