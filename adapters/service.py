"""What `partnerbot serve` runs: long-lived services sharing one asyncio loop."""

from __future__ import annotations

from typing import Protocol


class Service(Protocol):
    """A chat adapter or background job. start() returns once it is running."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
