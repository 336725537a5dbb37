"""The `eventcompress` command's dispatch (subcommands have their own tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eventcompress.cli import COMMANDS, build_parser, main


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_every_subcommand_has_help_and_quiet(capsys):
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
        assert "--quiet" in capsys.readouterr().out


def test_console_script_entry_point_and_cheap_start_up():
    code = "import sys, eventcompress.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    version = subprocess.run([sys.executable, "-m", "eventcompress.cli", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("eventcompress ")
