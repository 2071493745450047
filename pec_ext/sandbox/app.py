"""Routing and the 19 operation handlers; pure functions of (Context, Request) -> Response."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from . import documents, pdf
from .callbacks import normalise
from .errors import SandboxError, fail
from .lifecycle import Context, grow_to_base, set_box_stato, set_comm_stato, set_expiry
from .state import (
    BOX_TYPES,
    CLASSIC_TYPES,
    MAX_USERS,
    OBJECT_ID,
    SANDBOX_DOMAIN,
    SPECIAL_TYPES,
    Record,
    add_years,
    box_summary,
    box_view,
    comm_summary,
    comm_view,
    parse_ddmmyyyy,
)
from .wallet import charge, ensure_funds

EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")
DOMAIN: Final = re.compile(r"^(?=.{1,253}$)(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+[A-Za-z]{2,63}$")


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    # the caller's address (the account service's statistics count them); in-process: loopback
    client: str = "127.0.0.1"

    def json(self) -> Record:
        if not self.body.strip():
            return {}
        try:
            parsed = json.loads(self.body)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            raise fail("bad_json") from None
        if not isinstance(parsed, dict):
            raise fail("bad_json")
        return parsed


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def envelope(data: Any, message: str = "", status: int = 200) -> Response:
    body = {"success": True, "message": message, "error": None, "data": data}
    return Response(status, json.dumps(body).encode())


def error_response(err: SandboxError, *, text: bool = False) -> Response:
    if text:
        return Response(err.status, err.message.encode(), "text/plain; charset=utf-8")
    body = {"success": False, "message": err.message, "error": err.code, "data": None}
    return Response(err.status, json.dumps(body).encode())


def pdf_response(content: bytes, filename: str) -> Response:
    return Response(
        200, content, "application/pdf", {"content-disposition": f'inline; filename="{filename}"'}
    )


# ---------------------------------------------------------------- helpers


def _box(ctx: Context, box_id: str, wrong: str, missing: str) -> Record:
    if not OBJECT_ID.match(box_id):
        raise fail(wrong)
    box = ctx.state.boxes.get(box_id)
    if box is None:
        raise fail(missing)
    return box


def _comm(ctx: Context, comm_id: str, wrong: str, missing: str) -> Record:
    if not OBJECT_ID.match(comm_id):
        raise fail(wrong)
    comm = ctx.state.comms.get(comm_id)
    if comm is None:
        raise fail(missing)
    return comm


def _classic_only(box: Record) -> None:
    if box["tipo_casella"] in SPECIAL_TYPES:
        raise fail("box_type_refused")


def _require_evasa(box: Record, error: str = "not_processed") -> None:
    if box["stato"] != "evasa":
        raise fail(error)


def _strings(
    body: Record,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    missing: Callable[[str], SandboxError],
) -> None:
    for name in required:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise missing(name)
    for name in required + optional:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise fail("field_invalid", field=name)


def _enum(body: Record, name: str, allowed: tuple[str, ...], *, optional: bool = False) -> None:
    value = body.get(name)
    if optional and value in (None, ""):
        return
    if value not in allowed:
        raise fail("field_invalid", field=name)


def _callback(body: Record) -> Record | None:
    try:
        return normalise(body.get("callback"))
    except ValueError:
        raise fail("callback_invalid") from None


def _pdfs(raw: object, missing: str) -> list[bytes]:
    items = documents.as_list(raw)
    if items is None:
        raise fail(missing)
    decoded = [documents.decode(item) for item in items]
    pdfs = [d for d in decoded if d is not None and documents.is_pdf(d)]
    if len(pdfs) != len(items):
        raise fail("pdf_required")
    return pdfs


def _live_box_with(ctx: Context, address: str) -> Record | None:
    address = address.lower()
    for box in ctx.state.boxes.values():
        if box["casella_pec"].lower() == address and box["stato"] != "revocata":
            return box
    return None


# ---------------------------------------------------------------- /domini_pec, /verifica_pec


def check_domain(ctx: Context, req: Request, dominio: str) -> Response:
    if not dominio.strip():
        raise fail("domain_required")
    if not DOMAIN.match(dominio):
        raise fail("domain_invalid")
    cents = ctx.prices.cents("domini_pec")
    ensure_funds(ctx.state, cents, "domain_credit")
    charge(ctx.state, cents, operation="GET /domini_pec", ref=dominio, now=ctx.now)
    return envelope([], f"{dominio} found!")


def verify_address(ctx: Context, req: Request, address: str) -> Response:
    if not address.strip():
        raise fail("verify_required")
    if not EMAIL.match(address):
        raise fail("verify_invalid")
    return envelope({"available": _live_box_with(ctx, address) is None})


# ---------------------------------------------------------------- /pec

REGISTER_REQUIRED: Final = (
    "casella_pec", "tipo_casella", "tipo_cliente", "nome_richiedente", "cognome_richiedente", "email",
    "telefono", "codice_fiscale_richiedente", "data_nascita_richiedente", "sesso_richiedente",
    "nazione_nascita_richiedente", "indirizzo_titolare", "comune_titolare", "cap_titolare",
    "nazione_titolare", "provincia_titolare",
)  # fmt: skip
REGISTER_OPTIONAL: Final = (
    "sottotipo_cliente", "sottotipo_cliente_altro", "cellulare", "comune_nascita_richiedente",
    "provincia_nascita_richiedente", "denominazione_titolare", "cf_piva_titolare", "tipo_documento",
    "numero_documento", "data_scadenza_documento", "documento_rilasciato_da", "data_rilascio_documento",
)  # fmt: skip
# the request's fields in the order the API echoes them back
BOX_REQUEST_FIELDS: Final = (
    "casella_pec", "tipo_casella", "tipo_cliente", "sottotipo_cliente", "sottotipo_cliente_altro",
    "nome_richiedente", "cognome_richiedente", "email", "telefono", "codice_fiscale_richiedente",
    "data_nascita_richiedente", "sesso_richiedente", "nazione_nascita_richiedente",
    "provincia_nascita_richiedente", "denominazione_titolare", "cf_piva_titolare", "indirizzo_titolare",
    "comune_titolare", "cap_titolare", "nazione_titolare", "provincia_titolare",
)  # fmt: skip
DOCUMENT_FIELDS: Final = (
    "tipo_documento", "numero_documento", "data_scadenza_documento", "documento_rilasciato_da",
    "data_rilascio_documento",
)  # fmt: skip
TIPI_CLIENTE: Final = ("IM", "PS", "PL", "PC", "A", "PV", "X")
SOTTOTIPI_CLIENTE: Final = (
    "SI", "IN", "CM", "TE", "ES", "ME", "AL", "CF", "ED", "TM", "MA", "AR", "TL", "FI", "X", "PC",
    "PR", "PN", "PT", "PA", "PL", "LR", "LP", "LC", "LM", "LA", "LI",
)  # fmt: skip
TIPI_DOCUMENTO: Final = ("CARTA_D_IDENTITA", "PATENTE", "PASSAPORTO")


def _register_missing(name: str) -> SandboxError:
    if name == "casella_pec":
        return fail("register_casella_required")
    if name == "tipo_casella":
        return fail("register_tipo_required")
    return fail("register_field_required", field=name)


def list_boxes(ctx: Context, req: Request, _: str) -> Response:
    if not ctx.state.boxes:
        raise fail("no_pec")
    return envelope([box_summary(b) for b in ctx.state.boxes.values()])


def register_box(ctx: Context, req: Request, _: str) -> Response:
    body = req.json()
    _strings(body, REGISTER_REQUIRED, REGISTER_OPTIONAL, _register_missing)
    # Strict on purpose: the spec's enum is upper case even if its example body is not.
    _enum(body, "tipo_casella", BOX_TYPES)
    _enum(body, "tipo_cliente", TIPI_CLIENTE)
    _enum(body, "sottotipo_cliente", SOTTOTIPI_CLIENTE, optional=True)
    _enum(body, "sesso_richiedente", ("M", "F"))
    _enum(body, "tipo_documento", TIPI_DOCUMENTO, optional=True)
    if "autorinnovo" in body and not isinstance(body["autorinnovo"], bool):
        raise fail("field_invalid", field="autorinnovo")
    address = body["casella_pec"].strip().lower()
    if not EMAIL.match(address):
        raise fail("register_casella_invalid")
    if parse_ddmmyyyy(body["data_nascita_richiedente"]) is None:
        raise fail("register_birth_date")
    for name in ("data_scadenza_documento", "data_rilascio_documento"):
        if body.get(name) and parse_ddmmyyyy(body[name]) is None:
            raise fail("register_date", field=name)
    tipo = body["tipo_casella"]
    domain = address.rsplit("@", 1)[1]
    if domain != SANDBOX_DOMAIN[tipo]:
        raise fail("register_domain", domain=domain)
    if _live_box_with(ctx, address) is not None:
        raise fail("register_duplicate", casella=address)
    callback = _callback(body)
    cents = ctx.prices.cents(f"register.{tipo}")
    ensure_funds(ctx.state, cents, "register_credit")

    now = int(ctx.now)
    box_id = ctx.state.new_id(now)
    seq = ctx.state.seq
    box: Record = {name: body.get(name) or "" for name in BOX_REQUEST_FIELDS}
    box.update(
        {
            "casella_pec": address,
            "nazione_nascita_richiedente": body["nazione_nascita_richiedente"].upper(),
            "nazione_titolare": body["nazione_titolare"].upper(),
            "callback": callback,
            "dominio": domain,
            "owner": ctx.owner,
            "timestamp": {"registrazione": now, "ultima_modifica": now},
            "cellulare": body.get("cellulare") or "",
            "comune_nascita_richiedente": body.get("comune_nascita_richiedente") or "",
            "cod_attivazione": f"{10_000_000 + seq:08d}",
            "uid": f"MA{100_000 + seq:06d}",
            "conservazione": False,
            "data_scadenza": "",
            "descrizione": address,
            "sms": False,
            "spazio_conservazione": 0,
            "spazio_disco": 0,
            "spazio_storico": 0,
            "stato": "registrata",
            "storico": False,
            "id": box_id,
            "autorinnovo": bool(body.get("autorinnovo", False)),
        }
    )
    for name in DOCUMENT_FIELDS:
        if body.get(name):
            box[name] = body[name]
    ctx.state.boxes[box_id] = box
    ctx.state.dirty.add(("box", box_id))
    charge(ctx.state, cents, operation="POST /pec", ref=box_id, now=ctx.now)
    return envelope(box_view(box))


def get_box(ctx: Context, req: Request, box_id: str) -> Response:
    return envelope(box_view(_box(ctx, box_id, "get_wrong_id", "get_not_found")))


def revoke_box(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "revoke_wrong_id", "revoke_not_found")
    if box["stato"] == "revocata":
        raise fail("revoke_already")
    _require_evasa(box, "revoke_not_active")
    box["timestamp"]["revoca"] = int(ctx.now)
    set_box_stato(ctx, box, "revocata")
    return envelope(box_view(box))


def activate_box(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "patch_wrong_id", "patch_not_found")
    if box["stato"] not in ("registrata", "documenti_errati"):
        raise fail("activate_state")
    pdfs = _pdfs(req.json().get("documenti"), "activate_documents_required")
    rejected = any(documents.REJECT_MARKER in p for p in pdfs)
    if ctx.state.reject_next > 0:
        ctx.state.reject_next -= 1
        rejected = True
    box["documenti_attivazione"] = [f"{box_id}_{i}_attivazione.pdf" for i in range(len(pdfs))]
    ctx.schedule("box", box_id, "reject" if rejected else "activate")
    set_box_stato(ctx, box, "in_evasione")
    return envelope(box_view(box))


SPACE_UNITS: Final = {"spazio_disco": 1024, "spazio_storico": 1024, "spazio_conservazione": 512}


def _space_value(raw: object, current: int, unit: int) -> int:
    """``+N`` adds to the current space, a bare number sets it; both must be multiples of ``unit``."""
    increment = False
    if isinstance(raw, bool):
        raise fail("space_multiple", unit=unit)
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and re.fullmatch(r"\+?\d{1,9}", raw.strip()):
        increment = raw.strip().startswith("+")
        number = int(raw.strip().lstrip("+"))
    else:
        raise fail("space_multiple", unit=unit)
    if number < 0 or number % unit:
        raise fail("space_multiple", unit=unit)
    return current + number if increment else number


def modify_box(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "patch_wrong_id", "patch_not_found")
    _classic_only(box)
    _require_evasa(box)
    body = req.json()
    asked = {k: body[k] for k in SPACE_UNITS if body.get(k) not in (None, "")}
    if not asked:
        raise fail("space_required")
    targets: dict[str, int] = {}
    cents = 0
    for name, raw in asked.items():
        if name == "spazio_conservazione" and not box["conservazione"]:
            raise fail("space_conservazione_inactive")
        unit = SPACE_UNITS[name]
        target = _space_value(raw, box[name], unit)
        if target < box[name]:
            raise fail("space_downgrade", field=name)
        targets[name] = target
        cents += ctx.prices.cents(f"space.{name}", (target - box[name]) // unit)
    ensure_funds(ctx.state, cents, "modify_credit")
    box.update(targets)
    box["storico"] = box["spazio_storico"] > 0
    ctx.touch_box(box)
    charge(ctx.state, cents, operation="PATCH /pec/{id}/modifica", ref=box_id, now=ctx.now)
    return envelope(box_view(box))


def conservazione_box(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "patch_wrong_id", "patch_not_found")
    _classic_only(box)
    _require_evasa(box)
    if box["conservazione"]:
        raise fail("conservazione_active")
    body = req.json()
    pdfs = _pdfs(body.get("documenti"), "conservazione_documents_required")
    raw = body.get("spazio_conservazione")
    space = 512 if raw in (None, "") else _space_value(raw, 0, 512)
    if space <= 0:
        raise fail("space_multiple", unit=512)
    cents = ctx.prices.cents("conservazione", space // 512)
    ensure_funds(ctx.state, cents, "conservazione_credit")
    box["conservazione"] = True
    box["spazio_conservazione"] = space
    box["documenti_conservazione"] = [f"{box_id}_{i}_conservazione.pdf" for i in range(len(pdfs))]
    ctx.touch_box(box)
    charge(ctx.state, cents, operation="PATCH /pec/{id}/conservazione", ref=box_id, now=ctx.now)
    return envelope(box_view(box))


def transform_box(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "patch_wrong_id", "patch_not_found")
    _classic_only(box)
    _require_evasa(box, "transform_state")
    target = req.json().get("tipo_casella")
    if target in (None, ""):
        raise fail("transform_type_required")
    if target not in CLASSIC_TYPES:
        raise fail("field_invalid", field="tipo_casella")
    rank = CLASSIC_TYPES.index
    if rank(target) <= rank(box["tipo_casella"]):
        higher = CLASSIC_TYPES[rank(box["tipo_casella"]) + 1 :]
        allowed = " or ".join([", ".join(higher[:-1]), higher[-1]] if len(higher) > 1 else higher)
        raise fail("transform_downgrade", allowed=allowed or "none")
    cents = ctx.prices.cents(f"transform.{target}")
    ensure_funds(ctx.state, cents, "transform_credit")
    box["tipo_casella"] = target
    grow_to_base(box)
    ctx.touch_box(box)
    charge(ctx.state, cents, operation="PATCH /pec/{id}/trasformazione", ref=box_id, now=ctx.now)
    return envelope(box_view(box))


def renew_box(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "get_wrong_id", "get_not_found")
    if box["stato"] not in ("evasa", "revocata"):
        raise fail("renew_state")
    # absent means one year (the spec's default); present but empty is a mistake, not a default
    raw = req.query.get("anni", "1")
    if not re.fullmatch(r"\d{1,2}", raw) or not 1 <= int(raw) <= 10:
        raise fail("renew_years")
    years = int(raw)
    cents = ctx.prices.cents(f"renew.{box['tipo_casella']}", years)
    ensure_funds(ctx.state, cents, "renew_credit")
    expires = box["timestamp"].get("scadenza", 0)
    # An expired or revoked box restarts from today; a live one is extended from its expiry.
    start = expires if box["stato"] == "evasa" and expires > ctx.now else int(ctx.now)
    set_expiry(box, add_years(start, years))
    if box["stato"] == "revocata":
        box["timestamp"].pop("revoca", None)
        set_box_stato(ctx, box, "evasa")
    else:
        ctx.touch_box(box)
    charge(ctx.state, cents, operation="GET /pec/{id}/rinnovo", ref=box_id, now=ctx.now)
    return envelope(box_view(box))


USER_FIELDS: Final = ("nome", "cognome", "descrizione", "email_gestione_password")


def add_user(ctx: Context, req: Request, box_id: str) -> Response:
    box = _box(ctx, box_id, "users_wrong_id", "users_not_found")
    _classic_only(box)
    _require_evasa(box)
    users: list[Record] = box.setdefault("multiutenza", [])
    if len(users) >= MAX_USERS:
        raise fail("users_max", limit=MAX_USERS)
    body = req.json()
    _strings(body, USER_FIELDS, (), lambda name: fail("users_field_required", field=name))
    if not EMAIL.match(body["email_gestione_password"]):
        raise fail("field_invalid", field="email_gestione_password")
    cents = ctx.prices.cents("multiutenza")
    ensure_funds(ctx.state, cents, "users_credit")
    user: Record = {name: body[name] for name in USER_FIELDS}
    user.update(
        {
            "id_utenza": f"{box_id}_{len(users)}",
            "timestamp": {"attivazione": int(ctx.now)},
            "userid": f"MA{100_000 + ctx.state.next_seq():06d}",
        }
    )
    users.append(user)
    ctx.touch_box(box)
    charge(ctx.state, cents, operation="POST /pec/{id}/multiutenza", ref=box_id, now=ctx.now)
    return envelope(box_view(box))


def _form_lines(record: Record, keys: tuple[str, ...]) -> list[str]:
    return [f"{key}: {record.get(key, '')}" for key in keys]


FORM_KEYS: Final = (
    "id", "casella_pec", "tipo_casella", "tipo_cliente", "nome_richiedente", "cognome_richiedente",
    "codice_fiscale_richiedente", "data_nascita_richiedente", "email", "telefono",
    "indirizzo_titolare", "comune_titolare", "cap_titolare", "provincia_titolare", "uid",
    "cod_attivazione",
)  # fmt: skip


def _form_box(ctx: Context, box_id: str) -> Record:
    if not OBJECT_ID.match(box_id):
        raise fail("form_invalid_id")
    box = ctx.state.boxes.get(box_id)
    if box is None:
        raise fail("form_not_found", id=box_id)
    return box


def activation_form(ctx: Context, req: Request, box_id: str) -> Response:
    box = _form_box(ctx, box_id)
    lines = [*_form_lines(box, FORM_KEYS), "", "Firma del richiedente: ____________________"]
    content = pdf.render("Modulo di attivazione casella PEC (SANDBOX)", lines)
    return pdf_response(content, f"{box_id}_modulo_attivazione.pdf")


def conservazione_form(ctx: Context, req: Request, box_id: str) -> Response:
    box = _form_box(ctx, box_id)
    if box["stato"] != "evasa":
        raise fail("form_conservazione")
    lines = [*_form_lines(box, FORM_KEYS), "", "Firma del richiedente: ____________________"]
    content = pdf.render("Modulo di attivazione conservazione a norma (SANDBOX)", lines)
    return pdf_response(content, f"{box_id}_modulo_conservazione.pdf")


# ---------------------------------------------------------------- /comunica_pec

COMM_REQUIRED: Final = (
    "casella_pec", "cf", "nome", "cognome", "qualifica", "email", "cellulare", "ragione_sociale",
    "cf_piva", "comune", "provincia",
)  # fmt: skip
QUALIFICHE: Final = (
    "AMMINISTRATORE", "COMMISSARIO_GIUDIZIARIO", "CURATORE_FALLIMENTARE", "LEGALE_RAPPRESENTANTE",
    "LIQUIDATORE", "SOCIO", "TITOLARE",
)  # fmt: skip


def list_comms(ctx: Context, req: Request, _: str) -> Response:
    if not ctx.state.comms:
        raise fail("no_request")
    return envelope([comm_summary(c) for c in ctx.state.comms.values()])


def create_comm(ctx: Context, req: Request, _: str) -> Response:
    body = req.json()
    _strings(body, COMM_REQUIRED, (), lambda name: fail("comm_field_required", field=name))
    if not EMAIL.match(body["casella_pec"].strip()):
        raise fail("comm_casella_invalid")
    _enum(body, "qualifica", QUALIFICHE)
    if "pec_amministratore" in body and not isinstance(body["pec_amministratore"], bool):
        raise fail("field_invalid", field="pec_amministratore")
    callback = _callback(body)
    cents = ctx.prices.cents("comunica_pec")
    ensure_funds(ctx.state, cents, "comm_credit")
    comm_id = ctx.state.new_id(ctx.now)
    comm: Record = {name: body[name] for name in COMM_REQUIRED}
    comm["casella_pec"] = body["casella_pec"].strip().lower()
    comm.update(
        {
            "callback": callback,
            "stato": "codice_in_richiesta",
            "codice_registro_imprese": "",
            "documenti_registro_imprese": [],
            "owner": ctx.owner,
            "timestamp": int(ctx.now),
            "id": comm_id,
            "pec_amministratore": bool(body.get("pec_amministratore", False)),
        }
    )
    ctx.state.comms[comm_id] = comm
    ctx.state.dirty.add(("comm", comm_id))
    ctx.schedule("comm", comm_id, "issue_code")
    charge(ctx.state, cents, operation="POST /comunica_pec", ref=comm_id, now=ctx.now)
    return envelope(comm_view(comm))


def get_comm(ctx: Context, req: Request, comm_id: str) -> Response:
    return envelope(comm_view(_comm(ctx, comm_id, "comm_wrong_id", "comm_not_found")))


def upload_comm(ctx: Context, req: Request, comm_id: str) -> Response:
    comm = _comm(ctx, comm_id, "upload_wrong_id", "upload_not_found")
    if comm["stato"] != "in_attesa_di_documenti":
        raise fail("upload_state")
    items = documents.as_list(req.json().get("documenti"))
    if items is None:
        raise fail("upload_documents_required")
    for item in items:
        data = documents.decode(item)
        if data is None or not documents.is_signed_data(data):
            raise fail("p7m_required")
    comm["documenti_registro_imprese"] = [f"{comm_id}_{i}_registro_imprese.p7m" for i in range(len(items))]
    ctx.schedule("comm", comm_id, "register")
    set_comm_stato(ctx, comm, "documenti_caricati")
    return envelope(comm_view(comm))


def procura_form(ctx: Context, req: Request, comm_id: str) -> Response:
    if not OBJECT_ID.match(comm_id):
        raise fail("form_invalid_id")
    comm = ctx.state.comms.get(comm_id)
    if comm is None:
        raise fail("form_not_found", id=comm_id)
    if comm["stato"] == "codice_in_richiesta":
        raise fail("form_procura")
    keys = (
        "id", "codice_registro_imprese", "casella_pec", "ragione_sociale", "cf_piva", "comune",
        "provincia", "nome", "cognome", "cf", "qualifica", "email", "cellulare",
    )  # fmt: skip
    lines = [*_form_lines(comm, keys), "", "Firma digitale (p7m) del dichiarante"]
    content = pdf.render("Procura per la comunicazione PEC al Registro Imprese (SANDBOX)", lines)
    return pdf_response(content, f"{comm_id}_procura_registro_imprese.pdf")


# ---------------------------------------------------------------- routing

Handler = Callable[[Context, Request, str], Response]


@dataclass(frozen=True, slots=True)
class Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, Handler]
    text_errors: bool = False


ROUTES: Final = (
    Route(re.compile(r"^/domini_pec(?:/(.*))?$"), {"GET": check_domain}),
    Route(re.compile(r"^/verifica_pec(?:/(.*))?$"), {"GET": verify_address}),
    Route(re.compile(r"^/pec()$"), {"GET": list_boxes, "POST": register_box}),
    Route(re.compile(r"^/pec/([^/]*)$"), {"GET": get_box, "DELETE": revoke_box}),
    Route(re.compile(r"^/pec/([^/]*)/attivazione$"), {"PATCH": activate_box}),
    Route(re.compile(r"^/pec/([^/]*)/modifica$"), {"PATCH": modify_box}),
    Route(re.compile(r"^/pec/([^/]*)/conservazione$"), {"PATCH": conservazione_box}),
    Route(re.compile(r"^/pec/([^/]*)/trasformazione$"), {"PATCH": transform_box}),
    Route(re.compile(r"^/pec/([^/]*)/rinnovo$"), {"GET": renew_box}),
    Route(re.compile(r"^/pec/([^/]*)/multiutenza$"), {"POST": add_user}),
    Route(re.compile(r"^/pec/([^/]*)/modulo_attivazione$"), {"GET": activation_form}, True),
    Route(re.compile(r"^/pec/([^/]*)/modulo_conservazione$"), {"GET": conservazione_form}, True),
    Route(re.compile(r"^/comunica_pec()$"), {"GET": list_comms, "POST": create_comm}),
    Route(re.compile(r"^/comunica_pec/([^/]*)$"), {"GET": get_comm, "PATCH": upload_comm}),
    Route(re.compile(r"^/comunica_pec/([^/]*)/procura_registro_imprese$"), {"GET": procura_form}, True),
)


# every method some route (or admin path) takes; anything else is answered 405 on any path
METHODS: Final = frozenset(method for route in ROUTES for method in route.methods)


def normalise_path(path: str) -> str:
    return "/" + path.split("?", 1)[0].strip("/")


def resolve(method: str, path: str) -> tuple[Route, Handler, str]:
    """The route, handler and (percent-decoded) path argument; raises 404/405 envelopes."""
    for route in ROUTES:
        match = route.pattern.match(path)
        if match is None:
            continue
        handler = route.methods.get(method.upper())
        if handler is None:
            raise fail("method_not_allowed", method=method.upper(), path=path)
        return route, handler, unquote(match.group(1) or "")
    raise fail("route_not_found", method=method.upper(), path=path)
