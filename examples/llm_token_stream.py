"""An LLM's token stream, shown on the terminal as it arrives and kept by a supervised actor.

Run with ``python examples/llm_token_stream.py``. A fake model streams tokens with small
delays, as a model server does; the stream prints each token at once and asks the
transcript actor to append it, with at most 8 asks in flight, so a slow actor holds the
model back instead of filling its mailbox.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator

from zixir import Actor, ChildSpec, Stream, Supervisor, handle


async def fake_model(prompt: str, seed: int = 7) -> AsyncIterator[str]:
    """Streams a canned answer token by token, with the jitter of a real server."""
    rng = random.Random(seed)
    answer = f"You asked: {prompt!r}. Supervision trees restart what crashes, so the stream goes on."
    for word in answer.split(" "):
        for piece in (word[:3], word[3:]) if len(word) > 6 else (word,):
            await asyncio.sleep(rng.uniform(0.0005, 0.002))
            yield piece
        yield " "


class Transcript(Actor):
    """Keeps every token of the conversation."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []

    def append(self, token: str) -> int:
        self.tokens.append(token)
        return len(self.tokens)

    def text(self) -> str:
        return "".join(self.tokens).strip()


def show(token: str) -> None:
    sys.stdout.write(token)
    sys.stdout.flush()


async def converse(prompt: str) -> int:
    transcript = handle("transcript")
    tokens = Stream(fake_model(prompt)).filter(bool, name="non_empty").tap(show, name="terminal")
    return await tokens.ato_actor(transcript, "append", in_flight=8)


def main() -> None:
    root = Supervisor.start(children=[ChildSpec("transcript", Transcript)])
    try:
        sent = asyncio.run(converse("what keeps my agent alive?"))
        print()
        text = handle("transcript").proxy().text().get()
        print(f"{sent} tokens streamed; the transcript actor kept {len(text)} characters")
        assert text.startswith("You asked:"), text
    finally:
        root.stop()


if __name__ == "__main__":
    main()
