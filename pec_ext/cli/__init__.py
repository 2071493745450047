"""The ``pec`` command line (click + rich). Never imported by ``pec_ext`` itself."""

from __future__ import annotations

from .app import cli, main
from .exit_codes import ExitCode

__all__ = ["ExitCode", "cli", "main"]
