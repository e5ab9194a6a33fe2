"""kill -9 in the middle of indexing, then a resume: the index ends with exactly the vectors of an
uninterrupted run, and nothing generated before the kill is generated again."""
import json
import os
import signal
import subprocess
import sys
import time

SCRIPT = r"""
import sys, time, json
from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.generators.rules import RulesGenerator

class SlowRules(RulesGenerator):
    def __init__(self, delay, log):
        super().__init__()
        self.delay, self.log = delay, log
    def generate_batch(self, chunks):
        with open(self.log, "a") as f:
            f.write("".join(c.chunk_id + "\n" for c in chunks))
        time.sleep(self.delay)
        return super().generate_batch(chunks)

home, kb, delay, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
index = AugmentIndex(home, embedder=HashEmbedder(128))
rep = index.index_path(kb, SlowRules(delay, log), batch_size=2)
print(json.dumps(rep.to_dict()))
"""


def run(home, kb, delay, log, wait=True):
    cmd = [sys.executable, "-c", SCRIPT, str(home), str(kb), str(delay), str(log)]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def snapshot(home):
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.embedding import HashEmbedder
    index = AugmentIndex(home, embedder=HashEmbedder(128))
    chunks, queries = [], []
    for ids, _, _ in index.store.iter_all("chunks", include=("metadatas",)):
        chunks += ids
    for ids, docs, _ in index.store.iter_all("queries"):
        queries += list(zip(ids, docs))
    return sorted(chunks), sorted(queries), index.store.counts(), index.lexical.load() and index.lexical.sizes()


def test_kill9_then_resume_equals_uninterrupted(tmp_path, kb):
    reference = run(tmp_path / "ref", kb, 0.0, tmp_path / "ref.log")
    assert json.loads(reference.stdout.strip().splitlines()[-1])["queries_kept"] > 0

    log = tmp_path / "crash.log"
    proc = run(tmp_path / "crash", kb, 0.4, log, wait=False)
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().split()) < 8):
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    generated_before = set(log.read_text().split())
    cache = tmp_path / "crash" / "generations.jsonl"
    cached_before = ({json.loads(line)["chunk_id"] for line in cache.read_text().splitlines()}
                     if cache.exists() else set())
    assert cached_before, "the kill came after some batches were cached"
    assert cached_before <= generated_before

    resumed = run(tmp_path / "crash", kb, 0.0, tmp_path / "resume.log")
    rep = json.loads(resumed.stdout.strip().splitlines()[-1])
    regenerated = set((tmp_path / "resume.log").read_text().split()) if (tmp_path / "resume.log").exists() else set()
    assert not (regenerated & cached_before), "nothing cached before the kill is generated again"
    assert len(regenerated & generated_before) <= 2  # at most the batch that was in flight
    assert rep["chunks_generated"] + rep["cache_hits"] < rep["chunks_total"]

    ref_chunks, ref_queries, ref_counts, ref_lex = snapshot(tmp_path / "ref")
    got_chunks, got_queries, got_counts, got_lex = snapshot(tmp_path / "crash")
    assert got_chunks == ref_chunks
    assert got_queries == ref_queries
    assert got_counts == ref_counts  # no duplicate vectors
    assert got_lex == ref_lex
