"""Item 5: the disk cache never unpickles, serves only well-formed records, and says once when
it cannot be used (a silent memory-only cache quietly breaks resuming)."""

from __future__ import annotations

import logging
import os

import pytest

from lmdsl.lm import LM, Completion
from lmdsl.lm.cache import cache_dir, request_key, shared_cache

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


class CountingLM(LM):
    def __init__(self, **kwargs):
        super().__init__("test/counting", **kwargs)
        self.calls = 0

    def _complete(self, messages, params):
        self.calls += 1
        return Completion(["Paris"], {"prompt_tokens": 7, "completion_tokens": 1}, False, self.model, ["stop"])


class Planted:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(value):
    import diskcache

    lm = CountingLM()
    key = request_key(lm.model, MESSAGES, lm._params({}))
    with diskcache.Cache(str(cache_dir() / "lm")) as disk:
        disk.set(key, value)  # a non-str value is stored in diskcache's pickle mode
    shared_cache().clear_memory()
    return lm


def test_a_pickled_entry_is_never_unpickled(tmp_path, caplog):
    marker = tmp_path / "code-ran"
    lm = plant(Planted(str(marker)))
    with caplog.at_level(logging.WARNING, logger="lmdsl.cache"):
        result = lm(MESSAGES)
    assert not marker.exists(), "reading the cache ran code from a pickled entry"
    assert result.cached is False and result.texts == ["Paris"] and lm.calls == 1
    assert "not JSON (a pickled value, not read)" in caplog.text
    shared_cache().clear_memory()
    assert CountingLM()(MESSAGES).cached is True  # the planted entry was replaced by the real answer


@pytest.mark.parametrize("damaged", [
    '{"outputs": "xyz"}', '{"outputs": [1, 2]}', '{"outputs": ["a"], "usage": {"prompt_tokens": "many"}}',
    '{"outputs": ["a"], "finish_reasons": "stop"}', '{"outputs": ["a"], "scores": ["high"]}',
    '{"outputs": ["a"], "usage": []}',
])
def test_a_damaged_entry_is_dropped_recomputed_and_reported_once(damaged, caplog):
    lm = plant(damaged)
    with caplog.at_level(logging.WARNING, logger="lmdsl.cache"):
        first = lm(MESSAGES)
        plant(damaged)
        lm(MESSAGES)
    assert first.texts == ["Paris"] and first.cached is False and lm.calls == 2
    assert caplog.text.count("dropped a damaged entry") == 1


def test_a_corrupt_database_is_reported_once_and_calls_still_work(caplog, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    (root / "lm").mkdir(parents=True)
    (root / "lm" / "cache.db").write_bytes(b"this is not an sqlite database" * 100)
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(root))
    lm = CountingLM()
    with caplog.at_level(logging.WARNING, logger="lmdsl.cache"):
        lm(MESSAGES)
        lm([{"role": "user", "content": "another"}])
    assert lm.calls == 2 and lm(MESSAGES).cached is True  # memory still works
    assert caplog.text.count("LM cache: cannot open") == 1 and "will not resume" in caplog.text


def test_a_file_where_the_directory_should_be_is_reported(caplog, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger="lmdsl.cache"):
        CountingLM()(MESSAGES)
    assert "LM cache: cannot open" in caplog.text and str(blocker) in caplog.text


def test_failed_writes_are_reported_once(caplog, monkeypatch):
    lm = CountingLM()
    lm(MESSAGES)  # opens the disk store
    disk = shared_cache()._store()

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(disk, "set", refuse)
    with caplog.at_level(logging.WARNING, logger="lmdsl.cache"):
        lm([{"role": "user", "content": "one"}])
        lm([{"role": "user", "content": "two"}])
    assert caplog.text.count("LM cache: cannot write") == 1
    assert os.path.isdir(cache_dir() / "lm")
