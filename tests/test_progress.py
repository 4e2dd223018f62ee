"""Progress off a terminal: plain lines on stderr, one per LINE_EVERY seconds and one at the
end, never a carriage return; nothing for work that ends before the first line is due."""

from __future__ import annotations

import io

import pytest

from common import progress as progress_module
from common.progress import PlainProgress, progress


def test_off_a_terminal_work_shorter_than_a_line_prints_nothing(capsys):
    with progress(total=3, desc="capture tf", unit="part") as bar:
        assert isinstance(bar, PlainProgress)
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_long_work_prints_plain_lines_and_the_last(capsys, monkeypatch):
    # start; update 1 (a line), update 2, update 3 (a line), update 4; close (the last line)
    clock = iter([0.0, 31.0, 31.0, 32.0, 65.0, 65.0, 66.0, 67.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    bar = PlainProgress(range(4), desc="training steps", unit="step")
    for _ in bar:
        bar.set_postfix(loss="0.5")
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines)
    assert lines == ["training steps: 1/4 step (31 s, loss=0.5)",
                     "training steps: 3/4 step (65 s, loss=0.5)",
                     "training steps: 4/4 step (67 s, loss=0.5)"]


def test_disabled_is_silent_and_a_terminal_gets_tqdm(capsys, monkeypatch):
    with progress(total=2, disable=True) as bar:
        bar.update(2)
    assert capsys.readouterr().err == ""
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr(progress_module.sys, "stderr", terminal)
    bar = progress(total=2, desc="x")
    assert not isinstance(bar, PlainProgress)
    bar.close()


@pytest.mark.parametrize("given", [None, 5])
def test_the_total_comes_from_the_iterable_when_not_given(given):
    assert PlainProgress(range(5), total=given).total == 5
