"""Search cost that grows gently: what the scorer derives is kept per Whoosh segment.

Issue 18: the scorer rebuilt every stem's weights after any index change, so each
edit made the next queries slow, and a rebuild analysed every article twice and
wrote one vocabulary posting per word and article. These tests use the real Whoosh
backend on a temporary directory; the articles are plain objects with the
attributes the backend reads (as in bench/search_bench.py).
"""

from __future__ import annotations

from array import array
from types import SimpleNamespace

import pytest
from whoosh import index
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.reading import SegmentReader

from supportdesk import search
from supportdesk.faq.models import ArticleState, Audience, Visibility
from supportdesk.search import generations, postings, whoosh_backend
from supportdesk.search.analysis import stem
from supportdesk.search.generations import GenerationPostings, SegmentStore
from supportdesk.search.postings import SegmentPostings
from supportdesk.search.query import FUZZY_TERMS, closest
from supportdesk.search.storage import SegmentReaders
from supportdesk.search.whoosh_backend import (
    VOCABULARY_SLUG,
    WhooshBackend,
    is_current,
    make_schema,
)

EVERYONE = Visibility()


def article(n: int, body: str, title: str = "", audience=Audience.public, state=None):
    return SimpleNamespace(
        slug=f"artikel-{n}",
        title=title or f"Vejledning nummer {n}",
        body=body,
        tags=["aula"],
        system=SimpleNamespace(slug="aula" if n % 2 else "fildeling", vendor_id=1 + n % 2),
        category=SimpleNamespace(slug="login"),
        audience=audience,
        municipality_id=None,
        state=state or ArticleState.published,
    )


@pytest.fixture
def articles():
    return [
        article(n, f"Kalenderen viser møder og {'fravær' if n % 3 else 'sygemelding'} i Aula.")
        for n in range(30)
    ]


@pytest.fixture
def backend(tmp_path, articles):
    backend = WhooshBackend(tmp_path / "index", loader=lambda: articles)
    backend.rebuild(articles)
    return backend


def _calls(monkeypatch, owner, name: str, argument: int = 1) -> list:
    """One argument (by default the first after the instance) of each call of
    `owner.name` from now on."""
    calls: list = []
    original = getattr(owner, name)

    def recorded(*args, **kwargs):
        calls.append(args[argument])
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls


def _segments(backend):
    return dict(backend._segments.segments)


def test_an_edit_keeps_what_was_derived_from_the_other_articles(backend, articles):
    before = backend.search("kalenderen", EVERYONE, limit=50)
    assert before.total == 30
    (big_id, big), *_ = _segments(backend).items()
    weights = big.weights(stem("kalender"))
    columns = big.column("system")

    edited = article(4, "Kalenderen har nu en ny knap til abonnement.")
    backend.index(edited)
    after = backend.search("kalenderen abonnement", EVERYONE, limit=50)

    segments = _segments(backend)
    assert len(segments) == 2
    # The 30-article segment and everything derived from it are the same objects:
    # the edit cost only its own one-document segment.
    assert segments[big_id] is big
    assert big.weights(stem("kalender")) is weights
    assert big.column("system") is columns
    assert after.total == 30  # the old copy of artikel-4 is deleted, never counted twice
    assert after.hits[0].slug == "artikel-4"
    assert sum(after.facets["system"].values()) == 30


def test_an_edit_segment_reads_its_words_and_stems_from_its_terms_column(backend, monkeypatch):
    """Whoosh reads a term dictionary at about 5 µs a term: the new segment of an edit
    takes its word list and stems from the column written with the article."""
    backend.search("kalenderen", EVERYONE)
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    read = _calls(monkeypatch, SegmentReader, "field_terms")
    found = backend.search("abonnemnt", EVERYONE)  # a typo: the new segment's words
    assert found.suggestion == "abonnement"
    assert read == []
    monkeypatch.undo()
    (small,) = [seg for seg in _segments(backend).values() if seg.doc_count == 1]
    assert small.words() == tuple(small.leaf.field_terms("words"))
    assert small._stems == frozenset(small.leaf.field_terms("rank"))
    # The rebuilt articles and the vocabulary document have no column value: their
    # segment reads its term dictionary.
    (rebuilt,) = [seg for seg in _segments(backend).values() if seg.doc_count == 31]
    assert rebuilt._words == tuple(rebuilt.leaf.field_terms("words"))
    assert rebuilt._stems == frozenset(rebuilt.leaf.field_terms("rank"))


def test_edited_and_removed_articles_leave_counts_and_facets_exact(backend):
    backend.index(article(6, "Nu handler den kun om lagerplads."))
    assert backend.search("sygemelding", EVERYONE, limit=50).total == 9
    assert backend.search("kalenderen", EVERYONE, limit=50).total == 29
    assert backend.search("lagerplads", EVERYONE).total == 1
    backend.remove("artikel-6")
    backend.remove("artikel-0")
    found = backend.search("kalenderen", EVERYONE, limit=50)
    assert found.total == 28
    assert {h.slug for h in found.hits}.isdisjoint({"artikel-0", "artikel-6"})
    assert found.facets["system"] == {"aula": 15, "fildeling": 13}
    assert backend.search("lagerplads", EVERYONE).total == 0


def test_scores_of_untouched_articles_survive_an_edit_of_another(backend):
    before = {h.slug: h.score for h in backend.search("fravær", EVERYONE, limit=50).hits}
    backend.index(article(7, "Kalenderen viser møder og fravær i Aula, nu med noter."))
    after = {h.slug: h.score for h in backend.search("fravær", EVERYONE, limit=50).hits}
    assert set(before) == set(after)
    # One more document holds the stem (the deleted copy counts until a merge, as in
    # Whoosh's own statistics): the idf moves a little, the order stays.
    untouched = [slug for slug in before if slug != "artikel-7"]
    ranked_before = sorted(untouched, key=lambda s: (-before[s], s))
    ranked_after = sorted(untouched, key=lambda s: (-after[s], s))
    assert ranked_before == ranked_after


def test_rebuild_writes_one_segment_and_one_vocabulary_document(tmp_path, articles, monkeypatch):
    monkeypatch.setattr(search, "PROGRESS_EVERY", 10)
    backend = WhooshBackend(tmp_path / "index")
    seen: list[int] = []
    draft = article(99, "kladde", state=ArticleState.draft)
    assert backend.rebuild([*articles, draft], seen.append) == 30
    assert seen == [10, 20, 30]
    ix = index.open_dir(str(tmp_path / "index"))
    with ix.searcher() as searcher:
        assert len(ix._segments()) == 1
        vocabulary = searcher.document(slug=VOCABULARY_SLUG)
        assert vocabulary["state"] == "vocabulary"
        # the vocabulary holds the words once, not one posting per article
        assert searcher.reader().doc_frequency("words", "kalenderen") == 1
    ix.close()
    # Typos are still corrected against it, and it is never a hit.
    found = backend.search("kalnderen", EVERYONE, limit=50)
    assert found.suggestion == "kalenderen"
    assert found.total == 30
    assert VOCABULARY_SLUG not in {h.slug for h in found.hits}


def test_a_word_only_in_removed_articles_is_never_suggested(backend):
    for n in range(0, 30, 3):  # every article about "sygemelding"
        backend.remove(f"artikel-{n}")
    found = backend.search("sygemeldinng", EVERYONE)
    assert found.suggestion is None
    assert found.total == 0


def _first_schema() -> tuple[Schema, dict]:
    """The first indexed form: titles as text, no weights."""
    old = Schema(slug=ID(stored=True, unique=True), title=TEXT(stored=True), words=TEXT())
    return old, {"slug": "gammel", "title": "Kalenderen", "words": "kalenderen"}


def _terms_stored_schema() -> tuple[Schema, dict]:
    """The first form of schema 4: an edit's terms as a stored field, not a column."""
    schema = make_schema()
    schema.remove("terms")
    schema.add("terms", STORED())
    return schema, {"slug": "gammel", "words": "kalenderen", "terms": (("kalenderen",), ())}


@pytest.mark.parametrize("written", [_first_schema, _terms_stored_schema])
def test_an_index_in_an_older_form_is_rebuilt_on_first_use(tmp_path, articles, written):
    path = tmp_path / "index"
    path.mkdir()
    schema, document = written()
    ix = index.create_in(str(path), schema)
    writer = ix.writer()
    writer.add_document(**document)
    writer.commit()
    ix.close()
    backend = WhooshBackend(path, loader=lambda: articles)
    assert backend.search("kalenderen", EVERYONE, limit=50).total == 30
    ix = index.open_dir(str(path))
    assert is_current(ix.schema)
    ix.close()


def _leaves(backend):
    return {
        leaf.segment().segment_id(): leaf for leaf, _o in backend._searcher.reader().leaf_readers()
    }


def test_a_new_generation_reuses_the_open_readers_of_unchanged_segments(backend, tmp_path):
    assert backend.search("kalenderen", EVERYONE, limit=50).total == 30
    (big_id, big_reader), *_ = _leaves(backend).items()
    # Another process (its own backend on the same directory) edits and removes.
    other = WhooshBackend(tmp_path / "index")
    other.index(article(5, "Nu handler den kun om lagerplads."))
    other.remove("artikel-8")
    found = backend.search("kalenderen", EVERYONE, limit=50)
    leaves = _leaves(backend)
    # The 30-article segment is not opened again; its deletions are the new ones.
    assert leaves[big_id] is big_reader
    assert found.total == 28
    assert {h.slug for h in found.hits}.isdisjoint({"artikel-5", "artikel-8"})
    assert backend.search("lagerplads", EVERYONE).total == 1


def test_results_stay_exact_when_edit_segments_are_merged(backend):
    for n in range(12):  # enough one-document segments for Whoosh to merge them
        backend.index(article(n, f"Lagerplads udvidet, version {n}."))
        assert backend.search("lagerplads", EVERYONE, limit=50).total == n + 1
    assert backend.search("kalenderen", EVERYONE, limit=50).total == 18
    closed = [leaf for leaf in backend._readers.readers.values() if leaf.is_closed]
    assert closed == []


@pytest.mark.parametrize("change", ["edit", "removal"])
def test_the_writing_process_opens_the_new_generation_before_the_next_search(backend, change):
    """An edit's or removal's new generation, its live documents, facet columns and
    word spellings, and the documents each audience searched before may see in it, are
    derived when it is written: the next search of the process that wrote it opens and
    derives nothing."""
    members = Visibility(first_level=True, municipality_id=7)
    for visible in (EVERYONE, members):
        backend.search("kalenderen", visible)
    if change == "edit":
        backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    else:
        backend.remove("artikel-4")
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for owner, name in (
            (SegmentReaders, "open"),
            (SegmentStore, "generation"),
            (GenerationPostings, "visible"),
            (GenerationPostings, "live"),
            (SegmentPostings, "value_bits"),
            (SegmentPostings, "words"),
        ):
            original = getattr(owner, name)

            def recorded(*args, _original=original, _name=name, **kwargs):
                calls.append(_name)
                return _original(*args, **kwargs)

            patch.setattr(owner, name, recorded)
        found = {v: backend.search("kalenderen", v, limit=50) for v in (EVERYONE, members)}
    assert calls == []
    # A process that never searched (the outbox worker) writes without opening anything.
    writer = WhooshBackend(backend.path)
    writer.index(article(6, "Kalenderen er flyttet."))
    assert writer._searcher is None
    assert writer._segments.segments == {}
    assert found[EVERYONE].total == found[members].total == 30 - (change == "removal")
    assert (found[EVERYONE].hits[0].slug == "artikel-4") == (change == "edit")


def test_a_typo_reads_the_postings_of_only_the_candidates_it_uses(tmp_path):
    """A typo's candidates are ordered by distance and by how many articles hold them
    (from the term dictionary, no postings read), then checked for visibility in that
    order until `FUZZY_TERMS` are found: reading each candidate's postings to check it
    was most of a typo's cost at 20,000 articles. The answer is the one checking every
    candidate gives."""
    spellings = [f"kodea{letter}" for letter in "bcdfghjk"]  # one letter from "kodeax"
    articles = [
        article(10 * n + copy, f"Vejledning om {spelled}.")
        for n, spelled in enumerate(spellings)
        for copy in range(n + 1)  # "kodeak" held by the most articles
    ]
    articles.append(article(999, "Kun kodeal her.", audience=Audience.municipal))
    backend = WhooshBackend(tmp_path / "index", loader=lambda: articles)
    backend.rebuild(articles)
    backend.index(article(0, "Nu om kodeam."))  # an edit
    cache = backend._generation_cache(backend._get_searcher())
    allowed = backend._allowed(cache, EVERYONE)
    checked: list[str] = []

    def known(stemmed: str) -> bool:
        checked.append(stemmed)
        return allowed.has_term(cache, stemmed)

    near = backend._near_words(cache, "kodeax", known)
    candidates = cache.near_words("kodeax", 1)
    visible = [w for w in candidates if allowed.has_term(cache, stem(w))]
    assert "kodeal" in candidates
    assert "kodeal" not in visible
    expected = closest("kodeax", {w: cache.frequency(stem(w)) for w in visible})
    assert near == expected[:FUZZY_TERMS] == ["kodeak", "kodeaj", "kodeah", "kodeag"]
    assert len(checked) == FUZZY_TERMS < len(candidates)
    # Held by as many articles as their postings say: the term dictionaries' counts.
    for held in map(stem, candidates):
        counted = sum(segment.leaf.doc_frequency("rank", held) for segment, _o in cache.segments)
        assert counted == cache.frequency(held) == sum(map(len, cache.parts(held)))


def test_a_stem_held_only_by_deleted_copies_still_counts_them(tmp_path, articles):
    """A segment's deleted documents count until a merge, as in Whoosh's own statistics
    (`postings.read_ids`); Whoosh's deletion filter skipped the first ones as it was
    made, so a stem whose first postings were all deleted counted none of them."""
    articles[4] = article(4, "Kalenderen med abonnementx.")
    backend = WhooshBackend(tmp_path / "index", loader=lambda: articles)
    backend.rebuild(articles)
    backend.index(article(4, "Kalenderen uden det."))  # the copy with the word is deleted
    cache = backend._generation_cache(backend._get_searcher())
    held = stem("abonnementx")
    assert len(cache.segments) > 1
    assert cache.frequency(held) == sum(map(len, cache.parts(held))) == 1
    assert backend.search("abonnementx", EVERYONE).total == 0


def test_an_edit_keeps_each_stem_combined_across_segments_unless_it_holds_the_stem(backend):
    """Issue 18: an edit touches only its own article's stems. What a generation combined
    from its segments for a stem (weights, documents, arrays) is kept by the next
    generation when the edit's segment lacks the stem; each search after an edit
    combined every stem it used again."""
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    for query in ("fravær kalenderen", "sygemelding kalenderen"):
        backend.search(query, EVERYONE, limit=50)
    before = backend._generation_cache(backend._get_searcher())
    kept = {s: (before.parts(s), before.term_bits(s)) for s in ("fravær", "sygemelding")}
    changed = before.parts(stem("kalenderen"))
    backend.index(article(5, "Kalenderen og sygemelding, ny udgave."))
    after = backend._generation_cache(backend._get_searcher())
    assert after is not before
    assert after.parts("fravær") is kept["fravær"][0]  # not in the edit: kept
    assert after.term_bits("fravær") == kept["fravær"][1]
    assert after.parts("sygemelding") is not kept["sygemelding"][0]  # in the edit: anew
    assert after.parts(stem("kalenderen")) is not changed
    found = backend.search("fravær sygemelding kalenderen", EVERYONE, limit=50)
    assert found.total == 30
    assert {h.slug for h in backend.search("sygemelding", EVERYONE, limit=50).hits} == {
        *(f"artikel-{n}" for n in range(0, 30, 3)),
        "artikel-5",
    }


def test_an_edit_is_kept_when_opening_its_generation_fails(backend, monkeypatch):
    """The edit is committed before its generation is opened: a failure there, even one
    in closing the old readers, leaves the next search to open it, with no answer or
    audience kept from before."""
    backend.search("kalenderen", EVERYONE)

    def broken(*_args, **_kwargs):
        raise OSError("disk read error")

    monkeypatch.setattr(GenerationPostings, "prepare", broken)
    monkeypatch.setattr(SegmentPostings, "close", broken)
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    assert backend._searcher is None
    assert not backend._allowed_cache
    assert not backend._results
    monkeypatch.undo()
    found = backend.search("abonnement", EVERYONE)
    assert [h.slug for h in found.hits] == ["artikel-4"]
    assert backend.search("kalenderen", EVERYONE, limit=50).total == 30


def test_a_merge_of_edit_segments_keeps_each_stem_the_merged_segments_lack(tmp_path):
    """Issue 18: Whoosh merges the one-article segments of edits every few edits. What a
    generation combined for a stem none of the merged or added segments hold is kept;
    after a merge every search combined every stem it used again (most of a query's
    work in the twenty searches after it)."""
    backend = _backend_of_120(tmp_path)

    def remember(before: GenerationPostings):
        return before.parts("fravær"), before.term_bits("fravær"), before.parts("lagerplad")

    n, (*kept, merged_away), before, after = _edit_until_merged(
        backend, "fravær lagerplads", remember, "Lagerplads udvidet, version {n}."
    )
    assert after.segments[0] == before.segments[0]  # the rebuilt segment is not merged
    assert after.parts("fravær") is kept[0]
    assert after.term_bits("fravær") == kept[1]
    assert after.parts("lagerplad") is not merged_away  # held by the merged segments: anew
    assert backend.search("lagerplads", EVERYONE, limit=50).total == n + 1
    assert backend.search("fravær", EVERYONE, limit=100).total == 80 - sum(
        1 for m in range(n + 1) if m % 3
    )


def test_a_large_segment_answers_a_stem_it_lacks_without_its_term_dictionary(tmp_path, monkeypatch):
    """Issue 18: a typo or compound is checked against many stems no article holds (each
    cut of "kalenderfravaerr", each typo candidate). A large segment looked each up in
    its term dictionary (about 18 µs in Whoosh, a fifth of a typo query at 20,000
    articles); its words grouped by stem, kept for the snippets, hold every stem it
    indexed, as a small segment's stem list does."""
    articles = [
        article(n, f"Kalenderen viser møder og {'fravær' if n % 3 else 'sygemelding'} i Aula.")
        for n in range(300)
    ]
    backend = WhooshBackend(tmp_path / "index", loader=lambda: articles)
    backend.rebuild(articles)
    backend.search("kalenderen", EVERYONE)
    (large,) = _segments(backend).values()
    assert large._stems is None  # not a small segment
    assert set(large._surfaces()) == set(large.leaf.field_terms("rank"))
    looked_up: list[str] = []
    for name in ("frequency", "doc_frequency"):
        original = getattr(SegmentReader, name)

        def counted(reader, fieldname, text, original=original):
            looked_up.append(text)
            return original(reader, fieldname, text)

        monkeypatch.setattr(SegmentReader, name, counted)
    assert large.weights("lagerplad") == {}
    assert large.frequency("lagerplad") == 0
    found = backend.search("kalenderfravaerr", EVERYONE, limit=5)
    assert found.total == 200
    assert [t for t in looked_up if t not in large._surfaces()] == []


def test_a_stem_an_edit_holds_grows_by_the_edit_instead_of_being_combined_again(
    backend, monkeypatch
):
    """Issue 18: a common stem is in most edited articles, so each edit made the next
    search combine its weights, documents and arrays across every segment again (a
    quarter of a synonym query's time after edits at 20,000 articles). The new
    generation adds the edit's segment to what the last one combined."""
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    backend.search("kalenderen fravær", EVERYONE, limit=50)
    held = stem("kalenderen")
    before = backend._generation_cache(backend._get_searcher())
    before._postings(held)
    backend.index(article(5, "Kalenderen og sygemelding, ny udgave."))
    after = backend._generation_cache(backend._get_searcher())
    (edit,) = [seg for seg, _offset in after.segments if seg not in dict(before.segments)]
    asked = _segments_asked_for(held, monkeypatch)
    grown = after.parts(held), after.term_bits(held), after._postings(held)
    assert set(asked) == {edit}
    monkeypatch.undo()
    _assert_combined_anew(after, held, grown)
    found = backend.search("kalenderen", EVERYONE, limit=50)
    assert found.total == 30
    assert {h.slug for h in found.hits[:2]} == {"artikel-4", "artikel-5"}  # the short ones


def test_a_generation_keeps_the_stems_used_most_recently(backend, monkeypatch):
    """The per-generation caches drop the least recently used stem, not the first one
    made: a stem every synonym query uses stays while many rarer ones pass."""
    monkeypatch.setattr(generations, "GENERATION_STEMS", 2)
    backend.search("kalenderen", EVERYONE)
    cache = backend._generation_cache(backend._get_searcher())
    common = cache.parts("fravær")
    cache.parts("sygemelding")
    assert cache.parts("fravær") is common  # used again: now the most recent
    cache.parts("aula")
    assert list(cache._parts) == ["fravær", "aula"]
    assert cache.parts("fravær") is common


def test_a_segment_reads_a_stems_frequency_from_its_term_dictionary_once(backend, monkeypatch):
    """Typo candidates are ordered by how many articles hold their stem, and the same
    candidates come back with each misspelling of a word. A segment's counts never
    change (deleted copies count until it is merged), so each is read once: the term
    dictionary costs about 18 µs a stem in Whoosh."""
    backend.search("kalenderen", EVERYONE)
    (segment,) = _segments(backend).values()
    asked = _calls(monkeypatch, SegmentReader, "doc_frequency", argument=2)
    rare = stem("sygemelding")
    for _ in range(3):
        assert segment.frequency("fravær") == 20
        assert segment.frequency(rare) == 10
    assert sorted(asked) == sorted(["fravær", rare])


def test_an_edit_segment_reads_its_weights_from_its_terms_column(backend, monkeypatch):
    """Issue 18: each stem of an edit's segment was read from Whoosh's postings on first
    use (about 27 µs a stem; a ticket text of 18 words read 15 after each edit on the
    harsh corpus). The column written with the article holds its stems' weights too;
    they equal the postings' and no postings of the edit are read."""
    backend.search("kalenderen", EVERYONE)
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement og sygemelding."))
    read: list[object] = []
    original = postings.read_ids

    def counted(leaf, name, text, weights=None):
        read.append(leaf.segment().segment_id())
        return original(leaf, name, text, weights)

    monkeypatch.setattr(postings, "read_ids", counted)
    found = backend.search("kalenderen abonnement sygemelding", EVERYONE, limit=50)
    (small,) = [seg for seg in _segments(backend).values() if seg.doc_count == 1]
    assert small.leaf.segment().segment_id() not in read
    assert found.total == 30
    assert found.hits[0].slug == "artikel-4"
    monkeypatch.undo()
    for stemmed in small._stems:
        from_postings = postings.read_ids(small.leaf, "rank", stemmed, weights := array("d"))
        assert small.weights(stemmed) == {
            d + small.offset: w for d, w in zip(from_postings, weights, strict=True)
        }


def test_an_edit_segment_written_without_weights_reads_its_postings(backend, monkeypatch):
    """An index written before the column held weights: its edits' segments read their
    weights from the postings, as before."""

    def words_and_stems(words, weights):
        return (" ".join(sorted(words)) + "\t" + " ".join(sorted(weights))).encode("utf-8")

    monkeypatch.setattr(whoosh_backend, "encode_terms", words_and_stems)
    backend.search("kalenderen", EVERYONE)
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    monkeypatch.undo()
    (small,) = [seg for seg in _segments(backend).values() if seg.doc_count == 1]
    assert small._column_weights is None
    assert small._stems == frozenset(small.leaf.field_terms("rank"))
    found = backend.search("kalenderen abonnement", EVERYONE, limit=50)
    assert found.total == 30
    assert found.hits[0].slug == "artikel-4"


def test_a_word_left_only_in_the_vocabulary_after_a_merge_is_not_held(tmp_path):
    """A large segment's words include every word of its rebuild (the vocabulary
    document), and a merge drops the postings of removed articles: a word only a removed
    article held is then among the words but not the stems. Its absence must come from
    the term dictionary, not a failed postings read (which counted as a broken index)."""
    articles = [
        article(n, f"Kalenderen viser møder {'xyzzyord' if n == 3 else ''} i Aula.")
        for n in range(300)
    ]
    backend = WhooshBackend(tmp_path / "index")  # no loader: a broken index cannot be rebuilt
    backend.rebuild(articles)
    assert backend.search("xyzzyord", EVERYONE).total == 1
    backend.remove("artikel-3")
    writer = backend._open().writer()
    writer.commit(optimize=True)  # as Whoosh's merge policy does in time
    (large,) = [
        segment for segment, _offset in backend._generation_cache(backend._get_searcher()).segments
    ]
    large._surfaces()
    assert "xyzzyord" in large._by_stem
    assert backend.search("xyzzyord", EVERYONE).total == 0
    assert backend.search("kalenderen", EVERYONE).total == 299


def test_a_stem_a_merge_of_edits_holds_grows_from_the_segments_kept(tmp_path, monkeypatch):
    """After a merge of edit segments, a stem the merged segments hold keeps what the
    last generation combined from the segments both share and adds the new ones, instead
    of being combined across every segment again (on the harsh corpus a merge of five
    edits touches most of the vocabulary)."""
    backend = _backend_of_120(tmp_path)
    held = stem("kalenderen")

    def remember(before: GenerationPostings):
        return before.parts(held), before.term_bits(held), before._postings(held)

    _n, _combined, before, after = _edit_until_merged(
        backend, "kalenderen", remember, "Kalenderen udvidet, version {n}."
    )
    (large, _offset), *_small = after.segments
    assert large is before.segments[0][0]
    asked = _segments_asked_for(held, monkeypatch)
    grown = after.parts(held), after.term_bits(held), after._postings(held)
    assert asked  # the merged segment's part is read
    assert large not in asked
    monkeypatch.undo()
    _assert_combined_anew(after, held, grown)
    assert backend.search("kalenderen", EVERYONE, limit=200).total == 120


def _segments_asked_for(stemmed: str, monkeypatch) -> list[SegmentPostings]:
    """The segments asked for this stem's weights, documents or arrays from now on."""
    asked: list[SegmentPostings] = []
    for name in ("weights", "bits", "arrays"):
        original = getattr(SegmentPostings, name)

        def recorded(segment, text, original=original):
            if text == stemmed:
                asked.append(segment)
            return original(segment, text)

        monkeypatch.setattr(SegmentPostings, name, recorded)
    return asked


def _assert_combined_anew(generation: GenerationPostings, stemmed: str, grown) -> None:
    """What a generation grew for a stem equals combining it across its segments anew."""
    anew = GenerationPostings(generation.reader, generation.generation, generation.segments)
    assert grown[0] == anew.parts(stemmed)
    assert grown[1] == anew.term_bits(stemmed)
    assert [a.tolist() for a in grown[2]] == [a.tolist() for a in anew._postings(stemmed)]


def _backend_of_120(tmp_path) -> WhooshBackend:
    """A backend of 120 rebuilt articles: enough that Whoosh merges only the edits'
    segments."""
    articles = [
        article(n, f"Kalenderen viser møder og {'fravær' if n % 3 else 'sygemelding'} i Aula.")
        for n in range(120)
    ]
    backend = WhooshBackend(tmp_path / "index", loader=lambda: articles)
    backend.rebuild(articles)
    return backend


def _edit_until_merged(backend: WhooshBackend, query: str, remember, text: str):
    """Edits articles 0, 1, … (`text` with the edit's `{n}`) until Whoosh merges the
    edits' segments, searching `query` and calling `remember(generation)` before each
    edit. Returns the last edit's number, what `remember` returned before it, and the
    generations before and after it."""
    for n in range(12):  # enough one-document segments for Whoosh to merge them
        backend.search(query, EVERYONE, limit=50)
        before = backend._generation_cache(backend._get_searcher())
        remembered = remember(before)
        backend.index(article(n, text.format(n=n)))
        after = backend._generation_cache(backend._get_searcher())
        if len(after.segments) < len(before.segments):
            return n, remembered, before, after
    pytest.fail("no merge in twelve edits")


def test_a_generation_counts_a_stem_once_and_an_edit_keeps_the_counts_it_lacks(
    backend, monkeypatch
):
    """A long query asks how many articles hold each of its words (and each synonym),
    and a typo each candidate's: summed over every segment, about 1 µs a segment.
    A generation's counts never change, and an edit changes only its own stems'
    counts (deleted copies count until a merge), so each is summed once."""
    backend.index(article(4, "Kalenderen har nu en ny knap til abonnement."))
    backend.search("fravær kalenderen", EVERYONE)
    asked = _calls(monkeypatch, SegmentPostings, "frequency")
    before = backend._generation_cache(backend._get_searcher())
    counts = {s: before.frequency(s) for s in ("fravær", "sygemelding", "abonnement")}
    assert counts == {"fravær": 20, "sygemelding": 10, "abonnement": 1}
    asked.clear()
    assert {s: before.frequency(s) for s in counts} == counts
    assert asked == []
    backend.index(article(5, "Kalenderen og sygemelding, ny udgave."))
    after = backend._generation_cache(backend._get_searcher())
    assert {s: after.frequency(s) for s in counts} == {**counts, "sygemelding": 11}
    assert set(asked) == {"sygemelding"}  # the edit holds it: counted anew
