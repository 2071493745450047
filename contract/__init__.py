"""The contract tool: Openapi's upstream specs against observed behaviour.

``python -m contract.report`` (``nox -s contract``) checks every observed exchange (the
sandbox, Prism, the recorded cassettes, optionally the live sandbox) against the upstream
documents and diffs the result with ``spec/divergences.json``; tests/contract tests it.
"""
