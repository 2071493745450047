"""State transitions shared by the request handlers and the provider's simulated back office."""

from __future__ import annotations

from dataclasses import dataclass, field

from .state import BASE_SPACE, Job, Record, State, add_years, box_view, comm_view, ddmmyyyy
from .wallet import Prices


@dataclass(slots=True)
class Context:
    """Everything one request (or one processing step) may touch; built under the sandbox lock."""

    state: State
    prices: Prices
    now: float
    owner: str
    delay: float
    # (callback, payload) pairs to deliver once the lock is released
    outbox: list[tuple[Record, Record]] = field(default_factory=list)

    def touch_box(self, box: Record) -> None:
        box["timestamp"]["ultima_modifica"] = int(self.now)
        self.state.dirty.add(("box", box["id"]))

    def touch_comm(self, comm: Record) -> None:
        comm["timestamp"] = int(self.now)
        self.state.dirty.add(("comm", comm["id"]))

    def schedule(self, kind: str, record_id: str, action: str) -> None:
        self.state.jobs.append(Job(self.now + self.delay, kind, record_id, action))


def set_box_stato(ctx: Context, box: Record, stato: str) -> None:
    box["stato"] = stato
    ctx.touch_box(box)
    if box.get("callback"):
        ctx.outbox.append((box["callback"], box_view(box)))


def set_comm_stato(ctx: Context, comm: Record, stato: str) -> None:
    comm["stato"] = stato
    ctx.touch_comm(comm)
    if comm.get("callback"):
        ctx.outbox.append((comm["callback"], comm_view(comm)))


def grow_to_base(box: Record) -> None:
    disco, storico = BASE_SPACE[box["tipo_casella"]]
    box["spazio_disco"] = max(box["spazio_disco"], disco)
    box["spazio_storico"] = max(box["spazio_storico"], storico)
    box["storico"] = box["spazio_storico"] > 0


def set_expiry(box: Record, expires: int) -> None:
    box["timestamp"]["scadenza"] = expires
    box["data_scadenza"] = ddmmyyyy(expires)


def apply_job(ctx: Context, job: Job) -> None:
    """Complete one queued transition; stale jobs (record gone or moved on) are dropped."""
    if job.kind == "box":
        box = ctx.state.boxes.get(job.id)
        if box is None or box["stato"] != "in_evasione":
            return
        if job.action == "reject":
            set_box_stato(ctx, box, "documenti_errati")
            return
        now = int(ctx.now)
        box["timestamp"]["evasione"] = now
        box["data_attivazione"] = ddmmyyyy(now)
        set_expiry(box, add_years(now, 1))
        grow_to_base(box)
        set_box_stato(ctx, box, "evasa")
        return
    comm = ctx.state.comms.get(job.id)
    if comm is None:
        return
    if job.action == "issue_code" and comm["stato"] == "codice_in_richiesta":
        comm["codice_registro_imprese"] = f"SBX{ctx.state.next_seq():08d}"
        set_comm_stato(ctx, comm, "in_attesa_di_documenti")
    elif job.action == "register" and comm["stato"] == "documenti_caricati":
        set_comm_stato(ctx, comm, "comunicazione_evasa")
