"""Every pec_ext method against Prism mocking the **upstream** spec.

Each success example must parse into the typed model; each documented error status, asked for
with ``Prefer: code=N``, must raise the matching exception carrying the example's code and
message (read from the upstream spec now, never copied). None of our requests may raise a Prism
request violation: Prism answers some invalid requests with the documented 400 example, so the
``sl-violations`` header and Prism's log are read too.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.machinery import (
    EMPTY_LIST_ERRORS,
    OBJECT_ID,
    PDF_METHODS,
    PrismSession,
    documented_error,
    error_statuses,
    method_calls,
    request_violations,
)
from pec_ext import errors

pytestmark = pytest.mark.prism

EXCEPTIONS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequestError,
    402: errors.PaymentRequiredError,
    404: errors.NotFoundError,
    406: errors.NotAcceptableError,
    428: errors.PreconditionRequiredError,
    503: errors.ServiceUnavailableError,
}
IDS = {"box": OBJECT_ID, "comm": OBJECT_ID}


def _cases() -> list[Any]:
    import pipeline

    try:
        spec: dict[str, Any] | None = pipeline.load_upstream()
    except pipeline.PipelineError:
        spec = None  # the fixture reports it
    cases = []
    for name, method, template, run in method_calls():
        statuses: list[int | None] = [None]
        if spec is not None:
            statuses += error_statuses(spec, method, template)
        else:  # the spec is not cached yet: fall back to the known statuses; the fixture checks
            statuses += sorted(EXCEPTIONS)
        for status in statuses:
            label = f"{name}-{status or 'ok'}"
            cases.append(pytest.param(name, method, template, run, status, id=label))
    return cases


def _success_example(spec: dict[str, Any], method: str, template: str) -> Any:
    media = spec["paths"][template][method.lower()]["responses"]["200"]["content"]
    return media.get("application/json", {}).get("example")


def _as_data(result: Any) -> Any:
    if isinstance(result, list):
        return [_as_data(item) for item in result]
    return result.to_dict() if hasattr(result, "to_dict") else result


@pytest.mark.parametrize(("name", "method", "template", "run", "status"), _cases())
def test_method_against_prism(
    prism_session: PrismSession,
    upstream_spec: dict[str, Any],
    name: str,
    method: str,
    template: str,
    run: Any,
    status: int | None,
) -> None:
    documented = error_statuses(upstream_spec, method, template)
    if status is not None and status not in documented:
        pytest.skip(f"{method} {template} documents no {status}")
    session = prism_session
    before = len(session.recorder.exchanges)
    log_before = len(session.prism.request_violations_in_log())
    session.prefer.prefer(method, template, status)
    try:
        if status is None and name in PDF_METHODS:
            # The spec gives a PDF download no example: Prism sends a placeholder, which the
            # client must refuse as not being a PDF.
            with pytest.raises(errors.InvalidResponseError, match="expected a PDF"):
                run(session.client, IDS)
            last = session.recorder.exchanges[-1]
            assert (last.status, last.content_type.split(";")[0]) == (200, "application/pdf")
        elif status is None:
            result = run(session.client, IDS)
            example = _success_example(upstream_spec, method, template)
            assert example is not None, f"{method} {template} has no 200 example"
            _check_success(name, result, example)
        elif (name, status) in EMPTY_LIST_ERRORS:
            assert run(session.client, IDS) == []
        else:
            code, message = documented_error(upstream_spec, method, template, status)
            with pytest.raises(EXCEPTIONS[status]) as caught:
                run(session.client, IDS)
            assert caught.value.status_code == status
            assert caught.value.code == code
            assert caught.value.message == message
    finally:
        session.prefer.prefer(method, template, None)
    mine = session.recorder.exchanges[before:]
    assert mine, "no request reached Prism"
    assert any(e.method == method for e in mine)
    assert request_violations(mine) == []
    assert session.prism.request_violations_in_log()[log_before:] == []


def _check_success(name: str, result: Any, example: dict[str, Any]) -> None:
    """The parsed model holds what the example holds, typed as the model says."""
    data = example["data"]
    if name == "check_domain":
        assert result == data
        return
    if name == "list_mailboxes" or name == "list_communications":
        assert isinstance(result, list)
        assert len(result) == len(data)
    parsed = _as_data(result)
    assert _subset(data, parsed), f"{name}: parsed {parsed!r} lost parts of the example {data!r}"


def _subset(expected: Any, actual: Any) -> bool:
    """Every value of ``expected`` is in ``actual`` (models may add nothing, drop nothing)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list) and len(expected) == len(actual) and all(map(_subset, expected, actual))
        )
    return bool(expected == actual)


def test_request_violations_are_detected(prism_session: PrismSession) -> None:
    """The violation check is not vacuous: a body missing required fields is flagged by Prism."""
    session = prism_session
    before = len(session.recorder.exchanges)
    log_before = len(session.prism.request_violations_in_log())
    with pytest.raises(errors.BadRequestError):
        session.client.request("POST", f"/pec/{OBJECT_ID}/multiutenza", json={"nome": "Luca"})
    assert request_violations(session.recorder.exchanges[before:])
    assert session.prism.request_violations_in_log()[log_before:]
