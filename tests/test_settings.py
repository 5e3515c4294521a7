"""configure() and context() on contextvars: scoped, nestable, and private to each thread and task."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import lmdsl
from lmdsl import settings
from lmdsl.testing import ScriptedLM


def test_defaults():
    assert settings.get("max_reasks") == 2
    assert settings.get("lm") is None


def test_configure_sets_process_wide_defaults():
    lmdsl.configure(max_reasks=5)
    assert settings.get("max_reasks") == 5
    seen = []
    t = threading.Thread(target=lambda: seen.append(settings.get("max_reasks")))
    t.start()
    t.join()
    assert seen == [5]


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match=r"^unknown setting\(s\): lmm; known: lm, adapter, "):
        lmdsl.configure(lmm=None)
    with pytest.raises(TypeError, match=r"unknown setting\(s\): bogus"), lmdsl.context(bogus=1):
        pass


def test_context_overrides_and_restores():
    lmdsl.configure(max_reasks=1)
    with lmdsl.context(max_reasks=3):
        assert settings.get("max_reasks") == 3
        with lmdsl.context(num_threads=4):
            assert (settings.get("max_reasks"), settings.get("num_threads")) == (3, 4)
        assert settings.get("num_threads") == 1
    assert settings.get("max_reasks") == 1


def test_context_restores_after_an_exception():
    with pytest.raises(RuntimeError), lmdsl.context(max_reasks=9):
        raise RuntimeError
    assert settings.get("max_reasks") == 2


def test_context_wins_over_a_later_configure():
    with lmdsl.context(max_reasks=7):
        lmdsl.configure(max_reasks=0)
        assert settings.get("max_reasks") == 7
    assert settings.get("max_reasks") == 0


def test_threads_do_not_see_each_others_context():
    barrier = threading.Barrier(2, timeout=30)  # a failing worker must not hang the suite
    seen: dict[str, list] = {"a": [], "b": []}
    lms = {"a": ScriptedLM(lambda inputs: {"answer": "A"}), "b": ScriptedLM(lambda inputs: {"answer": "B"})}
    predictor = lmdsl.Predict("question -> answer")

    def worker(name):
        with lmdsl.context(lm=lms[name], max_reasks=ord(name)):
            barrier.wait()  # both contexts are active at the same time
            for _ in range(20):
                seen[name].append((settings.get("max_reasks"), predictor(question="q").answer))
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["a"]) == {(ord("a"), "A")}
    assert set(seen["b"]) == {(ord("b"), "B")}
    assert settings.get("lm") is None  # the main thread never saw either


def test_a_new_thread_does_not_inherit_the_context_but_a_copied_context_does():
    with lmdsl.context(max_reasks=6):
        ctx = contextvars.copy_context()
        with ThreadPoolExecutor(1) as pool:
            plain = pool.submit(settings.get, "max_reasks").result()
            copied = pool.submit(ctx.run, settings.get, "max_reasks").result()
    assert (plain, copied) == (2, 6)


def test_asyncio_tasks_are_isolated():
    async def task(value):
        with lmdsl.context(max_reasks=value):
            await asyncio.sleep(0.01)
            first = settings.get("max_reasks")
            await asyncio.sleep(0)
            return first, settings.get("max_reasks")

    async def main():
        return await asyncio.gather(*(task(v) for v in range(5)))

    assert asyncio.run(main()) == [(v, v) for v in range(5)]


def test_module_acall_keeps_the_callers_context():
    lm = ScriptedLM(lambda inputs: {"answer": "scoped"})
    predictor = lmdsl.Predict("question -> answer")

    async def main():
        with lmdsl.context(lm=lm):
            return await predictor.acall(question="q")

    assert asyncio.run(main()).answer == "scoped"
    assert len(lm.history) == 1


def test_current_lm_caches_the_default(monkeypatch):
    monkeypatch.setenv("LMDSL_LM", "openai/gpt-4o-mini")
    first = settings.current_lm()
    assert settings.current_lm() is first
    assert settings.model_from_env() == "openai/gpt-4o-mini"


def test_reset():
    lmdsl.configure(max_reasks=9)
    settings.reset()
    assert settings.get("max_reasks") == 2


def test_dspy_rm_alias_sets_the_retriever():
    lmdsl.configure(rm="my-retriever")
    assert settings.get("retriever") == "my-retriever"
    with lmdsl.context(rm="scoped"):
        assert settings.get("retriever") == "scoped"
    with pytest.raises(TypeError, match="not both"):
        lmdsl.configure(rm="a", retriever="b")


def test_is_overridden_sees_only_an_enclosing_context():
    lmdsl.configure(assertions="off")
    assert not settings.is_overridden("assertions")  # configure sets a default, not an override
    with lmdsl.context(assertions="on"):
        assert settings.is_overridden("assertions")
        assert not settings.is_overridden("max_backtracks")
    assert not settings.is_overridden("assertions")
    with pytest.raises(TypeError, match="unknown setting"):
        settings.is_overridden("assertion")


def test_setdefault_keeps_a_configured_value():
    assert settings.setdefault("retriever", "first") == "first"
    assert settings.setdefault("retriever", "second") == "first"
    assert settings.get("retriever") == "first"


def test_default_lm_lives_in_the_lm_layer(monkeypatch):
    from lmdsl.lm import default

    monkeypatch.setenv("LMDSL_LM", "openai/gpt-4o-mini")
    first = default.current_lm()
    assert first.model == "openai/gpt-4o-mini" and default.current_lm() is first
    assert settings.get("lm") is first  # built once, then shared process-wide
    with lmdsl.context(lm=None):  # an explicit None still falls back to the shared default
        assert default.current_lm() is first
    with pytest.warns(DeprecationWarning, match="lmdsl.lm.default.current_lm"):
        assert settings.current_lm() is first


def test_settings_is_a_leaf():
    # Load settings.py on its own (lmdsl/__init__ would import every layer): it must not pull in the LM
    # layer or anything else of lmdsl's, so that every layer can read settings without a cycle.
    code = (
        "import sys, types\n"
        f"root = types.ModuleType('lmdsl'); root.__path__ = [{str(Path(settings.__file__).parent)!r}]\n"
        "sys.modules['lmdsl'] = root\n"
        "import lmdsl.settings\n"
        "print(sorted(m for m in sys.modules if m.startswith('lmdsl.') and m != 'lmdsl.settings'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = ast.literal_eval(out.strip())
    assert not any(m == "lmdsl.lm" or m.startswith("lmdsl.lm.") for m in loaded), loaded
    assert set(loaded) <= {"lmdsl.errors"}, loaded
