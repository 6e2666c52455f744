"""Multipart uploads are held in memory, never spooled to the system's temporary folder.

Starlette parses a multipart body into ``UploadFile`` objects backed by a
``SpooledTemporaryFile`` that moves to a file in the system temporary folder (``/tmp``) once a
part passes 1 MB: the plaintext of a tenant's dataset would sit on a disk outside the home, beyond
the server's encryption at rest. :func:`keep_uploads_in_memory` raises that threshold past the
largest body the server accepts (``SHOPFLOOR_MAX_UPLOAD_MB``; bigger bodies are refused before
they are parsed), so a part never leaves memory; the services then stream it into an in-memory
scratch file (:mod:`shopfloor.storage.scratch`) to parse it, and store it encrypted.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartParser

from shopfloor.settings import Settings


def keep_uploads_in_memory(settings: Settings) -> None:
    """Keep every multipart file part of a body this server accepts in memory (process-wide)."""
    limit = int(settings.max_upload_bytes) + (1 << 20)  # the file plus the form's other fields
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, limit)
