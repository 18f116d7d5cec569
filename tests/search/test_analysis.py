"""The Danish analyzer and the synonym file, without a database."""

import itertools
import random

from whoosh.support.levenshtein import damerau_levenshtein

from supportdesk.search.analysis import danish_analyzer, fold, split_compound, stem, words
from supportdesk.search.query import build_query, closest, distance, suggestion, within
from supportdesk.search.synonyms import Synonyms


def analyse(text: str) -> list[str]:
    return [t.text for t in danish_analyzer()(text)]


def test_ascii_spellings_fold_to_danish_letters():
    assert analyse("foraeldre") == analyse("Forældre")
    assert analyse("skoleaar") == analyse("skoleår")
    assert analyse("Soeg") == analyse("søg")
    assert fold("aalborg") == "ålborg"


def test_stop_words_are_dropped_and_inflections_share_a_stem():
    assert analyse("hvordan logger jeg på") == analyse("hvordan logger")
    assert analyse("beskeder") == analyse("besked")
    assert analyse("forældrene") == analyse("forældre")


def test_compound_split_uses_known_parts_and_linking_s():
    known = {stem("fravær"), stem("besked")}
    assert split_compound("fraværsbesked", known.__contains__) == ["fravær", "besked"]
    assert split_compound("fraværbesked", known.__contains__) == ["fravær", "besked"]
    assert split_compound("xyzbesked", known.__contains__) is None


def test_synonyms_match_longest_phrase_and_ignore_comments():
    synonyms = Synonyms.parse("# comment\nlog ind, logge på, login\nsyg, sygemelding, fravær\n")
    length, phrases = synonyms.match(["logge", "på", "aula"], 0)
    assert length == 2
    assert ("login",) in phrases
    assert ("log", "ind") in phrases
    assert synonyms.match(["aula"], 0) is None


def test_distance_is_the_restricted_damerau_levenshtein_and_within_bounds_it():
    """RapidFuzz's edit distance answers as Whoosh's own Damerau-Levenshtein (an adjacent
    transposition is one edit, a transposed pair is not edited again), and the bounded
    check used for typos answers as the full distance would."""
    words = ["", "a", "ab", "ba", "abc", "acb", "ca", "abc", "kalender", "kalnder", "klaender"]
    words += ["kalenderen", "beskeder", "bsekeder", "besked", "aab", "aba", "æøå", "øæå"]
    rng = random.Random(18)  # noqa: S311 — test data, not secrets
    words += ["".join(rng.choice("abæø") for _ in range(rng.randint(1, 7))) for _ in range(60)]
    for a, b in itertools.product(words, repeat=2):
        assert distance(a, b) == damerau_levenshtein(a, b), (a, b)
        for maxdist in (1, 2):
            assert within(a, b, maxdist) == (distance(a, b) <= maxdist), (a, b, maxdist)


def test_typo_candidates_closest_then_most_frequent_then_alphabetical():
    # one edit from "kalendxr": kalendor, kalendar, kalender; two: kallender, kalendre
    frequencies = {"kalendor": 9, "kalender": 3, "kalendre": 9, "kalendar": 9, "kallender": 50}
    expected = ["kalendar", "kalendor", "kalender", "kallender", "kalendre"]
    assert closest("kalendxr", frequencies) == expected
    assert closest("kalendxr", {}) == []


def test_suggestion_only_when_a_word_changed():
    assert suggestion(["kalendr", "elev"], {"kalendr": "kalender"}) == "kalender elev"
    assert suggestion(["kalender"], {"kalender": "kalender"}) is None


def _tree(query: str, held: dict[str, int], docs: int = 20_000) -> str:
    """The query tree of `query` over an index of `docs` articles, where `held` says
    how many articles hold each word (the other words are unknown): its stems, nested."""
    synonyms = Synonyms.parse("elev, barn, skolebarn\nfotos, billeder\n")
    frequencies = {stem(word): count for word, count in held.items()}
    node, _corrections = build_query(
        words(query),
        synonyms,
        known=frequencies.__contains__,
        frequency=frequencies.__getitem__,
        near_words=lambda _word: [],
        docs=docs,
    )

    def shown(node) -> str:
        if node.kind == "term":
            return node.stemmed
        return node.kind + "(" + " ".join(shown(child) for child in node.children) + ")"

    return shown(node) if node is not None else ""


def test_a_long_querys_synonym_group_held_by_most_articles_is_dropped_like_a_common_word():
    """Issue 18: a long query (a ticket's text) keeps its rarer words and drops those
    most articles hold; a common word with synonyms was kept with all of them, and in
    a large index their postings were nine tenths of a long query's."""
    held = {"elev": 17_000, "barn": 15_000, "skolebarn": 900, "kalender": 400}
    held |= {"fravær": 300, "fotos": 9_000, "billeder": 200, "ferie": 12_000}
    held |= dict.fromkeys(["skema", "opgave", "mappe", "deling"], 500)
    text = " skema opgave mappe deling skema"  # with two words more, a long query
    child = "or(elev barn skolebarn)"
    assert child not in _tree("elev kalender fravær" + text, held)
    assert "ferie" not in _tree("ferie kalender fravær" + text, held)  # as a common word
    # Kept in a short query, where nothing rarer carries the query, or in a small index.
    assert _tree("elev kalender fravær", held) == f"or({child} fravær kalend)"
    assert child in _tree("elev ferie elev ferie elev ferie elev", held)
    assert child in _tree("elev kalender fravær" + text, held, docs=900)
    # A group is as common as its most common word.
    assert "foto" not in _tree("fotos kalender" + text, held)
    assert _tree("fotos elev", held) == f"or(or(foto billed) {child})"
    # A group no visible article holds carries nothing: the common group stays.
    unseen = {w: n for w, n in held.items() if w not in ("fotos", "billeder")}
    unseen |= dict.fromkeys(["skema", "opgave", "mappe", "deling"], 9_000)
    assert _tree("elev fotos ferie" + text, unseen) == f"or({child} or(foto billed))"
    # A compound's parts are a guess: they carry no query alone.
    assert _tree("elev kalenderfravær ferie ferie ferie ferie ferie", held) == (
        f"or({child} and(kalend fravær))"
    )
