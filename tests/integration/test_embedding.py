"""Embedding models by local folder or hub name, offline by the caller's choice; no bar while loading."""
import numpy as np
import pytest

from rag_augment.embedding import (
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
    packaged_minilm_path,
    quiet_weight_loading,
    resolve_model,
)
from rag_augment.errors import ConfigError

# A well-formed hub name that no cache on a test machine holds.
MISSING_HUB_MODEL = "rag-augment-tests/no-such-model-7f3a"


def test_resolve_default_folder_and_hub_name(tmp_path):
    assert resolve_model(DEFAULT_MODEL) == (packaged_minilm_path(), True)
    assert resolve_model(str(tmp_path)) == (str(tmp_path), True)
    assert resolve_model("BAAI/bge-small-en-v1.5") == ("BAAI/bge-small-en-v1.5", False)
    assert resolve_model("all-mpnet-base-v2") == ("all-mpnet-base-v2", False)


@pytest.mark.parametrize("bad", ["./no/such/folder", "/no/such/folder", "a/b/c", "with space/model"])
def test_a_missing_path_that_is_no_hub_name_is_refused(bad):
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_model(bad)


def test_a_file_is_refused(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    with pytest.raises(ConfigError, match="is a file"):
        resolve_model(str(f))


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text, text
    return text


def test_uncached_hub_name_offline_is_one_line_config_error():
    with pytest.raises(ConfigError) as exc_info:
        SentenceTransformerEmbedder(MISSING_HUB_MODEL, offline=True)
    text = _one_line(exc_info)
    assert MISSING_HUB_MODEL in text and "offline" in text


def test_uncached_hub_name_under_hf_hub_offline_is_one_line_config_error(monkeypatch):
    """offline=None follows the caller's HF_HUB_OFFLINE (set here for this test only)."""
    import huggingface_hub.constants as hub_constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConfigError) as exc_info:
        SentenceTransformerEmbedder(MISSING_HUB_MODEL)
    assert MISSING_HUB_MODEL in _one_line(exc_info)


def test_a_folder_that_is_no_model_is_one_line_config_error(tmp_path):
    with pytest.raises(ConfigError) as exc_info:
        SentenceTransformerEmbedder(str(tmp_path))
    assert str(tmp_path) in _one_line(exc_info)


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEmbedder()


def test_packaged_model_by_name_and_by_folder_agree(minilm):
    by_folder = SentenceTransformerEmbedder(packaged_minilm_path())
    texts = ["how many hours of sick leave do I earn", ""]
    a, b = minilm.embed(texts), by_folder.embed(texts)
    assert a.dtype == np.float32 and a.shape == (2, minilm.dim) == b.shape
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, minilm.dim)


def test_loading_draws_no_bar(capfd):
    SentenceTransformerEmbedder()
    assert "Loading weights" not in capfd.readouterr().err


def test_quiet_weight_loading_is_scoped(capfd):
    from transformers.utils import logging as hf_logging
    before = getattr(hf_logging, "_tqdm_hook", None)
    with quiet_weight_loading():
        for _ in hf_logging.tqdm(range(3), desc="Loading weights"):
            pass
    assert getattr(hf_logging, "_tqdm_hook", None) is before
    assert "Loading weights" not in capfd.readouterr().err
    if hf_logging.is_progress_bar_enabled():  # outside the block transformers draws its bars again
        for _ in hf_logging.tqdm(range(3), desc="Loading weights"):
            pass
        assert "Loading weights" in capfd.readouterr().err
