"""Danish text analysis shared by indexing and querying, so both sides agree on terms.

Pipeline: tokenise → lowercase → fold the ASCII spellings aa/ae/oe to å/æ/ø →
drop Danish stop words → Snowball Danish stemming. Compound words are split at
query time against the index's own vocabulary (see `split_compound`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.lang import stemmer_for_language, stopwords_for_language

# Hyphens split words ("uni-login" → "uni", "login") on both the index and the query side.
TOKEN_PATTERN = r"\w+"  # noqa: S105 — a regex, not a secret
_TOKEN_RE = re.compile(TOKEN_PATTERN, re.UNICODE)
_FOLDS = (("aa", "å"), ("ae", "æ"), ("oe", "ø"))
# Connecting letters between the parts of a Danish compound ("fravær-s-besked").
_LINKS = ("s", "e", "")
MIN_PART = 3


def fold(word: str) -> str:
    """ASCII spellings to Danish letters: "foraeldre" and "forældre" become one term."""
    for ascii_form, letter in _FOLDS:
        if ascii_form in word:
            word = word.replace(ascii_form, letter)
    return word


@lru_cache(maxsize=65536)
def spellings(word: str) -> frozenset[str]:
    """Every lowercase spelling that `fold` turns into this folded word ("forældre":
    also "foraeldre"). Kept per word: every snippet of a search asks for its words'."""
    found = {""}
    for letter in word:
        ascii_forms = [a for a, folded in _FOLDS if folded == letter]
        found = {f + option for f in found for option in [letter, *ascii_forms]}
    return frozenset(spelling for spelling in found if fold(spelling) == word)


STOP_WORDS = frozenset(fold(w) for w in stopwords_for_language("da"))
_stem = stemmer_for_language("da")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stem(word)


class FoldFilter(Filter):
    """Applies `fold` to every token."""

    def __call__(self, tokens):
        for token in tokens:
            token.text = fold(token.text)
            yield token


def danish_analyzer(stemming: bool = True):
    """The analyzer for title, tags and body (stemming off for the spelling vocabulary)."""
    chain = (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | FoldFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=1)
    )
    if stemming:
        chain = chain | StemFilter(stemfn=stem, lang=None, cachesize=-1)
    return chain


def words(text: str) -> list[str]:
    """Lowercased, folded tokens with stop words kept (synonym phrases contain them).

    The whole text is lowercased and folded at once: a fold never spans two tokens
    (it replaces two letters, which always belong to the same token).
    """
    return _TOKEN_RE.findall(fold((text or "").lower()))


def is_stop(word: str) -> bool:
    return word in STOP_WORDS


def split_compound(word: str, known: Callable[[str], bool]) -> list[str] | None:
    """Split a compound into two known parts: "fraværsbesked" → ["fravær", "besked"].

    `known(stemmed)` says whether a stemmed part exists in the index. The longest head
    wins; parts shorter than three letters are never used.
    """
    if len(word) < 2 * MIN_PART:
        return None
    for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
        head, tail = word[:cut], word[cut:]
        if not known(stem(tail)):
            continue
        for link in _LINKS:
            if link and not head.endswith(link):
                continue
            core = head[: len(head) - len(link)] if link else head
            if len(core) >= MIN_PART and known(stem(core)):
                return [core, tail]
    return None


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
