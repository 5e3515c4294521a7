"""One cache root for every cache lmdsl keeps (LM replies, indexes, sandbox snapshots)."""

from __future__ import annotations

from pathlib import Path

from lmdsl.lm.cache import cache_dir as lm_cache_dir
from lmdsl.retrievers.corpus import cache_dir as corpus_cache_dir
from lmdsl.sandbox import _sandbox
from lmdsl.utils.paths import cache_root


def test_cache_root_env_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.setenv("LMDSL_CACHE_DIR", "~/elsewhere")
    assert cache_root() == Path.home() / "elsewhere"
    monkeypatch.delenv("LMDSL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "lmdsl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "lmdsl"


def test_every_cache_follows_lmdsl_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("LMDSL_SANDBOX_CACHE", raising=False)
    assert lm_cache_dir() == corpus_cache_dir() == tmp_path
    assert _sandbox._cache_dir() == tmp_path / "sandbox"  # it used to ignore LMDSL_CACHE_DIR
    monkeypatch.setenv("LMDSL_SANDBOX_CACHE", str(tmp_path / "own"))
    assert _sandbox._cache_dir() == tmp_path / "own"  # the sandbox's own override still wins
