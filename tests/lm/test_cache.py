"""lmdsl's own LM cache: memory + disk, keys without secrets, corrupt entries repaired."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import lmdsl
from lmdsl.lm import LM, Completion
from lmdsl.lm.cache import Cache, cache_dir, request_key, set_shared_cache, shared_cache
from lmdsl.testing import ScriptedLM

SECRET = "sk-test-DO-NOT-STORE-4f8a1c"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


class CountingLM(LM):
    """An LM whose provider call is counted and answers 'Paris'."""

    def __init__(self, model: str = "test/counting", **kwargs):
        super().__init__(model, **kwargs)
        self.calls = 0

    def _complete(self, messages, params):
        self.calls += 1
        return Completion(["Paris"], {"prompt_tokens": 7, "completion_tokens": 1}, False, self.model, ["stop"])


def cache_bytes() -> bytes:
    return b"".join(p.read_bytes() for p in cache_dir().rglob("*") if p.is_file())


# ---- keys -----------------------------------------------------------------------------
def test_key_excludes_secrets_and_endpoints():
    base = request_key("openai/m", MESSAGES, {"temperature": 0})
    for extra in ({"api_key": SECRET}, {"api_base": "http://a"}, {"base_url": "http://b"}, {"timeout": 5},
                  {"num_retries": 9}, {"extra_headers": {"Authorization": SECRET}}):
        assert request_key("openai/m", MESSAGES, {"temperature": 0, **extra}) == base, extra


def test_key_covers_model_messages_and_params():
    base = request_key("openai/m", MESSAGES, {"temperature": 0})
    assert request_key("openai/other", MESSAGES, {"temperature": 0}) != base
    assert request_key("openai/m", [{"role": "user", "content": "x"}], {"temperature": 0}) != base
    assert request_key("openai/m", MESSAGES, {"temperature": 0.5}) != base
    assert request_key("openai/m", MESSAGES, {"temperature": 0, "rollout_id": 1}) != base
    # param order and None values do not matter
    assert request_key("openai/m", MESSAGES, {"a": 1, "b": 2, "c": None}) == request_key(
        "openai/m", MESSAGES, {"b": 2, "a": 1}
    )


def test_lms_differing_only_in_secrets_share_entries():
    a = CountingLM(api_key="sk-one", api_base="http://one")
    b = CountingLM(api_key="sk-two", api_base="http://one")
    a(MESSAGES)
    assert b(MESSAGES).cached is True
    assert (a.calls, b.calls) == (1, 0)


def test_two_endpoints_serving_the_same_model_name_do_not_share_replies():
    a = CountingLM(api_base="http://127.0.0.1:1/v1")
    b = CountingLM(api_base="http://127.0.0.1:2/v1")
    a(MESSAGES)
    assert b(MESSAGES).cached is False
    assert (a.calls, b.calls) == (1, 1)
    disk = Path(os.environ["LMDSL_CACHE_DIR"])
    assert not any(b"127.0.0.1" in f.read_bytes() for f in disk.rglob("*") if f.is_file())


def test_secret_never_written_to_the_cache_dir():
    lm = CountingLM(api_key=SECRET, api_base="http://secret-endpoint.internal")
    lm(MESSAGES)
    lm(MESSAGES, temperature=0.3)
    data = cache_bytes()
    assert data, "the disk cache should hold the entries"
    assert SECRET.encode() not in data
    assert b"secret-endpoint" not in data


# ---- hits -----------------------------------------------------------------------------
def test_memory_then_disk_hit():
    lm = CountingLM()
    first = lm(MESSAGES)
    assert first.cached is False and lm.calls == 1

    second = lm(MESSAGES)  # memory
    assert second.cached is True and second.texts == ["Paris"] and lm.calls == 1

    shared_cache().clear_memory()
    third = CountingLM()(MESSAGES)  # disk, from a fresh LM
    assert third.cached is True and third.texts == ["Paris"]
    assert third.usage == {"prompt_tokens": 7, "completion_tokens": 1}
    assert third.finish_reasons == ["stop"]

    # a fresh Cache object over the same directory (a new process) sees it too
    fresh = Cache(cache_dir() / "lm")
    assert fresh.get(request_key(lm.model, MESSAGES, lm._params({})))["outputs"] == ["Paris"]


def test_different_params_miss():
    lm = CountingLM()
    lm(MESSAGES)
    lm(MESSAGES, temperature=0.9)
    lm(MESSAGES, rollout_id=2)
    assert lm.calls == 3


def test_cache_false_skips_the_cache():
    lm = CountingLM(cache=False)
    assert lm(MESSAGES).cached is False
    assert lm(MESSAGES).cached is False
    assert lm.calls == 2
    assert not (cache_dir() / "lm").exists()


def test_corrupt_entry_is_ignored_and_rewritten():
    import diskcache

    lm = CountingLM()
    lm(MESSAGES)
    key = request_key(lm.model, MESSAGES, lm._params({}))
    with diskcache.Cache(str(cache_dir() / "lm")) as disk:
        disk.set(key, "{not json at all")
    shared_cache().clear_memory()

    again = lm(MESSAGES)
    assert again.cached is False and again.texts == ["Paris"] and lm.calls == 2
    with diskcache.Cache(str(cache_dir() / "lm")) as disk:
        assert '"outputs": ["Paris"]' in disk.get(key)  # rewritten with the good value
    shared_cache().clear_memory()
    assert lm(MESSAGES).cached is True and lm.calls == 2


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00binary", 12345, '{"no_outputs": 1}', "[1, 2]"])
def test_any_kind_of_bad_entry_is_a_miss(garbage):
    import diskcache

    lm = CountingLM()
    key = request_key(lm.model, MESSAGES, lm._params({}))
    with diskcache.Cache(str(cache_dir() / "lm")) as disk:
        disk.set(key, garbage)
    assert lm(MESSAGES).texts == ["Paris"] and lm.calls == 1


def test_unusable_cache_dir_degrades_to_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(blocker))
    lm = CountingLM()
    lm(MESSAGES)
    assert lm(MESSAGES).cached is True and lm.calls == 1


def test_memory_lru_is_bounded(tmp_path):
    cache = Cache(None, memory_size=2)
    for k in "abc":
        cache.put(k, {"outputs": [k]})
    assert cache.get("a") is None
    assert cache.get("b") == {"outputs": ["b"]}
    cache.put("d", {"outputs": ["d"]})  # "b" was used more recently than "c"
    assert cache.get("c") is None and cache.get("b") is not None


def test_cache_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("LMDSL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "lmdsl"
    monkeypatch.setenv("LMDSL_CACHE_DIR", "~/elsewhere")
    assert str(cache_dir()).endswith("/elsewhere") and "~" not in str(cache_dir())


def test_scripted_lm_with_cache(scripted):
    lm = scripted([{"answer": "Paris"}, {"answer": "Lyon"}], cache=True)
    p = lmdsl.Predict("question -> answer")
    assert p(question="capital?").answer == "Paris"
    assert p(question="capital?").answer == "Paris"  # hit: the second answer is not consumed
    assert lm.remaining == 1
    assert [h["cached"] for h in lm.history] == [False, True]


def test_scripted_lm_default_is_uncached(scripted):
    lm = scripted([{"answer": "Paris"}, {"answer": "Lyon"}])
    p = lmdsl.Predict("question -> answer")
    assert [p(question="q").answer for _ in range(2)] == ["Paris", "Lyon"]
    assert isinstance(lm, ScriptedLM) and lm.remaining == 0


def test_concurrent_calls():
    lm = CountingLM()
    errors = []

    def work(i):
        try:
            for j in range(20):
                lm([{"role": "user", "content": f"{i}-{j % 5}"}])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(lm.history) == 80
    assert lm.usage.calls == 80


def test_set_shared_cache_replaces_this_directory_s_cache_for_every_lm(tmp_path, monkeypatch):
    class Remembering(Cache):  # a stand-in for a replica's relay to the driver's cache
        def __init__(self):
            super().__init__(None)
            self.keys: list[str] = []

        def put(self, key, value):
            self.keys.append(key)
            super().put(key, value)

    relay = Remembering()
    set_shared_cache(relay)
    assert shared_cache() is relay
    lm = CountingLM()
    lm(MESSAGES)
    assert relay.keys == [request_key(lm.model, MESSAGES, lm._params({}))]
    assert lm(MESSAGES).cached is True and lm.calls == 1
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert shared_cache() is not relay  # installed for the directory it was current for
