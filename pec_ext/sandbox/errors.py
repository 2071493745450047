"""The sandbox's single table of error answers.

Codes below 900 and their messages are the ones Openapi documents in the PEC spec. The spec leaves
some refusals undocumented (a duplicate address, a space downgrade, a missing optional body...); for
those the sandbox answers with codes in the 9xx range, which the real API does not use in its
documentation, so a test can never mistake an invented code for a documented one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    code: int | None
    message: str


class SandboxError(Exception):
    """A refusal: becomes the JSON envelope (or a text/plain body for the PDF downloads)."""

    def __init__(self, spec: ErrorSpec, message: str | None = None) -> None:
        self.status = spec.status
        self.code = spec.code
        self.message = spec.message if message is None else message
        super().__init__(f"{self.status}/{self.code}: {self.message}")


def fail(name: str, /, **fmt: object) -> SandboxError:
    spec = ERRORS[name]
    return SandboxError(spec, spec.message.format(**fmt) if fmt else None)


ERRORS: Final[dict[str, ErrorSpec]] = {
    # authentication and routing (the gateway answers these, not the PEC service)
    "unauthorized": ErrorSpec(401, None, "missing or invalid bearer token"),
    "forbidden": ErrorSpec(403, None, "the token does not hold the scope {scope}"),
    "token_expired": ErrorSpec(401, None, "the bearer token has expired"),
    "route_not_found": ErrorSpec(404, None, "no such endpoint: {method} {path}"),
    "method_not_allowed": ErrorSpec(405, None, "method {method} not allowed on {path}"),
    "bad_json": ErrorSpec(400, 920, "the request body must be a JSON object"),
    "storage_failed": ErrorSpec(
        503, 930, "the sandbox could not save this request ({reason}); nothing was applied, retry it"
    ),
    # GET /domini_pec/{dominio}
    "domain_required": ErrorSpec(428, 400, "domain required"),
    "domain_invalid": ErrorSpec(406, 401, "domain not valid"),
    "domain_credit": ErrorSpec(402, 403, "Insufficient Credit in Wallet: {balance}"),
    # GET /verifica_pec/{pec}
    "verify_required": ErrorSpec(428, 207, "casella_pec required"),
    "verify_invalid": ErrorSpec(406, 208, "invalid casella_pec"),
    # GET /pec
    "no_pec": ErrorSpec(404, 200, "no pec linked to this account"),
    # POST /pec
    "register_casella_required": ErrorSpec(428, 207, "casella_pec required"),
    "register_tipo_required": ErrorSpec(428, 224, "tipo_casella required"),
    "register_field_required": ErrorSpec(428, 906, "{field} required"),
    "register_birth_date": ErrorSpec(
        406, 242, "data_nascita_richiedente not valid, accepted format: dd/mm/yyyy"
    ),
    "register_date": ErrorSpec(406, 904, "{field} not valid, accepted format: dd/mm/yyyy"),
    "register_domain": ErrorSpec(
        404, 326, "the domain {domain} is non-existent in the system or belongs to someone else"
    ),
    "register_duplicate": ErrorSpec(406, 901, "casella_pec {casella} is already registered"),
    "register_casella_invalid": ErrorSpec(406, 208, "invalid casella_pec"),
    "register_credit": ErrorSpec(402, 262, "Insufficient Credit in Wallet: {balance}"),
    "field_invalid": ErrorSpec(406, 904, "{field} not valid"),
    "callback_invalid": ErrorSpec(406, 903, "callback not valid"),
    # GET /pec/{id}, GET /pec/{id}/rinnovo
    "get_wrong_id": ErrorSpec(400, 201, "Wrong id"),
    "get_not_found": ErrorSpec(404, 202, "no pec found"),
    "renew_state": ErrorSpec(428, 203, "you can renew only evaded or revoked pec"),
    "renew_years": ErrorSpec(406, 911, "anni not valid"),
    "renew_credit": ErrorSpec(402, 905, "Insufficient Credit in Wallet: {balance}"),
    # DELETE /pec/{id}
    "revoke_wrong_id": ErrorSpec(400, 301, "Wrong id"),
    "revoke_not_found": ErrorSpec(404, 302, "no pec found"),
    "revoke_already": ErrorSpec(406, 303, "your pec has already been revoked"),
    "revoke_not_active": ErrorSpec(428, 304, "you can revoke the pec only if it is active"),
    # PATCH /pec/{id}/attivazione|modifica|conservazione|trasformazione share 265/266
    "patch_wrong_id": ErrorSpec(400, 265, "Wrong id"),
    "patch_not_found": ErrorSpec(404, 266, "no pec found"),
    "activate_state": ErrorSpec(
        428, 267, "you can activate the pec only when it is in the 'registrata|documenti_errati' state"
    ),
    "activate_documents_required": ErrorSpec(428, 907, "documenti required"),
    "pdf_required": ErrorSpec(406, 296, "wrong file format, pdf required"),
    "not_processed": ErrorSpec(428, 909, "you can change the pec only if it has been processed"),
    "space_required": ErrorSpec(428, 910, "spazio_disco, spazio_storico or spazio_conservazione required"),
    "space_multiple": ErrorSpec(406, 325, "the system only takes into account multiples of {unit}"),
    "space_downgrade": ErrorSpec(406, 902, "only a space upgrade is allowed: {field}"),
    "space_conservazione_inactive": ErrorSpec(
        428, 282, "you must first activate the 'conservazione' service"
    ),
    "modify_credit": ErrorSpec(402, 290, "Insufficient Credit in Wallet: {balance}"),
    "conservazione_documents_required": ErrorSpec(428, 294, "documenti required"),
    "conservazione_active": ErrorSpec(406, 293, "conservazione service is already active"),
    "conservazione_credit": ErrorSpec(402, 297, "Insufficient Credit in Wallet: {balance}"),
    "transform_type_required": ErrorSpec(428, 906, "tipo_casella required"),
    "transform_state": ErrorSpec(
        428, 272, "you can trasform your certified mail only if it has been processed"
    ),
    "transform_downgrade": ErrorSpec(
        406, 276, "a downgrade of the 'tipo_casella' is not allowed; only {allowed} allowed"
    ),
    "transform_credit": ErrorSpec(402, 279, "Insufficient Credit in Wallet: {balance}"),
    "box_type_refused": ErrorSpec(
        428, 390, "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA"
    ),
    # POST /pec/{id}/multiutenza
    "users_wrong_id": ErrorSpec(400, 212, "Wrong id"),
    "users_not_found": ErrorSpec(404, 213, "no pec found"),
    "users_max": ErrorSpec(406, 217, "maximum number of users reached: {limit}"),
    "users_field_required": ErrorSpec(428, 906, "{field} required"),
    "users_credit": ErrorSpec(402, 220, "Insufficient Credit in Wallet: {balance}"),
    # /comunica_pec
    "no_request": ErrorSpec(404, 332, "no request linked to this account"),
    "comm_wrong_id": ErrorSpec(400, 333, "Wrong id"),
    "comm_not_found": ErrorSpec(404, 334, "no request found"),
    "comm_casella_invalid": ErrorSpec(406, 336, "invalid casella_pec"),
    "comm_field_required": ErrorSpec(428, 344, "{field} required"),
    "comm_credit": ErrorSpec(402, 351, "Insufficient Credit in Wallet: {balance}"),
    "upload_wrong_id": ErrorSpec(400, 353, "Wrong id"),
    "upload_not_found": ErrorSpec(404, 354, "no request found"),
    "upload_state": ErrorSpec(
        406, 355, "you can only upload documents when stato is 'in_attesa_di_documenti'"
    ),
    "upload_documents_required": ErrorSpec(428, 356, "documenti required"),
    "p7m_required": ErrorSpec(406, 908, "wrong file format, p7m required"),
    # PDF downloads answer text/plain; the code is irrelevant there
    "form_invalid_id": ErrorSpec(400, None, "Invalid id"),
    "form_not_found": ErrorSpec(404, None, "no request matches this id: {id}"),
    "form_conservazione": ErrorSpec(
        406, None, "you cannot activate conservation if you do not first activate a pec"
    ),
    "form_procura": ErrorSpec(406, None, "you cannot download this module, it doesn't exist yet"),
}
