"""The guard's floor from an index's own log (rag_augment.search.floor): the lowest floor at which most votes
between its real queries are for their own chunk, the profile's floor when the log is too small to judge."""
import numpy as np
import pytest

from rag_augment.errors import ConfigError
from rag_augment.fusion import FusionProfile
from rag_augment.search.floor import CANDIDATES, MIN_VOTES, floor_from_log


def _pair(cos: float, dim: int, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors with the given cosine, orthogonal to every other pair's (axes 2i, 2i+1)."""
    a, b = np.zeros(dim, np.float32), np.zeros(dim, np.float32)
    a[2 * i] = 1.0
    b[2 * i], b[2 * i + 1] = cos, np.sqrt(1 - cos ** 2)
    return a, b


def _log(pairs: list[tuple[float, bool]]) -> tuple[dict, dict]:
    """A log of pairs of real queries: each pair at its cosine, for one chunk (True) or two chunks (False)."""
    vectors, chunk_of, dim = {}, {}, 2 * len(pairs)
    for i, (cos, same) in enumerate(pairs):
        a, b = _pair(cos, dim, i)
        vectors[f"c{i}#a::r{i}a"], vectors[f"c{i}#b::r{i}b"] = a, b
        chunk_of[f"c{i}#a::r{i}a"] = f"c{i}#a"
        chunk_of[f"c{i}#b::r{i}b"] = f"c{i}#a" if same else f"c{i}#b"
    return vectors, chunk_of


def test_a_log_whose_close_pairs_share_their_chunk_keeps_the_profiles_floor():
    vectors, chunk_of = _log([(0.45, True)] * MIN_VOTES + [(0.42, False)] * 5)
    assert floor_from_log(vectors, chunk_of, 0.4) == 0.4


def test_wrong_votes_below_a_cosine_raise_the_floor_to_it():
    # up to 0.6 most votes are for another chunk; from the next candidate up most share one
    vectors, chunk_of = _log([(0.5, False)] * 60 + [(0.62, False)] * 40 + [(0.72, True)] * 30 + [(0.71, False)] * 5)
    assert floor_from_log(vectors, chunk_of, 0.4) == 0.65


def test_too_small_a_log_is_not_judged():
    vectors, chunk_of = _log([(0.5, False)] * (MIN_VOTES - 1))
    assert floor_from_log(vectors, chunk_of, 0.4) == 0.4
    assert floor_from_log({}, {}, 0.4) == 0.4


def test_where_votes_become_rare_above_wrong_ones_that_floor_is_used():
    vectors, chunk_of = _log([(0.5, False)] * 40 + [(0.62, True)] * 3)
    assert floor_from_log(vectors, chunk_of, 0.4) == 0.55  # above 0.5: under MIN_VOTES votes


def test_if_votes_are_mostly_wrong_at_every_floor_only_near_copies_vote():
    vectors, chunk_of = _log([(0.95, False)] * 40)
    assert floor_from_log(vectors, chunk_of, 0.4) == CANDIDATES[-1]


def test_the_setting_needs_the_guard():
    with pytest.raises(ConfigError, match="floor_from_log"):
        FusionProfile(floor_from_log=True)
    assert FusionProfile(real_floor=0.4, floor_from_log=True).floor_from_log


def test_a_large_log_is_judged_on_a_seeded_sample_read_alone(monkeypatch):
    import rag_augment.search.floor as F
    monkeypatch.setattr(F, "MAX_QUERIES", 10)
    ids = [f"c{i}#a::r{i}" for i in range(25)]
    picked = F.log_sample(reversed(ids))
    assert len(picked) == 10 and picked == sorted(picked) and picked == F.log_sample(ids) and set(picked) < set(ids)
    assert F.log_sample(ids[:5]) == sorted(ids[:5])
