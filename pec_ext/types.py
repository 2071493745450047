"""The keyword fields of ``register_mailbox``, ``communicate_pec`` and ``add_user``, for type checkers.

``pec.register_mailbox(**fields)`` is typed ``**fields: Unpack[RegisterFields]``, so mypy or pyright
flag a misspelt field (``tipo_casela=``) or a value of the wrong type (``casella_pec=1``) before
the code runs. Every key is optional here because a body model or mapping given positionally may
supply it; which fields are required, and which values are allowed, the guards check at run time
(:mod:`pec_ext.validation.bodies`), before any request is sent. Enum fields take any letter case, so they are
``str`` (the members of :mod:`pec_ext.enums` are ``str`` too); dates are ``dd/mm/yyyy`` strings or
``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Required, TypedDict

__all__ = ["CallbackFields", "CommunicationFields", "RegisterFields", "UserFields"]


class CallbackFields(TypedDict, total=False):
    """``callback``: the URL the server calls on every change of state."""

    url: Required[str]
    method: str  # "POST" or "JSON"
    field: str
    data: Mapping[str, Any]


class RegisterFields(TypedDict, total=False):
    """The fields of ``POST /pec`` (``register_mailbox``); see ``pec boxes register --help``."""

    casella_pec: str
    tipo_casella: str
    tipo_cliente: str
    sottotipo_cliente: str | None
    sottotipo_cliente_altro: str | None
    nome_richiedente: str
    cognome_richiedente: str
    email: str
    telefono: str
    cellulare: str | None
    codice_fiscale_richiedente: str
    data_nascita_richiedente: str | dt.date
    sesso_richiedente: str
    nazione_nascita_richiedente: str
    comune_nascita_richiedente: str | None
    provincia_nascita_richiedente: str | None
    denominazione_titolare: str | None
    cf_piva_titolare: str | None
    indirizzo_titolare: str
    comune_titolare: str
    cap_titolare: str
    nazione_titolare: str
    provincia_titolare: str
    callback: CallbackFields | None
    autorinnovo: bool | None
    tipo_documento: str | None
    numero_documento: str | None
    data_scadenza_documento: str | dt.date | None
    documento_rilasciato_da: str | None
    data_rilascio_documento: str | dt.date | None


class CommunicationFields(TypedDict, total=False):
    """The fields of ``POST /comunica_pec`` (``communicate_pec``)."""

    casella_pec: str
    cf: str
    nome: str
    cognome: str
    qualifica: str
    email: str
    cellulare: str
    ragione_sociale: str
    cf_piva: str
    comune: str
    pec_amministratore: bool | None
    provincia: str
    callback: CallbackFields | None


class UserFields(TypedDict, total=False):
    """The fields of ``POST /pec/{id}/multiutenza`` (``add_user``)."""

    nome: str
    cognome: str
    descrizione: str
    email_gestione_password: str
