"""Items 1 and 2 end to end: a hand-edited compiled file can neither send the user's API key to
a host of its choosing (a loopback listener records what leaves) nor run code on load (a marker
file records whether it did), whatever command reads it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmdsl.cli.main import cli

pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")  # litellm's own pydantic models
PROG = Path(__file__).resolve().parents[1] / "cli" / "fixtures" / "sentiment_prog.py"
KEY = "sk-test-leak-canary-4f8a1c9b2d7e"


def lmdsl(command: str):
    return CliRunner().invoke(cli, shlex.split(command))


@pytest.fixture
def compiled(tmp_path, monkeypatch):
    """A real compiled file for the fixture program, in a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    assert lmdsl(f"compile {PROG}:Sentiment --optimizer labeled-few-shot -O k=2 -o s.json").exit_code == 0
    return tmp_path / "s.json"


def edit(path: Path, change) -> Path:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def test_a_file_cannot_send_the_key_elsewhere(compiled, listener, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    edit(compiled, lambda d: d["predictors"]["classify"].update(
        lm={"model": "openai/gpt-4o", "api_base": listener.url}))
    for command in (f"run s.json --program {PROG}:Sentiment --input '{{\"text\": \"fun\"}}'",
                    f"evaluate s.json --program {PROG}:Sentiment", f"inspect s.json --program {PROG}:Sentiment",
                    f"compile s.json --program {PROG}:Sentiment --optimizer labeled-few-shot -o t.json"):
        result = lmdsl(command)
        assert result.exit_code == 2, (command, result.output)
        assert "'lm' sets 'api_base'" in result.stderr and "s.json" in result.stderr
    assert listener.requests == [], "a request left for the file's host"


def test_the_listener_would_have_seen_the_key(compiled, listener, monkeypatch):
    """The control: with the user's explicit --trust-file the request does go there, key and all,
    so the test above would notice a leak."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    edit(compiled, lambda d: d["predictors"]["classify"].update(
        lm={"model": "openai/gpt-4o", "api_base": listener.url}))
    result = lmdsl("run s.json --trust-file --input '{\"text\": \"fun\"}'")
    assert result.exit_code == 0, result.output
    posts = [r for r in listener.requests if r["method"] == "POST"]
    assert [r["headers"].get("authorization") for r in posts] == [f"Bearer {KEY}"]


def test_a_model_named_by_the_file_is_reported_and_lm_replaces_it(compiled):
    edit(compiled, lambda d: d["predictors"]["classify"].update(lm={"model": "openai/gpt-4o", "temperature": 0.3}))
    shown = lmdsl("inspect s.json")
    assert shown.exit_code == 0 and "[model] openai/gpt-4o (temperature=0.3)" in shown.stdout
    result = lmdsl(f"evaluate s.json --program {PROG}:Sentiment --lm scripted/other --json")
    assert "note: --lm scripted/other replaces the model(s) s.json sets for classify (openai/gpt-4o)" \
        in result.stderr


def marker_program(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.py"
    evil.write_text(PROG.read_text() + f"\nfrom pathlib import Path as _P\n_P({str(marker)!r}).write_text('ran')\n")
    return evil, marker


@pytest.mark.parametrize("command", [
    "inspect s.json", "run s.json --input '{\"text\": \"fun\"}'", "evaluate s.json",
    "compile s.json --optimizer labeled-few-shot",
])
def test_loading_a_file_runs_no_code_it_names(compiled, tmp_path, command):
    evil, marker = marker_program(tmp_path)
    edit(compiled, lambda d: d.update(program=f"{evil}:Sentiment"))
    result = lmdsl(command)
    assert not marker.exists(), f"{command} imported the file's program"
    if command.startswith("inspect"):
        assert result.exit_code == 0 and "not imported" in result.stdout and "=== classify: " in result.stdout
    else:
        assert result.exit_code == 2
        assert f"pass --program {evil}:Sentiment" not in result.stderr  # no command is run for the user
        assert f"--program {evil}:Sentiment" in result.stderr and "--trust-file" in result.stderr


@pytest.mark.parametrize("named", ["sys:exit", "os:getcwd", "builtins:print", "lmdsl.testing:ScriptedLM"])
def test_even_a_trusted_file_may_name_only_a_program_class(compiled, named):
    edit(compiled, lambda d: d.update(program=named))
    result = lmdsl("inspect s.json --trust-file")
    assert result.exit_code == 2, result.output
    assert f"'program' names {named}, which is not an lmdsl program class" in result.stderr


def test_inspect_shows_terminal_control_characters_escaped(compiled):
    edit(compiled, lambda d: d["predictors"]["classify"].update(instructions="hi\x1b[2J\x1b]0;pwned\x07"))
    out = lmdsl("inspect s.json").stdout
    assert "\x1b" not in out and "\\x1b[2J" in out


def test_python_load_never_imports_and_refuses_endpoints(compiled, tmp_path):
    from lmdsl import LoadError
    from lmdsl.cli.targets import load_module

    evil, marker = marker_program(tmp_path)
    edit(compiled, lambda d: (d.update(program=f"{evil}:Sentiment"),
                              d["predictors"]["classify"].update(lm={"model": "openai/x", "headers": {"a": "b"}})))
    program = load_module(str(PROG)).Sentiment()
    with pytest.raises(LoadError, match="'lm' sets 'headers'"):
        program.load(compiled)
    assert not marker.exists()
