"""Signed checkpoints: the log's size and root in the C2SP ``tlog-checkpoint`` format, signed
as a C2SP signed note with Ed25519.

A checkpoint is the text ``<origin>\\n<size>\\n<base64 root>\\n``, a blank line and one
signature line ``— <key name> <base64(key hash (4 bytes) || signature)>``. The key hash is
the first four bytes of SHA-256(name || "\\n" || 0x01 || public key); the verifier key is
``<name>+<key hash in hex>+<base64(0x01 || public key)>`` (served at ``/log/v1/key``).

The signing key is made on first use and kept in the data directory (``keys/``, mode 600);
processes starting together agree on one key (the first to link its file wins). The origin
(and key name) is the node's ``ALLMENDE_BASE_URL`` without its scheme, plus ``/log``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende.config import Settings
from allmende.db.models import LogCheckpoint
from allmende.transparency import log

if TYPE_CHECKING:
    from allmende.platform import Platform

ED25519 = 0x01
EM_DASH = "\u2014"
KEY_FILE = "transparency-log.ed25519.pem"


class BadNote(ValueError):
    """A checkpoint or verifier key that cannot be read, or a signature that does not verify;
    the message says which (German)."""


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Verifier(self.name, key_id(self.name, public), public)

    def sign(self, body: str) -> str:
        """The signed note of ``body`` (which ends with a newline)."""
        signature = self.private_key.sign(body.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{body}\n{EM_DASH} {self.name} {encoded}\n"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def origin_of(settings: Settings) -> str:
    address = settings.base_url.split("://", 1)[-1].rstrip("/")
    return f"{address}/log"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


# --- the key ---------------------------------------------------------------------------------

def signer_for(settings: Settings) -> Signer:
    """The node's signing key, made and kept in the data directory on first use."""
    path = settings.keys_dir / KEY_FILE
    if not path.exists():
        _create_key(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BadNote(f"{path} enthält keinen Ed25519-Schlüssel.")
    return Signer(origin_of(settings), key)


def _create_key(path: Path) -> None:
    """Write the key beside its place, readable by the owner only, and link it into place:
    of several processes starting at once, the first link wins and the others use it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{id(pem)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# --- reading notes (the witness's side) ---------------------------------------------------

def parse_verifier(text: str) -> Verifier:
    """A verifier key ``name+hash+base64``; BadNote when it is none."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise BadNote("Der Prüfschlüssel hat nicht die Form Name+Hash+Base64.")
    name, hash_hex, encoded = parts
    try:
        key_hash, raw = bytes.fromhex(hash_hex), base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise BadNote("Der Prüfschlüssel ist nicht lesbar (Hash oder Base64).") from None
    if len(raw) != 33 or raw[0] != ED25519:
        raise BadNote("Der Prüfschlüssel ist kein Ed25519-Schlüssel.")
    if key_hash != key_id(name, raw[1:]):
        raise BadNote("Der Hash des Prüfschlüssels passt nicht zu Name und Schlüssel.")
    return Verifier(name, key_hash, raw[1:])


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in ``note`` if ``verifier`` signed it; BadNote otherwise."""
    body, separator, signatures = note.partition("\n\n")
    if not separator or not body or "\n\n" in signatures:
        raise BadNote("Der Checkpoint ist keine signierte Notiz (Text, Leerzeile, "
                      "Signaturen).")
    body += "\n"
    if not _signed_by(body, signatures, verifier):
        raise BadNote(f"Der Checkpoint trägt keine gültige Signatur des Schlüssels "
                      f"„{verifier.name}“.")
    lines = body.splitlines()
    try:
        origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    except (IndexError, ValueError, binascii.Error):
        raise BadNote("Der Checkpoint nennt nicht Herkunft, Größe und Wurzel-Hash.") from None
    if size < 0 or len(root) != 32:
        raise BadNote("Größe oder Wurzel-Hash des Checkpoints sind ungültig.")
    return Checkpoint(origin, size, root, note)


def _signed_by(body: str, signatures: str, verifier: Verifier) -> bool:
    public = Ed25519PublicKey.from_public_bytes(verifier.public_key)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != verifier.name:
            continue
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        if raw[:4] != verifier.key_id:
            continue
        try:
            public.verify(raw[4:], body.encode())
        except InvalidSignature:
            continue
        return True
    return False


# --- publishing ------------------------------------------------------------------------------

def publish(session: Session, settings: Settings) -> Checkpoint:
    """Sign and store a checkpoint of the log as it is now (on demand, and periodically)."""
    signer = signer_for(settings)
    current = log.tree(session)
    note = signer.sign(checkpoint_body(signer.name, current.size, current.root))
    session.add(LogCheckpoint(size=current.size, root=current.root, note=note))
    session.flush()
    return Checkpoint(signer.name, current.size, current.root, note)


def latest(session: Session, settings: Settings) -> Checkpoint:
    """The newest stored checkpoint; the first one is made when none exists yet."""
    found = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc())
                            .limit(1)).first()
    if found is None:
        return publish(session, settings)
    return Checkpoint(origin_of(settings), found.size, bytes(found.root), found.note)


def publish_if_grown(session: Session, settings: Settings) -> Checkpoint | None:
    """A new checkpoint when entries arrived since the last one (the periodic task)."""
    last = session.scalar(select(LogCheckpoint.size).order_by(LogCheckpoint.id.desc())
                          .limit(1))
    if last is not None and last >= log.tree(session).size:
        return None
    return publish(session, settings)


def publish_periodically(platform: Platform) -> None:
    """The worker's periodic task: a checkpoint whenever entries arrived since the last."""
    with platform.db.session() as session:
        publish_if_grown(session, platform.settings)
