"""Finds CPR and phone numbers in text that is about to leave the municipality.

Tickets are about children (DESIGN §3.9): what a coordinator shares with a vendor
is masked unless they confirm that the vendor needs the numbers. Detection errs
towards masking: a false positive costs the vendor a digit, a false negative
leaks a child's CPR number.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

CPR_MASK = "XXXXXX-XXXX"
PHONE_MASK = "XX XX XX XX"

# A CPR number as people write it: ddmmyy and xxxx with nothing between them, or a hyphen,
# a dash (U+2010 to U+2014: hyphen, non-breaking hyphen, figure dash, en and em dash),
# a space, a full stop or a slash, also with spaces around it
# ("010203 - 1234"); the date part may itself be dotted, dashed or slashed
# ("01.02.03-1234"). Never part of a longer run of digits; only real dates count.
_CPR = re.compile(
    r"(?<![\d])"
    r"(?P<day>\d{2})(?P<sep>[./ -]?)(?P<month>\d{2})(?P=sep)(?P<year>\d{2})"
    r"[ \t\u00a0]*[-\u2010-\u2014./]?[ \t\u00a0]*"
    r"(?P<serial>\d{4})(?![\d])"
)
# Danish subscriber numbers are 8 digits starting 2-9, optionally +45/0045, grouped
# as 12345678, 1234 5678 or 12 34 56 78 (space or hyphen between groups).
_PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)45[ ]?)?[2-9]\d(?:[ -]?\d{2}){3}(?![\d])")


class Kind(enum.StrEnum):
    cpr = "cpr"
    phone = "phone"


@dataclass(frozen=True)
class Finding:
    kind: Kind
    start: int
    end: int
    text: str


def _cpr_century(year2: int, seventh: int) -> int:
    """The century rule of the CPR register (7th digit decides 1800/1900/2000)."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if year2 <= 36 else 1900
    return 2000 if year2 <= 57 else 1800


def is_valid_cpr_date(day: int, month: int, year2: int, seventh: int) -> bool:
    year = _cpr_century(year2, seventh) + year2
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def find_sensitive(text: str) -> list[Finding]:
    """CPR numbers with a real date and Danish phone numbers, in text order."""
    findings: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for match in _CPR.finditer(text):
        day, month, year2, serial = match.group("day", "month", "year", "serial")
        if is_valid_cpr_date(int(day), int(month), int(year2), int(serial[0])):
            findings.append(Finding(Kind.cpr, match.start(), match.end(), match.group()))
            taken.append((match.start(), match.end()))
    for match in _PHONE.finditer(text):
        if any(match.start() < end and start < match.end() for start, end in taken):
            continue
        findings.append(Finding(Kind.phone, match.start(), match.end(), match.group()))
    return sorted(findings, key=lambda f: f.start)


def has_sensitive(text: str | None) -> bool:
    return bool(text) and bool(find_sensitive(text))


def cpr_findings(text: str | None) -> list[Finding]:
    """Only the CPR numbers: what the intake warning and step-up look for."""
    return [f for f in find_sensitive(text or "") if f.kind == Kind.cpr]


def has_cpr(*texts: str | None) -> bool:
    return any(cpr_findings(text) for text in texts)


def remove_cpr(text: str) -> str:
    """The text without its CPR numbers (the writer chose to remove them)."""
    parts: list[str] = []
    position = 0
    for finding in cpr_findings(text):
        parts.append(text[position : finding.start])
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def mask(text: str) -> str:
    """Text with every CPR and phone number replaced by a fixed placeholder."""
    parts: list[str] = []
    position = 0
    for finding in find_sensitive(text):
        parts.append(text[position : finding.start])
        parts.append(CPR_MASK if finding.kind == Kind.cpr else PHONE_MASK)
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def protect(text: str, confirmed: bool) -> tuple[str, bool, int]:
    """(text as the vendor gets it, masked?, number of findings): masked unless confirmed."""
    findings = len(find_sensitive(text or ""))
    if findings and not confirmed:
        return mask(text), True, findings
    return text or "", False, findings
