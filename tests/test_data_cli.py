"""`twinport data ...`: the command group, its help, verify's table and preview's image."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

SUBCOMMANDS = {
    "moving-objects": ["--out", "--seed", "--count", "--seq-len", "--overwrite"],
    "from-tfrecord": ["PATTERN", "--out", "--feature", "--image-size", "--seq-len",
                      "--norm-scale", "--overwrite"],
    "sprites": ["SRC_DIR", "--out", "--seed", "--overwrite"],
    "moving-mnist": ["--out", "--seed", "--count", "--seq-len", "--overwrite"],
    "pushing": ["--out", "--seed", "--count", "--seq-len", "--overwrite"],
    "from-moving-mnist-npy": ["FILE", "--out", "--overwrite"],
    "from-moving-mnist-npz": ["FILE", "--out", "--overwrite"],
    "verify": ["DIR"],
    "preview": ["DIR", "--split", "--n", "-o"],
}


def test_data_help_lists_the_subcommands(cli, capsys):
    with pytest.raises(SystemExit) as done:
        cli("data", "--help")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help_with_its_options(cli, capsys, name):
    with pytest.raises(SystemExit) as done:
        cli("data", name, "--help")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: twinport data {name}" in out
    assert all(option in out for option in SUBCOMMANDS[name])


def test_data_without_a_subcommand_is_a_usage_error(cli, capsys):
    with pytest.raises(SystemExit) as done:
        cli("data")
    assert done.value.code == 2
    assert "SUBCOMMAND" in capsys.readouterr().err


def test_verify_reports_counts_per_split(cli, moving_objects_dir):
    status, out, err = cli("data", "verify", moving_objects_dir)
    assert status == 0 and err == ""
    assert "OK, 4 shards" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert lines["train"][1:3] == ["3", "180"] and lines["test"][1:3] == ["1", "20"]
    assert "[2, 64, 64, 3]" in out and "uint8" in out


def test_preview_draws_a_grid(cli, moving_objects_dir, tmp_path):
    png = tmp_path / "grid.png"
    status, out, _ = cli("data", "preview", moving_objects_dir, "--n", "4", "-o", png)
    assert status == 0 and "4 sequences of split 'test'" in out
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 500 and image.height > 200
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 10  # frames, diverging diffs, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_preview_draws_at_most_the_whole_split(cli, tmp_path):
    assert cli("data", "moving-objects", "--out", tmp_path / "d", "--count", "3")[0] == 0
    status, out, _ = cli("data", "preview", tmp_path / "d", "--n", "5", "-o", tmp_path / "g.png")
    assert status == 0 and "1 sequences of split 'test'" in out


def test_preview_n_must_be_positive(cli, moving_objects_dir, tmp_path):
    status, _, err = cli("data", "preview", moving_objects_dir, "--n", "0", "-o",
                         tmp_path / "g.png")
    assert status == 2 and err.count("\n") == 1 and "--n" in err
    assert not list(tmp_path.iterdir())


def test_cli_and_package_import_neither_tensorflow_nor_matplotlib():
    code = ("import sys, data, twinport.commands.data_cmd, twinport.cli;"
            "twinport.cli.build_parser();"
            "print([m for m in ('tensorflow', 'matplotlib') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
