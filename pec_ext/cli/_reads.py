"""Bulk work over ``AsyncPecClient``: bounded concurrency (a semaphore) and a rich progress bar."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pec_ext.account.prices import price_key
from pec_ext.cli import output
from pec_ext.cli.exit_codes import ExitCode, exit_code_for
from pec_ext.errors import PecError

if TYPE_CHECKING:
    from pec_ext._pec.client import AsyncPecClient
    from pec_ext.cli.config import Config
    from pec_ext.cli.horizon import Horizon

T = TypeVar("T")
R = TypeVar("R")

EXPIRING_COLUMNS = (
    "id",
    "casella_pec",
    "tipo_casella",
    "stato",
    "data_scadenza",
    "days_left",
    "autorinnovo",
    "renewal_price",
    "error",
)


async def run_bounded(
    client: AsyncPecClient,
    items: Sequence[T],
    work: Callable[[AsyncPecClient, T], Awaitable[R]],
    *,
    concurrency: int,
    progress: bool,
    label: str,
) -> list[R | PecError]:
    """``work`` on every item, at most ``concurrency`` at once; a failure is kept, not raised."""
    # rich is imported when drawn: start-up stays cheap (see output)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    semaphore = asyncio.Semaphore(concurrency)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=output.console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(label, total=len(items))

        async def one(item: T) -> R | PecError:
            async with semaphore:
                try:
                    result: R | PecError = await work(client, item)
                except PecError as exc:
                    result = exc
            bar.advance(task)
            return result

        return list(await asyncio.gather(*(one(item) for item in items)))


def _worst(results: Sequence[object]) -> ExitCode | None:
    codes = [exit_code_for(r) for r in results if isinstance(r, PecError)]
    return max(codes) if codes else None


def availability(
    cfg: Config, addresses: Sequence[str], *, concurrency: int, progress: bool
) -> tuple[list[dict[str, Any]], ExitCode | None]:
    async def check(client: AsyncPecClient, address: str) -> bool:
        return await client.is_available(address)

    async def go() -> list[bool | PecError]:
        async with cfg.async_client() as client:
            return await run_bounded(
                client, addresses, check, concurrency=concurrency, progress=progress, label="availability"
            )

    results = asyncio.run(go())
    rows = [
        {"pec": address, "available": None, "error": str(r)}
        if isinstance(r, PecError)
        else {"pec": address, "available": r, "error": None}
        for address, r in zip(addresses, results, strict=True)
    ]
    return rows, _worst(results)


def _expiry(text: object) -> dt.date | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def reference_date(cfg: Config) -> dt.date:
    """Today on the target's clock (for the embedded sandbox, the sandbox's own)."""
    return cfg.clock().today()


def expiring(
    cfg: Config, within: Horizon, as_of: dt.date | None, *, concurrency: int, progress: bool
) -> list[dict[str, Any]]:
    """Boxes whose ``data_scadenza`` is at most ``within`` after ``as_of`` (expired ones too),
    each read in full (concurrently) for ``autorinnovo`` and priced for a one-year renewal."""
    today = as_of or reference_date(cfg)
    horizon = within.end(today)
    plist = cfg.price_list()

    async def detail(client: AsyncPecClient, box_id: str) -> Any:
        return await client.get_mailbox(box_id)

    async def go() -> tuple[list[Any], list[Any]]:
        async with cfg.async_client() as client:
            summaries = await client.list_mailboxes()
            due = [
                s
                for s in summaries
                if isinstance(s.id, str)
                and (when := _expiry(s.data_scadenza)) is not None
                and when <= horizon
            ]
            details = await run_bounded(
                client,
                [str(s.id) for s in due],
                detail,
                concurrency=concurrency,
                progress=progress,
                label="boxes",
            )
            return due, details

    due, details = asyncio.run(go())
    rows: list[dict[str, Any]] = []
    for summary, box in zip(due, details, strict=True):
        when = _expiry(summary.data_scadenza)
        row: dict[str, Any] = {
            "id": summary.id,
            "casella_pec": summary.casella_pec,
            "tipo_casella": summary.tipo_casella,
            "stato": summary.stato,
            "data_scadenza": summary.data_scadenza,
            "days_left": (when - today).days if when else None,
            "renewal_price": plist.price(price_key("renew_mailbox", summary.tipo_casella)),
            "autorinnovo": None,
            "error": None,
        }
        if isinstance(box, PecError):
            row["error"] = str(box)
        else:
            row["autorinnovo"] = box.autorinnovo if isinstance(box.autorinnovo, bool) else None
        rows.append(row)
    rows.sort(key=lambda r: (r["days_left"] if r["days_left"] is not None else 0, str(r["casella_pec"])))
    return rows
