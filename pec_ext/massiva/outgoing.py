"""A message to send, checked before anything is sent: addresses, subject, body, attachments, sizes.

Attachments are read (paths, bytes, binary file objects) in a blocking step, so the async client
reads them in a worker thread, and go on the wire as streamed base64 ``data:`` URLs, as the
activation documents do (:class:`~pec_ext._engine.wire.Base64Body`): the base64 text is never
built whole.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeAlias

from pec_ext._engine.wire import Base64Body
from pec_ext.errors import ValidationError
from pec_ext.validation import fields

# Providers cap a PEC's size (message and attachments, before encoding) around 100 MB, and its
# recipients per message; these limits keep a message well inside them.
MAX_RECIPIENTS = 100
MAX_SUBJECT_CHARS = 255
MAX_BODY_BYTES = 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 30 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024

AttachmentSource: TypeAlias = (
    "str | os.PathLike[str] | BinaryIO | tuple[str, bytes | bytearray | str | os.PathLike[str] | BinaryIO]"
)


class DataUrlBody(Base64Body):
    """An attachment's ``file``: ``data:<type>;base64,`` then the base64 of the bytes, streamed."""

    __slots__ = ("prefix",)

    def __init__(self, data: bytes, media_type: str) -> None:
        super().__init__(data)
        self.prefix = f"data:{media_type};base64,".encode("ascii")

    def __len__(self) -> int:
        return len(self.prefix) + super().__len__()

    def slices(self) -> Generator[bytes, None, None]:
        yield self.prefix
        yield from super().slices()

    def __repr__(self) -> str:
        return f"DataUrlBody(<{len(self.data)} bytes>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataUrlBody) and other.prefix == self.prefix and other.data == self.data

    def __hash__(self) -> int:
        return hash((self.prefix, self.data))


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes = field(repr=False)

    @property
    def media_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def wire(self) -> dict[str, Any]:
        return {"name": self.name, "file": DataUrlBody(self.data, self.media_type)}

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Outgoing:
    """A checked message: recipients (lower case, in order, no duplicates), subject, body, sender."""

    recipients: tuple[str, ...]
    subject: str
    body: str
    sender: str
    attachment_sources: tuple[Any, ...] = field(default=(), repr=False)


def check_recipients(to: object) -> tuple[str, ...]:
    items = [to] if isinstance(to, str) else to
    if not isinstance(items, Sequence | set | frozenset) or isinstance(items, bytes | bytearray):
        raise ValidationError("to", to, f"an address, or a list of 1 to {MAX_RECIPIENTS} addresses")
    listed = list(items)
    if not listed:
        raise ValidationError("to", to, f"1 to {MAX_RECIPIENTS} addresses", reason="no recipient")
    if len(listed) > MAX_RECIPIENTS:
        raise ValidationError(
            "to", f"<{len(listed)} addresses>", f"1 to {MAX_RECIPIENTS} addresses per message"
        )
    seen: dict[str, None] = {}
    for index, item in enumerate(listed):
        address = fields.check_email(f"to[{index}]" if len(listed) > 1 else "to", item).lower()
        seen.setdefault(address, None)
    return tuple(seen)


def check_message(to: object, subject: object, body: object, sender: object, box: str) -> Outgoing:
    """Every field at once; one :class:`ValidationError` naming each bad one."""
    errors: list[ValidationError] = []
    recipients: tuple[str, ...] = ()
    try:
        recipients = check_recipients(to)
    except ValidationError as exc:
        errors.append(exc)
    if not isinstance(subject, str) or not subject.strip():
        errors.append(
            ValidationError("subject", subject, f"a non-empty text of at most {MAX_SUBJECT_CHARS} characters")
        )
    elif len(subject) > MAX_SUBJECT_CHARS or any(char in subject for char in "\r\n"):
        errors.append(
            ValidationError("subject", subject, f"one line of at most {MAX_SUBJECT_CHARS} characters")
        )
    if not isinstance(body, str):
        errors.append(
            ValidationError("body", type(body).__name__, "the text (or HTML) of the message, a str")
        )
    elif len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        errors.append(
            ValidationError("body", f"<{len(body)} characters>", f"at most {MAX_BODY_BYTES} bytes in UTF-8")
        )
    chosen_sender = box
    if sender is not None:
        try:
            chosen_sender = fields.check_email("sender", sender).lower()
        except ValidationError as exc:
            errors.append(exc)
        else:
            if chosen_sender != box.lower():
                errors.append(
                    ValidationError("sender", sender, box, reason="a box sends from its own address only")
                )
    if errors:
        raise ValidationError.combine(errors)
    assert isinstance(subject, str)
    assert isinstance(body, str)
    return Outgoing(recipients, subject.strip(), body, chosen_sender)


def check_attachment_sources(attachments: object) -> tuple[Any, ...]:
    """The sources as given (read later, in a blocking step); their shapes checked now."""
    if attachments is None:
        return ()
    if isinstance(attachments, str | bytes | bytearray | os.PathLike) or not isinstance(
        attachments, Sequence
    ):
        raise ValidationError(
            "attachments", attachments, "a list of paths, binary files, or (name, bytes | path | file) pairs"
        )
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationError(
            "attachments", f"<{len(attachments)} files>", f"at most {MAX_ATTACHMENTS} files"
        )
    for index, source in enumerate(attachments):
        _name_of(f"attachments[{index}]", source)
    return tuple(attachments)


def _name_of(field_name: str, source: object) -> str:
    if isinstance(source, tuple):
        if len(source) != 2 or not isinstance(source[0], str) or not source[0].strip():
            raise ValidationError(field_name, source, "a (name, bytes | path | binary file) pair")
        name = source[0].strip()
    elif isinstance(source, str | os.PathLike):
        name = os.path.basename(os.fsdecode(source))
    elif isinstance(source, bytes | bytearray | memoryview):
        raise ValidationError(field_name, source, "a (name, bytes) pair: bytes alone carry no file name")
    elif callable(getattr(source, "read", None)):
        raw = getattr(source, "name", None)
        if not isinstance(raw, str) or not raw:
            raise ValidationError(field_name, source, "a (name, file) pair: this file object has no name")
        name = os.path.basename(raw)
    else:
        raise ValidationError(
            field_name, source, "a path, a binary file, or a (name, bytes | path | file) pair"
        )
    if not name or any(char in name for char in '/\\\r\n"\x00'):
        raise ValidationError(field_name, name, "a file name without path separators, quotes or line breaks")
    return name


def read_attachments(sources: tuple[Any, ...]) -> list[Attachment]:
    """Blocking: read every attachment, refusing one (or all together) over the size limits."""
    # Imported here, in the worker thread of this blocking step: the documents package loads pypdf
    # and Pillow, which sending mail never needs at import (as pec_ext._pec.flows does).
    from pec_ext.documents.reading import read_document

    read: list[Attachment] = []
    total = 0
    for index, source in enumerate(sources):
        field_name = f"attachments[{index}]"
        name = _name_of(field_name, source)
        content = source[1] if isinstance(source, tuple) else source
        data = read_document(field_name, content, max_bytes=MAX_ATTACHMENT_BYTES)
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise ValidationError(
                "attachments", f"<{total} bytes so far>", f"at most {MAX_TOTAL_BYTES} bytes in all"
            )
        read.append(Attachment(name, data))
    return read
