"""The applicant's fields of ``pec boxes register``, described for people: option help and template.

What is required, which values are allowed and which fields are dates all come from
:mod:`pec_ext.validation` and :mod:`pec_ext.enums`; only the plain-language description of each field
lives here.
"""

from __future__ import annotations

import textwrap

from pec_ext.enums import MEANINGS, SOTTOTIPI_BY_TIPO_CLIENTE, TipoCliente
from pec_ext.validation.bodies import REGISTER_DATES, REGISTER_ENUMS, REGISTER_FIELDS, REGISTER_REQUIRED
from pec_ext.validation.fields import BOX_DOMAINS, box_domains

DESCRIPTIONS = {
    "casella_pec": "address of the new box",
    "tipo_casella": "box type",
    "tipo_cliente": "customer type",
    "sottotipo_cliente": "customer subtype, one of those of tipo_cliente",
    "sottotipo_cliente_altro": "description of the subtype, when sottotipo_cliente is X",
    "nome_richiedente": "applicant's first name",
    "cognome_richiedente": "applicant's surname",
    "email": "applicant's ordinary e-mail address",
    "telefono": "applicant's telephone",
    "cellulare": "applicant's mobile phone",
    "codice_fiscale_richiedente": "applicant's codice fiscale",
    "data_nascita_richiedente": "applicant's date of birth",
    "sesso_richiedente": "applicant's sex",
    "nazione_nascita_richiedente": "country of birth, as a code (IT)",
    "comune_nascita_richiedente": "town of birth",
    "provincia_nascita_richiedente": "province of birth, as a code (RM)",
    "denominazione_titolare": "holder's name, when the holder is a company or body",
    "cf_piva_titolare": "holder's codice fiscale or partita IVA",
    "indirizzo_titolare": "holder's street address",
    "comune_titolare": "holder's town",
    "cap_titolare": "holder's postal code (five digits in Italy)",
    "nazione_titolare": "holder's country, as a code (IT)",
    "provincia_titolare": "holder's province, as a code (RM)",
    "tipo_documento": "identity document type",
    "numero_documento": "identity document number",
    "data_scadenza_documento": "identity document expiry date",
    "documento_rilasciato_da": "who issued the identity document",
    "data_rilascio_documento": "identity document issue date",
    "autorinnovo": "renew automatically at expiry, from the wallet",
    "callback": "URL called on every change of state",
}
"""What each field is; the keys are exactly the register body's fields (a test checks it)."""

DATE_FORMAT = "dd/mm/yyyy, e.g. 01/01/1980"
# Files and flags carry these two differently (--autorinnovo/--no-autorinnovo, --callback-url).
NOT_TEXT = ("autorinnovo", "callback")
TEXT_FIELDS = tuple(name for name in REGISTER_FIELDS if name not in NOT_TEXT)
"""The fields given as ``--name value`` flags (one option each), in the spec's order."""


def values(name: str) -> list[tuple[str, str]]:
    """The allowed values of an enum field with their meaning, in the enum's order."""
    enum_cls = REGISTER_ENUMS[name]
    meanings = MEANINGS.get(enum_cls, {})
    return [(str(m.value), meanings.get(str(m.value), "")) for m in enum_cls]


def _listing(name: str) -> str:
    return ", ".join(f"{value} {meaning}".strip() for value, meaning in values(name))


def _domains_text() -> str:
    envs = sorted({env for env, _ in BOX_DOMAINS})
    parts = []
    for env in envs:
        listed = ", ".join(
            f"@{domain} ({'/'.join(t.value for t in types)})" for domain, types in box_domains(env).items()
        )
        parts.append(f"{env}: {listed}")
    return "; ".join(parts)


def _subtypes_by_customer() -> list[str]:
    meanings = MEANINGS[REGISTER_ENUMS["sottotipo_cliente"]]
    lines = []
    for tipo in TipoCliente:
        fitting = SOTTOTIPI_BY_TIPO_CLIENTE[tipo]
        if not fitting:
            continue
        # X (altro) last: it needs sottotipo_cliente_altro too
        codes = (str(s.value) for s in REGISTER_ENUMS["sottotipo_cliente"] if s in fitting)
        ordered = sorted(codes, key="X".__eq__)
        lines.append(f"{tipo.value}: " + ", ".join(f"{v} {meanings.get(v, '')}".strip() for v in ordered))
    none = [t.value for t in TipoCliente if not SOTTOTIPI_BY_TIPO_CLIENTE[t]]
    lines.append(f"{', '.join(none)}: no subtype")
    return lines


def option_help(name: str) -> str:
    """The ``--help`` text of one field's option."""
    description = DESCRIPTIONS[name]
    label = "REQUIRED. " if name in REGISTER_REQUIRED else "Optional. "
    text = label + description[0].upper() + description[1:]
    if name == "casella_pec":
        text += f"; domain by type, {_domains_text()}"
    elif name == "sottotipo_cliente":
        text += " (listed below)"
    elif name in REGISTER_ENUMS:
        text += ": " + _listing(name)
    if name in REGISTER_DATES:
        text += f"; {DATE_FORMAT}"
    return text + "."


def epilog() -> str:
    """The part of ``pec boxes register --help`` after the options: subtypes and the template."""
    lines = ["\b", "sottotipo_cliente, by tipo_cliente:"]
    for line in _subtypes_by_customer():
        lines += textwrap.wrap(line, 100, initial_indent="  ", subsequent_indent="      ")
    lines += [
        "",
        "\b",
        "Every field is checked before anything is sent or paid; all the bad ones are reported at once.",
        "Enum values are accepted in any letter case. Start from a template:",
        "  pec boxes register --template > applicant.toml",
        "  pec boxes register --from-file applicant.toml",
    ]
    return "\n".join(lines)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, 96, initial_indent="# ", subsequent_indent="#   ")


def template(environment: str) -> str:
    """A commented TOML applicant file for ``--from-file``: every field, blank, with what it takes."""
    out = [
        "# Applicant for a new PEC box. Fill it in, then:",
        "#   pec boxes register --from-file applicant.toml",
        '# REQUIRED fields must be filled in; optional ones may stay empty ("") and are not sent.',
        f"# Dates are {DATE_FORMAT}. Nothing is sent or paid before every field passes the checks.",
        f"# Box domains below are those of the {environment} environment.",
        "",
    ]
    for name in TEXT_FIELDS:
        label = "REQUIRED" if name in REGISTER_REQUIRED else "optional"
        text = f"{label}: {DESCRIPTIONS[name]}"
        if name == "casella_pec":
            text += ", on " + " or ".join(
                f"@{domain} ({', '.join(t.value for t in types)})"
                for domain, types in box_domains(environment).items()
            )
        elif name == "sottotipo_cliente":
            text += ". " + "; ".join(_subtypes_by_customer())
        elif name in REGISTER_ENUMS:
            text += ": " + _listing(name)
        if name in REGISTER_DATES:
            text += f" ({DATE_FORMAT})"
        out += _comment(text)
        out.append(f'{name} = ""')
        out.append("")
    out += _comment(f"optional: {DESCRIPTIONS['autorinnovo']} (true or false)")
    out.append("# autorinnovo = false")
    out.append("")
    out += _comment(f"optional: {DESCRIPTIONS['callback']}: give it with --callback-url")
    return "\n".join(out) + "\n"
