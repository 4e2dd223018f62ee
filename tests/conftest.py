"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import chainer_port.compat  # noqa: F401  (before any test module imports chainer: NumPy 2 names)
from twinport.cli import main


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """Runs `twinport ARGS...` in-process; returns (status, stdout, stderr)."""

    def run(*argv: str | Path) -> tuple[int, str, str]:
        status = main([str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture(scope="session")
def moving_objects_dir(tmp_path_factory) -> Path:
    """A small read-only moving-objects dataset: 180 train sequences in shards of 64, 20 test."""
    from data.moving_objects import write_moving_objects

    root = tmp_path_factory.mktemp("datasets") / "moving-objects"
    write_moving_objects(root, seed=0, count=200, shard_size=64)
    return root


@pytest.fixture(scope="session")
def pushing_dir(tmp_path_factory) -> Path:
    """A small read-only pushing dataset: 40 sequences of 12 frames with actions and states."""
    from data.pushing import write_pushing

    root = tmp_path_factory.mktemp("datasets") / "pushing"
    write_pushing(root, seed=0, count=40)
    return root


@pytest.fixture(scope="session")
def moving_mnist_dir(tmp_path_factory) -> Path:
    """A small read-only Moving MNIST dataset: 36 train sequences of 20 frames, 4 test."""
    from data.moving_mnist import write_moving_mnist

    root = tmp_path_factory.mktemp("datasets") / "moving-mnist"
    write_moving_mnist(root, seed=0, count=40)
    return root
