"""Masking personal data in free text: detectors, names, tenant patterns, pseudonyms, the mapping."""

from __future__ import annotations

import json
import math
import time

import pytest

from shopfloor.errors import ArtifactCorrupted, InvalidInput
from shopfloor.privacy import (
    MaskingPolicy,
    decrypt_mapping,
    encrypt_mapping,
    mask_column,
    mask_text,
    unmask,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
PLAIN = MaskingPolicy()


def masked(text: str, policy: MaskingPolicy = PLAIN) -> str:
    return mask_text(text, policy).text


# -- e-mail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["mail j.smith@acme-tools.com now", "JOHN+qa@plant7.example.co.uk", "(service@x.de)"],
)
def test_email_is_masked(text: str) -> None:
    result = mask_text(text, PLAIN)
    assert "@" not in result.text and "[EMAIL]" in result.text
    assert result.counts == {"email": 1}


@pytest.mark.parametrize("text", ["torque @ 45 Nm", "user@localhost", "a @b.com", "pump@3000rpm"])
def test_email_lookalikes_are_kept(text: str) -> None:
    assert masked(text) == text


# -- phone numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+49 89 1234567",
        "+49 (0)89 123 456-78",
        "+1 (555) 123-4567",
        "+4989123456",
        "+44 20 7946 0958",
        "+33.1.23.45.67.89",
        "0049 89 1234567",
        "(089) 123 45 67",
        "089-123-4567",
        "0171 2345678",
        "030/12345678",
        "01 23 45 67 89",
        "555-123-4567",
        "555.123.4567",
        "(555) 123-4567",
    ],
)
def test_phone_forms_are_masked(phone: str) -> None:
    result = mask_text(f"please call {phone}, thanks", PLAIN)
    assert result.text == "please call [PHONE], thanks"
    assert result.counts == {"phone": 1}


@pytest.mark.parametrize(
    "text",
    [
        "Tel. 4471223344",
        "phone no. 089 1234567",
        "Mobile: +491711234567",
    ],
)
def test_labelled_phone_is_masked_even_without_separators(text: str) -> None:
    assert "[PHONE]" in masked(text)
    assert not any(ch.isdigit() for ch in masked(text))


@pytest.mark.parametrize(
    "text",
    [
        "replaced part 4471223344",  # plain part number, no separators
        "bearing 6204223344 fitted",
        "P/N 0815-4471-22",  # labelled part number that looks like a national number
        "SN 4471-22",
        "SN 0471-223344",
        "serial 412-555-1234",
        "order 089 1234567",
        "inspected 01.02.2024 08:15",
        "on 2024-03-15 at 14:30:00",
        "due 03/15/2024",
        "15.03.2024",
        "05-03-2024",
        "gasket 12.5 mm",
        "runout 0.025 mm",
        "shaft 1 250 000 rpm",
        "torque 120 340 560 Nm",
        "flow 0123 4567 l",
        "1.250.000 EUR",
        "firmware v1.2.3.4567",
        "+5 °C",
        "WO 2024-00123 pump 3",
        "telemetry 1234567",
        "192.168.0.12",
    ],
)
def test_numbers_that_are_not_phones_are_kept(text: str) -> None:
    assert masked(text) == text


# -- IBAN -----------------------------------------------------------------------------------------


def test_iban_with_valid_check_digits_is_masked() -> None:
    result = mask_text("refund to DE89 3704 0044 0532 0130 00 please; GB82WEST12345698765432", PLAIN)
    assert result.text == "refund to [IBAN] please; [IBAN]"
    assert result.counts == {"iban": 2}


def test_iban_shape_with_wrong_check_digits_is_kept() -> None:
    assert masked("ref DE89370400440532013001") == "ref DE89370400440532013001"


# -- names ----------------------------------------------------------------------------------------

NAMES = MaskingPolicy(names=["John Smith", "Ann", "Jürgen Müller", "Ann Lee"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("checked by John Smith", "checked by [NAME]"),
        ("checked by JOHN   smith.", "checked by [NAME]."),
        ("Smith, John signed", "[NAME] signed"),
        ("Smith,John signed", "[NAME] signed"),
        ("J. Smith and J Smith and J.Smith", "[NAME] and [NAME] and [NAME]"),
        ("Ann reported", "[NAME] reported"),
        ("ann lee reported", "[NAME] reported"),  # longest listed name wins: one token, not two
        ("JÜRGEN MÜLLER", "[NAME]"),
        ("Annual review, Anna, Annette, Joann, Ann's", "Annual review, Anna, Annette, Joann, [NAME]'s"),
        ("Smithson and Johnny Smith", "Smithson and Johnny Smith"),
        ("Smith alone", "Smith alone"),
    ],
)
def test_names(text: str, expected: str) -> None:
    assert masked(text, NAMES) == expected


def test_name_inside_email_counts_once_as_email() -> None:
    result = mask_text("john.smith@acme.com", MaskingPolicy(names=["John", "Smith"]))
    assert result.text == "[EMAIL]" and result.counts == {"email": 1}


def test_spans_and_counts() -> None:
    text = "Ann called +49 89 1234567 and Ann wrote ann@x.org"
    result = mask_text(text, NAMES)
    assert result.counts == {"name": 2, "phone": 1, "email": 1}
    assert [(text[s:e], kind) for s, e, kind in result.spans] == [
        ("Ann", "name"),
        ("+49 89 1234567", "phone"),
        ("Ann", "name"),
        ("ann@x.org", "email"),
    ]


# -- tenant patterns ------------------------------------------------------------------------------


def test_custom_pattern_token_and_count() -> None:
    policy = MaskingPolicy(patterns=[{"name": "badge", "regex": r"\bBDG-\d{5}\b"}])
    result = mask_text("badge BDG-12345 and BDG-99999 used; BDG-1 not", policy)
    assert result.text == "badge [BADGE] and [BADGE] used; BDG-1 not"
    assert result.counts == {"badge": 2}


@pytest.mark.parametrize(
    ("regex", "fragment"),
    [
        ("(unclosed", "does not compile"),
        ("a*", "empty string"),
        ("(?:x)?|y", "empty string"),
        (r"(a)\1", "linear-time engine (RE2)"),
        (r"(?<=WO-)\d+", "linear-time engine (RE2)"),
        (r"WO(?=-)", "linear-time engine (RE2)"),
        (r"(a++)+b", "linear-time engine (RE2)"),
        (r"(?>a+)+b", "linear-time engine (RE2)"),
        ("x" * 501, "at most 500"),
    ],
)
def test_bad_regex_is_refused_with_its_loc(regex: str, fragment: str) -> None:
    patterns = [{"name": "ok", "regex": "ORD-\\d+"}, {"name": "bad", "regex": regex}]
    with pytest.raises(InvalidInput) as err:
        MaskingPolicy(patterns=patterns)
    assert err.value.errors[0]["loc"] == ["body", "patterns", 1, "regex"]
    assert fragment in err.value.errors[0]["msg"]


@pytest.mark.parametrize(
    "regex", [r"(\d{3}-)+\d{4}", r"(?:-|\s)+x", r"(a+)+b", r"(\w*\s?)*end", r"(a|a)+b", r"[A-Z]{2}\d+"]
)
def test_safe_regexes_are_accepted(regex: str) -> None:
    assert MaskingPolicy(patterns=[{"name": "r", "regex": regex}]).patterns[0]["regex"] == regex


@pytest.mark.parametrize(
    ("regex", "text"), [("(a|a)+b", "a" * 27), (r"(\w*\s?)*end", "word " * 2000), ("(a+)+b", "a" * 9000)]
)
def test_catastrophic_patterns_run_in_linear_time(regex: str, text: str) -> None:
    # On Python's backtracking re each of these takes minutes or more; RE2 needs milliseconds.
    policy = MaskingPolicy(patterns=[{"name": "r", "regex": regex}])
    started = time.perf_counter()
    column = mask_column([text, text + "!", "no match here"], policy)
    assert time.perf_counter() - started < 0.5
    assert column.counts == {}
    assert mask_text(text + "b", policy).counts == ({"r": 1} if regex != r"(\w*\s?)*end" else {})


@pytest.mark.parametrize(
    ("patterns", "loc"),
    [
        ([{"name": "email", "regex": "x"}], ["body", "patterns", 0, "name"]),
        ([{"name": "a", "regex": "x"}, {"name": "A", "regex": "y"}], ["body", "patterns", 1, "name"]),
        ([{"name": "1st", "regex": "x"}], ["body", "patterns", 0, "name"]),
        ([{"name": "a", "regex": "x", "extra": 1}], ["body", "patterns", 0]),
        ([{"name": "a", "regex": 5}], ["body", "patterns", 0, "regex"]),
    ],
)
def test_pattern_fields_are_checked(patterns: list, loc: list) -> None:
    with pytest.raises(InvalidInput) as err:
        MaskingPolicy(patterns=patterns)
    assert err.value.errors[0]["loc"] == loc


@pytest.mark.parametrize(("names", "index"), [(["Ann", ""], 1), (["J"], 0), ([3], 0), (["x" * 101], 0)])
def test_bad_names_are_refused(names: list, index: int) -> None:
    with pytest.raises(InvalidInput) as err:
        MaskingPolicy(names=names)
    assert err.value.errors[0]["loc"] == ["body", "names", index]


def test_policy_json_round_trip() -> None:
    policy = MaskingPolicy(
        names=["John Smith"], patterns=[{"name": "badge", "regex": r"BDG-\d+"}], reversible=True
    )
    data = json.loads(json.dumps(policy.to_dict()))
    assert MaskingPolicy.from_dict(data) == policy
    assert MaskingPolicy.from_dict({}) == MaskingPolicy()
    with pytest.raises(InvalidInput) as err:
        MaskingPolicy.from_dict({"names": [], "revesible": True})
    assert err.value.errors[0]["loc"] == ["body", "revesible"]


# -- pseudonyms -----------------------------------------------------------------------------------

REVERSIBLE = MaskingPolicy(names=["John Smith"], reversible=True)


def test_irreversible_policy_ignores_the_key() -> None:
    assert mask_text("John Smith", NAMES, KEY_A).text == "[NAME]"


def test_pseudonyms_are_stable_and_shared_by_variants() -> None:
    first = mask_text("John Smith called", REVERSIBLE, KEY_A).text
    again = mask_text("Smith, John and J. Smith", REVERSIBLE, KEY_A).text
    token = first.split()[0]
    assert token.startswith("[NAME_") and len(token) == len("[NAME_]") + 10
    assert again == f"{token} and {token}"


def test_pseudonyms_differ_across_keys_and_values() -> None:
    a = mask_text("a@x.org b@x.org A@X.ORG", REVERSIBLE, KEY_A).text.split()
    b = mask_text("a@x.org", REVERSIBLE, KEY_B).text
    assert a[0] != a[1] and a[0] == a[2]  # e-mail compared case-insensitively
    assert b != a[0]


def test_reversible_policy_without_key_falls_back_to_plain_tokens() -> None:
    result = mask_column(["John Smith"], REVERSIBLE, None)
    assert result.values == ["[NAME]"] and result.mapping is None


def test_wrong_key_length_is_refused() -> None:
    with pytest.raises(InvalidInput):
        mask_text("x", REVERSIBLE, b"short")


# -- columns and the mapping ----------------------------------------------------------------------


def test_mask_column_counts_missing_and_mapping() -> None:
    values = ["John Smith at +49 89 1234567", None, "", float("nan"), "Smith, John again", "no data"]
    result = mask_column(values, REVERSIBLE, KEY_A)
    assert result.values[1:4] == [None, "", None] and result.values[5] == "no data"
    assert result.counts == {"name": 2, "phone": 1}
    assert result.mapping is not None and len(result.mapping) == 2
    assert sorted(result.mapping.values()) == ["+49 89 1234567", "John Smith"]
    assert unmask(result.values[0], result.mapping) == "John Smith at +49 89 1234567"
    assert unmask(result.values[4], result.mapping) == "John Smith again"  # the name as listed


def test_irreversible_column_has_no_mapping() -> None:
    values, counts, mapping = mask_column(["mail a@b.com", "x"], NAMES, KEY_A)
    assert values == ["mail [EMAIL]", "x"] and counts == {"email": 1} and mapping is None


def test_non_string_values_are_refused_with_their_row() -> None:
    with pytest.raises(InvalidInput) as err:
        mask_column(["ok", 4471223344], PLAIN)
    assert err.value.errors[0]["loc"] == ["rows", 1]
    with pytest.raises(InvalidInput):
        mask_text(12, PLAIN)  # type: ignore[arg-type]


def test_unmask_leaves_unknown_tokens() -> None:
    assert unmask("[NAME_0123456789] and [PHONE]", {}) == "[NAME_0123456789] and [PHONE]"


def test_mapping_encrypted_round_trip() -> None:
    mapping = mask_column(["John Smith", "call 0171 2345678"], REVERSIBLE, KEY_A).mapping
    assert mapping
    blob = encrypt_mapping(mapping, KEY_A, "ds_1/complaint")
    assert b"Smith" not in blob
    assert decrypt_mapping(blob, KEY_A, "ds_1/complaint") == mapping
    for key, context, data in [
        (KEY_B, "ds_1/complaint", blob),
        (KEY_A, "ds_2/complaint", blob),
        (KEY_A, "ds_1/complaint", blob[:-1] + bytes([blob[-1] ^ 1])),
        (KEY_A, "ds_1/complaint", b"not sealed"),
    ]:
        with pytest.raises(ArtifactCorrupted):
            decrypt_mapping(data, key, context)


def test_nan_detection_is_only_for_floats() -> None:
    assert mask_column([math.nan], PLAIN).values == [None]
