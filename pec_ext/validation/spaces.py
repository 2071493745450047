"""Bodies for ``PATCH /pec/{id}/modifica`` (box space), checked before sending.

Sizes are in MB: ``spazio_disco`` and ``spazio_storico`` in multiples of 1024, and
``spazio_conservazione`` in multiples of 512. A string ``"+1024"`` adds to the current size; a
plain number sets it, and only upgrades are allowed. DOMICILIODIGITALE and PECMASSIVA boxes take
no space change at all, and ``spazio_conservazione`` needs the conservazione service active.

The rules about the box need the box: pass what ``GET /pec/{id}`` returned, as a mapping with
``tipo_casella``, ``conservazione``, ``spazio_disco``, ``spazio_storico`` and
``spazio_conservazione``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pec_ext.enums import SINGLE_DOCUMENT_TYPES, TipoCasella, parse_open
from pec_ext.validation.identifiers import invalid

__all__ = [
    "SPACE_STEPS",
    "check_size",
    "check_space_body",
    "space_absolute_body",
    "space_added",
    "space_increment_body",
]

SPACE_STEPS: Mapping[str, int] = {
    "spazio_disco": 1024,
    "spazio_storico": 1024,
    "spazio_conservazione": 512,
}
"""Each space field and the multiple (in MB) its sizes must be."""

_NUMBER_RE = re.compile(r"\+?[0-9]{1,9}")
_AT_LEAST_ONE = "at least one of spazio_disco, spazio_storico, spazio_conservazione"


def check_size(field: str, value: object) -> int:
    """A size in MB for ``field``: a positive ``int`` (not a bool), a multiple of the field's step."""
    if field not in SPACE_STEPS:
        raise invalid("field", field, list(SPACE_STEPS))
    step = SPACE_STEPS[field]
    allowed = f"a positive multiple of {step} (MB), e.g. {step}, {2 * step}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, value, allowed, reason="must be an integer")
    if value <= 0 or value % step:
        raise invalid(field, value, allowed)
    return value


def _check_box(box: Mapping[str, Any] | None, requested: Mapping[str, object]) -> None:
    if box is None:
        return
    if not isinstance(box, Mapping):
        raise invalid("box", box, "the box as a mapping (tipo_casella, conservazione, spazio_*)")
    tipo = parse_open(TipoCasella, box.get("tipo_casella"))
    if tipo in SINGLE_DOCUMENT_TYPES:
        raise invalid(
            "tipo_casella",
            box.get("tipo_casella"),
            ["STANDARD", "BRONZE", "SILVER", "GOLD"],
            reason=f"space cannot be changed on a {tipo} box",
        )
    if "spazio_conservazione" in requested and not box.get("conservazione"):
        raise invalid(
            "spazio_conservazione",
            requested["spazio_conservazione"],
            "no spazio_conservazione until the conservazione service is active",
            reason="conservazione is not active on this box: activate it first (PATCH .../conservazione)",
        )


def _sizes(disco: object, storico: object, conservazione: object) -> dict[str, int]:
    given = {"spazio_disco": disco, "spazio_storico": storico, "spazio_conservazione": conservazione}
    sizes = {field: check_size(field, value) for field, value in given.items() if value is not None}
    if not sizes:
        raise invalid("spazio", None, _AT_LEAST_ONE, reason="nothing to change")
    return sizes


def space_increment_body(
    disco: object = None,
    storico: object = None,
    conservazione: object = None,
    *,
    box: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """A body adding space: ``{"spazio_disco": "+1024", ...}``.

    With ``box`` (the box as read), a DOMICILIODIGITALE/PECMASSIVA box, or conservazione space on a
    box without the conservazione service, is refused here rather than by the server.
    """
    sizes = _sizes(disco, storico, conservazione)
    _check_box(box, sizes)
    return {field: f"+{size}" for field, size in sizes.items()}


def _current(current: Mapping[str, Any], field: str) -> int:
    value = current.get(field)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"current.{field}", value, "the box's current size in MB (an integer)")
    return value


def space_absolute_body(
    current: Mapping[str, Any],
    disco: object = None,
    storico: object = None,
    conservazione: object = None,
) -> dict[str, int]:
    """A body setting sizes: ``{"spazio_disco": 3072, ...}``; only upgrades of ``current``.

    A requested size below the current one is refused, naming both; one equal to the current
    one is left out of the body (nothing to change), and if nothing is left, that is refused too.
    """
    if not isinstance(current, Mapping):
        raise invalid("current", current, "the box as a mapping (tipo_casella, conservazione, spazio_*)")
    if current.get("tipo_casella") in (None, ""):
        raise invalid(
            "current.tipo_casella",
            current.get("tipo_casella"),
            [t.value for t in TipoCasella],
            reason="required",
        )
    sizes = _sizes(disco, storico, conservazione)
    _check_box(current, sizes)
    return _absolute(current, sizes)


def _absolute(
    current: Mapping[str, Any], sizes: Mapping[str, int], *, allow_empty: bool = False
) -> dict[str, int]:
    body: dict[str, int] = {}
    for field, size in sizes.items():
        now = _current(current, field)
        if size < now:
            raise invalid(
                field,
                size,
                f"at least {now} MB (the current size)",
                reason=f"downgrade from {now} MB to {size} MB: only upgrades are allowed",
            )
        if size > now:
            body[field] = size
    if not body and not allow_empty:
        raise invalid(
            "spazio",
            dict(sizes),
            "a size above the current one",
            reason="every requested size equals the current one: nothing to change",
        )
    return body


def check_space_body(body: object, *, box: Mapping[str, Any] | None = None) -> dict[str, str | int]:
    """A raw ``PATCH /pec/{id}/modifica`` body, as the spec shapes it, checked.

    Each value is ``"+N"`` (add N MB), or ``N`` / ``"N"`` (set to N MB); the result keeps
    increments as ``"+N"`` strings and turns absolute sizes into ints. With ``box``, absolute
    sizes are also checked against the current ones (no downgrade).
    """
    if not isinstance(body, Mapping):
        raise invalid("body", body, _AT_LEAST_ONE, reason="must be a mapping")
    unknown = sorted(str(key) for key in body if key not in SPACE_STEPS)
    if unknown:
        raise invalid("body", unknown[0], list(SPACE_STEPS), reason="unknown field")
    increments: dict[str, int] = {}
    absolutes: dict[str, int] = {}
    for field, value in body.items():
        if value is None:
            continue
        if isinstance(value, str):
            text = value.strip()
            if not _NUMBER_RE.fullmatch(text):
                step = SPACE_STEPS[field]
                raise invalid(field, value, f'"+{step}" (add) or {step} (set), in multiples of {step}')
            target = increments if text.startswith("+") else absolutes
            target[field] = check_size(field, int(text.lstrip("+")))
        else:
            absolutes[field] = check_size(field, value)
    if not increments and not absolutes:
        raise invalid("body", dict(body), _AT_LEAST_ONE, reason="nothing to change")
    _check_box(box, {**increments, **absolutes})
    result: dict[str, str | int] = {field: f"+{size}" for field, size in increments.items()}
    if absolutes:
        result.update(
            _absolute(box, absolutes, allow_empty=bool(increments)) if box is not None else absolutes
        )
    return {field: result[field] for field in SPACE_STEPS if field in result}


def space_added(body: Mapping[str, str | int], box: Mapping[str, Any]) -> dict[str, int]:
    """The MB each field of a checked body (``check_space_body``) adds to ``box``, for pricing."""
    return {
        field: int(value[1:]) if isinstance(value, str) else value - _current(box, field)
        for field, value in body.items()
    }
