"""What each client method does, written once for the sync and the async client.

A flow is a generator: it runs the guards, yields the calls it needs (``Call``) and pauses
(``Sleep``), and receives each call's parsed result, or the error, from the driver. Reading state
before a change and reconciling after an uncertain failure are steps of the same flow, so both
clients behave identically.
"""

from __future__ import annotations

import datetime as dt
import json as json_module
import math
import os
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pec_ext._engine.operation import Operation
from pec_ext._engine.steps import Blocking, Call, Flow, OutcomeUncertain, Sleep
from pec_ext._engine.wire import base64_bodies
from pec_ext._pec.operations import OPERATIONS
from pec_ext.callbacks.events import sign_callback
from pec_ext.config import Environment
from pec_ext.enums import (
    SINGLE_DOCUMENT_TYPES,
    TERMINAL_BOX_STATES,
    StatoCasella,
    StatoComunicazione,
    TipoCasella,
    parse_open,
)
from pec_ext.errors import NotFoundError, PecError, UnexpectedStateError, ValidationError, WaitTimeoutError
from pec_ext.validation import bodies, spaces
from pec_ext.validation import fields as field_checks

if TYPE_CHECKING:
    from pec_api.models.casella import Casella
    from pec_api.models.caselle import Caselle
    from pec_api.models.check_availability_response_200_data import CheckAvailabilityResponse200Data
    from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
    from pec_api.models.richieste_comunicazione_pec import RichiesteComunicazionePec
    from pec_ext.documents.reading import DocumentSource


# A wait for a box ends early on these: the final states, and documenti_errati (upload again).
BOX_STOP_STATES = TERMINAL_BOX_STATES | {StatoCasella.DOCUMENTI_ERRATI}


@dataclass(frozen=True)
class Settings:
    environment: Environment
    strict_identifiers: bool
    callback_secret: bytes | None = field(default=None, repr=False)
    """When set, every ``callback`` sent carries a token made with it (see ``pec_ext.callbacks.events``)."""


def _sign(settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    """The checked body, its ``callback`` (if any) given a fresh token under the client's secret."""
    callback = payload.get("callback")
    if settings.callback_secret is not None and callback:
        payload["callback"] = sign_callback(settings.callback_secret, callback)
    return payload


ID_ALLOWED = "a non-empty string such as 6045fdee3a716847a978a471"


def check_id(value: object, field: str = "id") -> str:
    """A non-empty identifier; encoding (not refusal) keeps odd characters on their endpoint.

    Dots alone are refused: ``.`` and ``..`` are dot-segments, and even percent-encoded a
    normalizing proxy may resolve them, sending the request to another endpoint.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, value, ID_ALLOWED)
    if value.strip(".") == "":
        raise ValidationError(
            field, value, ID_ALLOWED, reason="made of dots only, a path dot-segment that proxies resolve"
        )
    return value


def call(name: str, **kwargs: Any) -> Call:
    return Call(OPERATIONS[name], **kwargs)


def _body(model_or_mapping: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a generated body model (or mapping) with keyword fields named as the API's."""
    body: dict[str, Any] = {}
    if model_or_mapping is not None:
        if hasattr(model_or_mapping, "to_dict"):
            body.update(model_or_mapping.to_dict())
        elif isinstance(model_or_mapping, Mapping):
            body.update(model_or_mapping)
        else:
            raise ValidationError("body", model_or_mapping, "a generated body model or a mapping")
    body.update(fields)
    return body


def _box_type(box: Casella) -> TipoCasella | str:
    return parse_open(TipoCasella, box.tipo_casella)


def _box_state(box: Casella) -> StatoCasella | str:
    return parse_open(StatoCasella, box.stato)


def _refuse_single_document_types(box: Casella, service: str) -> None:
    tipo = _box_type(box)
    if tipo in SINGLE_DOCUMENT_TYPES:
        raise ValidationError(
            "tipo_casella",
            str(tipo),
            [t.value for t in TipoCasella if t not in SINGLE_DOCUMENT_TYPES],
            reason=f"{service} is not available for {tipo} boxes",
        )


# -- reads --------------------------------------------------------------------------------------


def check_domain(dominio: str) -> Flow[list[str]]:
    _, data = yield from _domain_check(dominio)
    return data


def is_domain_eligible(dominio: str) -> Flow[bool]:
    eligible, _ = yield from _domain_check(dominio)
    return eligible


def _domain_check(dominio: str) -> Flow[tuple[bool, list[str]]]:
    """200 when the domain can send and receive PEC, 204 "No Content" when it cannot."""
    try:
        result: list[str] | None = yield call(
            "check_domain", path_params={"dominio": check_id(dominio, "dominio")}
        )
    except OutcomeUncertain as uncertain:
        # A paid read: not resent, and there is no state to read back.
        raise uncertain.unknown("the domain check may have been charged; no result") from uncertain.cause
    return (result is not None, result or [])


def check_availability(pec: str) -> Flow[CheckAvailabilityResponse200Data]:
    address = field_checks.check_email("pec", pec)
    data: CheckAvailabilityResponse200Data = yield call("check_availability", path_params={"pec": address})
    return data


def is_available(pec: str) -> Flow[bool]:
    data = yield from check_availability(pec)
    return bool(data.available is True)


def list_mailboxes() -> Flow[list[Caselle]]:
    try:
        boxes: list[Caselle] = yield call("list_mailboxes")
    except NotFoundError as exc:
        # The API answers 404 (error 200) for an account without boxes: that is an empty list.
        if exc.code == 200:
            return []
        raise
    return boxes


def get_mailbox(id: str) -> Flow[Casella]:
    box: Casella = yield call("get_mailbox", path_params={"id": check_id(id)})
    return box


def list_communications() -> Flow[list[RichiesteComunicazionePec]]:
    try:
        items: list[RichiesteComunicazionePec] = yield call("list_communications")
    except NotFoundError as exc:
        if exc.code == 332:
            return []
        raise
    return items


def get_communication(id: str) -> Flow[RichiestaComunicazionePec]:
    item: RichiestaComunicazionePec = yield call("get_communication", path_params={"id": check_id(id)})
    return item


DOWNLOAD_TARGET = "a file path in an existing folder, not yet there unless overwrite=True"
# when the file system will not say (os.pathconf fails): the limit of ext4, xfs, btrfs, tmpfs
DEFAULT_NAME_MAX = 255


def download(name: str, id: str, to: str | os.PathLike[str] | None, overwrite: bool) -> Flow[bytes]:
    target = Path(to) if to is not None else None
    identifier = check_id(id)
    if target is not None:
        # Checked before the request, so a bad path costs no call; checked again when writing.
        yield Blocking(check_download_target, (target, overwrite))
    pdf: bytes = yield call(name, path_params={"id": identifier})
    if target is not None:
        yield Blocking(save_download, (target, pdf, overwrite))
    return pdf


def check_download_target(target: Path, overwrite: bool) -> None:
    """Refuse, with a ValidationError on ``to``, what is already known to fail when writing."""

    def refuse(reason: str) -> ValidationError:
        return ValidationError("to", str(target), DOWNLOAD_TARGET, reason=reason)

    if "\x00" in str(target):
        raise refuse("contains a NUL character, which no file name can hold")
    try:
        if target.is_dir():
            raise refuse("is a directory; name the file to write inside it")
        if not target.parent.is_dir():
            raise refuse(f"the folder {str(target.parent)!r} does not exist")
        size = len(os.fsencode(target.name))
        limit = _name_max(target.parent)
        if size > limit:
            raise refuse(f"the file name is {size} bytes long, the file system allows {limit}")
        if target.exists() and not overwrite:
            raise refuse("the file exists (pass overwrite=True to replace it)")
    except (OSError, ValueError) as exc:  # e.g. a path too long for stat(), an unencodable name
        if isinstance(exc, ValidationError):
            raise
        raise refuse(f"cannot be checked: {exc}") from None


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf (Windows)
        return DEFAULT_NAME_MAX


def save_download(target: Path, data: bytes, overwrite: bool) -> None:
    """``write_atomically``, with every file-system refusal a ValidationError on ``to``."""
    try:
        write_atomically(target, data, overwrite)
    except FileExistsError:
        raise ValidationError("to", str(target), DOWNLOAD_TARGET, reason="created meanwhile") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError(
            "to", str(target), DOWNLOAD_TARGET, reason=f"cannot be written: {why}"
        ) from None


def write_atomically(target: Path, data: bytes, overwrite: bool) -> None:
    """Write to a temporary file beside ``target``, then rename: no half-written form, ever.

    The temporary name is short and unrelated to the target's, so any name the folder accepts
    for the target works (a name derived from it could be too long where the target is not).
    """
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".pec-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if overwrite:
            os.replace(temporary, target)
        else:
            # link() fails if the target appeared meanwhile, where rename() would clobber it.
            os.link(temporary, target)
            os.unlink(temporary)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# -- paid or mutating calls ---------------------------------------------------------------------


def register_mailbox(
    settings: Settings, body: Any, fields: Mapping[str, Any], own_domain: bool, today: dt.date
) -> Flow[Casella]:
    """``today`` is the client's day (its ``Clock``): the birth date must come before it."""
    payload = bodies.validate_register_body(
        _body(body, fields),
        environment=settings.environment,
        strict_identifiers=settings.strict_identifiers,
        own_domain=own_domain,
        today=today,
    )
    payload = _sign(settings, payload)
    address = payload["casella_pec"].lower()
    try:
        box: Casella = yield call("register_mailbox", json=payload)
    except OutcomeUncertain as uncertain:
        # Never resend: look for the box among the account's; it is there if the server got it.
        # A revoked, closed or cancelled box with the same address is an older one, not this one.
        try:
            boxes = yield from list_mailboxes()
            matches = [
                b
                for b in boxes
                if str(b.casella_pec).lower() == address and str(b.stato).lower() not in _TERMINAL_STATES
            ]
            if len(matches) == 1 and isinstance(matches[0].id, str):
                found: Casella = yield from get_mailbox(matches[0].id)
                return found
        except PecError as failed:
            raise _unreadable(uncertain, failed) from uncertain.cause
        raise uncertain.unknown(
            f"{address} is not among the account's boxes: it was probably not registered; "
            "check the account again before retrying",
            known=matches or None,
        ) from uncertain.cause
    return box


_TERMINAL_STATES = frozenset(state.value for state in TERMINAL_BOX_STATES)


def _unreadable(uncertain: OutcomeUncertain, failed: PecError) -> PecError:
    """Reading state to reconcile failed too: the outcome stays unknown (never a plain error)."""
    return uncertain.unknown(f"reading the state back failed as well ({failed}); check it before retrying")


def _mutate_box(
    name: str, id: str, *, applied: Any, json: Any = None, params: Mapping[str, Any] | None = None
) -> Flow[Casella]:
    """Send a change to a box; after an uncertain failure, read the box and ask ``applied``."""
    try:
        box: Casella = yield call(name, path_params={"id": id}, json=json, params=params)
    except OutcomeUncertain as uncertain:
        try:
            current = yield from get_mailbox(id)
        except PecError as failed:
            raise _unreadable(uncertain, failed) from uncertain.cause
        if applied is not None and applied(current):
            return current
        raise uncertain.unknown(
            "the box does not show the change; check it before retrying", known=current
        ) from (uncertain.cause)
    return box


def revoke_mailbox(id: str) -> Flow[Casella]:
    return (yield from _mutate_box("revoke_mailbox", check_id(id), applied=lambda b: b.stato == "revocata"))


def activate_mailbox(id: str, documents: Sequence[DocumentSource]) -> Flow[Casella]:
    box = yield from get_mailbox(check_id(id))
    checked = yield Blocking(_documents, ("check_activation_documents", documents, _box_type(box)))
    encoded = base64_bodies(checked)
    return (
        yield from _mutate_box(
            "activate_mailbox",
            id,
            json={"documenti": encoded},
            # The provider may already have processed it (evasa) by the time the box is read.
            applied=lambda b: _box_state(b) in (StatoCasella.IN_EVASIONE, StatoCasella.EVASA),
        )
    )


def change_space(id: str, body: Mapping[str, Any]) -> Flow[Casella]:
    box = yield from get_mailbox(check_id(id))
    payload = spaces.check_space_body(body, box=_box_view(box))
    return (yield from _mutate_box("change_space", id, json=payload, applied=None))


def add_space(id: str, disco: int | None, storico: int | None, conservazione: int | None) -> Flow[Casella]:
    box = yield from get_mailbox(check_id(id))
    payload = spaces.space_increment_body(
        disco=disco, storico=storico, conservazione=conservazione, box=_box_view(box)
    )
    return (yield from _mutate_box("change_space", id, json=payload, applied=None))


def set_space(id: str, disco: int | None, storico: int | None, conservazione: int | None) -> Flow[Casella]:
    box = yield from get_mailbox(check_id(id))
    payload = spaces.space_absolute_body(
        _box_view(box), disco=disco, storico=storico, conservazione=conservazione
    )
    wanted = dict(payload)
    return (
        yield from _mutate_box(
            "change_space",
            id,
            json=payload,
            applied=lambda b: all(getattr(b, key, None) == value for key, value in wanted.items()),
        )
    )


def activate_conservation(id: str, documents: Sequence[DocumentSource], space: int | None) -> Flow[Casella]:
    box = yield from get_mailbox(check_id(id))
    _refuse_single_document_types(box, "conservazione")
    payload: dict[str, Any] = {
        "documenti": base64_bodies(
            (yield Blocking(_documents, ("check_pdf_documents", "documenti", documents)))
        )
    }
    if space is not None:
        payload["spazio_conservazione"] = spaces.check_size("spazio_conservazione", space)
    return (
        yield from _mutate_box(
            "activate_conservation", id, json=payload, applied=lambda b: b.conservazione is True
        )
    )


def change_type(id: str, tipo_casella: object) -> Flow[Casella]:
    box = yield from get_mailbox(check_id(id))
    _refuse_single_document_types(box, "a type change")
    target = field_checks.check_upgrade(box.tipo_casella, tipo_casella)
    return (
        yield from _mutate_box(
            "change_type",
            id,
            json={"tipo_casella": target.value},
            applied=lambda b: str(b.tipo_casella).upper() == target.value,
        )
    )


def renew_mailbox(id: str, anni: int) -> Flow[Casella]:
    years = field_checks.check_years(anni)
    # The expiry before and after cannot be compared reliably, so an uncertain renewal is reported.
    return (yield from _mutate_box("renew_mailbox", check_id(id), params={"anni": years}, applied=None))


def add_user(id: str, body: Any, fields: Mapping[str, Any]) -> Flow[Casella]:
    payload = bodies.validate_user_body(_body(body, fields))
    box = yield from get_mailbox(check_id(id))
    _refuse_single_document_types(box, "multiutenza")
    email = payload["email_gestione_password"].lower()
    before = sum(1 for user in _users(box) if str(user.email_gestione_password).lower() == email)
    return (
        yield from _mutate_box(
            "add_user",
            id,
            json=payload,
            applied=lambda b: (
                sum(1 for u in _users(b) if str(u.email_gestione_password).lower() == email) > before
            ),
        )
    )


def _users(box: Casella) -> list[Any]:
    users = box.multiutenza
    return list(users) if isinstance(users, list) else []


def communicate_pec(
    settings: Settings, body: Any, fields: Mapping[str, Any]
) -> Flow[RichiestaComunicazionePec]:
    payload = bodies.validate_communication_body(
        _body(body, fields), strict_identifiers=settings.strict_identifiers
    )
    payload = _sign(settings, payload)
    try:
        item: RichiestaComunicazionePec = yield call("communicate_pec", json=payload)
    except OutcomeUncertain as uncertain:
        try:
            requests = yield from list_communications()
        except PecError as failed:
            raise _unreadable(uncertain, failed) from uncertain.cause
        address = payload["casella_pec"].lower()
        matches = [r for r in requests if str(r.casella_pec).lower() == address]
        raise uncertain.unknown(
            f"{len(matches)} communication(s) for {address} exist; check whether one is new before retrying",
            known=matches or None,
        ) from uncertain.cause
    return item


def upload_communication_documents(id: str, documents: Any) -> Flow[RichiestaComunicazionePec]:
    check_id(id)
    sources = [documents] if isinstance(documents, str | bytes | bytearray | os.PathLike) else list(documents)
    encoded = base64_bodies((yield Blocking(_documents, ("check_p7m_documents", sources))))
    try:
        item: RichiestaComunicazionePec = yield call(
            "upload_communication_documents", path_params={"id": id}, json={"documenti": encoded}
        )
    except OutcomeUncertain as uncertain:
        try:
            current = yield from get_communication(id)
        except PecError as failed:
            raise _unreadable(uncertain, failed) from uncertain.cause
        if current.stato in (StatoComunicazione.DOCUMENTI_CARICATI, StatoComunicazione.COMUNICAZIONE_EVASA):
            return current
        raise uncertain.unknown("the documents do not show as uploaded", known=current) from uncertain.cause
    return item


def raw(
    method: str, path: str, params: Mapping[str, Any] | None, json: Any, idempotent: bool | None
) -> Flow[Any]:
    """An endpoint the spec lacks (e.g. /dominio), through the same auth, envelope, errors, retries."""
    method = method.upper()
    # "//host/x" is a URL on another host (scheme-relative), not a path.
    if not path.startswith("/") or path.startswith("//") or "://" in path:
        raise ValidationError("path", path, "a path on the API's host, starting with /")
    op = Operation(
        name=f"{method} {path}",
        method=method,
        path=path.replace("{", "{{").replace("}", "}}"),
        idempotent=method in ("GET", "HEAD") if idempotent is None else idempotent,
        response_model=None,
    )
    try:
        json_module.dumps(json, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            "json", type(json).__name__, "a JSON-serializable value", reason=str(exc)
        ) from None
    try:
        return (yield Call(op, params=params, json=json))
    except OutcomeUncertain as uncertain:
        raise uncertain.unknown("it was not resent; check the state before retrying") from uncertain.cause


# -- waiting ------------------------------------------------------------------------------------


def _wait(
    read: Any,
    id: str,
    until: Collection[str],
    stop: Collection[str],
    timeout: float,
    poll: float,
    what: str,
    monotonic: Callable[[], float],
) -> Flow[Any]:
    # A single state given as a string is one state, not a set of characters.
    if isinstance(until, str):
        wanted = {until}
    elif isinstance(until, Collection) and not isinstance(until, bytes | bytearray | Mapping):
        wanted = {str(state) for state in until}
    else:
        raise ValidationError("until", until, "a state, or a collection of states such as {'evasa'}")
    if not wanted:
        raise ValidationError("until", until, "one or more states")
    for name, value in (("timeout", timeout), ("poll", poll)):
        number_like = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_like or not math.isfinite(value) or value <= 0:
            raise ValidationError(name, value, "a finite number of seconds > 0")
    deadline = monotonic() + timeout
    delay = poll
    while True:
        record = yield from read(id)
        state = str(record.stato)
        if state in wanted:
            return record
        if state in stop and state not in wanted:
            raise UnexpectedStateError(
                f"{what} {id} reached {state!r} while waiting for {sorted(wanted)}",
                state=state,
                record=record,
            )
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(
                f"{what} {id} still {state!r} after {timeout:g}s (waiting for {sorted(wanted)})",
                state=state,
                record=record,
            )
        yield Sleep(min(delay, remaining))
        delay = min(delay * 1.5, max(poll, 60.0))


def wait_for_mailbox(
    id: str, until: Collection[str], timeout: float, poll: float, monotonic: Callable[[], float]
) -> Flow[Casella]:
    stop = {str(s) for s in BOX_STOP_STATES}
    box: Casella = yield from _wait(
        get_mailbox, check_id(id), until, stop, timeout, poll, "mailbox", monotonic
    )
    return box


def wait_for_communication(
    id: str, until: Collection[str], timeout: float, poll: float, monotonic: Callable[[], float]
) -> Flow[RichiestaComunicazionePec]:
    item: RichiestaComunicazionePec = yield from _wait(
        get_communication, check_id(id), until, set(), timeout, poll, "communication", monotonic
    )
    return item


def _documents(function: str, *args: Any) -> Any:
    """Run a checker of ``pec_ext.documents``, importing it there: a blocking step, so the first
    import of pypdf and Pillow happens in the worker thread too, not on an event loop."""
    from pec_ext import documents

    return getattr(documents, function)(*args)


def _box_view(box: Casella) -> dict[str, Any]:
    """The fields the space guards need, as a plain mapping."""
    return {
        "tipo_casella": box.tipo_casella,
        "conservazione": box.conservazione is True,
        "spazio_disco": box.spazio_disco if isinstance(box.spazio_disco, int) else 0,
        "spazio_storico": box.spazio_storico if isinstance(box.spazio_storico, int) else 0,
        "spazio_conservazione": box.spazio_conservazione if isinstance(box.spazio_conservazione, int) else 0,
    }
