"""Encryption at rest and artifact signing: the primitives, no storage and no registry.

Three kinds of key:

* the **master key** (256 bits, from settings, or generated once into ``<home>/master.key`` in
  development mode) only wraps tenant data keys; rotating it re-wraps them and touches no data;
* a **tenant data key** (256 random bits per tenant) encrypts that tenant's files with AES-256-GCM;
  the registry holds it wrapped (``nonce || AES-GCM(master, key, aad=tenant)``);
* the **signing key** is derived from the server secret (``settings.secret_key`` or
  ``<home>/secret.key``), not from the master key, so a master-key rotation leaves every
  signature valid. Rotating the server secret does invalidate signatures (and API-key hashes).

Envelope of one stored file (format ``SFE1``)::

    b"SFE1" | 12-byte random nonce | AES-256-GCM ciphertext with its 16-byte tag

The associated data is the magic plus the artifact key (its path in the store), so a file copied
or moved to another path, another dataset or another tenant does not decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shopfloor.errors import ArtifactCorrupted, InvalidInput, KeyUnavailable
from shopfloor.settings import Settings

log = logging.getLogger(__name__)

MAGIC = b"SFE1"
NONCE_BYTES = 12
KEY_BYTES = 32
HEADER_BYTES = len(MAGIC) + NONCE_BYTES
SIGNATURE_SCHEME = "hs256v1"
_SIGNING_LABEL = b"shopfloor-signing/v1"
_WRAP_AAD = b"shopfloor-tenant-key/v1:"


# -- master key ----------------------------------------------------------------------------------


def parse_master_key(text: str, source: str) -> bytes:
    """Decode a master key written as 64 hex characters.

    ``source`` names where it came from, for the error message.
    Raises :class:`InvalidInput` if it is not exactly 32 bytes of hex.
    """
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise InvalidInput(f"the master key in {source} must be 64 hex characters (256 bits)")
    return key


def new_master_key() -> bytes:
    """32 random bytes from the OS generator."""
    return secrets.token_bytes(KEY_BYTES)


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` holding ``key`` as hex, readable by the owner only; refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_key_file(path: Path) -> bytes:
    """The master key held in ``path``; warns when the file is readable by group or others."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read the master key file {path}: {exc.strerror}") from None
    if path.stat().st_mode & 0o077:
        log.warning("master key file %s is readable by other users; chmod 600 it", path)
    return parse_master_key(text, str(path))


def dev_key_path(settings: Settings) -> Path:
    """Where development mode keeps its generated master key."""
    return settings.home / "master.key"


def load_master_key(settings: Settings) -> bytes:
    """The master key: ``settings.master_key``, else ``settings.master_key_file``, else (development
    mode only) ``<home>/master.key``, generated on first use.

    Raises :class:`InvalidInput` for a malformed key or unreadable file.
    """
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value(), "SHOPFLOOR_MASTER_KEY")
    if settings.master_key_file is not None:
        return read_key_file(settings.master_key_file)
    if settings.mode != "development":  # Settings refuses this already; never silently generate in prod
        raise InvalidInput("SHOPFLOOR_MASTER_KEY or SHOPFLOOR_MASTER_KEY_FILE must be set in production")
    path = dev_key_path(settings)
    if not path.exists():
        try:
            write_key_file(path, new_master_key())
        except FileExistsError:  # another process of this server generated it first
            pass
    return read_key_file(path)


def key_id(key: bytes) -> str:
    """A public name for a key: the first 16 hex characters of its sha256."""
    return hashlib.sha256(key).hexdigest()[:16]


# -- tenant data keys ----------------------------------------------------------------------------


def wrap_key(master: bytes, data_key: bytes, tenant: str) -> bytes:
    """``nonce || AES-GCM(master, data_key)``; the tenant is bound as associated data so a wrapped
    key copied onto another tenant's row does not open."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _WRAP_AAD + tenant.encode())


def unwrap_key(master: bytes, wrapped: bytes, tenant: str) -> bytes:
    """The tenant's data key. Raises :class:`KeyUnavailable` if ``master`` is not the key that
    wrapped it or the wrapped value was altered."""
    try:
        key = AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AAD + tenant.encode()
        )
    except (InvalidTag, ValueError):
        raise KeyUnavailable(
            f"the data key of tenant {tenant!r} cannot be unwrapped with master key {key_id(master)}; "
            "the server is configured with the wrong master key"
        ) from None
    return key


# -- file envelopes ------------------------------------------------------------------------------


def _aad(path: str) -> bytes:
    return MAGIC + path.encode()


def encrypt(data_key: bytes, path: str, plaintext: bytes) -> bytes:
    """The ``SFE1`` envelope of ``plaintext``, bound to the artifact key ``path``."""
    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _aad(path))


def decrypt(data_key: bytes, path: str, blob: bytes) -> bytes:
    """The plaintext of an ``SFE1`` envelope stored at ``path``.

    Raises :class:`ArtifactCorrupted` if the file is not an envelope (written before encryption at
    rest) or fails authentication (a changed byte, a truncation, a file moved from another path).
    """
    if not blob.startswith(MAGIC) or len(blob) < HEADER_BYTES + 16:
        raise ArtifactCorrupted(
            f"artifact {path!r} is not an encrypted Shopfloor file (no SFE1 header); "
            "it was replaced on disk or written by a version without encryption at rest"
        )
    nonce = blob[len(MAGIC) : HEADER_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, blob[HEADER_BYTES:], _aad(path))
    except InvalidTag:
        # GCM authenticates before anything is returned, so the sha256 check is never reached.
        raise ArtifactCorrupted(
            f"artifact {path!r} failed authentication (AES-GCM tag, checked before its sha256): "
            "it was changed, damaged, or moved from another path on disk and will not be loaded"
        ) from None


# -- signing -------------------------------------------------------------------------------------


def signing_key(server_secret: bytes) -> bytes:
    """The HMAC key for registry signatures, derived from the server secret (survives master-key
    rotation; changes if the server secret changes)."""
    return hmac.new(server_secret, _SIGNING_LABEL, hashlib.sha256).digest()


def canonical(claims: dict[str, Any]) -> bytes:
    """One byte string per claim set: sorted keys, no whitespace, ASCII only."""
    return json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(key: bytes, claims: dict[str, Any]) -> str:
    """``hs256v1:<hex HMAC-SHA-256 of the canonical claims>``."""
    return f"{SIGNATURE_SCHEME}:{hmac.new(key, canonical(claims), hashlib.sha256).hexdigest()}"


def verify(key: bytes, claims: dict[str, Any], signature: str | None) -> bool:
    """Whether ``signature`` is :func:`sign` of ``claims`` (constant-time compare); None is False."""
    if not signature:
        return False
    return hmac.compare_digest(sign(key, claims), signature)
