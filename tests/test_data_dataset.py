"""`data.Dataset`: memory-mapped shards, float32 batches, one order per seed, resumable."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import UserError
from data import Dataset


@pytest.fixture(scope="module")
def train(moving_objects_dir) -> Dataset:
    return Dataset(moving_objects_dir, "train")


def raw_train(root) -> np.ndarray:
    return np.concatenate([np.load(root / f"train_0000{k}.npy") for k in range(3)])


def test_properties(train):
    assert len(train) == 180
    assert train.frame_shape == (64, 64, 3)
    assert train.seq_len == 2
    assert train.norm_scale == 1.0
    assert "180 sequences" in repr(train)


def test_get_gathers_across_shards_in_the_order_asked(train, moving_objects_dir):
    raw = raw_train(moving_objects_dir)
    indices = [179, 0, 64, 63, 130, 0, 65]  # unsorted, repeated, on all three shards
    batch = train.get(indices)
    assert batch.dtype == np.float32 and batch.shape == (7, 2, 64, 64, 3)
    np.testing.assert_array_equal(batch, raw[indices].astype(np.float32))
    assert batch.min() == 0.0 and batch.max() == 1.0
    with pytest.raises(IndexError):
        train.get([180])


def test_batches_follow_one_permutation_per_epoch(train):
    batches = list(train.batches(32, seed=4, epochs=2))
    assert len(batches) == 2 * (180 // 32)  # the last incomplete batch is dropped
    for epoch in range(2):
        order = train.permutation(4, epoch)
        assert sorted(order) == list(range(180))
        for position in range(5):
            expected = train.get(order[position * 32 : (position + 1) * 32])
            np.testing.assert_array_equal(batches[epoch * 5 + position], expected)
    assert not np.array_equal(train.permutation(4, 0), train.permutation(4, 1))


def test_same_seed_same_stream_other_seed_other_stream(train):
    first = list(train.batches(16, seed=1, epochs=1))
    again = list(train.batches(16, seed=1, epochs=1))
    other = list(train.batches(16, seed=2, epochs=1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@settings(max_examples=12, deadline=None)
@given(batch_size=st.integers(8, 180), data=st.data())
def test_resuming_at_step_k_gives_the_kth_batch_onwards(train, batch_size, data):
    per_epoch = 180 // batch_size
    start = data.draw(st.integers(0, 3 * per_epoch - 1))
    fresh = itertools.islice(train.batches(batch_size, seed=9), start, start + 3)
    resumed = itertools.islice(train.batches(batch_size, seed=9, start_step=start), 3)
    for a, b in zip(fresh, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    # The documented form: the first batch of a resumed, finite stream.
    first = list(train.batches(batch_size, seed=9, epochs=3, start_step=start))[0]
    expected = next(itertools.islice(train.batches(batch_size, seed=9), start, None))
    np.testing.assert_array_equal(first, expected)


def test_endless_by_default_and_finite_with_epochs(train):
    assert len(list(itertools.islice(train.batches(60, seed=0), 20))) == 20
    assert len(list(train.batches(60, seed=0, epochs=3, start_step=7))) == 2
    assert list(train.batches(60, seed=0, epochs=1, start_step=3)) == []


@pytest.mark.parametrize("batch_size", [0, 181])
def test_batch_size_must_fit_the_split(train, batch_size):
    with pytest.raises(UserError, match="batch size"):
        train.batches(batch_size, seed=0)
