"""The callback token: HMAC-SHA256 over the callback URL and a random nonce."""

from __future__ import annotations

import pytest

from pec_ext.callbacks.events import TOKEN_FIELD, make_token, sign_callback, verify_token
from pec_ext.errors import ForgedCallbackError, ValidationError
from tests.support.callbacks import OTHER_SECRET, RECEIVER_URL, SECRET


def test_sign_callback_adds_a_token_and_keeps_the_callers_data() -> None:
    original = {"url": RECEIVER_URL, "method": "json", "data": {"order": 7}}
    out = sign_callback(SECRET, original)
    assert out["url"] == RECEIVER_URL
    assert out["method"] == "JSON"
    assert out["data"]["order"] == 7
    verify_token(SECRET, RECEIVER_URL, out["data"][TOKEN_FIELD])
    assert original == {"url": RECEIVER_URL, "method": "json", "data": {"order": 7}}  # not modified


def test_every_token_has_its_own_nonce() -> None:
    first = sign_callback(SECRET, {"url": RECEIVER_URL})["data"][TOKEN_FIELD]
    second = sign_callback(SECRET, {"url": RECEIVER_URL})["data"][TOKEN_FIELD]
    assert first != second
    assert first.split(".")[1] != second.split(".")[1]


@pytest.mark.parametrize(
    ("secret", "url", "token", "message"),
    [
        (SECRET, RECEIVER_URL, None, "no token"),
        (SECRET, RECEIVER_URL, "", "no token"),
        (SECRET, None, make_token(SECRET, RECEIVER_URL), "no callback.url"),
        (SECRET, RECEIVER_URL, "v2.abc.def", "not a v1 token"),
        (SECRET, RECEIVER_URL, "v1..def", "not a v1 token"),
        (SECRET, RECEIVER_URL, make_token(OTHER_SECRET, RECEIVER_URL), "not valid for this secret and URL"),
        (SECRET, "https://evil.example/pec", make_token(SECRET, RECEIVER_URL), "not valid"),
        (SECRET, RECEIVER_URL, make_token(SECRET, RECEIVER_URL, nonce="a") + "x", "not valid"),
        (
            SECRET,
            RECEIVER_URL,
            make_token(SECRET, RECEIVER_URL, nonce="a").replace(".a.", ".b."),
            "not valid",
        ),
        (SECRET, RECEIVER_URL, "v1.nonce.\udcff", "not valid"),
    ],
)
def test_a_token_that_is_not_ours_is_refused(
    secret: str, url: str | None, token: str | None, message: str
) -> None:
    with pytest.raises(ForgedCallbackError, match=message):
        verify_token(secret, url, token)


def test_a_short_secret_is_refused_naming_the_option() -> None:
    with pytest.raises(ValidationError, match=r"callback_secret: .* at least 16 bytes"):
        sign_callback("short", {"url": RECEIVER_URL})


@pytest.mark.parametrize(
    ("callback", "field"),
    [
        ({"method": "POST"}, "callback.url"),
        ({"url": "ftp://x/"}, "callback.url"),
        ({"url": RECEIVER_URL, "data": [1]}, "callback.data"),
    ],
)
def test_a_bad_callback_object_is_refused_naming_the_field(callback: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field.replace(".", r"\.")):
        sign_callback(SECRET, callback)
