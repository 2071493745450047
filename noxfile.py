"""Development sessions: spec pipeline, code generation, lint, type checks, tests, benchmarks.

The upstream specs are read from their URLs in the pin, or from local copies given by
``PEC_SPEC_SOURCE=path`` (CI: ``../shared/spec/pec.openapi.json``) or ``-- --source path``, and
``OAUTH_SPEC_SOURCE=path`` or ``-- --oauth-source path`` (default: ``oauthv2.openapi.json`` beside the
PEC copy), and ``PECMASSIVA_SPEC_SOURCE=path`` or ``-- --pecmassiva-source path`` (default:
``pecmassiva.openapi.json`` beside the PEC copy), so CI sets one variable.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["check-generated", "lint", "typecheck", "tests", "tests-httpx2", "dates", "contract"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
PIPELINE = "spec/pipeline.py"
# Leap days, the days around them, a year's end and a common year's 1 March (tests/support/dates.py).
TEST_DATES = ("2028-02-28", "2028-02-29", "2028-03-01", "2026-12-31", "2027-03-01")


def _pipeline(session: nox.Session, command: str) -> None:
    session.install(*EXTRAS["codegen"])
    session.run("python", PIPELINE, command, *session.posargs)


@nox.session
def spec(session: nox.Session) -> None:
    """Fetch, pin-check, overlay and validate every spec (-- --check: drift report; -- --update: re-pin)."""
    _pipeline(session, "spec")


@nox.session
def regenerate(session: nox.Session) -> None:
    """Wipe and regenerate generated/ from the effective spec."""
    _pipeline(session, "regenerate")


@nox.session(name="check-generated")
def check_generated(session: nox.Session) -> None:
    """Fail with a diff when the committed generated/ differs from a fresh generation."""
    _pipeline(session, "check-generated")


@nox.session
def lint(session: nox.Session) -> None:
    """Run ruff over the hand-written code and check the layers with import-linter."""
    session.install(*[dep for dep in EXTRAS["lint"] if dep.startswith(("ruff", "import-linter"))])
    session.install("--no-deps", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Run mypy --strict over pec_ext and generated/."""
    session.install("-e", ".[lint,test,redis,celery]")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (builds the effective spec first); the Redis tests need redis-server."""
    session.install("-e", ".[test,codegen,redis,celery]")
    session.run("python", PIPELINE, "spec")
    session.run("pytest", *session.posargs, env=_spec_sources())


def _spec_sources() -> dict[str, str]:
    variables = ("PEC_SPEC_SOURCE", "OAUTH_SPEC_SOURCE", "PECMASSIVA_SPEC_SOURCE")
    return {name: os.environ.get(name, "") for name in variables}


@nox.session
def dates(session: nox.Session) -> None:
    """Run the date-sensitive tests (marker dates) on leap days, month ends and a year's end."""
    session.install("-e", ".[test,codegen,redis,celery]")
    session.run("python", PIPELINE, "spec")
    for day in TEST_DATES:
        env = {**_spec_sources(), "PEC_TEST_DATE": day}
        session.run("pytest", "-q", "-m", "dates", "-p", "no:cacheprovider", *session.posargs, env=env)


# The behaviour suites: every method, sync and async, retries, deadlines, raw responses, streamed
# uploads, hostile answers, the sandbox, the account and the callbacks.
BEHAVIOUR_SUITES = [
    "tests/engine",
    "tests/pec",
    "tests/validation",
    "tests/documents",
    "tests/faults",
    "tests/sandbox",
    "tests/account",
    "tests/callbacks",
    "tests/cli",
    "tests/massiva",
]


@nox.session(name="tests-httpx2")
def tests_httpx2(session: nox.Session) -> None:
    """Run the behaviour suites on httpx2 instead of httpx (PEC_TEST_HTTP=httpx2)."""
    session.install("-e", ".[test,codegen,redis,celery,httpx2]")
    session.run("python", PIPELINE, "spec")
    env = {**_spec_sources(), "PEC_TEST_HTTP": "httpx2"}
    session.run("pytest", *(session.posargs or BEHAVIOUR_SUITES), env=env)


@nox.session
def contract(session: nox.Session) -> None:
    """Diff the upstream spec against observed behaviour; fail on drift from spec/divergences.json."""
    session.install("-e", ".[test,codegen]")
    session.run("python", PIPELINE, "spec")
    session.run("python", "-m", "contract.report", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (ratios against a baseline measured in the same run)."""
    session.install("-e", ".[test,codegen,redis,celery]")
    session.run("python", "bench/run.py", *session.posargs)
