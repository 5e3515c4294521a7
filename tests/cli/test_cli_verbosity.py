"""-v and -q: how much of lmdsl's logging the CLI shows, through the one handler it attaches."""

from __future__ import annotations

import logging

import click
import pytest
from cli_support import PROG

from lmdsl import settings
from lmdsl.cli.main import cli
from lmdsl.console import status


@click.command("log-probe")
def log_probe() -> None:
    """Log one line per level from lmdsl, from a plugin package and from another library."""
    for name in ("lmdsl.probe", "lmdsl_probe_plugin.module", "otherlib"):
        log = logging.getLogger(name)
        log.debug("%s debug", name)
        log.info("%s info", name)
        log.warning("%s warning", name)
        log.error("%s error", name)
    status("status line")
    status("status warning", logging.WARNING)
    click.echo(f"display_progress={settings.get('display_progress')}")


@pytest.fixture
def probe(lmdsl_cli, monkeypatch):
    monkeypatch.setitem(cli.commands, "log-probe", log_probe)
    return lambda *flags: lmdsl_cli(*flags, "log-probe")


def shown(run) -> set[str]:
    return set(run.err.splitlines())


def test_default_shows_warnings_and_status_lines_as_bare_messages(probe):
    run = probe()
    assert run.code == 0, run.err
    assert shown(run) == {
        "lmdsl.probe warning", "lmdsl.probe error",
        "lmdsl_probe_plugin.module warning", "lmdsl_probe_plugin.module error",
        "otherlib warning", "otherlib error",
        "status line", "status warning",
    }
    assert run.out == "display_progress=True\n"


@pytest.mark.parametrize(("flags", "level"), [(["-v"], "info"), (["-vv"], "debug"), (["--verbose", "--verbose"], "debug")])
def test_verbose_adds_lmdsl_and_plugin_info_and_debug_but_not_other_libraries(probe, flags, level):
    run = probe(*flags)
    assert run.code == 0, run.err
    for name in ("lmdsl.probe", "lmdsl_probe_plugin.module"):
        assert f"{name} info" in shown(run)
        assert (f"{name} debug" in shown(run)) == (level == "debug")
    assert "otherlib info" not in shown(run) and "otherlib debug" not in shown(run)
    assert "otherlib warning" in shown(run) and "status line" in shown(run)


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_leaves_errors_only_and_turns_progress_off(probe, flag):
    run = probe(flag)
    assert run.code == 0, run.err
    assert shown(run) == {"lmdsl.probe error", "lmdsl_probe_plugin.module error", "otherlib error"}
    assert run.out == "display_progress=False\n"


def test_verbose_and_quiet_together_is_a_usage_error(probe):
    run = probe("-v", "-q")
    assert run.code == 2 and "give -v or -q, not both" in run.err


def test_the_handler_is_gone_after_the_command(probe):
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("lmdsl.console").level)
    assert probe("-vv").code == 0
    assert probe("-q").code == 0
    assert (list(root.handlers), root.level, logging.getLogger("lmdsl.console").level) == before
    assert settings.get("display_progress") is True


def test_a_library_with_its_own_handler_is_not_echoed_twice(probe):
    own = logging.getLogger("otherlib")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Collect()
    own.addHandler(handler)
    try:
        run = probe()
    finally:
        own.removeHandler(handler)
    assert "otherlib warning" in seen and "otherlib warning" not in run.err


def test_quiet_compile_hides_optimizer_progress_that_the_default_shows(lmdsl_cli):
    compile_ = f"compile {PROG}:Sentiment -O num_candidate_programs=1 --json"
    default = lmdsl_cli(compile_)
    assert default.code == 0, default.err
    assert "[random-search] estimated about" in default.err and "baseline 4/4" in default.err
    quiet = lmdsl_cli(f"-q {compile_}")
    assert quiet.code == 0, quiet.err
    assert quiet.err == "" and quiet.json()["score"] == default.json()["score"]
