"""The systems compared side by side. All read the same index: the same chunks, the same embedder and the same
generated queries (one generation cache). Raw legs are retrieved once per query (`QueryLegs`); every system is
then a cheap offline function of them, except rag_augment's own profiles, which run the product path
(SearchPipeline.legs_for with the profile, then fusion.fuse) so the reported figures are the product's.

(a) dense          chunk vectors only.
(b) rag_augment    the product's fused search with a profile (the shipped default, and the one tuned on train).
(c) synthetic      synthetic-query vectors only: parents ranked by their best query's cosine; k counts parents.
(d) qa_extractor   LlamaIndex QuestionsAnsweredExtractor recipe: the chunk's generated queries are written into
                   its metadata and, with LlamaIndex's default MetadataMode.EMBED template, PREPENDED to the text
                   that is embedded ("questions_this_excerpt_can_answer: ...\\n\\n<chunk>"): one vector per chunk.
(e) multivector    LangChain MultiVectorRetriever recipe (hypothetical questions): only the query vectors are in
                   the vector store; similarity_search returns the top k CHILD vectors and their parents are
                   deduplicated in order, so k counts child vectors and fewer than k parents may come back.
                   Same ordering as (c); it differs in the cut: at cutoff k only parents whose best child ranks in
                   the top k children count. Neither (c) nor (e) has the chunk's own vector as a child.
(f) bm25           our lexical leg (bm25s, Snowball stemming) on chunk text.
(g) bm25_doc2query BM25 on chunk text with its synthetic queries appended (Doc2Query).
(h) hybrid         dense chunks + BM25 chunks, RRF k=60, default depths: hybrid without synthetic queries.
(i) rag_augment_all every leg: dense chunks and queries (max), BM25 chunks, BM25 queries, doc2query; RRF.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rag_augment.eval.memory import Builder, qa_extractor
from rag_augment.fusion import LEG_NAMES, FusionProfile, Ranked, fuse
from rag_augment.search.legs import LegResults

MAX_K = 100
# Depths of the raw legs for the offline systems: enough parents for Recall@100 (children: about 5-10 per parent).
EVAL_DEPTH = {"chunk_dense": 200, "query_dense": 1000, "chunk_lexical": 200, "query_lexical": 1000,
              "doc2query_lexical": 200}


@dataclass
class QueryLegs(LegResults):
    """Everything retrieved for one query: the raw legs at EVAL_DEPTH with their child ranks (LegResults), and
    what each system took."""
    seconds: dict[str, float] = field(default_factory=dict)      # "embed", each leg, "children", memory keys
    product: dict[str, tuple[list[str], float]] = field(default_factory=dict)  # profile system -> (ids, s)
    memory: dict[str, list[str]] = field(default_factory=dict)    # in-memory system key -> ranking


@dataclass(frozen=True)
class System:
    key: str
    label: str
    kind: str                           # fuse | product | multivector | memory
    legs: tuple[str, ...] = ()          # raw legs it reads (latency = their sum)
    profile: FusionProfile | None = None
    dense: bool = True                  # needs the query embedding
    build: Builder | None = None        # memory only: builds its searcher from the index
    substitute: tuple[tuple[str, str], ...] = ()  # fuse only: (leg, memory system key) read in the leg's place


AS_RETRIEVED = 10 ** 9  # an offline system's depth: use the leg as far as it was retrieved


def single_leg(leg: str, depth: int = AS_RETRIEVED) -> FusionProfile:
    return FusionProfile(name=f"only-{leg}", dense_pair="separate", weights={leg: 1.0}, depth={leg: depth})


def hybrid_profile() -> FusionProfile:
    return FusionProfile(name="hybrid-no-synthetic", dense_pair="separate",
                         weights={"chunk_dense": 1.0, "chunk_lexical": 1.0})


def all_legs_profile() -> FusionProfile:
    return FusionProfile(name="all-legs", weights={"dense": 1.0, "chunk_lexical": 1.0, "query_lexical": 1.0,
                                                   "doc2query_lexical": 1.0})


def standard_systems(profiles: Mapping[str, FusionProfile], hybrid_tuned: FusionProfile | None = None
                     ) -> list[System]:
    """The side-by-side table. `profiles`: system key -> rag_augment profile run through the product path;
    `hybrid_tuned`: (h) tuned on the train split like rag_augment's profile (no synthetic legs)."""
    systems = [System("dense", "(a) dense: chunk vectors only", "fuse", ("chunk_dense",), single_leg("chunk_dense"))]
    for key, prof in profiles.items():
        systems.append(System(key, f"(b) rag_augment, profile {prof.name}", "product", legs_used(prof), prof,
                              dense=prof.leg_enabled("chunk_dense") or prof.leg_enabled("query_dense")))
    systems += [
        System("synthetic", "(c) synthetic-query vectors only (k counts parents)", "fuse", ("query_dense",),
               single_leg("query_dense")),
        System("qa_extractor", "(d) LlamaIndex QuestionsAnsweredExtractor: queries prepended, one vector", "memory",
               build=qa_extractor()),
        System("multivector", "(e) LangChain MultiVectorRetriever: top-k child vectors, parents deduplicated",
               "multivector", ("children",)),
        System("bm25", "(f) BM25 on chunks", "fuse", ("chunk_lexical",), single_leg("chunk_lexical"), dense=False),
        System("bm25_doc2query", "(g) BM25 on chunks + synthetic queries (doc2query)", "fuse",
               ("doc2query_lexical",), single_leg("doc2query_lexical"), dense=False),
        System("hybrid", "(h) hybrid without synthetic: RRF(dense, BM25)", "fuse", ("chunk_dense", "chunk_lexical"),
               hybrid_profile()),
        *([System("hybrid_tuned", "(h) hybrid without synthetic, tuned on train", "fuse",
                  legs_used(hybrid_tuned), hybrid_tuned)] if hybrid_tuned else []),
        System("rag_augment_all", "(i) rag_augment, all legs (dense pair, BM25 chunks, queries, doc2query)",
               "product", legs_used(all_legs_profile()), all_legs_profile()),
    ]
    return systems


def legs_used(profile: FusionProfile) -> tuple[str, ...]:
    return tuple(leg for leg in LEG_NAMES if profile.leg_enabled(leg))


def truncate(q: QueryLegs, profile: FusionProfile) -> dict[str, Ranked]:
    """The raw legs cut to a profile's depths, as the product would have retrieved them. A child leg's depth
    counts query vectors: a parent stays if its best child ranks within the depth. query_lexical keeps its
    EVAL_DEPTH (its child ranks are not recorded), so tuned profiles keep that depth for it."""
    out: dict[str, Ranked] = {}
    for leg in legs_used(profile):
        ranked = q.legs.get(leg, [])
        depth = profile.depth.get(leg, EVAL_DEPTH[leg])
        if leg == "query_dense":
            out[leg] = [(p, s) for p, s in ranked if q.child_rank.get(p, depth + 1) <= depth]
        elif leg == "query_lexical":
            out[leg] = ranked
        else:
            out[leg] = ranked[:depth]
    return out


def rank(system: System, q: QueryLegs) -> tuple[list[str], list[int] | None]:
    """(parent chunk ids best first, costs or None). Costs only for (e): the child rank that brought each parent."""
    if system.kind == "product":
        return q.product[system.key][0], None
    if system.kind == "memory":
        return q.memory[system.key], None
    if system.kind == "multivector":
        parents = sorted(q.child_rank, key=lambda p: q.child_rank[p])
        parents = [p for p in parents if q.child_rank[p] <= MAX_K]
        return parents, [q.child_rank[p] for p in parents]
    assert system.profile is not None  # every fused system has a profile
    legs = truncate(q, system.profile)
    for leg, key in system.substitute:  # a rank-only ranking: its scores only keep its order
        legs[leg] = [(c, -float(i)) for i, c in enumerate(q.memory[key])]
    ranked, _ = fuse(legs, system.profile, MAX_K)
    return [p for p, _ in ranked], None


def latency(system: System, q: QueryLegs, fuse_seconds: float = 0.0) -> float:
    """Seconds for one query: embedding (if dense) + the legs it runs, in sequence, as the library runs them."""
    if system.kind == "product":
        return q.seconds.get("embed", 0.0) + q.product[system.key][1]
    subs = dict(system.substitute)
    legs = (system.key,) if system.kind == "memory" else tuple(subs.get(leg, leg) for leg in system.legs)
    own = sum(q.seconds.get(leg, 0.0) for leg in legs)
    return (q.seconds.get("embed", 0.0) if system.dense else 0.0) + own + fuse_seconds
