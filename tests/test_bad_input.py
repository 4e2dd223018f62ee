"""Bad input through the CLI: one table, one test. Each row is a command, what is wrong with
it, and the fragment of the one-line message it must get (exit status 2, no traceback); after
it, nothing under the case folder or the shared inputs may have been written or changed.

The table is listed in docs/reliability.md; `test_the_doc_lists_every_row` keeps them in step.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from data.writer import ShardWriter
from spec.cross_conv import build_spec, get_preset
from spec.weights import variable_shapes
from tests.test_data_bad_folders import BROKEN, set_field
from tests.test_data_push_tfrecord import BAD as PUSH_BAD
from tests.test_original import RIGHT
from twinport.runs import RunConfig, RunDir

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
TINY = build_spec(get_preset("tiny"))
FIRST = next(iter(variable_shapes(TINY)))
TRAIN = "train --backend tf --preset tiny --steps 2 --batch-size 2 --quiet --data {data}"
PARITY = "parity --preset tiny --batch-size 2 --steps 0 --quiet --data {data} --out {case}/report"
CAPTURE = ("parity capture --backend chainer --preset tiny --batch-size 2 --steps 0 "
           "--parts forward --data {data} -o {case}/c.npz")
ORIGINAL = ("parity original --model tests.test_original:ORIGINAL_PAIR --preset small --quiet "
            "--data {data} --out {case}/report")
PREDICT = "predict --backend chainer --preset tiny --input {frames} -o {case}/y.npy"


@dataclass(frozen=True)
class Row:
    command: str  # argv, space-separated, with {placeholders} (see `shared` and `case`)
    wrong: str  # what is wrong with it
    expect: str  # a fragment of the one-line message, with {placeholders}
    setup: Callable[[Path, dict[str, Path]], None] | None = None  # makes it, in the case folder


# -- how the bad inputs are made ----------------------------------------------------------------

def broken_dataset(change: Callable[[Path], None]) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        shutil.copytree(shared["data"], case / "data")
        change(case / "data")

    return setup


def dataset_of(seq_len: int, size: int, channels: int) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        (case / "data").mkdir()
        shape = (seq_len, size, size, channels)
        writer = ShardWriter(case / "data", shape, "uint8", 1.0)
        for split in ("train", "test"):
            writer.add(split, np.zeros((4, *shape), np.uint8))
        writer.close()

    return setup


def weights_with(change: Callable[[dict], None]) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        with np.load(shared["weights"]) as archive:
            weights = dict(archive)
        change(weights)
        np.savez(case / "w.npz", **weights)

    return setup


def set_first(index: int, value: float) -> Callable[[dict], None]:
    """Changes one element of the first variable."""

    def change(weights: dict) -> None:
        weights[FIRST] = weights[FIRST].copy()
        weights[FIRST].flat[index] = value

    return change


def write_bytes(name: str, content: bytes) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        (case / name).write_bytes(content)

    return setup


def original_code(text: str, name: str = "") -> Callable[[Path, dict], None]:
    """A folder `code` holding `name` (none when "") with `text`."""
    def setup(case: Path, shared: dict) -> None:
        (case / "code").mkdir()
        if name:
            (case / "code" / name).write_text(text)
    return setup


def zip_of_text(case: Path, shared: dict) -> None:
    with zipfile.ZipFile(case / "w.npz", "w") as archive:
        archive.writestr(f"{FIRST}.npy", "not an array")


def npy_weights(case: Path, shared: dict) -> None:
    np.save(case / "w.npz.npy", np.zeros(3, np.float32))


def nan_frame(case: Path, shared: dict) -> None:
    frames = np.zeros((1, 2, 64, 64, 3), np.float32)
    frames[0, 0, 0, 0, 0] = np.nan
    np.save(case / "x.npy", frames)


def small_frames(case: Path, shared: dict) -> None:
    np.save(case / "x.npy", np.zeros((1, 2, 8, 8, 3), np.float32))


def tf_checkpoint_of_another_model(case: Path, shared: dict) -> None:
    import tensorflow as tf

    tf.train.Checkpoint(dense=tf.Variable(tf.zeros([4, 2]))).write(str(case / "other" / "ckpt"))


def existing_folder(name: str) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        (case / name).mkdir()
        (case / name / "keep.txt").write_text("a finished result")

    return setup


def a_file(name: str) -> Callable[[Path, dict], None]:
    return write_bytes(name, b"a file, not a folder")


def run_copy(change: Callable[[Path], None]) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        shutil.copytree(shared["run"], case / "run")
        change(case / "run")

    return setup


def capture_with(**meta) -> Callable[[Path, dict], None]:
    def setup(case: Path, shared: dict) -> None:
        from parity.capture import Capture

        capture = Capture.load(shared["capture"])
        capture.meta.update(meta)
        capture.save(case / "other.npz")

    return setup


# -- the table ----------------------------------------------------------------------------------

# The reference against its original code (tests/test_original.py's TF1-style graph).
ORIGINAL_ROWS = [
    Row("parity original --model convlstm --code {case}", "original: a model without a map",
        "model convlstm has no map to its original code"),
    Row(f"{ORIGINAL} --code {{case}}/nowhere", "original: no such --code folder",
        "{case}/nowhere: no such folder (the original code's folder"),
    Row(f"{ORIGINAL} --code {{case}}/code", "original: a file of the code missing",
        "lacks regressor.py", original_code("")),
    Row(f"{ORIGINAL} --code {{case}}/code", "original: the code raises building its graph",
        "the original code raised building its graph: regressor.py:22: NameError",
        original_code(RIGHT.replace("net = tf.reshape", "net = tfx.r"), "regressor.py")),
    Row(f"{ORIGINAL} --code {{case}}/code", "original: the code reads a flag the map lacks",
        "the original code reads FLAGS.depth", original_code(RIGHT.replace(
            "FLAGS.width", "FLAGS.depth"), "regressor.py")),
    Row(f"{ORIGINAL} --code {{case}}/code", "original: the map names a tensor the code lacks",
        "the original graph has no tensor norm1/normed:0", original_code(RIGHT.replace(
            "name='normed'", "name='out'"), "regressor.py")),
]

DATASET_ROWS = [
    Row(f"{TRAIN} --data {{case}}/data --out {{case}}/run", f"dataset: {name}",
        f"{{case}}/data/{file}: {message}", broken_dataset(change))
    for name, (change, file, message) in BROKEN.items() if name != "sha256 mismatch"
] + [
    Row("data verify {case}/data", "dataset: sha256 mismatch (found by verify)",
        "{case}/data/train_00001.npy: sha256", broken_dataset(BROKEN["sha256 mismatch"][0])),
    Row(f"{TRAIN} --data {{case}}/data --out {{case}}/run", "dataset: no train split",
        "no shards in split 'train'", broken_dataset(set_field("split", "validation", None))),
    Row(f"{TRAIN} --data {{case}}/nowhere --out {{case}}/run", "dataset: folder missing",
        "{case}/nowhere: not a dataset folder"),
]

PUSH_ROWS = [  # tests/test_data_push_tfrecord.py's cases, with {in} made in the case folder
    Row(" ".join(["data from-push-tfrecord {case}/in --out {case}/d", *options]),
        f"push TFRecords: {name}", expect.replace("{in}", "{case}/in"),
        setup and (lambda case, shared, setup=setup: setup(case / "in")))
    for name, (options, setup, expect) in PUSH_BAD.items()
]

ROWS = DATASET_ROWS + [
    # a preset that does not fit the data
    Row(f"{TRAIN} --data {{case}}/data --out {{case}}/run", "preset vs data: 1-channel frames",
        "{case}/data/map.csv: split 'train' does not fit preset tiny: 1 channels",
        dataset_of(2, 64, 1)),
    Row(f"{CAPTURE} --data {{case}}/data --weights {{weights}}", "preset vs data: 4 channels",
        "does not fit preset tiny: 4 channels, the model takes 3", dataset_of(2, 64, 4)),
    Row(f"{PARITY} --data {{case}}/data", "preset vs data: sequences of one frame",
        "does not fit preset tiny: 1 frame per sequence", dataset_of(1, 64, 3)),
    Row(f"{TRAIN} --data {{case}}/data --out {{case}}/run",
        "preset vs data: frames smaller than the smallest pyramid level",
        "frames of 8x8 are smaller than the smallest pyramid level, 16x16", dataset_of(2, 8, 3)),
    Row(f"{PREDICT} --weights {{weights}} --input {{case}}/x.npy",
        "preset vs input: predict frames smaller than the pyramid",
        "{case}/x.npy: frames must be [batch, seq_len >= 2, height >= 16, width >= 16, 3]",
        small_frames),
    # weights
    Row(f"{TRAIN} --out {{case}}/run --init {{case}}/w.npz", "weights: missing key",
        f"{{case}}/w.npz: weights do not fit this model (1 problem): missing {FIRST}",
        weights_with(lambda w: w.pop(FIRST))),
    Row(f"{PREDICT} --weights {{case}}/w.npz", "weights: unexpected key",
        "{case}/w.npz: weights do not fit this model (1 problem): unexpected extra/kernel [3]",
        weights_with(lambda w: w.update({"extra/kernel": np.zeros(3, np.float32)}))),
    Row(f"{CAPTURE} --weights {{case}}/w.npz", "weights: wrong shape",
        f"{FIRST} has shape [2, 2], expected [5, 5, 6, 8]",
        weights_with(lambda w: w.update({FIRST: np.zeros((2, 2), np.float32)}))),
    Row(f"{TRAIN} --backend chainer --out {{case}}/run --init {{case}}/w.npz",
        "weights: wrong dtype", f"{FIRST} has dtype float64, expected float32",
        weights_with(lambda w: w.update({FIRST: w[FIRST].astype(np.float64)}))),
    Row(f"{PREDICT} --weights {{case}}/w.npz", "weights: NaN values",
        f"{{case}}/w.npz: weights do not fit this model (1 problem): {FIRST} has non-finite",
        weights_with(set_first(7, np.nan))),
    Row(f"{TRAIN} --out {{case}}/run --init {{case}}/w.npz", "weights: inf values",
        f"{FIRST} has non-finite values",
        weights_with(set_first(0, -np.inf))),
    Row(f"{TRAIN} --out {{case}}/run --init {{case}}/w.npz", "weights: a text file, not an npz",
        "{case}/w.npz: not a readable .npz file (not a zip archive",
        write_bytes("w.npz", b"weights, honest")),
    Row(f"{CAPTURE} --weights {{case}}/w.npz.npy", "weights: an .npy, not an npz",
        "{case}/w.npz.npy: not a readable .npz file (not a zip archive", npy_weights),
    Row("weights diff {case}/w.npz {weights}", "weights: an empty file",
        "{case}/w.npz: not a readable .npz file", write_bytes("w.npz", b"")),
    Row("weights diff {weights} {case}/w.npz", "weights: a damaged zip",
        "{case}/w.npz: not a readable .npz file (damaged", write_bytes("w.npz", b"PK\x03\x04junk")),
    Row(f"{PREDICT} --weights {{case}}/w.npz", "weights: a zip whose member is not an array",
        f"{{case}}/w.npz: not a readable .npz file (member '{FIRST}' is not an .npy array",
        zip_of_text),
    Row(f"{PREDICT} --weights {{case}}/none.npz", "weights: no such file",
        "{case}/none.npz: no such file"),
    # TF checkpoints
    Row("weights import {case}/other/ckpt --preset tiny -o {case}/w.npz",
        "TF checkpoint of another model", "{case}/other/ckpt: weights do not fit this model",
        tf_checkpoint_of_another_model),
    Row("weights import {case}/ckpt --preset tiny -o {case}/w.npz", "TF checkpoint: garbage",
        "{case}/ckpt: not a readable TensorFlow checkpoint", write_bytes("ckpt", b"garbage")),
    # presets and counts
    Row(f"{TRAIN} --out {{case}}/run --preset huge", "unknown preset (train)",
        "unknown preset 'huge' for model cross_conv (known: paper, tiny)"),
    Row(f"{PARITY} --preset huge", "unknown preset (parity)", "unknown preset 'huge'"),
    Row(f"{PREDICT} --weights {{weights}} --preset huge", "unknown preset (predict)",
        "unknown preset 'huge'"),
    Row("weights init --preset huge -o {case}/w.npz", "unknown preset (weights init)",
        "unknown preset 'huge'"),
    Row(f"{TRAIN} --out {{case}}/run --batch-size 0", "batch size 0 (train)",
        "--batch-size 0: must be at least 1"),
    Row(f"{TRAIN} --out {{case}}/run --batch-size 181", "batch size larger than the split (train)",
        "--batch-size 181: must be between 1 and the 180 sequences of {data} (train)"),
    Row(f"{PARITY} --batch-size 0", "batch size 0 (parity)", "--batch-size 0: must be at least 1"),
    Row(f"{PARITY} --repeat 0", "no runs to repeat (parity)", "--repeat 0: must be at least 1"),
    Row(f"{PARITY} --seeds 0", "no seeds (parity)", "--seeds 0: must be at least 1"),
    Row(f"{CAPTURE} --weights {{weights}} --batch-size 500",
        "batch size larger than the split (capture)", "--batch-size 500: must be between 1 and"),
    Row("eval --run {run} --data {data} --batch-size 21",
        "batch size larger than the split (eval, test split)",
        "--batch-size 21: must be between 1 and the 20 sequences of {data} (test)"),
    Row(f"{TRAIN} --out {{case}}/run --steps -5", "negative steps (train)",
        "--steps -5: must be at least 1"),
    Row(f"{PARITY} --steps -1", "negative steps (parity)", "--steps -1: must not be negative"),
    Row(f"{CAPTURE} --weights {{weights}} --steps -2", "negative steps (capture)",
        "--steps -2: must not be negative"),
    Row(f"{TRAIN} --out {{case}}/run --checkpoint-every 0", "checkpoint interval 0",
        "--checkpoint-every 0: must be at least 1"),
    Row(f"{TRAIN} --out {{case}}/run --check-every -1", "finite-check interval -1",
        "--check-every -1: must be at least 1"),
    # output folders
    Row(f"{TRAIN} --out {{case}}/run", "train: output folder exists",
        "{case}/run: output folder exists and is not empty (use --resume", existing_folder("run")),
    Row("data moving-objects --count 4 --out {case}/d", "data: output folder exists",
        "{case}/d: output folder exists and is not empty (use --overwrite)",
        existing_folder("d")),
    Row("report {run} -o {case}/f/report", "report: a file where the folder should be",
        "{case}/f/report: cannot write ({case}/f is a file, not a folder)", a_file("f")),
    Row(f"{PREDICT} --weights {{weights}} -o {{case}}/f/y.npy",
        "predict: a file where the folder should be", "{case}/f/y.npy: cannot write",
        a_file("f")),
    Row(f"{TRAIN} --out {{case}}/f", "train: --out is a file",
        "{case}/f: a file, not a run folder", a_file("f")),
    Row(f"{TRAIN} --out {{case}}/f --resume", "resume: --out is a file",
        "{case}/f: a file, not a run folder", a_file("f")),
    # runs
    Row(f"{TRAIN} --out {{case}}/run --resume", "resume: no run there",
        "{case}/run: not a training run (no config.json)"),
    Row("eval --run {case}/run --data {data}", "eval: checkpoint pointer to nothing",
        "{case}/run/checkpoints/step-00000099: damaged checkpoint",
        run_copy(lambda run: (run / "checkpoints" / "latest").write_text("step-00000099\n"))),
    Row("weights export --backend tf {case}/run -o {case}/w.npz",
        "export: damaged checkpoint weights", "{case}/run/checkpoints/step-00000003/weights.npz",
        run_copy(lambda run: (run / "checkpoints" / "step-00000003" / "weights.npz")
                 .write_bytes(b"PK\x05\x06"))),
    Row("report {case}/run -o {case}/report", "report: malformed loss.csv",
        "{case}/run/loss.csv: malformed loss.csv, line 2",
        run_copy(lambda run: (run / "loss.csv").write_text("step,loss,l2,kl\n0,x,1,1\n"))),
    # inputs of predict and sample
    Row(f"{PREDICT} --weights {{weights}} --input {{case}}/x.npy", "predict: NaN in the frames",
        "{case}/x.npy: frames must be finite and in [0, 1]", nan_frame),
    Row(f"{PREDICT} --weights {{weights}} --input {{case}}/x.npy", "predict: not an .npy",
        "{case}/x.npy: not a readable .npy file (no .npy header", write_bytes("x.npy", b"1,2")),
    Row("sample --run {run} --frame {case}/f.npy -o {case}/s.png", "sample: damaged .npy frame",
        "{case}/f.npy: not a readable .npy file (damaged",
        write_bytes("f.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")),
    # parity compare
    Row("parity compare {capture} {case}/other.npz --out {case}/report",
        "compare: captures of different presets", "differ in preset (tiny vs paper)",
        capture_with(preset="paper")),
    Row("parity compare {capture} {other_inputs} --out {case}/report",
        "compare: captures of different inputs", "differ in inputs_digest"),
    Row("parity compare {capture} {other_weights} --out {case}/report",
        "compare: captures of different weights", "differ in weights_digest"),
    Row("parity compare {capture} {weights} --out {case}/report",
        "compare: a weights file, not a capture", "{weights}: not a twinport capture"),
    # ports
    Row(f"{PARITY} --port no_such_module:factory", "--port: a missing module",
        "--port no_such_module:factory: cannot import no_such_module"),
    Row(f"{PARITY} --port tests.one_layer_port:not_a_port",
        "--port: an object without the port interface",
        "--port tests.one_layer_port:not_a_port: the object lacks the port interface"),
    Row(f"{PARITY} --port os:getcwd", "--port: a factory that fails",
        "--port os:getcwd: getcwd('tiny', seed=0, device='cpu') failed (TypeError"),
    Row(f"{CAPTURE} --weights {{weights}} --port chainer_port", "--port: not MODULE:FACTORY",
        "expected MODULE:FACTORY"),
    Row(f"{PARITY} --model nope", "unknown model (parity)",
        "unknown model 'nope' (known: cross_conv"),
    Row("spec --model nope", "unknown model (spec)", "unknown model 'nope'"),
    Row(f"{PARITY} --model tests.outside_pair:MISSING", "--model: no such pair in the module",
        "cannot load tests.outside_pair:MISSING"),
    Row(f"{PARITY} --model tests.outside_pair:build", "--model: not a TwinPair",
        "tests.outside_pair:build is not a spec.pair.TwinPair"),
] + PUSH_ROWS + ORIGINAL_ROWS + [
    Row(f"{PARITY} --model tests.bad_pairs:UNKNOWN_OPTIMIZER", "--model: an unknown optimizer",
        "--model tests.bad_pairs:UNKNOWN_OPTIMIZER: bad_pairs.py:11: optimizer 'adagrad': known "
        "kinds are sgd, adam, rmsprop, momentum"),
    Row(f"{PARITY} --model tests.bad_pairs:UNKNOWN_SETTING",
        "--model: an optimizer setting its kind lacks",
        "bad_pairs.py:15: optimizer rmsprop: unknown setting(s) beta1 (known: decay, momentum, "
        "epsilon, centered)"),
    Row(f"{TRAIN} --split train[:0] --out {{case}}/run", "train: a split of no sequences",
        "split 'train[:0]': write NAME[:N] with N at least 1"),
    Row("sample --run {run} -o {case}/s.png", "sample: a cross_conv run without --frame",
        "--frame: required for a cross_conv run"),
    Row(f"{PARITY} --sample-pixels -1", "parity: a negative pixel count",
        "--sample-pixels -1: must not be negative"),
]


# -- shared inputs and the test -----------------------------------------------------------------

@pytest.fixture(scope="module")
def shared(tmp_path_factory, moving_objects_dir) -> dict[str, Path]:
    """Read-only inputs every row may use: data, weights, a run, frames and three captures."""
    from data.moving_objects import write_moving_objects
    from twinport.backends import create_model
    from twinport.cli import main

    root = tmp_path_factory.mktemp("shared")
    paths = {"data": moving_objects_dir, "weights": root / "w.npz", "frames": root / "x.npy",
             "run": root / "run", "capture": root / "c.npz",
             "other_weights": root / "c_weights.npz", "other_inputs": root / "c_inputs.npz"}
    create_model("chainer", "tiny", seed=0).save(paths["weights"])
    create_model("chainer", "tiny", seed=1).save(root / "w1.npz")
    np.save(paths["frames"], np.zeros((1, 2, 64, 64, 3), np.float32))
    run = RunDir(paths["run"])
    run.write_config(RunConfig("chainer", "tiny", str(moving_objects_dir), 3, 2, 0, 3))
    run.start_loss_log(keep_before_step=0, columns=("step", "loss", "l2", "kl", "lr", "seconds"))
    run.append_loss({"step": 0, "loss": 1, "l2": 1, "kl": 0, "lr": 0.8, "seconds": 0})
    z_dim = get_preset("tiny").z_dim
    run.save_checkpoint(3, lambda path: shutil.copy(paths["weights"], path),
                        {"z_mean": np.zeros(z_dim), "z_stddev_log": np.zeros(z_dim)}, 3)
    write_moving_objects(root / "data2", seed=1, count=40)
    capture = ["parity", "capture", "--backend", "chainer", "--preset", "tiny",
               "--batch-size", "2", "--steps", "0", "--parts", "forward"]
    for out, data, weights in ((paths["capture"], moving_objects_dir, paths["weights"]),
                               (paths["other_inputs"], root / "data2", paths["weights"]),
                               (paths["other_weights"], moving_objects_dir, root / "w1.npz")):
        assert main([*capture, "--data", str(data), "--weights", str(weights),
                     "-o", str(out)]) == 0
    return paths


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under `roots`, path -> sha256 (hidden temporaries included)."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for root in roots for path in sorted(Path(root).rglob("*")) if path.is_file()}


def argv(row: Row, case: Path, shared: dict[str, Path]) -> list[str]:
    return [word.format(case=case, **shared) for word in row.command.split()]


@pytest.mark.parametrize("row", ROWS, ids=[row.wrong for row in ROWS])
def test_bad_input_is_one_line_and_writes_nothing(cli, shared, tmp_path, row):
    case = tmp_path / "case"
    case.mkdir()
    if row.setup:
        row.setup(case, shared)
    before = snapshot(case, shared["run"], shared["data"])
    status, out, err = cli(*argv(row, case, shared))
    assert status == 2, (status, out, err)
    assert out == "" and err.startswith("twinport: error: ") and err.count("\n") == 1, err
    assert row.expect.format(case=case, **shared) in err, err
    assert snapshot(case, shared["run"], shared["data"]) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["case"]


def test_debug_shows_the_traceback(cli, shared, tmp_path):
    row = next(row for row in ROWS if row.wrong == "unknown preset (train)")
    status, _, err = cli("--debug", *argv(row, tmp_path, shared))
    assert status == 2
    assert "Traceback (most recent call last)" in err and "UserError" in err
    assert err.rstrip().splitlines()[-1].startswith("twinport: error: ")


def test_the_doc_lists_every_row():
    doc = DOC.read_text()
    assert f"**{len(ROWS)} rows**" in doc
    for row in ROWS:
        assert f"| {row.wrong} |" in doc, row.wrong
