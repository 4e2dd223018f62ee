"""`twinport data from-kth-frames`: KTH frames as google/e3d_lstm's kth_action.py reads them,
on a small tree of frames the test writes; its sequences against the code's own walk over
every frame of a split, written out here as the code has it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from data import Dataset
from data.kth import linear_resize

VIDEOS = {  # folder -> frame numbers (a gap at 5 in the jogging video)
    "boxing/person01_boxing_d1_uncomp": range(1, 8),
    "boxing/person02_boxing_d2_uncomp": range(1, 5),
    "jogging/person01_jogging_d1_uncomp": [1, 2, 3, 4, 6, 7, 8, 9, 10],
    "running/person17_running_d3_uncomp": range(1, 9),
    "walking/person30_walking_d1_uncomp": range(1, 9),  # no split lists person 30
}


@pytest.fixture
def kth_tree(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "kth"
    for video, numbers in VIDEOS.items():
        folder = root / video
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("skipped: not an image_ file")
        for n in numbers:
            pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"image_{n:04d}.png")
    return root


def code_load_data(root, persons, seq_len, width):
    """kth_action.DataProcess.load_data, its loop written out (sorted listings)."""
    frames, names, marks, categories, mark = [], [], [], [], 0
    for c_dir in ("boxing", "handclapping", "handwaving", "walking", "jogging", "running"):
        flag = 1 if c_dir in ("boxing", "handclapping", "handwaving", "walking") else 2
        if not (root / c_dir).is_dir():
            continue
        for p_c_dir in sorted(p.name for p in (root / c_dir).iterdir()):
            if p_c_dir[6:8] not in persons:
                continue
            mark += 1
            for cur_file in sorted(p.name for p in (root / c_dir / p_c_dir).iterdir()):
                if not cur_file.startswith("image"):
                    continue
                frames.append(np.array(Image.open(root / c_dir / p_c_dir / cur_file))[:, :, 0])
                names.append(cur_file)
                marks.append(mark)
                categories.append(flag)
    indices, index = [], len(marks) - 1
    while index >= seq_len - 1:
        if marks[index] == marks[index - seq_len + 1]:
            end, start = int(names[index][6:10]), int(names[index - seq_len + 1][6:10])
            if end - start == seq_len - 1:
                indices.append(index - seq_len + 1)
                index -= seq_len - 1 if categories[index] == 1 else 2
        index -= 1
    data = np.stack([linear_resize(np.float32(f), width) / 255 for f in frames])[..., None]
    return np.stack([data[i:i + seq_len] for i in indices])


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_the_sequences_are_the_codes(cli, kth_tree, tmp_path, dtype):
    out = tmp_path / "out"
    status, stdout, err = cli("data", "from-kth-frames", kth_tree, "--out", out, "--width", "4",
                              "--seq-len", "3", "--dtype", dtype)
    assert status == 0, err
    train = code_load_data(kth_tree, [f"{p:02d}" for p in range(1, 17)], 3, 4)
    test = code_load_data(kth_tree, [f"{p:02d}" for p in range(17, 26)], 3, 4)
    # boxing: 7 frames -> 2 non-overlapping, 4 -> 1; jogging: a sequence every 3 frames where
    # the numbers run on, none across the gap (2); running (person 17, 8 frames): 2, test
    assert (len(train), len(test)) == (5, 2)
    for split, want in (("train", train), ("test", test)):
        found = Dataset(out, split).get(list(range(len(want))))
        atol = 0.5 / 255 + 1e-6 if dtype == "uint8" else 0
        np.testing.assert_allclose(found, want, atol=atol, rtol=0)


def test_linear_resize_is_cv2s_half_pixel_bilinear():
    frame = np.arange(64, dtype=np.float32).reshape(8, 8) ** 1.5
    # halving: each output pixel the mean of a 2x2 block
    np.testing.assert_allclose(linear_resize(frame, 4),
                               frame.reshape(4, 2, 4, 2).mean(axis=(1, 3)), rtol=1e-6)
    np.testing.assert_array_equal(linear_resize(frame, 8), frame)
    up = linear_resize(np.array([[0, 2], [4, 6]], np.float32), 4)
    np.testing.assert_allclose(up[0], [0, 0.5, 1.5, 2])  # clamped at the edges
    np.testing.assert_allclose(up[:, 0], [0, 1, 3, 4])


@pytest.mark.parametrize("case, message", [
    ("missing", "not a folder"),
    ("empty", "no KTH video folders"),
    ("broken", "cannot read image"),
    ("short", "no video has 30 consecutive frames"),
])
def test_bad_input_is_one_line(cli, kth_tree, tmp_path, case, message):
    source = {"missing": tmp_path / "nowhere", "empty": tmp_path, "broken": kth_tree,
              "short": kth_tree}[case]
    if case == "empty":
        (tmp_path / "boxing").mkdir()
    if case == "broken":
        (kth_tree / "boxing/person01_boxing_d1_uncomp/image_0008.png").write_bytes(b"nope")
    args = ["--width", "4", "--seq-len", "30" if case == "short" else "3"]
    status, out, err = cli("data", "from-kth-frames", source, "--out", tmp_path / "o", *args)
    assert status == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
