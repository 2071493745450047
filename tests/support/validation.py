"""Helpers shared by the guard tests: run a guard and keep its result or its ValidationError."""

from __future__ import annotations

from typing import Any

import pytest

from pec_ext.errors import ValidationError


def outcome(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, ValidationError | None]:
    """The result, or the ValidationError; any other exception propagates and fails the test."""
    try:
        return function(*args, **kwargs), None
    except ValidationError as error:
        return None, error


def refusal(function: Any, *args: Any, **kwargs: Any) -> ValidationError:
    """The ValidationError ``function`` must raise."""
    with pytest.raises(ValidationError) as info:
        function(*args, **kwargs)
    return info.value
