"""The HTTP library the behaviour suite runs on: httpx, or httpx2 with ``PEC_TEST_HTTP=httpx2``.

Test modules take ``httpx`` from here (``from http_stack import httpx``): both libraries have the
same public API, so one test body exercises either. tests/conftest.py also sets
``OPENAPI_PEC_HTTP`` to it, so clients made without ``http_client=`` (and subprocesses: the CLI,
fault servers) use the same library.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

NAME = os.environ.get("PEC_TEST_HTTP", "httpx").strip().lower() or "httpx"
if NAME not in ("httpx", "httpx2"):
    raise RuntimeError(f"PEC_TEST_HTTP={NAME!r}: allowed values are httpx, httpx2")

httpx: ModuleType = importlib.import_module(NAME)
