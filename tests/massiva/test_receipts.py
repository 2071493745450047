"""Receipt kinds from their subjects, as the PEC technical rules name them, and delivery statuses."""

from __future__ import annotations

import datetime as dt

import pytest

from pec_ext.massiva import DeliveryReport, DeliveryStatus, Receipt, ReceiptKind, classify

CODE = "2026010101000001"


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        (f"ACCETTAZIONE: Fattura 42 {CODE}", ReceiptKind.ACCEPTANCE),
        (f"AVVISO DI NON ACCETTAZIONE: Fattura 42 {CODE}", ReceiptKind.NON_ACCEPTANCE),
        ("AVVISO DI NON ACCETTAZIONE PER VIRUS: Fattura 42", ReceiptKind.NON_ACCEPTANCE_VIRUS),
        ("PRESA IN CARICO: Fattura 42", ReceiptKind.TAKEN_IN_CHARGE),
        (f"POSTA CERTIFICATA: Fattura 42 {CODE}", ReceiptKind.CERTIFIED_COPY),
        (f"CONSEGNA: Fattura 42 {CODE}", ReceiptKind.DELIVERY),
        (f"AVVISO DI MANCATA CONSEGNA: Fattura 42 {CODE}", ReceiptKind.NON_DELIVERY),
        ("AVVISO DI MANCATA CONSEGNA PER VIRUS: Fattura 42", ReceiptKind.NON_DELIVERY_VIRUS),
        ("AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: Fattura 42", ReceiptKind.NON_DELIVERY_TIMEOUT),
        ("AVVISO DI MANCATA CONSEGNA PER SUPERO TEMPO MASSIMO: Fattura 42", ReceiptKind.NON_DELIVERY_TIMEOUT),
        ("PREAVVISO DI MANCATA CONSEGNA: Fattura 42", ReceiptKind.NON_DELIVERY_WARNING),
        (
            "PREAVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: Fattura 42",
            ReceiptKind.NON_DELIVERY_WARNING,
        ),
        ("ERRORE DI CONSEGNA: Fattura 42", ReceiptKind.DELIVERY_ERROR),
        ("ANOMALIA MESSAGGIO: Fattura 42", ReceiptKind.ANOMALY),
        ("Re: CONSEGNA: Fattura 42", ReceiptKind.UNKNOWN),
        ("Fattura 42", ReceiptKind.UNKNOWN),
        ("consegna:   Fattura 42", ReceiptKind.DELIVERY),
    ],
)
def test_kind_from_subject(subject: str, kind: ReceiptKind) -> None:
    assert classify(subject) is kind


def test_subject_and_code_and_time_are_taken_apart() -> None:
    receipt = Receipt.of(
        "posta-certificata@pecmassiva.com",
        '"dev-api@pecmassiva.com" , Altro@Example.it',
        "Wed, 26 Aug 2020 10:00:35 +0200",
        "ACCETTAZIONE: Invio di prova pec massiva 2020082610003492",
    )
    assert (receipt.subject, receipt.code) == ("Invio di prova pec massiva", "2020082610003492")
    assert receipt.recipients == ("dev-api@pecmassiva.com", "altro@example.it")
    assert receipt.time == dt.datetime(2020, 8, 26, 8, 0, 35, tzinfo=dt.UTC)


def receipt(kind_prefix: str, recipients: str) -> Receipt:
    return Receipt.of("p@x.it", recipients, "Wed, 26 Aug 2020 10:00:35 +0200", f"{kind_prefix}: S {CODE}")


def test_per_recipient_status() -> None:
    report = DeliveryReport.of(
        CODE,
        [
            receipt("ACCETTAZIONE", "a@x.it, b@x.it, c@x.it"),
            receipt("CONSEGNA", "a@x.it"),
            receipt("AVVISO DI MANCATA CONSEGNA", "b@x.it"),
            receipt("PREAVVISO DI MANCATA CONSEGNA", "c@x.it"),
        ],
    )
    assert report.accepted is True
    assert report.recipients == {
        "a@x.it": DeliveryStatus.DELIVERED,
        "b@x.it": DeliveryStatus.NOT_DELIVERED,
        "c@x.it": DeliveryStatus.PENDING,
    }
    assert not report.complete
    assert report.delivered == ["a@x.it"]
    assert report.pending == ["c@x.it"]


def test_a_non_acceptance_is_final_for_everyone() -> None:
    report = DeliveryReport.of(CODE, [receipt("AVVISO DI NON ACCETTAZIONE", "a@x.it, bad")], ["a@x.it"])
    assert report.accepted is False
    assert report.complete
    assert set(report.recipients.values()) == {DeliveryStatus.NOT_ACCEPTED}


def test_nothing_yet_is_pending_not_complete() -> None:
    report = DeliveryReport.of(CODE, [], ["a@x.it"])
    assert report.accepted is None
    assert report.recipients == {"a@x.it": DeliveryStatus.PENDING}
    assert not report.complete


def test_expected_recipients_are_compared_as_addresses() -> None:
    report = DeliveryReport.of(
        CODE, [receipt("ACCETTAZIONE", "a@x.it"), receipt("CONSEGNA", "a@x.it")], [" A@X.it "]
    )
    assert report.recipients == {"a@x.it": DeliveryStatus.DELIVERED}
    assert report.complete
