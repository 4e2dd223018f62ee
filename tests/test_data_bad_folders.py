"""A broken dataset folder: one line naming the file, exit status 2, nothing written."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import UserError
from data import Dataset

SHARD = "train_00001.npy"


def rewrite_map(root: Path, change) -> None:
    with open(root / "map.csv", newline="") as f:
        records = list(csv.DictReader(f))
    records = [change(dict(record)) for record in records]
    with open(root / "map.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def set_field(name: str, value: str, shard: str | None = SHARD):
    """Sets the field in the row of `shard`, or of every shard when `shard` is None."""

    def change(root: Path) -> None:
        rewrite_map(root, lambda r: {**r, name: value} if shard in (None, r["img_np_path"])
                    else r)

    return change


def drop_column(name: str):
    def change(root: Path) -> None:
        rewrite_map(root, lambda r: {k: v for k, v in r.items() if k != name})

    return change


def header_only(root: Path) -> None:
    header = (root / "map.csv").read_text().splitlines()[0]
    (root / "map.csv").write_text(header + "\n")


def truncate(size: int):
    def change(root: Path) -> None:
        with open(root / SHARD, "r+b") as f:
            f.truncate(size)

    return change


def overwrite(offset: int, data: bytes):
    def change(root: Path) -> None:
        with open(root / SHARD, "r+b") as f:
            f.seek(offset)
            f.write(data)

    return change


# name: (how to break a copy of the dataset, the file the message names, what it says)
BROKEN = {
    "missing map.csv": (lambda root: (root / "map.csv").unlink(), "map.csv", "missing"),
    "empty map.csv": (lambda root: (root / "map.csv").write_text(""), "map.csv", "empty file"),
    "map.csv without rows": (header_only, "map.csv", "no shards listed"),
    "missing column": (drop_column("sha256"), "map.csv", "missing column(s) sha256"),
    "unparsable value": (set_field("height", "sixty-four"), "map.csv", "line 3"),
    "missing shard": (lambda root: (root / SHARD).unlink(), SHARD, "missing shard"),
    "truncated data": (truncate(100_000), SHARD, "truncated"),
    "truncated header": (truncate(40), SHARD, "not a valid .npy file"),
    "corrupt npy": (overwrite(0, b"GARBAGE!"), SHARD, "not a valid .npy file"),
    "shape disagrees": (set_field("num_sequences", "65"), SHARD,
                        "shape (64, 2, 64, 64, 3) but map.csv says (65, 2, 64, 64, 3)"),
    "dtype disagrees": (set_field("dtype", "float32", shard=None), "train_00000.npy",
                        "dtype uint8 but map.csv says float32"),
    "split of mixed shards": (set_field("norm_scale", "255.0"), "map.csv",
                              "shards of split 'train' disagree"),
    "sha256 mismatch": (overwrite(5000, b"\x07"), SHARD, "does not match map.csv"),
}
# The loader reads only headers; a changed byte is found by `verify`'s sha256.
LOADER_BROKEN = [name for name in BROKEN if name != "sha256 mismatch"]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def broken(request, tmp_path, moving_objects_dir) -> tuple[Path, str, str]:
    root = tmp_path / "dataset"
    shutil.copytree(moving_objects_dir, root)
    change, name, message = BROKEN[request.param]
    change(root)
    return root, str(root / name), message


def assert_refused(result: tuple[int, str, str], names: str, message: str) -> None:
    status, out, err = result
    assert status == 2 and out == ""
    assert err.startswith("twinport: error: ") and err.count("\n") == 1, err
    assert names in err and message in err, err


@pytest.mark.parametrize("broken", list(BROKEN), indirect=True)
def test_verify_refuses(cli, broken):
    root, names, message = broken
    before = snapshot(root)
    assert_refused(cli("data", "verify", root), names, message)
    assert snapshot(root) == before


@pytest.mark.parametrize("broken", LOADER_BROKEN, indirect=True)
def test_preview_refuses_and_writes_nothing(cli, broken, tmp_path):
    root, names, message = broken
    before = snapshot(root)
    assert_refused(cli("data", "preview", root, "--split", "train", "-o", tmp_path / "p.png"),
                   names, message)
    assert snapshot(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


@pytest.mark.parametrize("broken", LOADER_BROKEN, indirect=True)
def test_dataset_raises_user_error(broken):
    root, names, message = broken
    with pytest.raises(UserError) as error:
        Dataset(root, "train")
    assert names in str(error.value) and message in str(error.value)


def test_empty_split_is_refused(cli, moving_objects_dir, tmp_path):
    assert_refused(cli("data", "preview", moving_objects_dir, "--split", "validation",
                       "-o", tmp_path / "p.png"),
                   str(moving_objects_dir / "map.csv"),
                   "no shards in split 'validation' (splits: 'test', 'train')")
    assert not list(tmp_path.iterdir())


def test_missing_folder_is_refused(cli, tmp_path):
    assert_refused(cli("data", "verify", tmp_path / "nowhere"), str(tmp_path / "nowhere"),
                   "not a dataset folder")


def test_existing_dataset_is_kept_without_overwrite(cli, moving_objects_dir, tmp_path):
    root = tmp_path / "dataset"
    shutil.copytree(moving_objects_dir, root)
    before = snapshot(root)
    assert_refused(cli("data", "moving-objects", "--out", root, "--count", "10"), str(root),
                   "output folder exists and is not empty (use --overwrite)")
    assert snapshot(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    status, _, _ = cli("data", "moving-objects", "--out", root, "--count", "10", "--overwrite")
    assert status == 0 and len(Dataset(root, "train")) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    from data.moving_objects import write_moving_objects

    root = tmp_path_factory.mktemp("tiny") / "d"
    write_moving_objects(root, count=12)
    return root


@settings(max_examples=60, deadline=None)
@given(target=st.sampled_from(["map.csv", "train_00000.npy"]), offset=st.integers(0, 300),
       junk=st.binary(min_size=1, max_size=8), cut=st.booleans())
def test_any_damage_gives_a_working_dataset_or_a_user_error(tiny_dataset, tmp_path_factory,
                                                            target, offset, junk, cut):
    root = tmp_path_factory.mktemp("damaged") / "d"
    shutil.copytree(tiny_dataset, root)
    with open(root / target, "r+b") as f:
        f.seek(offset)
        if cut:
            f.truncate()
        else:
            f.write(junk)
    try:
        dataset = Dataset(root, "train")
    except UserError:
        return
    assert dataset.get(range(len(dataset))).dtype == "float32"
