"""CLI tests run the click app in-process with CliRunner; stdout and stderr are kept apart."""

from __future__ import annotations

import shlex

import pytest
from cli_support import PROG, Run
from click.testing import CliRunner

from lmdsl.cli.main import cli


@pytest.fixture
def lmdsl_cli(tmp_path, monkeypatch):
    """``lmdsl_cli("compile", ...)`` or ``lmdsl_cli("compile ...")``, run in a temporary working directory."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, **kwargs) -> Run:
        argv = shlex.split(args[0]) if len(args) == 1 else list(args)
        return Run(CliRunner().invoke(cli, argv, **kwargs))

    return run


@pytest.fixture
def prog_module():
    """The fixture module as the CLI loads it (one instance per process)."""
    from lmdsl.cli.targets import load_module

    return load_module(str(PROG))
