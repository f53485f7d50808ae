"""Seeded, sharded, resumable batches and per-sample seeding of augmentations."""
import random

import numpy as np
import paddle
import pytest

from paddleseg_panoptic.core.train_data import (SeededDistributedBatchSampler,
                                                SeededSampleDataset, build_train_loader,
                                                derive_seed)


class Indices(paddle.io.Dataset):
    """Sample i is (i, a draw from numpy's global RNG, a draw from Python's random)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.array([i, np.random.randint(10 ** 6), random.randint(0, 10 ** 6)],
                              dtype="int64")}


def _epochs(sampler, n_epochs):
    return [[list(batch) for batch in sampler] for _ in range(n_epochs)]


def test_ranks_split_each_global_batch_of_one_shared_permutation():
    data = Indices(10)
    samplers = [SeededDistributedBatchSampler(data, 2, seed=3, num_replicas=2, rank=r)
                for r in range(2)]
    # 10 samples, global batch 4 -> 2 iterations per epoch, the last 2 samples dropped.
    assert [len(s) for s in samplers] == [2, 2]
    epochs = [_epochs(s, 2) for s in samplers]
    for e in range(2):
        order = samplers[0].epoch_order(e)
        assert sorted(order.tolist()) == list(range(10))
        for b in range(2):
            # rank 0 takes positions [4b, 4b + 2), rank 1 [4b + 2, 4b + 4) of the permutation.
            got = [i for r in range(2) for i, _ in epochs[r][e][b]]
            assert got == order[4 * b:4 * b + 4].tolist()
            seeds = [s for r in range(2) for _, s in epochs[r][e][b]]
            assert seeds == [derive_seed(3, 2, e, p) for p in range(4 * b, 4 * b + 4)]
    assert samplers[0].epoch_order(0).tolist() != samplers[0].epoch_order(1).tolist()


def test_seed_changes_order_and_padding_repeats_when_world_does_not_divide():
    a = SeededDistributedBatchSampler(Indices(7), 1, seed=1, num_replicas=2, rank=0)
    b = SeededDistributedBatchSampler(Indices(7), 1, seed=2, num_replicas=2, rank=0)
    assert a.epoch_order(0).tolist() != b.epoch_order(0).tolist()
    # 7 samples over 2 ranks are padded to 8 by repeating the start of the permutation.
    order = a.epoch_order(0)
    assert len(order) == 8 and order[7] == order[0] and len(a) == 4


def test_set_position_resumes_inside_an_epoch():
    full = SeededDistributedBatchSampler(Indices(9), 2, seed=5, num_replicas=1, rank=0)
    straight = _epochs(full, 3)
    resumed = SeededDistributedBatchSampler(Indices(9), 2, seed=5, num_replicas=1, rank=0)
    resumed.set_position(1, 3)
    rest = _epochs(resumed, 2)
    assert rest[0] == straight[1][3:]
    assert rest[1] == straight[2]


@pytest.mark.parametrize("n, batch, world", [(3, 2, 2), (1, 2, 1), (0, 1, 1)])
def test_dataset_smaller_than_global_batch_is_a_clear_error(n, batch, world):
    with pytest.raises(ValueError, match=r"{} samples, fewer than one global batch of {}".format(
            n, batch * world)):
        SeededDistributedBatchSampler(Indices(n), batch, seed=0, num_replicas=world, rank=0)


def test_augmentation_draws_depend_only_on_the_sample_seed():
    data = SeededSampleDataset(Indices(4))
    first = data[(2, 99)]["x"]
    np.random.seed(123)  # whatever happened before must not matter
    random.seed(456)
    again = data[(2, 99)]["x"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, data[(2, 100)]["x"])


def test_loader_output_is_identical_with_and_without_workers():
    outs = []
    for workers in (0, 2):
        loader, sampler = build_train_loader(Indices(6), 2, seed=11, num_workers=workers,
                                             num_replicas=1, rank=0)
        sampler.set_position(0, 1)
        outs.append([batch["x"].numpy().tolist() for batch in loader])
    assert len(outs[0]) == 2 and outs[0] == outs[1]
