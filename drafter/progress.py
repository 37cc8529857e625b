"""Text of drafts still being written, shared in-process between the worker writing them and pages reading them.

Only tokens travel here; the stored draft stays the source of truth. A reader on another process (another
uvicorn worker) gets no tokens, just the finished draft when it polls the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_DONE = None


@dataclass
class _Channel:
    text: list[str] = field(default_factory=list)
    readers: set[asyncio.Queue[str | None]] = field(default_factory=set)


class DraftProgress:
    """Publish deltas of a draft being written; follow them from any number of readers."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def start(self, draft_id: str) -> None:
        """A worker began writing this draft."""
        self._channels.setdefault(draft_id, _Channel())

    def publish(self, draft_id: str, text: str) -> None:
        """A piece of the draft's text arrived."""
        channel = self._channels.setdefault(draft_id, _Channel())
        channel.text.append(text)
        for reader in channel.readers:
            reader.put_nowait(text)

    def finish(self, draft_id: str) -> None:
        """The draft is stored (or failed): readers stop following it."""
        channel = self._channels.pop(draft_id, None)
        if channel is not None:
            for reader in channel.readers:
                reader.put_nowait(_DONE)

    def writing(self, draft_id: str) -> bool:
        """True while a worker in this process writes the draft."""
        return draft_id in self._channels

    async def follow(self, draft_id: str, *, idle_s: float) -> AsyncIterator[tuple[str, str] | None]:
        """("text", all so far) once, then ("token", delta) as they come; None after each `idle_s` of silence.

        Ends when the draft is finished, or at once when no worker in this process writes it.
        """
        channel = self._channels.get(draft_id)
        if channel is None:
            return
        reader: asyncio.Queue[str | None] = asyncio.Queue()
        channel.readers.add(reader)
        try:
            yield "text", "".join(channel.text)
            while True:
                try:
                    item = await asyncio.wait_for(reader.get(), timeout=idle_s)
                except TimeoutError:
                    yield None
                    continue
                if item is _DONE:
                    return
                yield "token", item
        finally:
            channel.readers.discard(reader)
