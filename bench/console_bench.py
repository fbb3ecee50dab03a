"""`make bench` console: page p95 of the vendor's console with 1,000 communications and
100,000 acknowledgements in the state store (SQLite in a temporary data directory), over
real HTTP on 127.0.0.1 — the communications list (first and a later page) and a
communication's page (its channels, acknowledgements, partners, previews)."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.comms.model import Audience, Communication
from bot.config import Settings
from bot.evaluation.harness import percentile
from bot.store import Ack, NewDelivery, StoredCommunication
from tests.bot.console.harness import Browserless, add_user, console_settings, running_console

COMMS, ACKS_PER_COMM, ROUNDS = 1000, 100, 60


def _fill(app: App) -> None:
    store, now = app.store, datetime.now(UTC)
    with store.transaction() as tx:
        for i in range(COMMS):
            send_at = now + timedelta(days=1 + i % 60, minutes=i)
            comm = Communication(
                id=f"bench-{i:04d}",
                title=f"Bench communication {i}",
                sender="The vendor",
                send_at=send_at,
                audience=Audience(regions=("ANZ",)),
                aims="Measure the console.",
                customer_summary="Nothing real.",
                customer_pointed_to="their partner",
                points_to_partner=True,
            )
            tx.comms.insert(
                StoredCommunication(
                    id=comm.id,
                    title=comm.title,
                    data=comm.to_json(),
                    content_hash=comm.content_hash,
                    send_at=send_at,
                    status="scheduled",
                    revision=1,
                    epoch=1,
                    source="console",
                    file_hash=None,
                    warnings=(),
                    registered_at=now,
                    updated_at=now,
                )
            )
            key = f"pb-comm:{comm.id}:r1:first:slack:C0ANZ"
            tx.deliveries.plan(
                NewDelivery(
                    key=key,
                    feature="comms",
                    subject=comm.id,
                    kind="first",
                    platform="slack",
                    channel="C0ANZ",
                    due_at=now,
                    revision=1,
                ),
                now=now,
            )
            for u in range(ACKS_PER_COMM):
                tx.comms.add_ack(
                    Ack(comm.id, "slack", f"C0P{u % 20:02d}", f"U{u:05d}", now.isoformat(), key)
                )


async def _measure(app: App) -> dict[str, Any]:
    add_user(app, "bench@vendor.com", "viewer")
    async with running_console(app) as served:
        person = Browserless(served)
        try:
            await person.sign_in("bench@vendor.com")
            pages = {
                "list": lambda: "/console/comms?show=all",
                "list_page_10": lambda: "/console/comms?show=all&page=10",
                "comm": lambda: f"/console/comms/bench-{random.randrange(COMMS):04d}",
            }
            out: dict[str, Any] = {}
            for name, path in pages.items():
                await person.get(path())  # warm
                times = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    status, _ = await person.get(path())
                    times.append((time.perf_counter() - started) * 1000)
                    assert status == 200, (name, status)
                out[name] = {
                    "p50_ms": round(percentile(times, 50), 1),
                    "p95_ms": round(percentile(times, 95), 1),
                }
            return out
        finally:
            await person.close()


def bench_console() -> dict[str, Any]:
    random.seed(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(PARTNERBOT_DATA_DIR=root / "data", **console_settings(root / "comms"))  # type: ignore[arg-type]
        app = App(settings)
        try:
            started = time.perf_counter()
            _fill(app)
            filled = time.perf_counter() - started
            result = asyncio.run(_measure(app))
        finally:
            app.close()
    return {
        "communications": COMMS,
        "acknowledgements": COMMS * ACKS_PER_COMM,
        "fill_s": round(filled, 1),
        **result,
    }
