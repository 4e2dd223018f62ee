"""A researcher's own pair or port that fails: every failure one line, exit 2, naming where.

A `--model` or `--port` module that does not import (a SyntaxError, a NameError, anything)
names its file and line; a reference twin that raises in a section names the section and layer
(it is the pair's bug, and nothing can be compared against it).
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.outside_pair import PAIR, TFRegressor


class RaisingRegressor(TFRegressor):
    """A reference that reads a variable the spec does not declare."""

    def _dense(self, layer, x, training):
        return x @ self.named_variables["dense/kernel_not_declared"]


BROKEN = dataclasses.replace(PAIR, name="broken_reference", twins={
    "tf": "tests.test_pair_errors:RaisingRegressor",
    "chainer": "tests.outside_pair:ChainerRegressor"})


def test_a_reference_that_raises_is_one_line(cli, tmp_path, moving_objects_dir):
    status, out, err = cli("parity", "--model", "tests.test_pair_errors:BROKEN", "--preset",
                           "small", "--batch-size", "2", "--steps", "0", "--quiet", "--data",
                           moving_objects_dir, "--out", tmp_path / "r")
    assert status == 2
    assert ("the reference raised at inference/dense: KeyError: 'dense/kernel_not_declared'"
            in err), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("source", "where"), [
    ("def build(:\n    pass\n", "{name}.py:1: SyntaxError: "),
    ("import math\n\nPAIR = math.pi * undefined_name\n", "{name}.py:3: NameError: name "
     "'undefined_name' is not defined"),
    ("raise RuntimeError('no GPU here')\n", "{name}.py:1: RuntimeError: no GPU here"),
])
@pytest.mark.parametrize("option", ["--model", "--port"])
def test_a_module_that_does_not_import_names_its_file_and_line(cli, tmp_path, monkeypatch,
                                                               request, moving_objects_dir,
                                                               source, where, option):
    name = f"broken_{option[2:]}_{request.node.callspec.indices['source']}"
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    status, _, err = cli("parity", option, f"{name}:PAIR", "--preset", "tiny", "--quiet",
                         "--data", moving_objects_dir, "--out", tmp_path / "r")
    assert status == 2
    assert where.format(name=name) in err, err
    assert len(err.strip().splitlines()) == 1
