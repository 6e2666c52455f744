"""AWS Signature Version 4, verified on the server side: what the AWS SDKs sign, checked.

The steps of the AWS specification ("Create a signed AWS API request"):

1. the *canonical request*: method, canonical URI (the path with dot segments removed, each
   segment URI-encoded; services other than S3 encode the already-encoded path once more), the
   canonical query string (names and values encoded, sorted), the signed headers as
   ``name:value`` lines (names lower-cased, values trimmed with inner runs of spaces collapsed,
   repeated headers joined by commas), the list of signed header names, and the hex SHA-256 of
   the body;
2. the *string to sign*: ``AWS4-HMAC-SHA256``, the request time (``X-Amz-Date``), the credential
   scope ``date/region/service/aws4_request`` and the hex SHA-256 of the canonical request;
3. the *signing key*: HMAC-SHA-256 chained over ``"AWS4" + secret``, the date, the region, the
   service and ``aws4_request``; the signature is the hex HMAC of the string to sign under it.

The server recomputes the signature from the request it received and compares in constant time.
Beyond a matching signature it requires: the ``host`` and ``x-amz-date`` headers signed (and any
``x-amz-*`` header the caller sent), a scope date equal to the request date, the request time
within :data:`MAX_SKEW` of the server clock, and the scope's service the one the endpoint serves.
The body hash is always the hash of the body received: a body signed as ``UNSIGNED-PAYLOAD`` is
refused, so the body an operation acts on is the one the key holder signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from shopfloor.errors import NotAuthenticated

ALGORITHM = "AWS4-HMAC-SHA256"
#: How far the request time may be from the server's clock, either way (AWS allows 15 minutes).
MAX_SKEW = timedelta(minutes=15)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")
_UNRESERVED = "-_.~"


class SignatureError(NotAuthenticated):
    """A request whose signature cannot be accepted. ``code`` names the AWS error the SDKs know."""

    code = "invalid-signature"


class IncompleteSignature(SignatureError):
    """The Authorization header is missing a part, or a header that must be signed is not."""

    code = "incomplete-signature"


class MissingAuthentication(SignatureError):
    """No Authorization header at all."""

    code = "missing-authentication"


class UnknownAccessKey(SignatureError):
    """The access key id names no active key."""

    code = "unrecognized-client"


@dataclass(frozen=True)
class SignedRequest:
    """What the server received, as the signature covers it."""

    method: str
    #: The path as sent on the wire (percent-encoded, before any decoding).
    raw_path: str
    #: The query string as sent on the wire (without the ``?``).
    raw_query: str
    #: Every header, names in any case, in the order received (repeats kept).
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str | None) -> Authorization:
    """The parts of ``header``; :class:`MissingAuthentication` or :class:`IncompleteSignature` if it
    is absent or not a complete SigV4 header."""
    if not header:
        raise MissingAuthentication("missing Authentication Token: sign the request with AWS Signature V4")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"the Authorization header must use {ALGORITHM}, not {algorithm!r}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        found = _FIELD.fullmatch(part)
        if found is None:
            raise IncompleteSignature(f"the Authorization header has a malformed part {part.strip()!r}")
        fields[found.group(1)] = found.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise IncompleteSignature(f"the Authorization header lacks {', '.join(missing)}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise IncompleteSignature(
            "the Credential must be <access key id>/<yyyymmdd>/<region>/<service>/aws4_request"
        )
    signed = tuple(fields["SignedHeaders"].split(";"))
    if list(signed) != sorted({name.lower() for name in signed}):
        raise IncompleteSignature("SignedHeaders must be lower-case header names, sorted, each once")
    return Authorization(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"].lower())


def _encode(text: str) -> str:
    """URI-encode every byte except the unreserved characters (A-Z a-z 0-9 - _ . ~)."""
    return quote(text, safe=_UNRESERVED)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal, with empty segments (``//``) dropped as AWS requires."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    trailing = "/" if path.endswith("/") and kept else ""
    return "/" + "/".join(kept) + trailing


def canonical_uri(raw_path: str) -> str:
    """The path as non-S3 services sign it: normalised, then each segment encoded (again)."""
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else ():
        name, _, value = item.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(headers: Iterable[tuple[str, str]], signed: tuple[str, ...]) -> str:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    return "".join(f"{name}:{','.join(values.get(name, []))}\n" for name in signed)


def canonical_request(request: SignedRequest, signed: tuple[str, ...]) -> str:
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            canonical_headers(request.headers, signed),
            ";".join(signed),
            hashlib.sha256(request.body).hexdigest(),
        )
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join((ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()))


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _header(request: SignedRequest, name: str) -> str | None:
    found = [value for key, value in request.headers if key.lower() == name]
    return ",".join(found) if found else None


def _request_time(request: SignedRequest, auth: Authorization, now: datetime) -> str:
    amz_date = _header(request, "x-amz-date")
    if amz_date is None:
        raise IncompleteSignature("the request has no X-Amz-Date header")
    try:
        when = datetime.strptime(amz_date.strip(), _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature(
            f"X-Amz-Date {amz_date!r} is not a time in the form yyyymmddThhmmssZ"
        ) from None
    if auth.date != amz_date.strip()[:8]:
        raise SignatureError(
            f"the credential scope date {auth.date} is not the date of X-Amz-Date {amz_date.strip()}"
        )
    if abs(now - when) > MAX_SKEW:
        raise SignatureError(
            f"Signature expired: {amz_date.strip()} is now earlier or later than "
            f"{(now - MAX_SKEW).strftime(_DATE_FORMAT)} .. {(now + MAX_SKEW).strftime(_DATE_FORMAT)} "
            "(the request time must be within 15 minutes of the server's clock)"
        )
    return amz_date.strip()


def verify(
    request: SignedRequest,
    service: str,
    secret_of: Callable[[str], str | None],
    now: datetime | None = None,
) -> Authorization:
    """The parsed Authorization of ``request`` if its SigV4 signature is right for ``service``.

    ``secret_of(access_key_id)`` returns the key's secret, or None for an unknown or revoked key.
    Raises a :class:`SignatureError` subclass saying what is wrong (nothing about the secret).
    """
    auth = parse_authorization(_header(request, "authorization"))
    if auth.service != service:
        raise SignatureError(
            f"the credential scope names service {auth.service!r}; this endpoint is {service!r}"
        )
    sent = {name.lower() for name, _ in request.headers}
    unsigned = sorted(
        name
        for name in sent
        if (name.startswith("x-amz-") or name == "host") and name not in auth.signed_headers
    )
    if "host" not in auth.signed_headers or "x-amz-date" not in auth.signed_headers or unsigned:
        need = sorted({"host", "x-amz-date", *unsigned} - set(auth.signed_headers))
        raise IncompleteSignature(f"these headers must be signed: {', '.join(need)}")
    absent = [name for name in auth.signed_headers if name not in sent]
    if absent:
        raise IncompleteSignature(f"signed headers missing from the request: {', '.join(absent)}")
    amz_date = _request_time(request, auth, now or datetime.now(UTC))
    secret = secret_of(auth.access_key_id)
    # An unknown key still costs a full signature, so timing does not tell which ids exist.
    key = signing_key(secret or "\0unknown", auth.date, auth.region, auth.service)
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    sts = string_to_sign(amz_date, scope, canonical_request(request, auth.signed_headers))
    expected = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    matches = hmac.compare_digest(expected.encode(), auth.signature.encode())
    if secret is None:
        raise UnknownAccessKey("The security token included in the request is invalid.")
    if not matches:
        raise SignatureError(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return auth
