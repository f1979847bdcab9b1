"""A run's inputs: checked against the workflow's declared ones, serialized, and
fingerprinted by their canonical bytes (a resume with other inputs is refused)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from zixir import serialization
from zixir.errors import ArgumentTypeError, InvalidArgumentError, SerializationError

__all__ = ["pack_inputs"]


def pack_inputs(
    workflow: str, declared: tuple[str, ...], inputs: Mapping[str, Any] | None, allow_pickle: bool
) -> tuple[bytes | None, str | None]:
    """The serialized inputs and their fingerprint; (None, None) when omitted for a
    workflow that declares some (a resume uses the run's own).

    Raises:
        ArgumentTypeError: `inputs` is not a mapping.
        InvalidArgumentError: an input is missing or unknown.
        SerializationError: an input cannot be stored.
    """
    if inputs is None:
        if declared:
            return None, None  # a fresh run without them fails in claim's check below
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise ArgumentTypeError(f"inputs must be a dict of input name -> value, got {inputs!r}", "inputs")
    missing = sorted(set(declared) - set(inputs))
    unknown = sorted(set(inputs) - set(declared))
    if missing or unknown:
        problems = [f"missing {missing}"] * bool(missing) + [f"unknown {unknown}"] * bool(unknown)
        raise InvalidArgumentError(
            f"workflow {workflow!r} takes the inputs {list(declared)}: {'; '.join(problems)}", "inputs"
        )
    values = dict(inputs)
    for name, value in values.items():
        try:
            serialization.dumps(value, allow_pickle=allow_pickle)
        except SerializationError as exc:
            raise SerializationError(
                f"input {name!r} of workflow {workflow!r} cannot be stored ({exc}); pass values "
                "zixir.serialization supports, or allow_pickle=True to the Workflow"
            ) from exc
    packed = serialization.dumps(values, allow_pickle=allow_pickle)
    canonical = serialization.dumps(sorted(values.items()), allow_pickle=allow_pickle)
    return packed, hashlib.blake2b(canonical, digest_size=16).hexdigest()
