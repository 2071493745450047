"""The contract suite's machinery, shared by the pytest tests and ``report.py``.

* recording: an httpx transport wrapper that keeps every exchange (token scrubbed);
* classification: each exchange checked against the **upstream** spec, each mismatch named by
  (operation, status, JSON pointer, kind);
* Prism: install (npm, into a git-ignored folder), start on loopback, stop;
* drivers: every ``pec_ext`` method against Prism, and the whole lifecycle against the sandbox;
* cassettes: exchanges as JSON files, and the baseline / overlay bookkeeping.

Nothing here copies the upstream document or its examples: it is read at run time.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "spec") not in sys.path:
    sys.path.insert(0, str(ROOT / "spec"))

import pipeline  # noqa: E402

CONTRACT_DIR = Path(__file__).resolve().parent
CASSETTE_DIR = CONTRACT_DIR / "cassettes"
BASELINE_FILE = ROOT / "spec" / "divergences.json"
REPORTS_DIR = ROOT / "reports"
PRISM_DIR = Path(os.environ.get("PEC_PRISM_DIR", ROOT / ".nox" / "prism"))
PRISM_PACKAGE = "@stoplight/prism-cli@5"
SCRUBBED = "***"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# Kinds of baseline entries about the document itself, not about an observed exchange.
STATIC_KINDS = ("naming", "declaration", "hardening")
DEFAULT_SANDBOX_TOKEN = "sandbox-token"


# ============================================================================ exchanges


@dataclass
class Exchange:
    """One request and its response, as JSON-able data (the token never enters it)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    content_type: str
    body: Any  # parsed JSON, text, or {"base64": ...} for binary bodies
    request_body: Any = None
    violations: list[dict[str, Any]] = field(default_factory=list)  # Prism's sl-violations
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "request": {
                "method": self.method,
                "path": self.path,
                "query": self.query,
                "body": self.request_body,
            },
            "response": {"status": self.status, "content_type": self.content_type, "body": self.body},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], source: str = "") -> Exchange:
        request, response = raw["request"], raw["response"]
        return cls(
            method=str(request["method"]).upper(),
            path=str(request["path"]),
            query=dict(request.get("query") or {}),
            status=int(response["status"]),
            content_type=str(response.get("content_type") or ""),
            body=response.get("body"),
            request_body=request.get("body"),
            source=source,
        )


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _decode_body(content_type: str, content: bytes) -> Any:
    kind = media_type(content_type)
    if not content:
        return None
    if kind.endswith("json"):
        try:
            return json.loads(content)
        except ValueError:
            pass
    if kind.startswith("text/") or kind.endswith("json"):
        return content.decode("utf-8", "replace")
    return {"base64": base64.b64encode(content).decode("ascii")}


def _elide_documents(body: Any) -> Any:
    """Request bodies keep their shape, but uploaded documents are replaced by their size."""
    if isinstance(body, dict) and isinstance(body.get("documenti"), list):
        body = dict(body)
        body["documenti"] = [
            f"<base64, {len(d)} chars>" if isinstance(d, str) else d for d in body["documenti"]
        ]
    return body


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """Replace every occurrence of each secret in strings, keys included, by ``***``."""
    secrets = tuple(s for s in secrets if s)
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, SCRUBBED)
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    return value


class Recorder:
    """Collects exchanges; ``wrap(transport)`` gives the transport to hand to a client."""

    def __init__(self, source: str, secrets: tuple[str, ...] = ()) -> None:
        self.source = source
        self.secrets = secrets
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def record(self, request: httpx.Request, response: httpx.Response, content: bytes) -> None:
        content_type = response.headers.get("content-type", "")
        request_body: Any = None
        # A streamed body (uploads) is read again here; the client's streams can be replayed.
        sent = request.read()
        if sent:
            try:
                request_body = _elide_documents(json.loads(sent))
            except ValueError:
                request_body = f"<{len(sent)} bytes>"
        violations: list[dict[str, Any]] = []
        raw = response.headers.get("sl-violations")
        if raw:
            try:
                violations = list(json.loads(raw))
            except ValueError:
                violations = [{"location": ["unparsed"], "message": raw}]
        exchange = Exchange(
            method=request.method,
            path=request.url.path,
            query=dict(request.url.params),
            status=response.status_code,
            content_type=content_type,
            body=_decode_body(content_type, content),
            request_body=request_body,
            violations=violations,
            source=self.source,
        )
        exchange.__dict__.update(scrub(exchange.__dict__, self.secrets))
        with self._lock:
            self.exchanges.append(exchange)

    def wrap(self, inner: httpx.BaseTransport | None = None) -> RecordingTransport:
        return RecordingTransport(self, inner or httpx.HTTPTransport())


class RecordingTransport(httpx.BaseTransport):
    """Sends through ``inner``, reads the whole response, records it, hands it on unchanged."""

    def __init__(self, recorder: Recorder, inner: httpx.BaseTransport) -> None:
        self.recorder = recorder
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        response.close()
        self.recorder.record(request, response, content)
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers, content=content, request=request)

    def close(self) -> None:
        self.inner.close()


class PreferTransport(httpx.BaseTransport):
    """Adds ``Prefer: code=N`` (Prism's way to pick a response) to the requests of one operation."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.target: tuple[str, re.Pattern[str]] | None = None
        self.code: int | None = None

    def prefer(self, method: str, template: str, code: int | None) -> None:
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        self.target, self.code = (method.upper(), pattern), code

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.target and self.code is not None:
            method, pattern = self.target
            if request.method == method and pattern.match(request.url.path):
                request.headers["Prefer"] = f"code={self.code}"
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# ============================================================================ spec matching


def operations(spec: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation of ``spec``."""
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                found.append((method.upper(), path, item[method]))
    return found


def match_operation(spec: Mapping[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The path template and operation that a concrete request path belongs to."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for op_method, template, op in operations(spec):
        if op_method != method.upper():
            continue
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$"
        if re.match(pattern, path):
            literal = len(re.sub(r"\{[^}]+\}", "", template))  # prefer the most literal template
            if best is None or literal > best[0]:
                best = (literal, template, op)
    return None if best is None else (best[1], best[2])


def _resolve(spec: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def to_json_schema(spec: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema (draft 4): refs inlined, ``nullable`` as a type."""
    if depth > 40:
        return {}
    if isinstance(node, list):
        return [to_json_schema(spec, item, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    node = _resolve(spec, node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("example", "examples", "xml", "discriminator", "externalDocs", "nullable", "format"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: to_json_schema(spec, v, depth + 1) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(spec, value, depth + 1)
        else:
            out[key] = copy.deepcopy(value)
    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


# ============================================================================ divergences


@dataclass(frozen=True)
class Divergence:
    operation: str  # "GET /pec/{id}", as the upstream spec spells the path
    status: str
    pointer: str  # JSON pointer into the response body; array indices become "*"
    kind: str
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.operation, self.status, self.pointer, self.kind)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _pointer(parts: Any) -> str:
    return "".join(
        "/" + ("*" if isinstance(p, int) else str(p).replace("~", "~0").replace("/", "~1")) for p in parts
    )


def _classify(error: jsonschema.ValidationError) -> tuple[str, str, str]:
    """(pointer, kind, detail) of one schema error."""
    pointer = _pointer(error.absolute_path)
    if error.validator == "type":
        expected = error.validator_value
        expected = "|".join(expected) if isinstance(expected, list) else str(expected)
        return pointer, f"{_json_type(error.instance)}-for-{expected}", ""
    if error.validator == "enum":
        return pointer, "unknown-enum-value", repr(error.instance)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "?"
        return f"{pointer}/{name}", "missing-required", ""
    if error.validator == "additionalProperties":
        return pointer, "undeclared-property", error.message
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        return _classify(deepest)
    return pointer, f"schema-{error.validator}", error.message[:200]


def classify(spec: Mapping[str, Any], exchange: Exchange) -> list[Divergence]:
    """Every way ``exchange`` disagrees with ``spec`` (status, content type, body schema)."""
    found = match_operation(spec, exchange.method, exchange.path)
    if found is None:
        return [
            Divergence(
                f"{exchange.method} {exchange.path}", str(exchange.status), "", "undocumented-operation"
            )
        ]
    template, op = found
    name = f"{exchange.method} {template}"
    status = str(exchange.status)
    responses = op.get("responses", {})
    response = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
    if response is None:
        return [Divergence(name, status, "", "undocumented-status")]
    response = _resolve(spec, response)
    content = response.get("content") or {}
    actual = media_type(exchange.content_type)
    if not content:
        if exchange.body in (None, ""):
            return []
        return [Divergence(name, status, "", "undeclared-content", actual)]
    media = content.get(actual)
    if media is None:
        return [Divergence(name, status, "", "content-type", f"{actual} not in {sorted(content)}")]
    schema = media.get("schema")
    if schema is None:
        return [Divergence(name, status, "", "undeclared-schema", actual)]
    if not actual.endswith("json"):
        return []  # text and PDF bodies: the media type is all the spec says
    validator = jsonschema.Draft4Validator(to_json_schema(spec, schema))
    divergences = []
    for error in validator.iter_errors(exchange.body):
        pointer, kind, detail = _classify(error)
        divergences.append(Divergence(name, status, pointer, kind, detail))
    return divergences


@dataclass
class Observed:
    divergence: Divergence
    sources: set[str] = field(default_factory=set)
    count: int = 0
    details: set[str] = field(default_factory=set)


def collect(spec: Mapping[str, Any], exchanges: list[Exchange]) -> dict[tuple[str, str, str, str], Observed]:
    grouped: dict[tuple[str, str, str, str], Observed] = {}
    for exchange in exchanges:
        for divergence in classify(spec, exchange):
            entry = grouped.setdefault(divergence.key, Observed(Divergence(*divergence.key)))
            entry.sources.add(exchange.source)
            entry.count += 1
            if divergence.detail:
                entry.details.add(divergence.detail)
    return grouped


# ============================================================================ overlay & baseline


def overlay_actions() -> list[dict[str, Any]]:
    return list(pipeline.load_overlay()["actions"])


def ref_matches(ref: Mapping[str, Any], action: Mapping[str, Any]) -> bool:
    """A baseline's ``overlay`` reference names an action by its target (and, when several actions
    share a target, by a key its update adds: ``{"target": "$.components.schemas", "adds": "X"}``)."""
    if ref.get("target") != action.get("target"):
        return False
    adds = ref.get("adds")
    return adds is None or adds in (action.get("update") or {})


def load_baseline(path: Path = BASELINE_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def entry_key(entry: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(entry["operation"]),
        str(entry.get("status", "")),
        str(entry.get("pointer", "")),
        str(entry["kind"]),
    )


def baseline_problems(
    baseline: Mapping[str, Any], actions: list[dict[str, Any]], spec: Mapping[str, Any]
) -> list[str]:
    """What is wrong with the baseline itself: missing reasons, dangling or missing overlay refs."""
    problems = []
    entries = baseline.get("divergences", [])
    seen: set[tuple[str, str, str, str]] = set()
    for entry in entries:
        key = entry_key(entry)
        where = " ".join(part for part in key if part)
        if key in seen:
            problems.append(f"duplicate baseline entry: {where}")
        seen.add(key)
        if not str(entry.get("reason", "")).strip() or "TODO" in str(entry.get("reason")):
            problems.append(f"baseline entry without a reason: {where}")
        if not isinstance(entry.get("corrected_by_overlay"), bool):
            problems.append(f"baseline entry must say corrected_by_overlay true/false: {where}")
        refs = entry.get("overlay", [])
        if entry.get("corrected_by_overlay") and not refs:
            problems.append(f"baseline entry says the overlay corrects it but names no action: {where}")
        for ref in refs:
            if not any(ref_matches(ref, action) for action in actions):
                problems.append(f"baseline entry {where} names an overlay action that does not exist: {ref}")
        if entry["kind"] in STATIC_KINDS:
            problems.extend(_static_problems(entry, spec, where))
    for action in actions:
        if not any(ref_matches(ref, action) for entry in entries for ref in entry.get("overlay", [])):
            problems.append(f"overlay action not referenced by any baseline entry: {action['target']}")
    return problems


def _static_problems(entry: Mapping[str, Any], spec: Mapping[str, Any], where: str) -> list[str]:
    """A ``naming`` entry holds while upstream still lacks the operationId; a ``declaration`` entry
    while upstream still lacks the named component schema; a ``hardening`` entry (a correction
    made before any answer showed the problem) while its overlay targets still match upstream."""
    if entry["kind"] == "hardening":
        import jsonpath_rfc9535 as jsonpath

        refs = entry.get("overlay", [])
        if not refs:
            return [f"hardening entry without an overlay action: {where}"]
        return [
            f"hardening entry {where}: {ref['target']} no longer matches upstream"
            for ref in refs
            if not jsonpath.find(ref["target"], spec)
        ]
    if entry["kind"] == "naming":
        method, _, path = str(entry["operation"]).partition(" ")
        op = spec.get("paths", {}).get(path, {}).get(method.lower())
        if op is None:
            return [f"naming entry for an operation upstream no longer has: {where}"]
        if op.get("operationId"):
            return [f"upstream now names {where} ({op['operationId']}): the entry is stale"]
        return []
    name = str(entry.get("schema", ""))
    if not name:
        return [f"declaration entry without `schema`: {where}"]
    if name in spec.get("components", {}).get("schemas", {}):
        return [f"upstream now declares {name}: the entry {where} is stale"]
    return []


def compare(
    observed: Mapping[tuple[str, str, str, str], Observed],
    baseline: Mapping[str, Any],
    active_sources: set[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(new, no longer observed, known), per source.

    A divergence is new when the baseline lacks it, or lists it only for other sources; an entry
    is no longer observed when a source it lists ran and did not see it.
    """
    entries = [e for e in baseline.get("divergences", []) if e["kind"] not in STATIC_KINDS]
    by_key = {entry_key(e): e for e in entries}
    new, known = [], []
    for key, item in sorted(observed.items()):
        entry = by_key.get(key)
        fields = dict(zip(("operation", "status", "pointer", "kind"), key, strict=True))
        unexpected = item.sources - set(entry.get("observed_in", []) if entry else ())
        if unexpected:
            new.append({**fields, "sources": sorted(unexpected), "details": sorted(item.details)[:5]})
        if entry is not None:
            known.append(
                {
                    **fields,
                    "sources": sorted(item.sources),
                    "count": item.count,
                    "corrected_by_overlay": entry.get("corrected_by_overlay"),
                    "overlay": entry.get("overlay", []),
                    "reason": entry.get("reason", ""),
                }
            )
    stale = []
    for key, entry in sorted(by_key.items()):
        seen = observed[key].sources if key in observed else set()
        missing = (set(entry.get("observed_in", [])) & active_sources) - seen
        if missing:
            fields = dict(zip(("operation", "status", "pointer", "kind"), key, strict=True))
            stale.append({**fields, "sources": sorted(missing)})
    return new, stale, known


# ============================================================================ cassettes


def write_cassette(path: Path, exchanges: list[Exchange], *, source: str, note: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"source": source, "note": note, "exchanges": [e.to_json() for e in exchanges]}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_cassettes_from_sandbox(exchanges: list[Exchange], directory: Path) -> list[Path]:
    """The sandbox run as two realistic cassettes: the mailbox's life, the communication's."""
    boxes = [e for e in exchanges if not e.path.startswith("/comunica_pec")]
    comms = [e for e in exchanges if e.path.startswith("/comunica_pec")]
    note = "recorded from pec_ext.sandbox through pec_ext (report.py --record-sandbox); token scrubbed"
    paths = [directory / "sandbox-mailbox-lifecycle.json", directory / "sandbox-communication-lifecycle.json"]
    for path, part in zip(paths, (boxes, comms), strict=True):
        write_cassette(path, part, source="sandbox", note=note)
    return paths


def load_cassettes(directory: Path = CASSETTE_DIR) -> list[Exchange]:
    exchanges = []
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        exchanges.extend(Exchange.from_json(raw, source="cassette") for raw in document["exchanges"])
    return exchanges


# ============================================================================ Prism


class PrismUnavailable(Exception):
    """npm or Prism could not be installed or started; the message says why and what to do."""


def prism_binary() -> Path:
    """Prism's launcher, installed from npm on first use into a git-ignored folder."""
    explicit = os.environ.get("PEC_PRISM_BIN")
    if explicit:
        return Path(explicit)
    binary = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if binary.is_file():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PrismUnavailable("node/npm not found: install Node.js 18+ to run the Prism contract tests")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        npm,
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        str(PRISM_DIR),
        PRISM_PACKAGE,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PrismUnavailable(f"`{' '.join(command)}` timed out after 600 s") from exc
    if done.returncode != 0 or not binary.is_file():
        raise PrismUnavailable(
            f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upstream_spec_path() -> Path:
    """The pin-checked upstream document on disk (the pipeline's cache), for Prism to read."""
    pipeline.load_upstream()
    return pipeline.upstream_cache_path(pipeline.load_pin()["edition"])


class Prism:
    """``prism mock`` on the upstream spec, on 127.0.0.1; logs go to a file (``log_path``)."""

    def __init__(self, spec_path: Path | None = None, port: int | None = None) -> None:
        self.binary = prism_binary()
        self.spec_path = spec_path or upstream_spec_path()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="prism-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> Prism:
        command = [str(self.binary), "mock", "-h", "127.0.0.1", "-p", str(self.port), str(self.spec_path)]
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PrismUnavailable(f"prism exited with {self._process.returncode}:\n{self.log()}")
            if "Prism is listening" in self.log():
                return self
            time.sleep(0.2)
        self.stop()
        raise PrismUnavailable(f"prism did not start within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def request_violations_in_log(self) -> list[str]:
        return [line.strip() for line in self.log().splitlines() if "Violation: request" in line]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
        self._log.close()

    def __enter__(self) -> Prism:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrismSession:
    """A client on Prism whose requests of one operation can carry ``Prefer: code=N``."""

    def __init__(self, prism: Prism) -> None:
        self.prism = prism
        self.recorder = Recorder("prism")
        self.prefer = PreferTransport(self.recorder.wrap(httpx.HTTPTransport()))
        from pec_ext import PecClient

        self.client = PecClient(
            token="x", base_url=prism.url, max_retries=0, transport=self.prefer, strict_identifiers=False
        )


def request_violations(exchanges: list[Exchange]) -> list[str]:
    return [
        f"{e.method} {e.path}: {v.get('message')}"
        for e in exchanges
        for v in e.violations
        if list(v.get("location", ["?"]))[:1] == ["request"]
    ]


@contextlib.contextmanager
def prism_or_skip_reason() -> Iterator[tuple[Prism | None, str]]:
    """(prism, "") when Prism runs, else (None, why)."""
    try:
        prism = Prism().start()
    except PrismUnavailable as exc:
        yield None, str(exc)
        return
    try:
        yield prism, ""
    finally:
        prism.stop()


def is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# ============================================================================ inputs


def pdf_bytes(text: str = "documento") -> bytes:
    from pec_ext.sandbox.pdf import render

    return render("Contract test", [text])


def p7m_bytes() -> bytes:
    """A CMS SignedData with attached content and one signer (the signature is not verified)."""
    from asn1crypto import cms, x509

    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={
                    "issuer": x509.Name.build({"common_name": "Contract Test CA"}),
                    "serial_number": 1,
                },
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": b"\x00" * 32,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data", "content": pdf_bytes("procura")},
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def register_fields(address: str, tipo: str = "BRONZE") -> dict[str, Any]:
    """A complete, valid POST /pec body (made-up person; the sandbox's domain)."""
    return {
        "casella_pec": address,
        "tipo_casella": tipo,
        "tipo_cliente": "PV",
        "nome_richiedente": "Giulia",
        "cognome_richiedente": "Bianchi",
        "email": "giulia.bianchi@example.com",
        "telefono": "0612345678",
        "codice_fiscale_richiedente": "BNCGLI85C41H501Z",
        "data_nascita_richiedente": "01/03/1985",
        "sesso_richiedente": "F",
        "nazione_nascita_richiedente": "IT",
        "provincia_nascita_richiedente": "RM",
        "indirizzo_titolare": "via Appia 10",
        "comune_titolare": "Roma",
        "cap_titolare": "00179",
        "nazione_titolare": "IT",
        "provincia_titolare": "RM",
    }


def communication_fields(address: str = "fornitore.srl@example-pec.it") -> dict[str, Any]:
    return {
        "casella_pec": address,
        "cf": "BNCGLI85C41H501Z",
        "nome": "Giulia",
        "cognome": "Bianchi",
        "qualifica": "LEGALE_RAPPRESENTANTE",
        "email": "giulia.bianchi@example.com",
        "cellulare": "3331234567",
        "ragione_sociale": "Fornitore Srl",
        "cf_piva": "01234567890",
        "comune": "Roma",
        "provincia": "RM",
    }


USER_FIELDS: dict[str, Any] = {
    "nome": "Luca",
    "cognome": "Verdi",
    "descrizione": "ufficio acquisti",
    "email_gestione_password": "luca.verdi@example.com",
}


# ============================================================================ drivers


# One call per pec_ext method that maps to an operation: (method name, METHOD, path template, call).
ClientCall = Callable[[Any, Mapping[str, str]], Any]
OBJECT_ID = "0123456789abcdef01234567"


def method_calls() -> list[tuple[str, str, str, ClientCall]]:
    """Every operation method of ``PecClient``, with valid arguments; ``ids`` gives the ids to use."""
    pdf = pdf_bytes()
    return [
        ("check_domain", "GET", "/domini_pec/{dominio}", lambda c, ids: c.check_domain("example.it")),
        (
            "check_availability",
            "GET",
            "/verifica_pec/{pec}",
            lambda c, ids: c.check_availability("nuova.casella@testcert.legalmail.it"),
        ),
        ("list_mailboxes", "GET", "/pec", lambda c, ids: c.list_mailboxes()),
        (
            "register_mailbox",
            "POST",
            "/pec",
            lambda c, ids: c.register_mailbox(**register_fields("nuova.casella@testcert.legalmail.it")),
        ),
        ("get_mailbox", "GET", "/pec/{id}", lambda c, ids: c.get_mailbox(ids["box"])),
        ("revoke_mailbox", "DELETE", "/pec/{id}", lambda c, ids: c.revoke_mailbox(ids["box"])),
        (
            "activate_mailbox",
            "PATCH",
            "/pec/{id}/attivazione",
            lambda c, ids: c.activate_mailbox(ids["box"], [pdf, pdf]),
        ),
        (
            "change_space",
            "PATCH",
            "/pec/{id}/modifica",
            lambda c, ids: c.change_space(ids["box"], spazio_disco="+1024"),
        ),
        ("add_space", "PATCH", "/pec/{id}/modifica", lambda c, ids: c.add_space(ids["box"], disco=1024)),
        (
            "set_space",
            "PATCH",
            "/pec/{id}/modifica",
            lambda c, ids: c.set_space(ids["box"], storico=ids.get("storico_target", 14336)),
        ),
        (
            "activate_conservation",
            "PATCH",
            "/pec/{id}/conservazione",
            lambda c, ids: c.activate_conservation(ids["box"], [pdf], space=512),
        ),
        (
            "change_type",
            "PATCH",
            "/pec/{id}/trasformazione",
            lambda c, ids: c.change_type(ids["box"], "GOLD"),
        ),
        ("renew_mailbox", "GET", "/pec/{id}/rinnovo", lambda c, ids: c.renew_mailbox(ids["box"], 1)),
        ("add_user", "POST", "/pec/{id}/multiutenza", lambda c, ids: c.add_user(ids["box"], **USER_FIELDS)),
        ("list_communications", "GET", "/comunica_pec", lambda c, ids: c.list_communications()),
        (
            "communicate_pec",
            "POST",
            "/comunica_pec",
            lambda c, ids: c.communicate_pec(**communication_fields()),
        ),
        ("get_communication", "GET", "/comunica_pec/{id}", lambda c, ids: c.get_communication(ids["comm"])),
        (
            "upload_communication_documents",
            "PATCH",
            "/comunica_pec/{id}",
            lambda c, ids: c.upload_communication_documents(ids["comm"], [p7m_bytes()]),
        ),
        (
            "download_activation_form",
            "GET",
            "/pec/{id}/modulo_attivazione",
            lambda c, ids: c.download_activation_form(ids["box"]),
        ),
        (
            "download_conservation_form",
            "GET",
            "/pec/{id}/modulo_conservazione",
            lambda c, ids: c.download_conservation_form(ids["box"]),
        ),
        (
            "download_power_of_attorney",
            "GET",
            "/comunica_pec/{id}/procura_registro_imprese",
            lambda c, ids: c.download_power_of_attorney(ids["comm"]),
        ),
    ]


def error_statuses(spec: Mapping[str, Any], method: str, template: str) -> list[int]:
    responses = spec["paths"][template][method.lower()]["responses"]
    return sorted(int(s) for s in responses if s.isdigit() and int(s) >= 400)


def documented_error(
    spec: Mapping[str, Any], method: str, template: str, status: int
) -> tuple[int | None, str]:
    """(code, message) of the documented error example: the envelope's, or a text body's."""
    response = _resolve(spec, spec["paths"][template][method.lower()]["responses"][str(status)])
    for media in (response.get("content") or {}).values():
        if "example" in media and isinstance(media["example"], dict):
            return media["example"].get("error"), str(media["example"].get("message"))
        schema = _resolve(spec, media.get("schema") or {})
        if "example" in schema:
            return None, str(schema["example"])
    raise LookupError(f"{method} {template} {status}: no example")


# The client turns these documented "nothing here" errors into an empty list, on purpose.
EMPTY_LIST_ERRORS = {("list_mailboxes", 404), ("list_communications", 404)}
PDF_METHODS = {"download_activation_form", "download_conservation_form", "download_power_of_attorney"}


def run_prism_calls(base_url: str, spec: Mapping[str, Any], recorder: Recorder) -> list[str]:
    """Drive every method against Prism: the success example, then each documented error status.

    Returns what misbehaved (empty when all is well); the exchanges land in ``recorder``. The
    pytest suite (test_prism.py) checks the same with finer assertions.
    """
    from pec_ext import PecClient
    from pec_ext.errors import ApiError, InvalidResponseError

    ids = {"box": OBJECT_ID, "comm": OBJECT_ID}
    prefer = PreferTransport(recorder.wrap(httpx.HTTPTransport()))
    failures: list[str] = []
    with PecClient(
        token="x", base_url=base_url, max_retries=0, transport=prefer, strict_identifiers=False
    ) as client:
        for name, method, template, run in method_calls():
            for status in [None, *error_statuses(spec, method, template)]:
                prefer.prefer(method, template, status)
                label = f"{name} (Prefer code={status})" if status else name
                try:
                    result = run(client, ids)
                except InvalidResponseError as exc:
                    if not (status is None and name in PDF_METHODS):
                        failures.append(f"{label}: {exc}")
                    continue
                except ApiError as exc:
                    expected = documented_error(spec, method, template, status) if status else None
                    if expected is None or (exc.status_code, exc.code, exc.message) != (status, *expected):
                        failures.append(f"{label}: unexpected {type(exc).__name__}: {exc}")
                    continue
                except Exception as exc:
                    failures.append(f"{label}: {type(exc).__name__}: {exc}")
                    continue
                if status is not None and not ((name, status) in EMPTY_LIST_ERRORS and result == []):
                    failures.append(f"{label}: no exception")
    return failures


def run_sandbox_lifecycle(recorder: Recorder, *, balance: float = 1000.0) -> dict[str, Any]:
    """The whole life of a box and of a communication through pec_ext, plus error cases.

    Uses a fresh sandbox with a fixed clock; returns the ids it created.
    """
    from pec_ext.errors import ApiError
    from pec_ext.sandbox import DEFAULT_TOKEN, ManualClock, Sandbox, record_only
    from pec_ext.sandbox.auth import ALL_SCOPES

    # strict tokens, as a real gateway: only the client's own token is let through
    sandbox = Sandbox(
        balance=balance,
        clock=ManualClock(1_700_000_000),
        callback_sender=record_only,
        tokens={DEFAULT_TOKEN: ALL_SCOPES},
        strict_tokens=True,
    )
    errors: list[str] = []

    def expect_error(status: int, call: Callable[[], Any]) -> None:
        try:
            call()
        except ApiError as exc:
            if exc.status_code != status:
                errors.append(f"expected HTTP {status}, got {exc.status_code}: {exc}")
            return
        errors.append(f"expected HTTP {status}, got success")

    try:
        with sandbox.client(
            transport=recorder.wrap(sandbox.transport(http="httpx")), max_retries=0
        ) as client:
            # an empty account: both lists answer 404 (the client turns them into [])
            assert client.list_mailboxes() == []
            assert client.list_communications() == []
            with sandbox.client(
                token="expired-token", transport=recorder.wrap(sandbox.transport(http="httpx")), max_retries=0
            ) as stranger:
                expect_error(401, stranger.list_mailboxes)
            client.check_availability("contract.box@testcert.legalmail.it")
            client.check_domain("example.it")
            callback = {"url": "https://hooks.example.com/pec", "method": "POST", "field": "data", "data": {}}
            box = client.register_mailbox(
                **register_fields("contract.box@testcert.legalmail.it"), callback=callback
            )
            plain = client.register_mailbox(
                **register_fields("contract.plain@testcert.legalmail.it", "STANDARD")
            )
            box_id, plain_id = str(box.id), str(plain.id)
            client.list_mailboxes()
            client.download_activation_form(box_id)
            expect_error(406, lambda: client.download_conservation_form(box_id))
            client.activate_mailbox(box_id, [pdf_bytes("modulo firmato"), pdf_bytes("carta d'identità")])
            expect_error(
                428, lambda: client.request("PATCH", f"/pec/{box_id}/attivazione", json={"documenti": []})
            )
            sandbox.advance()
            client.get_mailbox(box_id)
            client.change_type(box_id, "SILVER")
            client.add_space(box_id, disco=1024)
            client.set_space(box_id, storico=4096)
            client.download_conservation_form(box_id)
            client.activate_conservation(box_id, [pdf_bytes("modulo conservazione")], space=512)
            client.change_space(box_id, spazio_conservazione="+512")
            client.add_user(box_id, **USER_FIELDS)
            client.renew_mailbox(box_id, 1)
            client.revoke_mailbox(box_id)
            client.renew_mailbox(box_id, 2)  # a revoked box is renewed back to evasa
            # error cases, each answered with the spec's code where it documents one
            expect_error(400, lambda: client.get_mailbox("not-an-id"))
            expect_error(404, lambda: client.get_mailbox(OBJECT_ID))
            expect_error(400, lambda: client.download_activation_form("not-an-id"))
            expect_error(404, lambda: client.download_activation_form(OBJECT_ID))
            expect_error(428, lambda: client.request("DELETE", f"/pec/{plain_id}"))
            expect_error(428, lambda: client.renew_mailbox(plain_id, 1))
            expect_error(
                406,
                lambda: client.request(
                    "PATCH", f"/pec/{box_id}/trasformazione", json={"tipo_casella": "BRONZE"}
                ),
            )
            expect_error(
                406, lambda: client.request("PATCH", f"/pec/{box_id}/modifica", json={"spazio_disco": 1000})
            )
            expect_error(406, lambda: client.request("GET", "/verifica_pec/not-an-address"))
            expect_error(
                404, lambda: client.request("POST", "/pec", json={**register_fields("x@elsewhere.it")})
            )
            expect_error(
                428, lambda: client.request("POST", "/pec", json={"casella_pec": "y@testcert.legalmail.it"})
            )
            # the business-register communication
            comm = client.communicate_pec(**communication_fields())
            comm_id = str(comm.id)
            expect_error(406, lambda: client.download_power_of_attorney(comm_id))
            sandbox.advance()
            client.get_communication(comm_id)
            client.download_power_of_attorney(comm_id)
            client.upload_communication_documents(comm_id, [p7m_bytes()])
            sandbox.advance()
            client.get_communication(comm_id)
            client.list_communications()
            expect_error(400, lambda: client.get_communication("not-an-id"))
            expect_error(404, lambda: client.get_communication(OBJECT_ID))
            expect_error(406, lambda: client.upload_communication_documents(comm_id, [p7m_bytes()]))
            # an empty wallet
            sandbox.balance = 0
            expect_error(
                402, lambda: client.register_mailbox(**register_fields("contract.late@testcert.legalmail.it"))
            )
            expect_error(402, lambda: client.check_domain("example.it"))
    finally:
        sandbox.close()
    if errors:
        raise AssertionError("sandbox lifecycle: " + "; ".join(errors))
    return {"box": box_id, "plain": plain_id, "comm": comm_id}
