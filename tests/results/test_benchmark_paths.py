"""benchmarks.paths.shown: recorded paths name no folder of this machine, even when ../shared is a link."""
from benchmarks import paths


def test_shown_keeps_a_linked_shared_folder_beside_the_repository(tmp_path, monkeypatch):
    repo, data = tmp_path / "work" / "repo", tmp_path / "elsewhere" / "shared"
    repo.mkdir(parents=True)
    (data / "datasets").mkdir(parents=True)
    (tmp_path / "work" / "shared").symlink_to(data)
    monkeypatch.setattr(paths, "REPO_ROOT", repo)
    assert paths.shown(repo / ".." / "shared" / "datasets") == "../shared/datasets"  # the link, not its target
    assert paths.shown(repo / "benchmarks" / "cache" / "x.jsonl") == "benchmarks/cache/x.jsonl"
    assert paths.shown(data / "datasets") == (data / "datasets").as_posix()  # two levels out: absolute
