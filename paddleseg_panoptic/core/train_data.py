"""Reproducible, resumable training data: seeded sharded batches and per-sample seeding.

Randomness in training comes from three places, each made a pure function of
``(seed, position in training)`` so that a resumed run continues exactly where the first one
stopped, whatever the number of loader workers:

- data order: each epoch is a permutation drawn from ``(seed, epoch)``, identical on every rank,
  then sharded by global batch (:class:`SeededDistributedBatchSampler`);
- augmentation: paddleseg's transforms draw from Python's ``random`` and numpy's global
  generator; both are reseeded from ``(seed, epoch, position)`` right before each sample is
  built (:class:`SeededSampleDataset`), inside whichever process builds it;
- model randomness (dropout): Paddle's generator is reseeded from ``(seed, iteration, rank)``
  before each step (:func:`seed_step`).
"""
import math
import random

import numpy as np
import paddle

from paddleseg_panoptic.utils.sample_guard import CatchSampleErrors, collate

__all__ = ["check_dataset_size", "derive_seed", "seed_everything", "seed_step", "SeededDistributedBatchSampler",
           "SeededSampleDataset", "build_train_loader"]

# Distinct stream tags so that e.g. the seed of epoch 3's order never equals a sample seed.
_ORDER, _SAMPLE, _STEP = 1, 2, 3


def derive_seed(*keys):
    """A 32-bit seed that depends on every integer in ``keys`` (stable across runs)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def seed_everything(seed):
    """Seed Python, numpy and Paddle (model initialisation happens after this)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    paddle.seed(seed)


def seed_step(seed, iteration, rank):
    """Reseed Paddle's generator for the step of ``iteration`` (1-based) on ``rank``."""
    paddle.seed(derive_seed(seed, _STEP, iteration, rank))


def check_dataset_size(num_samples, batch_size, world_size):
    """Raise when ``num_samples`` cannot fill one global batch (an epoch without iterations).

    Raises:
        ValueError: naming the sizes and what to change.
    """
    global_batch = batch_size * world_size
    if num_samples < global_batch:
        raise ValueError(
            "The training dataset has {} samples, fewer than one global batch of {} "
            "(batch_size {} x {} processes): an epoch would have no iteration. Lower "
            "--batch_size or use more data.".format(num_samples, global_batch, batch_size,
                                                    world_size))


class SeededDistributedBatchSampler(paddle.io.DistributedBatchSampler):
    """Shuffled, sharded batches that drop the last incomplete batch; seeded and resumable.

    Like ``paddle.io.DistributedBatchSampler(shuffle=True, drop_last=True)`` (pad the index list
    to a multiple of the world size, every rank takes its ``batch_size`` slice of each global
    batch) but the permutation of epoch ``e`` comes from ``(seed, e)`` rather than ``e`` alone,
    and each element is ``(dataset_index, sample_seed)`` for :class:`SeededSampleDataset`.

    Args:
        dataset (Sized): the training dataset.
        batch_size (int): per process.
        seed (int): the run's seed.
        num_replicas (int, optional): world size (default: from the launch environment).
        rank (int, optional): this process's rank (default: from the launch environment).

    Raises:
        ValueError: when the dataset cannot fill one global batch (zero batches per epoch).
    """

    def __init__(self, dataset, batch_size, seed, num_replicas=None, rank=None):
        super().__init__(dataset, batch_size, num_replicas=num_replicas, rank=rank,
                         shuffle=True, drop_last=True)
        self.seed = int(seed)
        self._skip = 0
        check_dataset_size(len(dataset), self.batch_size, self.nranks)

    def set_position(self, epoch, batches_done):
        """Start the next ``__iter__`` in ``epoch`` after its first ``batches_done`` batches."""
        self.epoch = int(epoch)
        self._skip = int(batches_done)

    def epoch_order(self, epoch):
        """The padded global permutation of epoch ``epoch`` (same on every rank)."""
        n = len(self.dataset)
        order = np.random.RandomState(derive_seed(self.seed, _ORDER, epoch)).permutation(n)
        reps = int(math.ceil(self.total_size / n))
        return np.tile(order, reps)[:self.total_size]

    def __iter__(self):
        epoch, skip = self.epoch, self._skip
        self.epoch, self._skip = epoch + 1, 0
        order = self.epoch_order(epoch)
        global_batch = self.batch_size * self.nranks
        for b in range(skip, len(self)):
            start = b * global_batch + self.local_rank * self.batch_size
            yield [(int(order[pos]), derive_seed(self.seed, _SAMPLE, epoch, pos))
                   for pos in range(start, start + self.batch_size)]


class SeededSampleDataset(paddle.io.Dataset):
    """Wraps a dataset so that item ``(index, sample_seed)`` reseeds ``random`` / ``np.random``
    and then returns ``dataset[index]``.

    Because the seed travels with the index, a sample's augmentation does not depend on which
    loader worker builds it or on what was drawn before it.
    """

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, item):
        index, sample_seed = item
        random.seed(sample_seed)
        np.random.seed(sample_seed)
        return self.dataset[index]


def build_train_loader(dataset, batch_size, seed, num_workers=0, num_replicas=None, rank=None):
    """DataLoader over :class:`SeededSampleDataset` with :class:`SeededDistributedBatchSampler`.

    A sample that cannot be built gives a failure batch (see ``utils/sample_guard.py``) rather
    than an exception inside the loader.

    Returns:
        tuple: ``(loader, batch_sampler)``; call ``batch_sampler.set_position`` before
        iterating the loader to resume inside an epoch.
    """
    sampler = SeededDistributedBatchSampler(dataset, batch_size, seed,
                                            num_replicas=num_replicas, rank=rank)
    loader = paddle.io.DataLoader(
        SeededSampleDataset(CatchSampleErrors(dataset)), batch_sampler=sampler,
        collate_fn=collate, num_workers=num_workers, return_list=True,
        use_shared_memory=num_workers > 0, persistent_workers=False)
    return loader, sampler
