"""Ticket-number prefixes for new municipalities (ESB-2026-000123): two to six capital
letters, unique, made from the name the way the demo's are (Esbjerg → ESB)."""

from __future__ import annotations

import itertools
import string

LETTERS = string.ascii_uppercase + "ÆØÅ"
_NOISE = ("KOMMUNE", "KOMMUNES")


def _letters(name: str, slug: str) -> str:
    words = [w for w in name.upper().split() if w not in _NOISE] or [name.upper(), slug.upper()]
    text = "".join(c for c in "".join(words) if c in LETTERS)
    return text or "".join(c for c in slug.upper() if c in LETTERS) or "KOM"


def new_code(name: str, slug: str, taken: set[str]) -> str:
    """The first free code of: the first three letters; the first letter and two later
    ones in order; the first four, five, six letters; the first two and two more letters."""
    letters = _letters(name, slug)
    candidates = [letters[:3]]
    candidates += [letters[0] + a + b for a, b in itertools.combinations(letters[1:], 2)]
    candidates += [letters[:n] for n in (4, 5, 6)]
    candidates += [letters[:2] + a + b for a in LETTERS for b in LETTERS]
    for code in candidates:
        if 2 <= len(code) <= 6 and code not in taken:
            return code
    for a, b, c in itertools.product(LETTERS, repeat=3):  # 29**3 more: never all taken
        if (code := f"{letters[:1]}{a}{b}{c}") not in taken:
            return code
    raise RuntimeError("no free municipality code")
