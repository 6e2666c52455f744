"""Webhook signatures: what the server signs, a receiver verifies; anything else does not verify."""

from __future__ import annotations

import hashlib
import hmac

from shopfloor.security.signatures import new_webhook_secret, sign_webhook, verify_webhook

BODY = b'{"event":"firing","value":0.42}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    secret = new_webhook_secret()
    header = sign_webhook(secret, BODY, timestamp=1_700_000_000)
    expected = hmac.new(secret.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify_webhook(secret, BODY, header, now=1_700_000_100)


def test_a_changed_body_secret_or_old_timestamp_does_not_verify() -> None:
    secret = new_webhook_secret()
    header = sign_webhook(secret, BODY, timestamp=1_700_000_000)
    assert not verify_webhook(secret, BODY + b" ", header, now=1_700_000_000)
    assert not verify_webhook(new_webhook_secret(), BODY, header, now=1_700_000_000)
    assert not verify_webhook(secret, BODY, header, now=1_700_000_000 + 301)  # a replay
    assert verify_webhook(secret, BODY, header, now=1_700_000_000 + 301, tolerance_s=600)


def test_malformed_headers_do_not_verify() -> None:
    secret = new_webhook_secret()
    for header in ("", "t=,v1=", "v1=abc", "t=1700000000", "garbage", "t=x,v1=00"):
        assert not verify_webhook(secret, BODY, header, now=1_700_000_000)


def test_any_v1_entry_may_match_and_secrets_differ() -> None:
    secret = new_webhook_secret()
    good = sign_webhook(secret, BODY, timestamp=1_700_000_000)
    assert verify_webhook(secret, BODY, good + ",v1=" + "0" * 64, now=1_700_000_000)
    assert secret.startswith("whsec_") and len(secret) > 40 and secret != new_webhook_secret()
