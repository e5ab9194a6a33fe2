"""Incremental indexing on the embedded Chroma: unchanged chunks are skipped, changed documents replace their
chunks and queries, deleted documents leave nothing behind, and the lexical index always equals a rebuild."""
from rag_augment.generators.rules import RulesGenerator
from rag_augment.testing import RecordingGenerator
from rag_augment.types import GENERATED_KINDS


def counting_rules() -> RecordingGenerator:
    """The rules generator with a record of the chunks it was asked about."""
    return RecordingGenerator(RulesGenerator())


def all_ids(index):
    chunks, queries = set(), {}
    for ids, _, _ in index.store.iter_all("chunks", include=("metadatas",)):
        chunks |= set(ids)
    for ids, _, metas in index.store.iter_all("queries", include=("metadatas",)):
        queries.update({i: m["parent_id"] for i, m in zip(ids, metas)})
    return chunks, queries


def assert_no_orphans(index):
    chunks, queries = all_ids(index)
    assert set(queries.values()) <= chunks


def assert_lexical_matches_rebuild(index, tmp_path):
    from rag_augment.lexical import LexicalIndex
    index.lexical.load()
    fresh = LexicalIndex(tmp_path / "fresh")
    chunks, queries = all_ids(index)
    texts = index.store.get_chunks(sorted(chunks))
    qs = index.store.get_queries(sorted(queries))
    fresh.build(sorted(chunks), [texts[c]["text"] for c in sorted(chunks)], [q.query_id for q in qs],
                [q.text for q in qs], [q.parent_id for q in qs])
    assert index.lexical.sizes() == fresh.sizes()
    assert index.lexical.query_parent == fresh.query_parent
    for probe in ("annual leave", "PIV card", "zoom meeting", "transit subsidy"):
        for leg in ("chunks", "queries", "doc2query"):
            assert index.lexical.search(leg, probe, 10) == fresh.search(leg, probe, 10)


def test_reindex_unchanged_generates_nothing(make_index, kb):
    index, gen = make_index(), counting_rules()
    first = index.index_path(kb, gen)
    assert first.chunks_generated == first.chunks_total > 0
    assert first.queries_kept > 0
    n = len(gen.calls)
    again = index.index_path(kb, gen)
    assert len(gen.calls) == n
    assert again.chunks_unchanged == again.chunks_total and again.chunks_embedded == 0


def test_changed_document_replaces_its_chunks_and_queries(make_index, kb, tmp_path):
    index, gen = make_index(), counting_rules()
    index.index_path(kb, gen)
    before_chunks, before_queries = all_ids(index)
    page = kb / "tools" / "zoom.md"
    page.write_text(page.read_text() + "\n\n## Recording rules\n\nRecordings of meetings are kept for 30 days "
                    "and must not include members of the public without consent.\n")
    rep = index.index_path(kb, gen)
    assert rep.chunks_embedded >= 1 and rep.chunks_unchanged >= 1
    chunks, queries = all_ids(index)
    zoom_new = {c for c in chunks if c.startswith("tools/zoom.md")} - before_chunks
    assert zoom_new, "the edited section became a new chunk"
    assert any(p in zoom_new for p in queries.values()), "the new chunk got queries"
    stale = {c for c in before_chunks if c.startswith("tools/zoom.md")} - chunks
    assert not (stale & set(queries.values()))
    assert_no_orphans(index)
    assert_lexical_matches_rebuild(index, tmp_path)


def test_real_queries_move_to_the_new_chunk_when_their_chunk_changes(make_index, kb, tmp_path):
    from rag_augment.trust.real_queries import add_real_queries
    from rag_augment.types import REAL

    index = make_index()
    index.index_path(kb, counting_rules())
    chunks, _ = all_ids(index)
    texts = index.store.get_chunks(sorted(c for c in chunks if c.startswith("tools/zoom.md")))
    target = next(c for c, t in texts.items() if "Zoom" in t["text"])
    add_real_queries(index, [{"text": "how do I start a zoom call", "chunk_id": target}])
    page = kb / "tools" / "zoom.md"
    page.write_text(page.read_text().replace("Zoom", "Zoom (video calls)"))
    rep = index.index_path(kb, counting_rules())
    assert rep.queries_reattached == 1
    chunks, queries = all_ids(index)
    assert target not in chunks
    real = [q for q in index.store.queries_of(sorted(chunks)) if q.kind == REAL]
    assert len(real) == 1 and real[0].text == "how do I start a zoom call"
    assert real[0].parent_id in chunks and real[0].parent_id.startswith("tools/zoom.md")
    assert real[0].provenance["reattached_from"] == target
    assert_no_orphans(index)
    assert_lexical_matches_rebuild(index, tmp_path)
    again = index.index_path(kb, counting_rules())  # nothing changed: nothing moves, nothing duplicates
    assert again.queries_reattached == 0 and all_ids(index)[1] == queries
    page.unlink()  # a deleted document's real queries go with it
    index.index_path(kb, counting_rules())
    assert not any(p.startswith("tools/zoom.md") for p in all_ids(index)[1].values())


def test_deleted_document_leaves_no_vectors_or_terms(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, counting_rules())
    (kb / "getting-started" / "piv.md").unlink()
    rep = index.index_path(kb, counting_rules())
    assert rep.documents_deleted == 1
    chunks, queries = all_ids(index)
    assert not any(c.startswith("getting-started/piv.md") for c in chunks)
    assert not any(p.startswith("getting-started/piv.md") for p in queries.values())
    assert_no_orphans(index)
    assert_lexical_matches_rebuild(index, tmp_path)
    assert not any(h.doc_id == "getting-started/piv.md" for h in index.query("PIV card badge", k=10))


def test_delete_document_command(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, counting_rules())
    n = index.delete_document("tools/zoom.md")
    assert n > 0
    chunks, queries = all_ids(index)
    assert not any(c.startswith("tools/zoom.md") for c in chunks | set(queries.values()))
    assert_lexical_matches_rebuild(index, tmp_path)


def test_no_prune_keeps_missing_documents(make_index, kb):
    index = make_index()
    index.index_path(kb, counting_rules())
    (kb / "tools" / "zoom.md").unlink()
    index.index_path(kb, counting_rules(), prune=False)
    chunks, _ = all_ids(index)
    assert any(c.startswith("tools/zoom.md") for c in chunks)


def test_new_generator_regenerates_and_replaces_generated_queries(make_index, kb):
    from rag_augment.generators.rules import RulesGenerator
    index = make_index()
    index.index_path(kb, RulesGenerator(n_questions=2))
    _, q1 = all_ids(index)
    index.index_path(kb, RulesGenerator(n_questions=6))
    _, q2 = all_ids(index)
    assert len(q2) > len(q1)
    kinds = {q.kind for q in index.store.get_queries(list(q2))}
    assert kinds <= set(GENERATED_KINDS)


def test_search_hits_are_distinct_parents_and_explain_themselves(make_index, kb):
    index = make_index()
    index.index_path(kb, counting_rules())
    hits = index.query("how do I get a PIV card", k=50)
    ids = [h.chunk_id for h in hits]
    assert len(ids) == len(set(ids))
    assert hits and all(h.legs for h in hits)
    assert all(h.text for h in hits)
    assert index.query("   ", k=5) == []


def test_a_query_matched_by_its_vector_and_its_words_is_explained_once_per_leg(make_index, kb):
    """Both synthetic legs on: the same stored query matches by vector and by words; hits still come back."""
    from rag_augment.fusion import FusionProfile

    index = make_index()
    index.index_path(kb, counting_rules())
    stored = index.store.queries_of(index.store.chunk_ids_of_docs(["getting-started/piv.md"]))
    probe = stored[0].text  # an exact synthetic query: top of both the dense and the lexical query legs
    both = FusionProfile(name="both", dense_pair="separate", weights={"chunk_dense": 1.0, "query_dense": 1.0,
                                                                      "query_lexical": 1.0})
    hits = index.query(probe, k=10, profile=both)
    matched = [m for h in hits for m in h.matched_queries]
    by_leg = {leg: {m["query_id"] for m in matched if m["leg"] == leg} for leg in ("query_dense", "query_lexical")}
    assert by_leg["query_dense"] & by_leg["query_lexical"], "some query matched in both legs"
    assert all(m["text"] for m in matched)
    assert len(index.store.get_queries([stored[0].query_id] * 3)) == 1


def test_interrupted_lexical_write_is_rebuilt_on_open(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, counting_rules())
    index._set_state(dirty=True)  # as if a crash happened between a Chroma write and the lexical swap
    import shutil
    shutil.rmtree(index.lexical.folder)
    reopened = make_index()
    assert reopened.query("annual leave", k=3)
    assert_lexical_matches_rebuild(reopened, tmp_path)
