"""Italian tax identifiers: codice fiscale and partita IVA, checked with python-stdnum.

Every function returns the compact form (no blanks, ``-`` or ``:``, upper case, no ``IT``
prefix on a partita IVA) and raises :class:`~pec_ext.errors.ValidationError` otherwise.

``strict=True`` (the default) checks the check character/digit and, for a personal codice
fiscale, the encoded birth date. ``strict=False`` is for sandbox test data such as the spec's own
example ``RSSXXXXXXXX56E``, which no real check accepts. Relaxed, after compaction:

* a codice fiscale is 11 to 16 ASCII letters and digits with at least one digit
  (``RSSXXXXXXXX56E`` passes, ``""``, ``"-"``, ``"ABC"``, ``"MARIOROSSIMARIOR"`` do not);
* a partita IVA is exactly 11 ASCII digits, not all zero (checksum not verified).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stdnum.it import codicefiscale as _codicefiscale
from stdnum.it import iva as _iva

from pec_ext.errors import ValidationError

__all__ = [
    "CF_FORMAT",
    "MAX_SHOWN",
    "PIVA_FORMAT",
    "check_cf_or_piva",
    "check_codice_fiscale",
    "check_partita_iva",
    "invalid",
]

CF_FORMAT = "codice fiscale: 16 characters like RSSMRA80A01H501U, or 11 digits"
PIVA_FORMAT = "partita IVA: 11 digits with a valid check digit, like 01114601006"
_RELAXED_CF = "relaxed codice fiscale: 11 to 16 letters and digits, at least one digit"
_RELAXED_PIVA = "relaxed partita IVA: 11 digits"

_RELAXED_CF_RE = re.compile(r"(?=[A-Z0-9]*[0-9])[A-Z0-9]{11,16}")
_PIVA_RE = re.compile(r"[0-9]{11}")
# A sane cap before handing text to stdnum; real identifiers are at most 16 characters long.
_MAX_INPUT = 64


MAX_SHOWN = 120
"""Longest rendering of a refused value inside an error message."""


class _Abridged:
    """Stands in for a refused value in the message only; ``ValidationError.value`` keeps the original."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _abridge(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview) and len(value) > 32:
        # A document's content says nothing useful in a message; its size does.
        return _Abridged(f"<{len(value)} bytes>")
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return _Abridged(f"{value[:MAX_SHOWN]!r}... ({len(value)} characters)")
    try:
        text = repr(value)
    except Exception:  # e.g. an int past sys.get_int_max_str_digits(), or a broken __repr__
        return _Abridged(f"<unprintable {type(value).__name__}>")
    if len(text) > MAX_SHOWN:
        return _Abridged(f"{text[:MAX_SHOWN]}... ({type(value).__name__})")
    return value


def invalid(
    field: str, value: object, allowed: str | Iterable[object] | None = None, reason: str | None = None
) -> ValidationError:
    """A :class:`ValidationError` whose message stays short and printable whatever ``value`` is.

    A 25 MB string would otherwise be copied into the message, and a huge int cannot be
    rendered at all; ``.value`` still holds the original object.
    """
    error = ValidationError(field, _abridge(value), allowed, reason)
    error.value = value
    return error


def _compact(field: str, value: object, allowed: str, *, strip_it_prefix: bool = True) -> str:
    if not isinstance(value, str):
        # An int would have lost its leading zeros already, so it cannot be trusted either.
        raise invalid(field, value, allowed, reason="required" if value is None else "must be a string")
    if len(value) > _MAX_INPUT:
        raise invalid(field, value, allowed, reason="too long")
    compact: str = _iva.compact(value) if strip_it_prefix else _codicefiscale.compact(value)
    if not compact:
        raise invalid(field, value, allowed, reason="empty")
    if not compact.isascii():
        raise invalid(field, value, allowed, reason="only ASCII letters and digits are allowed")
    return compact


def check_codice_fiscale(field: str, value: object, *, strict: bool = True) -> str:
    """A codice fiscale (16-character personal code, or the 11-digit numeric one), compacted."""
    allowed = CF_FORMAT if strict else _RELAXED_CF
    compact = _compact(field, value, allowed, strip_it_prefix=False)
    if strict:
        try:
            _codicefiscale.validate(compact)
        except Exception as exc:  # stdnum raises ValueError subclasses; be safe on odd input too
            raise invalid(field, value, allowed, reason=_reason(exc)) from None
    elif not _RELAXED_CF_RE.fullmatch(compact):
        raise invalid(field, value, allowed)
    return compact


def check_partita_iva(field: str, value: object, *, strict: bool = True) -> str:
    """A partita IVA (11 digits, ``IT`` prefix and separators removed)."""
    allowed = PIVA_FORMAT if strict else _RELAXED_PIVA
    compact = _compact(field, value, allowed)
    if strict:
        try:
            _iva.validate(compact)
        except Exception as exc:
            raise invalid(field, value, allowed, reason=_reason(exc)) from None
    elif not _PIVA_RE.fullmatch(compact) or compact == "0" * 11:
        raise invalid(field, value, allowed)
    return compact


def check_cf_or_piva(field: str, value: object, *, strict: bool = True) -> str:
    """Either a codice fiscale or a partita IVA (as ``cf_piva_titolare`` and ``cf_piva`` take)."""
    allowed = f"{CF_FORMAT}; or {PIVA_FORMAT}" if strict else f"{_RELAXED_CF}; or {_RELAXED_PIVA}"
    compact = _compact(field, value, allowed)
    if _PIVA_RE.fullmatch(compact):
        try:
            return check_partita_iva(field, value, strict=strict)
        except ValidationError as exc:
            raise invalid(field, value, allowed, reason=exc.reason) from None
    try:
        return check_codice_fiscale(field, value, strict=strict)
    except ValidationError as exc:
        raise invalid(field, value, allowed, reason=exc.reason) from None


def _reason(exc: Exception) -> str:
    # stdnum messages read "The number has an invalid check digit."; keep them, minus the dot.
    text = str(exc).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "invalid"
