"""The detectors behind :func:`shopfloor.privacy.masking.mask_text`: built-in rules, the names regex,
and the checks a tenant's own regular expressions must pass.

Built-ins, always on: e-mail addresses, phone numbers and IBANs (checked with their mod-97 digits,
so a long alphanumeric serial almost never qualifies). IPv4 addresses are deliberately not built
in: on a shop floor they name PLCs and machines, not people; a tenant can add a pattern for them.

Phone numbers are found in two steps: a regex proposes candidates of a few phone shapes (digit
runs are possessive, so no input makes it backtrack over ways of splitting digits), then
:func:`is_phone` throws out what a maintenance text means otherwise: dates and times, numbers
followed by a unit, and numbers labelled as serial, part or order numbers.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from typing import Any

import re2

# -- e-mail ---------------------------------------------------------------------------------------

EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

# -- IBAN -----------------------------------------------------------------------------------------

IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w-])")


def is_iban(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


# -- phone numbers --------------------------------------------------------------------------------

_SEP = r"[ .\-]"
PHONE = re.compile(
    r"(?<![\w@/+.,\-])(?<!\d[.,])(?:"
    # international: +CC or 00CC (00 needs a separator after the country code), optional (0)
    rf"(?:\+[1-9]\d{{0,2}}|\b00[1-9]\d{{0,2}}(?={_SEP}))(?:{_SEP}?\(0\))?"
    rf"(?:[ .\-/]?(?:\(\d++\)|\d++)){{1,6}}"
    # national with a trunk 0 or an area code in parentheses, then separated groups
    rf"|(?:\(\d{{2,5}}\) ?|0\d{{1,4}}[ .\-/])\d++(?:{_SEP}\d++){{0,4}}"
    # North American 3-3-4
    r"|(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .\-])\d{3}[ .\-]\d{4}"
    r")(?![\w@])(?![.,/\-]\d)"
)
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 7, 15
# An unseparated digit run is a part number unless a phone label says otherwise (group 1 is masked).
PHONE_LABELLED = re.compile(
    r"\b(?:tel|phone|mobile|mob|cell|fax|handy)\b\.?(?:\s*(?:no|nr)\b\.?)?\s*:?\s*(\+?\d{7,15})(?![\w@])",
    re.IGNORECASE,
)

# Dates (ISO, day.month.year, month/day/year) and clock times: never phone numbers.
_DATE_OR_TIME = re.compile(
    r"(?<![\d.])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2}))(?![./-]?\d)"
    r"|(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)"
)
# A number followed by one of these is a measurement or a quantity.
_UNIT_AFTER = re.compile(
    r"\s?(?:mm|cm|dm|km|m|µm|um|nm|Nm|kN|N|kg|mg|g|t|bar|mbar|psi|Pa|kPa|MPa|°C?|%|rpm|V|kV|mV|A|mA|W|kW|MW"
    r"|kWh|Hz|kHz|s|ms|min|h|l|ml|pcs|pc|stk|x)(?![\w])",
)
# A number right after one of these labels is an identifier, not a phone number.
_ID_LABEL = re.compile(
    r"(?:\b(?:s/?n|p/?n|serial|part|art|item|mat|material|order|wo|po|lot|batch|charge|id|ref|no|nr|"
    r"code|type|model|asset|tag|ticket|invoice)|#)\s*(?:no|nr)?[.:#]?\s*$",
    re.IGNORECASE,
)
# ... unless the text says it is a phone number ("Tel. no. 089 ...").
_PHONE_LABEL = re.compile(r"\b(?:tel|phone|mobile|mob|cell|fax|call|handy|ph)\b", re.IGNORECASE)
_LABEL_WINDOW = 24
_DATE_REACH = 10


def is_phone(text: str, start: int, end: int) -> bool:
    """Whether the candidate ``text[start:end]`` from :data:`PHONE` is a phone number."""
    digits = sum(map(str.isdigit, text[start:end]))
    if not PHONE_MIN_DIGITS <= digits <= PHONE_MAX_DIGITS:
        return False
    if _UNIT_AFTER.match(text, end):
        return False
    before = text[max(0, start - _LABEL_WINDOW) : start]
    if _ID_LABEL.search(before) and not _PHONE_LABEL.search(before):
        return False
    # a date or time overlapping the candidate lies within its own length of it
    near = _DATE_OR_TIME.finditer(text, max(0, start - _DATE_REACH), end + _DATE_REACH)
    return not any(m.start() < end and start < m.end() for m in near)


# -- person names ---------------------------------------------------------------------------------

# Joints between the words of a name variant, kept as private characters in the trie and turned into
# regex only when it is emitted: any run of blanks; a comma ("Smith, John"); an initial's dot or blank.
_BLANK, _COMMA, _INITIAL = "\x01", "\x02", "\x03"
_JOINTS = {_BLANK: r"\s+", _COMMA: r"\s*,\s*", _INITIAL: r"(?:\.\s*|\s+)"}
_NON_WORD = re.compile(r"\W+")


def name_key(surface: str) -> str:
    """The comparison key of a name as written: lower case, word characters only."""
    return _NON_WORD.sub("", surface.lower())


def name_variants(name: str) -> list[str]:
    """The written forms of one listed name, in the trie's alphabet (lower case, joints as above).

    ``John Smith`` also yields ``Smith, John`` and ``J. Smith`` (dot optional); a single word
    yields itself only.
    """
    words = name.lower().split()
    if len(words) == 1:
        return words
    variants = [_BLANK.join(words), words[-1] + _COMMA + _BLANK.join(words[:-1])]
    if len(words[0]) > 1 and words[0][0].isalpha():
        variants.append(words[0][0] + _INITIAL + words[-1])
    return variants


def _emit(node: dict[str, Any]) -> str:
    """Regex of a trie node: alternatives for its children, optional if a name may stop here."""
    branches = [
        (_JOINTS.get(ch) or re.escape(ch)) + _emit(child) for ch, child in sorted(node.items()) if ch != ""
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:  # greedy optional: the longer name is tried first
        return "(?:" + body + ")?" if len(branches) == 1 else body + "?"
    return body


def names_regex(names: Iterable[str]) -> tuple[re.Pattern[str] | None, dict[str, str | None]]:
    """One compiled regex for every written form of ``names``, and key -> listed name.

    The forms share a character trie, so a list of thousands of names costs one pass per text,
    and the longest listed name at a position wins. A key that two listed names share (``J. Smith``
    for John and Jane Smith) maps to None, so it is never attributed to either person.
    """
    trie: dict[str, Any] = {}
    owners: dict[str, set[str]] = {}
    for name in names:
        for variant in name_variants(name):
            node = trie
            for ch in variant:
                node = node.setdefault(ch, {})
            node[""] = {}
            owners.setdefault(name_key(variant), set()).add(" ".join(name.split()))
    if not trie:
        return None, {}
    canonical = {key: (next(iter(who)) if len(who) == 1 else None) for key, who in owners.items()}
    # the leading lookahead gives the regex engine a first-character set to skip ahead with
    first = "".join(re.escape(ch) for ch in sorted(trie))
    return re.compile(rf"(?=[{first}])(?<!\w)" + _emit(trie) + r"(?!\w)", re.IGNORECASE), canonical


# -- tenant patterns ------------------------------------------------------------------------------

MAX_PATTERN_CHARS = 500
#: RE2's memory budget for one compiled tenant pattern (its default is 8 MiB); a pattern whose
#: automaton would need more (``(a{1000}){1000}``) is refused instead of built.
MAX_PATTERN_MEMORY = 8 << 20
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the tenant's 422, not a line in the server log
_OPTIONS.max_mem = MAX_PATTERN_MEMORY


def compile_tenant(regex: str) -> Any:
    """A tenant's regular expression compiled for RE2, which matches in time linear in the text
    whatever the pattern: a tenant's pattern can never stall a worker, as Python's backtracking
    ``re`` can (``(a|a)+b`` on 27 letters takes minutes there). Raises ``re2.error``."""
    return re2.compile(regex, _OPTIONS)


def pattern_problem(regex: str) -> str | None:
    """Why a tenant's regular expression is refused, or None if it is usable.

    Refused: longer than :data:`MAX_PATTERN_CHARS`; not valid regular-expression syntax (Python's
    parser, which also gives the pattern's shortest match); a construct RE2 cannot run
    (backreferences, lookahead, lookbehind, atomic groups, possessive repeats: what needs
    backtracking); or able to match the empty string (it would "mask" between every character).
    Nested quantifiers such as ``(a+)+`` are fine: RE2 never backtracks.
    """
    if len(regex) > MAX_PATTERN_CHARS:
        return f"the regular expression is {len(regex)} characters long; at most {MAX_PATTERN_CHARS}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning on "[[:alpha:]]": RE2 decides below
            parsed = re._parser.parse(regex)  # type: ignore[attr-defined]  # the parse tree re compiles from
    except re.error as exc:
        return f"the regular expression does not compile: {exc}"
    try:
        compile_tenant(regex)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        reason = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        return (
            f"the regular expression cannot run on the linear-time engine (RE2): {reason}; "
            "backreferences, lookahead, lookbehind, atomic groups and possessive repeats are not supported"
        )
    if parsed.getwidth()[0] == 0:
        return "the regular expression can match the empty string; it must always consume text"
    return None
