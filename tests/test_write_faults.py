"""Disk full and read-only folders: a one-line error naming the path, the previous checkpoint,
report or dataset intact, no temporary left behind.

Real faults need a tiny tmpfs (root, `mount`) or, for read-only, a non-root user (chmod);
the checkpoint case also runs everywhere with an injected ENOSPC.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from spec.cross_conv import build_spec, get_preset
from spec.weights import load_weights

TINY = build_spec(get_preset("tiny"))
NO_SPACE = os.strerror(errno.ENOSPC)


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Callable[[str], Path]]:
    """mount(size) -> a fresh tmpfs of that size (skips the test where mounting is denied)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                 str(point)], capture_output=True)
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def fill(folder: Path) -> str:
    """Use up every free byte of the file system of `folder`; the error writes will get."""
    stats = os.statvfs(folder)
    with open(folder / "ballast", "wb") as handle:
        handle.write(b"\0" * stats.f_bavail * stats.f_frsize)
    return NO_SPACE


def make_read_only(folder: Path) -> str:
    """Make `folder` unwritable; the error writes will get."""
    if os.geteuid() == 0:  # root ignores permissions: remount the tmpfs read-only
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        return os.strerror(errno.EROFS)
    folder.chmod(0o555)
    return os.strerror(errno.EACCES)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def train(cli, data: Path, out: Path, *extra: str):
    return cli("train", "--backend", "tf", "--data", data, "--preset", "tiny", "--steps", "6",
               "--batch-size", "2", "--checkpoint-every", "3", "--out", out, "--quiet", *extra)


def assert_kept_step_3(run: Path, err: str) -> None:
    assert err.count("\n") == 1, err
    assert (f"{run}/checkpoints/step-00000006: cannot write ({NO_SPACE}; the run continues "
            f"from {run}/checkpoints/step-00000003)") in err
    assert sorted(os.listdir(run / "checkpoints")) == ["latest", "step-00000003"]
    kept = load_weights(run / "checkpoints" / "step-00000003" / "weights.npz", TINY)
    assert all(np.isfinite(value).all() for value in kept.values())


def test_disk_full_at_a_checkpoint_keeps_the_previous_one(cli, moving_objects_dir, tmp_path,
                                                         monkeypatch):
    """Injected: the second checkpoint's z statistics meet a full disk."""
    savez = np.savez

    def no_space_for_step_6(file, *args, **kwargs):
        if ".step-00000006." in str(file):
            raise OSError(errno.ENOSPC, NO_SPACE)  # as write() raises it: no file name
        savez(file, *args, **kwargs)

    monkeypatch.setattr(np, "savez", no_space_for_step_6)
    run = tmp_path / "run"
    status, _, err = train(cli, moving_objects_dir, run)
    assert status == 2
    assert_kept_step_3(run, err)
    monkeypatch.setattr(np, "savez", savez)
    status, _, err = train(cli, moving_objects_dir, run, "--resume")
    assert status == 0, err
    assert (run / "checkpoints" / "latest").read_text() == "step-00000006\n"


# numpy's savez leaves its ZipFile open when a write fails; its __del__ then complains.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_real_full_disk_at_a_checkpoint_keeps_the_previous_one(cli, moving_objects_dir,
                                                                tmpfs):
    """A tmpfs with room for one checkpoint (weights.npz is 185 kB) but not two."""
    run = tmpfs("320k") / "run"
    status, _, err = train(cli, moving_objects_dir, run)
    assert status == 2
    assert_kept_step_3(run, err)


WRITERS = {
    "report": lambda out: ("report", "{run}", "-o", out),
    "dataset": lambda out: ("data", "moving-objects", "--count", "6", "--overwrite", "--out",
                            out),
}


@pytest.mark.parametrize("fault", ["full", "read-only"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_failed_rewrite_keeps_the_previous_result(cli, tmpfs, tmp_path, writer, fault):
    from twinport.runs import RunDir

    # A full disk needs a tmpfs; read-only needs one for root only (chmod stops the others).
    fs = tmpfs("2m") if fault == "full" or os.geteuid() == 0 else tmp_path / "fs"
    fs.mkdir(exist_ok=True)
    (tmp_path / "run").mkdir()
    RunDir(tmp_path / "run").loss_csv.write_text("step,loss,l2,kl,lr\n0,1,1,0,0.8\n")
    argv = [str(arg).format(run=tmp_path / "run") for arg in WRITERS[writer](fs / "out")]
    status, _, err = cli(*argv)
    assert status == 0, err
    before = snapshot(fs / "out")
    reason = fill(fs) if fault == "full" else make_read_only(fs)
    status, out, err = cli(*argv)
    assert status == 2 and err.count("\n") == 1, err
    assert f"twinport: error: {fs / 'out'}: cannot write ({reason}" in err
    assert snapshot(fs / "out") == before
    assert sorted(os.listdir(fs)) == (["ballast", "out"] if fault == "full" else ["out"])


def test_written_files_and_folders_get_the_umask_modes(tmp_path):
    """Not mkstemp's 0600 / mkdtemp's 0700: a result others on the machine cannot read."""
    from common.atomic import atomic_dir, atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "file.txt") as tmp:
            tmp.write_text("x")
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "inside.txt").write_text("y")
    finally:
        os.umask(old)
    assert (tmp_path / "file.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
