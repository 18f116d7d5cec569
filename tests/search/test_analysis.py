"""The Danish analyzer and the synonym file, without a database."""

from supportdesk.search.analysis import danish_analyzer, fold, split_compound, stem
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
