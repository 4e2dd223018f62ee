"""Fuzzing the readers of files from elsewhere: any bytes give a loaded object or a UserError.

map.csv (`data.schema.read_map`, and `Dataset` with real shards behind it) and the .npz/.npy
loaders (interchange weights, `weights diff`, captures, checkpoint statistics, predict's
input). Example counts are in docs/reliability.md.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.arrays import NPY_MAGIC, read_npy, read_npz
from common.errors import UserError
from data import Dataset
from data.schema import COLUMNS, read_map
from parity.capture import Capture
from spec.cross_conv import build_spec, get_preset
from spec.weights import load_weights

EXAMPLES = 200
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
TINY = build_spec(get_preset("tiny"))

LOADERS: dict[str, Callable[[Path], object]] = {
    "load_weights": lambda path: load_weights(path, TINY),
    "read_npz": lambda path: read_npz(path, "weights"),
    "Capture.load": Capture.load,
    "read_npy": lambda path: read_npy(path, "frames"),
}

# Bytes that reach past the first check: a zip's or an .npy's magic, then anything.
ANY_BYTES = st.one_of(
    st.binary(max_size=3000),
    st.binary(max_size=3000).map(lambda tail: b"PK\x03\x04" + tail),
    st.binary(max_size=3000).map(lambda tail: b"PK\x05\x06" + tail),
    st.binary(max_size=300).map(lambda tail: NPY_MAGIC + tail),
)


def loads_or_refuses(load: Callable[[], object]) -> None:
    """`load()` returns, or raises a one-line UserError; any other exception fails the test."""
    try:
        load()
    except UserError as error:
        assert "\n" not in str(error)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    from data.moving_objects import write_moving_objects

    root = tmp_path_factory.mktemp("fuzz") / "d"
    write_moving_objects(root, count=12)
    return root


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory, tiny_dataset) -> dict[str, bytes]:
    """The bytes of a real weights file, capture and frames .npy, to damage."""
    from twinport.backends import create_model
    from twinport.cli import main

    root = tmp_path_factory.mktemp("valid")
    create_model("chainer", "tiny").save(root / "w.npz")
    np.save(root / "x.npy", np.zeros((1, 2, 16, 16, 3), np.float32))
    assert main(["parity", "capture", "--backend", "chainer", "--preset", "tiny", "--data",
                 str(tiny_dataset), "--batch-size", "2", "--steps", "0", "--parts", "forward",
                 "--weights", str(root / "w.npz"), "-o", str(root / "c.npz")]) == 0
    return {name: (root / name).read_bytes() for name in ("w.npz", "c.npz", "x.npy")}


@FUZZ
@given(content=st.binary(max_size=2000))
def test_map_csv_any_bytes(tmp_path, content):
    (tmp_path / "map.csv").write_bytes(content)
    loads_or_refuses(lambda: read_map(tmp_path))


@FUZZ
@given(line=st.integers(0, 2), column=st.sampled_from(COLUMNS), value=st.text(max_size=30))
def test_map_csv_any_field_value(tiny_dataset, tmp_path, line, column, value):
    """One field of a real map.csv set to any text, the real shards behind it."""
    root = tmp_path / "d"
    if not root.exists():
        shutil.copytree(tiny_dataset, root)
    with open(tiny_dataset / "map.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    records[min(line, len(records) - 1)][column] = value
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS)
    writer.writeheader()
    writer.writerows(records)
    (root / "map.csv").write_text(text.getvalue())

    def load() -> None:
        dataset = Dataset(root, "train")
        assert dataset.get(range(len(dataset))).dtype == np.float32

    loads_or_refuses(load)


@FUZZ
@given(content=ANY_BYTES, loader=st.sampled_from(sorted(LOADERS)))
def test_loaders_any_bytes(tmp_path, content, loader):
    (tmp_path / "f").write_bytes(content)
    loads_or_refuses(lambda: LOADERS[loader](tmp_path / "f"))


@FUZZ
@given(data=st.data(), name=st.sampled_from(["w.npz", "c.npz", "x.npy"]),
       loader=st.sampled_from(sorted(LOADERS)), cut=st.booleans(),
       junk=st.binary(min_size=1, max_size=16))
def test_loaders_damaged_files(valid_files, tmp_path, data, name, loader, cut, junk):
    """A real file with bytes overwritten, or cut short, at any offset."""
    content = valid_files[name]
    offset = data.draw(st.integers(0, len(content) - 1), label="offset")
    damaged = content[:offset] if cut else content[:offset] + junk + content[offset + len(junk):]
    (tmp_path / "f").write_bytes(damaged)
    loads_or_refuses(lambda: LOADERS[loader](tmp_path / "f"))
