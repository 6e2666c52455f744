"""Masking personal data in free text (work orders, complaints) before anything stores it.

A tenant's :class:`MaskingPolicy` lists person names and extra regular expressions; e-mail
addresses, phone numbers and IBANs are always masked (see :mod:`shopfloor.privacy.detectors`).

Tokens are irreversible (``[EMAIL]``, ``[NAME]``, ``[ORDER_REF]``) unless the policy is
reversible and the tenant's data key is given: then each value gets a pseudonym
``[NAME_3f9a1c07d2]``, an HMAC-SHA-256 of the kind and the normalised value under a key derived
from the tenant's key. The same person gets the same token in every row and upload of that tenant,
other tenants get other tokens, and nobody without the key can test a guess. The token -> value
mapping is only returned for reversible policies and is stored sealed with AES-GCM
(:func:`encrypt_mapping`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shopfloor.errors import ArtifactCorrupted, InvalidInput
from shopfloor.privacy import detectors

EMAIL, PHONE, IBAN, NAME = "email", "phone", "iban", "name"
BUILT_IN_KINDS = (EMAIL, IBAN, PHONE, NAME)
MAX_NAMES, MAX_NAME_CHARS, MAX_PATTERNS = 20_000, 100, 50
PSEUDONYM_HEX = 10  # 40 bits: no collision expected among millions of distinct values of one tenant
_PATTERN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_PSEUDONYM_LABEL = b"shopfloor-masking-pseudonym/v1"
_MAPPING_MAGIC = b"SFM1"
_NONCE_BYTES = 12
_TOKEN = re.compile(rf"\[[A-Z][A-Z0-9_]*_[0-9a-f]{{{PSEUDONYM_HEX}}}\]")
_BLANKS = re.compile(r"\s+")
_LOC = ["body"]


def _refuse(loc: list[Any], msg: str) -> InvalidInput:
    return InvalidInput(f"invalid masking policy: {msg}", errors=[{"loc": [*_LOC, *loc], "msg": msg}])


@dataclass(frozen=True)
class MaskingPolicy:
    """What a tenant masks besides the built-ins; validated on construction.

    ``names``: person names, matched case-insensitively on word boundaries, also written
    ``Lastname, Firstname`` and ``F. Lastname``. ``patterns``: ``{"name", "regex"}`` rules; the
    name (letters, digits, ``_``; not a built-in kind) becomes the token ``[NAME]`` in upper case.
    ``reversible``: keep a token -> value mapping (needs the tenant's key at masking time).

    Raises :class:`InvalidInput` with ``loc`` ``["body", "names" | "patterns", i, ...]``.
    """

    names: list[str] = field(default_factory=list)
    patterns: list[dict[str, str]] = field(default_factory=list)
    reversible: bool = False

    def __post_init__(self) -> None:
        _check_names(self.names)
        _check_patterns(self.patterns)
        if not isinstance(self.reversible, bool):
            raise _refuse(["reversible"], "must be true or false")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in tenant settings."""
        return {
            "names": list(self.names),
            "patterns": [{"name": p["name"], "regex": p["regex"]} for p in self.patterns],
            "reversible": self.reversible,
        }

    @classmethod
    def from_dict(cls, data: Any) -> MaskingPolicy:
        """The policy from its JSON form; unknown keys are refused so a typo does not go unnoticed."""
        if not isinstance(data, dict):
            raise _refuse([], "must be an object with names, patterns and reversible")
        unknown = sorted(set(data) - {"names", "patterns", "reversible"})
        if unknown:
            raise _refuse([unknown[0]], f"unknown field {unknown[0]!r}")
        return cls(
            names=data.get("names", []),
            patterns=data.get("patterns", []),
            reversible=data.get("reversible", False),
        )

    @cached_property
    def compiled(self) -> _Compiled:
        """The regexes, built once per policy object (cached on the frozen instance)."""
        names, canonical = detectors.names_regex(self.names)
        # tenant patterns run on RE2 (linear time); the names regex is built from escaped literals
        rules = [(p["name"], detectors.compile_tenant(p["regex"])) for p in self.patterns]
        return _Compiled(names, canonical, rules)


class _Compiled(NamedTuple):
    names: re.Pattern[str] | None
    canonical: dict[str, str | None]
    rules: list[tuple[str, Any]]  # (name, RE2 pattern: finditer like re's)


def _check_names(names: Any) -> None:
    if not isinstance(names, list):
        raise _refuse(["names"], "must be a list of person names")
    if len(names) > MAX_NAMES:
        raise _refuse(["names"], f"{len(names)} names; at most {MAX_NAMES}")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise _refuse(["names", i], "must be a non-empty string")
        if len(name) > MAX_NAME_CHARS:
            raise _refuse(["names", i], f"longer than {MAX_NAME_CHARS} characters")
        if sum(ch.isalpha() for ch in name) < 2:
            raise _refuse(["names", i], f"{name!r} has fewer than two letters; it would mask ordinary text")


def _check_patterns(patterns: Any) -> None:
    if not isinstance(patterns, list):
        raise _refuse(["patterns"], "must be a list of {name, regex} objects")
    if len(patterns) > MAX_PATTERNS:
        raise _refuse(["patterns"], f"{len(patterns)} patterns; at most {MAX_PATTERNS}")
    seen: set[str] = set()
    for i, rule in enumerate(patterns):
        if not isinstance(rule, dict) or set(rule) != {"name", "regex"}:
            raise _refuse(["patterns", i], "must be an object with exactly the fields name and regex")
        name, regex = rule["name"], rule["regex"]
        if not isinstance(name, str) or not _PATTERN_NAME.fullmatch(name):
            raise _refuse(["patterns", i, "name"], "must be a letter, then letters, digits or _ (32 at most)")
        if name.lower() in BUILT_IN_KINDS or name.lower() in seen:
            raise _refuse(["patterns", i, "name"], f"{name!r} is a built-in kind or used twice")
        seen.add(name.lower())
        problem = detectors.pattern_problem(regex) if isinstance(regex, str) else "must be a string"
        if problem:
            raise _refuse(["patterns", i, "regex"], problem)


# -- masking --------------------------------------------------------------------------------------


class MaskResult(NamedTuple):
    """A masked text, how many values of each kind it masked, and where they were in the input."""

    text: str
    counts: dict[str, int]
    spans: list[tuple[int, int, str]]


class ColumnMask(NamedTuple):
    """A masked column: values (None where missing), total counts, token -> value or None."""

    values: list[str | None]
    counts: dict[str, int]
    mapping: dict[str, str] | None


def pseudonym_key(key: bytes) -> bytes:
    """The HMAC key for pseudonyms, derived so the tenant's data key itself is used only for AES."""
    return hmac.new(key, _PSEUDONYM_LABEL, hashlib.sha256).digest()


def _normalise(kind: str, value: str, owner: str | None) -> str:
    """One form per person or value, so writing variants share a pseudonym."""
    if kind == EMAIL:
        return value.lower()
    if kind in (PHONE, IBAN):
        return "".join(ch for ch in value if ch.isalnum() or ch == "+").upper()
    if kind == NAME:
        return owner.lower() if owner else detectors.name_key(value)
    return _BLANKS.sub(" ", value.strip())


def _find(text: str, policy: MaskingPolicy) -> list[tuple[int, int, str]]:
    """Every detection as (start, end, kind), leftmost-longest, overlaps dropped.

    Ties (same start and length) go to the earlier kind: e-mail, IBAN, phone, tenant patterns, names.
    """
    compiled = policy.compiled
    found: list[tuple[int, int, int, str]] = []
    if "@" in text:
        found += [(m.start(), -m.end(), 0, EMAIL) for m in detectors.EMAIL.finditer(text)]
    found += [
        (m.start(), -m.end(), 1, IBAN) for m in detectors.IBAN.finditer(text) if detectors.is_iban(m[0])
    ]
    found += [
        (m.start(), -m.end(), 2, PHONE)
        for m in detectors.PHONE.finditer(text)
        if detectors.is_phone(text, m.start(), m.end())
    ]
    found += [(m.start(1), -m.end(1), 2, PHONE) for m in detectors.PHONE_LABELLED.finditer(text)]
    for rank, (name, rule) in enumerate(compiled.rules, start=3):
        found += [(m.start(), -m.end(), rank, name) for m in rule.finditer(text) if m.end() > m.start()]
    if compiled.names is not None:
        found += [(m.start(), -m.end(), 3 + len(compiled.rules), NAME) for m in compiled.names.finditer(text)]
    spans: list[tuple[int, int, str]] = []
    reached = 0
    for start, neg_end, _rank, kind in sorted(found):
        if start >= reached:
            spans.append((start, -neg_end, kind))
            reached = -neg_end
    return spans


def _check_key(key: bytes | None) -> None:
    if key is not None and (not isinstance(key, bytes) or len(key) not in (16, 24, 32)):
        raise InvalidInput("the masking key must be 16, 24 or 32 bytes (the tenant's data key)")


def _mask(text: str, policy: MaskingPolicy, hkey: bytes | None, mapping: dict[str, str] | None) -> MaskResult:
    spans = _find(text, policy)
    if not spans:
        return MaskResult(text, {}, [])
    parts: list[str] = []
    at = 0
    for start, end, kind in spans:
        label = kind.upper()
        if hkey is None:
            token = f"[{label}]"
        else:
            surface = text[start:end]
            # a listed name's variants ("Smith, John", "J. Smith") all stand for the name as listed
            owner = policy.compiled.canonical.get(detectors.name_key(surface)) if kind == NAME else None
            value = _normalise(kind, surface, owner)
            digest = hmac.new(hkey, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
            token = f"[{label}_{digest[:PSEUDONYM_HEX]}]"
            if mapping is not None:
                mapping.setdefault(token, owner or surface)
        parts += [text[at:start], token]
        at = end
    parts.append(text[at:])
    return MaskResult("".join(parts), dict(Counter(kind for _, _, kind in spans)), spans)


def mask_text(text: str, policy: MaskingPolicy, key: bytes | None = None) -> MaskResult:
    """Mask personal data in one text.

    Pseudonyms are used when ``policy.reversible`` and ``key`` (the tenant's 16/24/32-byte data
    key) is given; otherwise irreversible tokens. ``spans`` are (start, end, kind) in ``text``.
    Raises :class:`InvalidInput` if ``text`` is not a string or the key has a wrong length.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"masking needs text, got {type(text).__name__}")
    _check_key(key)
    hkey = pseudonym_key(key) if policy.reversible and key is not None else None
    return _mask(text, policy, hkey, None)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def mask_column(values: Iterable[str | None], policy: MaskingPolicy, key: bytes | None = None) -> ColumnMask:
    """Mask every text of a column; None and NaN (missing cells) stay None.

    Non-string values are refused (:class:`InvalidInput` naming the row), not converted: a numeric
    cell in a text column means the column was typed wrongly, and its digits would not be masked as
    a phone number the way the text was meant. ``mapping`` (token -> original value: for a listed
    name the name as listed, else the first spelling seen) is returned only with pseudonyms, else None.
    """
    _check_key(key)
    hkey = pseudonym_key(key) if policy.reversible and key is not None else None
    mapping: dict[str, str] | None = {} if hkey is not None else None
    counts: Counter[str] = Counter()
    masked: list[str | None] = []
    for row, value in enumerate(values):
        if _missing(value):
            masked.append(None)
            continue
        if not isinstance(value, str):
            raise InvalidInput(
                f"row {row} holds a {type(value).__name__}, not text; only text columns are masked",
                errors=[{"loc": ["rows", row], "msg": "must be text or missing"}],
            )
        result = _mask(value, policy, hkey, mapping)
        counts.update(result.counts)
        masked.append(result.text)
    return ColumnMask(masked, dict(counts), mapping)


def unmask(text: str, mapping: dict[str, str]) -> str:
    """``text`` with every pseudonym found in ``mapping`` replaced by its value; others left as is."""
    return _TOKEN.sub(lambda m: mapping.get(m[0], m[0]), text)


# -- the sealed mapping ---------------------------------------------------------------------------


def _mapping_aad(context: str) -> bytes:
    return _MAPPING_MAGIC + context.encode()


def encrypt_mapping(mapping: dict[str, str], key: bytes, context: str) -> bytes:
    """``SFM1 | nonce | AES-GCM(key, JSON mapping)``, bound to ``context`` (e.g. the dataset id and
    column) so a mapping copied onto another dataset does not open."""
    _check_key(key)
    nonce = os.urandom(_NONCE_BYTES)
    plain = json.dumps(mapping, sort_keys=True, separators=(",", ":")).encode()
    return _MAPPING_MAGIC + nonce + AESGCM(key).encrypt(nonce, plain, _mapping_aad(context))


def decrypt_mapping(blob: bytes, key: bytes, context: str) -> dict[str, str]:
    """The mapping sealed by :func:`encrypt_mapping`.

    Raises :class:`ArtifactCorrupted` for another key, another context, or a changed byte.
    """
    _check_key(key)
    head = len(_MAPPING_MAGIC) + _NONCE_BYTES
    if not blob.startswith(_MAPPING_MAGIC) or len(blob) < head + 16:
        raise ArtifactCorrupted(f"the masking mapping of {context!r} is not sealed (no SFM1 header)")
    try:
        plain = AESGCM(key).decrypt(blob[len(_MAPPING_MAGIC) : head], blob[head:], _mapping_aad(context))
    except InvalidTag:
        raise ArtifactCorrupted(
            f"the masking mapping of {context!r} failed authentication: another key or dataset, or altered"
        ) from None
    mapping: dict[str, str] = json.loads(plain)
    return mapping
