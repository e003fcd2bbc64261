"""The ``tenantry`` command that ``pip install`` puts beside the venv's python:
the operator's C++ tool shipped in the package (``tenantry/bin/tenantry``),
run through the console script ``tenantry._cli:main``, which execs it with
the arguments, standard streams and exit status passed through.

Exit status: 0 ok, 1 a refused file or a damaged journal (the reason on
stderr), 2 a wrong command line (the usage on stderr); ``--help`` prints the
usage on stdout with status 0."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import List

import pytest

import tenantry
from tenantry import _cli

from conftest import build_world

BIN_DIR = os.path.dirname(sys.executable)
COMMAND = shutil.which("tenantry", path=BIN_DIR)
USAGE_FIRST_LINE = "usage: tenantry inspect FILE"

needs_command = pytest.mark.skipif(
    COMMAND is None and os.environ.get("TENANTRY_EXPECT_INSTALLED") != "1",
    reason="no `tenantry` command beside this python (not a pip-installed tenantry)",
)


def tenantry_command(*arguments: str, cwd: "os.PathLike[str] | str | None" = None) -> subprocess.CompletedProcess:
    assert COMMAND is not None, f"pip did not install a `tenantry` command in {BIN_DIR}"
    return subprocess.run([COMMAND, *arguments], capture_output=True, text=True, timeout=60, cwd=cwd)


def saved_snapshot(directory: pathlib.Path, name: str = "world.tny") -> "tuple[pathlib.Path, tenantry.Engine]":
    clock = tenantry.ManualClock()
    engine = tenantry.Engine(clock=clock)
    build_world(engine, clock)
    path = directory / name
    engine.save(path)
    return path, engine


@needs_command
def test_the_command_is_the_console_script_beside_python() -> None:
    assert COMMAND is not None
    assert pathlib.Path(COMMAND).parent == pathlib.Path(BIN_DIR)
    tool = pathlib.Path(_cli.tool_path())
    assert tool.is_file() and os.access(tool, os.X_OK), tool
    assert tool.parent.parent == pathlib.Path(tenantry.__file__).resolve().parent


@needs_command
def test_help_prints_the_usage_on_stdout() -> None:
    for flag in ("--help", "-h"):
        result = tenantry_command(flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(USAGE_FIRST_LINE)
        assert "tenantry journal check DIR" in result.stdout
        assert result.stderr == ""


@pytest.mark.parametrize("arguments", [[], ["frobnicate"], ["inspect"], ["journal", "mend", "x"]])
@needs_command
def test_a_wrong_command_line_prints_the_usage_on_stderr_with_status_2(arguments: List[str]) -> None:
    result = tenantry_command(*arguments)
    assert result.returncode == 2
    assert result.stderr.startswith(USAGE_FIRST_LINE)
    assert result.stdout == ""


@needs_command
def test_inspect_verify_and_dump_a_snapshot_saved_from_python(tmp_path: pathlib.Path) -> None:
    path, engine = saved_snapshot(tmp_path)
    inspect = tenantry_command("inspect", str(path))
    assert inspect.returncode == 0, inspect.stderr
    assert f"revision          {engine.revision}\n" in inspect.stdout
    assert f"memberships       {engine.stats()['memberships']}\n" in inspect.stdout
    verify = tenantry_command("verify", str(path))
    assert verify.returncode == 0, verify.stderr
    assert "every invariant holds" in verify.stdout
    dump = tenantry_command("dump", "--json", str(path))
    assert dump.returncode == 0, dump.stderr
    content = json.loads(dump.stdout)
    assert content["snapshot"]["revision"] == engine.revision
    assert content["snapshot"]["token_key"] == "<redacted>"
    assert "owner@acme.test" in dump.stdout


@needs_command
def test_arguments_reach_the_tool_unchanged(tmp_path: pathlib.Path) -> None:
    path, _ = saved_snapshot(tmp_path, "a snapshot, named é — with spaces.tny")
    result = tenantry_command("inspect", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"file              {path.name}\n")


@needs_command
def test_a_damaged_or_missing_snapshot_is_refused_with_status_1(tmp_path: pathlib.Path) -> None:
    path, _ = saved_snapshot(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for command in (["inspect"], ["verify"], ["dump", "--json"]):
        result = tenantry_command(*command, str(path))
        assert result.returncode == 1, command
        assert result.stderr.startswith("tenantry: ") and result.stderr.rstrip().endswith("(P2)"), result.stderr
    garbage = tmp_path / "garbage.tny"
    garbage.write_bytes(b"not a snapshot at all\n")
    result = tenantry_command("inspect", str(garbage))
    assert result.returncode == 1
    assert "not a tenantry snapshot" in result.stderr
    assert result.stdout == ""
    missing = tenantry_command("verify", str(tmp_path / "missing.tny"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("tenantry: ") and "missing.tny" in missing.stderr


@needs_command
def test_journal_check_reads_a_journal_once_its_engine_is_closed(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "journal"
    engine = tenantry.Engine(journal=journal, durability="group")
    for i in range(5):
        engine.create_user(f"u{i}@x.test")
    held = tenantry_command("journal", "check", str(journal))
    assert held.returncode == 1
    assert "in use by another engine" in held.stderr
    engine.close()
    result = tenantry_command("journal", "check", str(journal))
    assert result.returncode == 0, result.stderr
    assert "records      5 sound" in result.stdout
    assert "damage       none" in result.stdout
    not_a_journal = tenantry_command("journal", "check", str(tmp_path))
    assert not_a_journal.returncode == 1
    assert not_a_journal.stderr.startswith("tenantry: ")


def test_the_entry_point_reports_a_tool_it_cannot_run(tmp_path: pathlib.Path) -> None:
    # Run as a script in a child: main() replaces the process when it works.
    code = (
        "import sys; from tenantry import _cli; "
        f"_cli.tool_path = lambda: {str(tmp_path / 'missing-tool')!r}; "
        "sys.exit(_cli.main(['--help']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 127
    assert result.stderr.startswith("tenantry: cannot run ") and "missing-tool" in result.stderr
