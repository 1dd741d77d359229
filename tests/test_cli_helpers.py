"""egsa_ros.cli_helpers: the argparse types every command-line tool shares."""

from __future__ import annotations

import argparse

import pytest

from egsa_ros.cli_helpers import output_file, parse_size
from egsa_ros.eval.mask_errors import main as mask_errors_main


def test_output_file_makes_its_folder_and_returns_the_path(tmp_path):
    target = tmp_path / "a" / "b" / "report.json"
    assert output_file(str(target)) == target
    assert target.parent.is_dir() and not target.exists()  # the folder now, the file at the end


def test_output_file_refuses_a_folder_and_a_folder_it_cannot_make(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        output_file(str(tmp_path))
    blocker = tmp_path / "plain_file"
    blocker.write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match="cannot make the folder"):
        output_file(str(blocker / "report.json"))


def test_a_tool_given_a_folder_for_json_stops_before_it_works(tmp_path, capsys):
    # A missing split would be reported after the arguments; the bad --json must come first.
    with pytest.raises(SystemExit) as stop:
        mask_errors_main([str(tmp_path / "no_split"), "--json", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(f"argument --json: {tmp_path} is a folder; give a file name")
    assert "Traceback" not in "\n".join(err)


def test_parse_size():
    assert parse_size("480x640") == (480, 640) and parse_size("480,640") == (480, 640)
    for bad in ("480", "ax640", "2x640"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_size(bad)
