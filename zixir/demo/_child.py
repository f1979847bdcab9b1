"""``python -m zixir.demo._child STORE RUN_ID LOG HANG_AT SEED USERS PER_WINDOW``: runs the
demo's feature workflow until the step HANG_AT, where it waits to be killed."""

from __future__ import annotations

import sys
from pathlib import Path

from zixir.demo import features

__all__: list[str] = []


def main(argv: list[str]) -> None:
    """Runs the run `argv[1]` of the workflow stored at `argv[0]`."""
    store, run_id, log, step, seed, users, per_window = argv
    features.log_executions_to(Path(log))
    features.hang_at(step)
    wf = features.build_workflow(Path(store))
    wf.run(run_id=run_id, inputs={"seed": int(seed), "users": int(users), "per_window": int(per_window)})


if __name__ == "__main__":
    main(sys.argv[1:])
