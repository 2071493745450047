"""Shared pieces of the benchmarks: timing helpers, sandbox/baseline server processes, fixtures."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
TOKEN = "bench-token"
SERVER_START_TIMEOUT = 20.0


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(subject: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of run-by-run ratios: each pair was measured back to back, under the same load.

    On a shared 2-core machine the load drifts between runs; a ratio of two medians can pair a
    quiet run with a busy one, a ratio within a pair cannot.
    """
    return median([s / b for s, b in zip(subject, baseline, strict=True)])


def interleaved(runs: int, subjects: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each subject ``runs`` times, alternating A, B, A, B ... so drift hits both alike."""
    results: dict[str, list[float]] = {name: [] for name in subjects}
    for index in range(runs):
        order = list(subjects.items())
        if index % 2:
            order.reverse()
        for name, subject in order:
            results[name].append(subject())
    return results


def interleaved_calls(
    runs: int, calls: int, subjects: dict[str, Callable[[], None]]
) -> dict[str, list[float]]:
    """Seconds per call of each subject, per run, taking turns call by call.

    Each round makes one call of every subject, the order rotating from round to round, so that
    every subject sits at every place equally and drift on the machine (a neighbour's load, a
    CPU waking up) hits all of them alike, within milliseconds rather than seconds. For ratios of
    a few percent, where :func:`interleaved`'s blocks of many calls swing more than the ratio."""
    names = list(subjects)
    results: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for run in range(runs):
        spent = dict.fromkeys(names, 0.0)
        for round_ in range(calls):
            shift = (run * calls + round_) % len(names)
            for name in names[shift:] + names[:shift]:
                began = clock()
                subjects[name]()
                spent[name] += clock() - began
        for name in names:
            results[name].append(spent[name] / calls)
    return results


def box_body(address: str, tipo: str = "STANDARD") -> dict[str, Any]:
    """A registration body the sandbox and the client's guards accept."""
    return {
        "casella_pec": address,
        "tipo_casella": tipo,
        "tipo_cliente": "PV",
        "nome_richiedente": "mario",
        "cognome_richiedente": "rossi",
        "email": "mail@domain.com",
        "telefono": "0548798569",
        "codice_fiscale_richiedente": "RSSMRA82D11H501X",
        "data_nascita_richiedente": "11/04/1982",
        "sesso_richiedente": "M",
        "nazione_nascita_richiedente": "IT",
        "provincia_nascita_richiedente": "RM",
        "indirizzo_titolare": "via verdi 20",
        "comune_titolare": "roma",
        "cap_titolare": "00042",
        "nazione_titolare": "IT",
        "provincia_titolare": "RM",
    }


def make_pdf(path: Path, size: int) -> Path:
    """A valid one-page PDF of exactly ``size`` bytes (the bulk is an unreferenced stream)."""
    parts: list[bytes] = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
    offsets: list[int] = []

    def obj(body: bytes) -> None:
        offsets.append(sum(len(p) for p in parts))
        parts.append(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")

    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")

    def tail(start: int) -> bytes:
        xref = [b"xref\n", f"0 {len(offsets) + 1}\n".encode(), b"0000000000 65535 f \n"]
        xref += [f"{o:010d} 00000 n \n".encode() for o in offsets]
        trailer = f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{start}\n%%EOF\n"
        return b"".join(xref) + trailer.encode()

    head = sum(len(p) for p in parts)
    offsets.append(head)
    end = b"\nendstream\nendobj\n"

    def layout(filler: int) -> tuple[bytes, int, bytes]:
        begin = f"4 0 obj\n<< /Length {filler} >>\nstream\n".encode()
        xref_at = head + len(begin) + filler + len(end)
        return begin, xref_at, tail(xref_at)

    filler = size
    for _ in range(5):  # the lengths' digit counts settle in two or three rounds
        begin, xref_at, trailer = layout(filler)
        filler += size - (xref_at + len(trailer))
    begin, xref_at, trailer = layout(filler)
    if xref_at + len(trailer) != size:
        raise RuntimeError(f"cannot lay out a PDF of {size} bytes")
    with path.open("wb") as out:
        out.writelines(parts)
        out.write(begin)
        block = (b"0123456789abcdef" * 65536)[: 1 << 20]
        left = filler
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
        out.write(end)
        out.write(trailer)
    return path


@contextmanager
def server_process(args: Sequence[str]) -> Iterator[str]:
    """Start a server subprocess that prints ``... listening on URL``; yield the URL; stop it."""
    proc = subprocess.Popen(
        [PYTHON, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        url = ""
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                url = line.rsplit(" ", 1)[1].strip()
                break
        if not url:
            raise RuntimeError(f"server {args} did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def sandbox_process(balance: float = 1_000_000.0) -> Any:
    """The sandbox's own HTTP server (``python -m pec_ext.sandbox``) in a process of its own."""
    return server_process(["-m", "pec_ext.sandbox", "--port", "0", "--balance", str(balance)])


def bare_process() -> Any:
    """The baseline: the same stdlib threading HTTP server answering a fixed envelope."""
    return server_process([str(BENCH_DIR / "bare_server.py")])
