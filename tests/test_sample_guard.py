"""A sample that raises inside Paddle's DataLoader reaches the loop as a failure batch, for the
loader thread (num_workers 0) and worker processes alike (real DataLoader, tiny datasets)."""
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.core.train_data import build_train_loader
from paddleseg_panoptic.utils.sample_guard import (CatchSampleErrors, collate, describe_failure,
                                                   sample_failure)


class Numbers(paddle.io.Dataset):
    """Sample i is ``{'x': [i]}``; sample ``bad`` raises like a corrupt file would."""

    def __init__(self, n, bad):
        super().__init__()
        self.n, self.bad = n, bad
        self.records = [{"image_path": "img_{}.png".format(i), "label_path": "lab_{}.png".format(i)}
                        for i in range(n)]

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if index == self.bad:
            raise OSError("cannot decode image file img_{}.png (corrupt)".format(index))
        return {"x": np.array([index], dtype=np.int64)}


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_failure_batch_arrives_for_every_worker_count(workers):
    # Without the guard, num_workers=0 waits forever for the batch of sample 2.
    loader = paddle.io.DataLoader(CatchSampleErrors(Numbers(4, bad=2)), batch_size=2,
                                  num_workers=workers, collate_fn=collate, return_list=True)
    batches = list(loader)
    assert sample_failure(batches[0]) is None
    assert batches[0]["x"].numpy().ravel().tolist() == [0, 1]
    assert sample_failure(batches[1]) == "cannot decode image file img_2.png (corrupt)"


def test_training_loader_passes_the_failure_on():
    loader, _ = build_train_loader(Numbers(4, bad=3), batch_size=4, seed=0)
    (batch,) = list(loader)
    assert sample_failure(batch) == "cannot decode image file img_3.png (corrupt)"


def test_message_names_the_files_when_the_error_does_not():
    dataset = Numbers(2, bad=-1)
    assert describe_failure(dataset, 1, KeyError("segments_info")) == \
        "sample 1 (img_1.png, lab_1.png): KeyError: 'segments_info'"
    assert describe_failure(dataset, 0, ValueError("img_0.png is\n 3x4")) == "img_0.png is 3x4"
    assert describe_failure([], 5, ValueError("bad")) == "sample 5: bad"
