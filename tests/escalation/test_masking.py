"""CPR and phone detection: valid dates only, not inside longer digit runs."""

from __future__ import annotations

import pytest

from supportdesk.sensitive import (
    CPR_MASK,
    PHONE_MASK,
    Kind,
    find_sensitive,
    has_sensitive,
    mask,
)


@pytest.mark.parametrize(
    "text",
    [
        "Elevens cpr er 010203-1234 og hun kan ikke logge ind",
        "cpr 0102031234.",
        "CPR: 311299-4321",
        "290200-4123 (skudår 2000 via 7. ciffer 4)",
        "Født 15.08.2015, cpr 150815\u20135123",
    ],
)
def test_detects_cpr(text):
    kinds = [f.kind for f in find_sensitive(text)]
    assert kinds == [Kind.cpr]
    assert CPR_MASK in mask(text)


@pytest.mark.parametrize(
    "text",
    [
        "320101-1234",  # day 32
        "011301-1234",  # month 13
        "290201-1234",  # 29 Feb 1901 does not exist
        "300200-4123",  # 30 Feb
        "Ordrenummer 120101234567",  # longer digit run
        "Sagsnr. 99010112345",  # digits before the date
        "ESB-2026-000123",  # a ticket number
        "Institutionsnummer 561001",
    ],
)
def test_ignores_invalid_cpr_and_other_numbers(text):
    assert not any(f.kind == Kind.cpr for f in find_sensitive(text))


@pytest.mark.parametrize(
    "text",
    [
        "Ring til mor på 20304050",
        "tlf. 20 30 40 50",
        "tlf. 2030 4050",
        "+45 20 30 40 50",
        "+4520304050",
        "0045 20304050",
        "mobil 20-30-40-50",
    ],
)
def test_detects_phone_numbers(text):
    findings = find_sensitive(text)
    assert [f.kind for f in findings] == [Kind.phone]
    masked = mask(text)
    assert PHONE_MASK in masked
    assert not any(ch.isdigit() for ch in masked)


def test_masked_text_keeps_the_rest_and_leaves_no_digits_of_numbers():
    text = "Barn 010203-1234, mor +45 20 30 40 50, far 0102031235 i klasse 3.b"
    masked = mask(text)
    assert masked == (f"Barn {CPR_MASK}, mor {PHONE_MASK}, far {CPR_MASK} i klasse 3.b")
    assert has_sensitive(text)
    assert not has_sensitive(masked)


@pytest.mark.parametrize(
    "text",
    [
        "Versionsnummer 1.2.3, fejl 404",
        "123456789",  # 9 digits: neither phone nor CPR
        "0123456789012",
        "Telefon 12345678",  # Danish numbers do not start with 1
        "",
    ],
)
def test_no_false_positives(text):
    assert find_sensitive(text) == []
    assert mask(text) == text
