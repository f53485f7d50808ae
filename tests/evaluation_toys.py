"""A tiny in-memory validation dataset and an oracle model for the evaluation-loop tests."""
import numpy as np
import paddle

NUM_CLASSES = 4
THINGS = [2, 3]


class OracleModel(paddle.nn.Layer):
    """Reads the answer from the image: channel 0 = class id, channel 1 = centre heatmap.

    Returns one-hot logits, that heatmap and zero offsets, so with one instance per thing
    class the post-processing reproduces the labels exactly.
    """

    def forward(self, x):
        classes = x[:, 0].astype("int64")
        logits = paddle.nn.functional.one_hot(classes, NUM_CLASSES).transpose([0, 3, 1, 2])
        return [logits * 10.0, x[:, 1:2], paddle.zeros_like(x[:, :2])]


class TinyDataset(paddle.io.Dataset):
    """Validation-style samples: labels 10 x 14, images padded to 16 x 16.

    Image k: road (0) on top, sidewalk (1) below, one car-like instance of class 2 and,
    for odd k, one of class 3; void (255) on the bottom-right corner. ``corrupt`` > 0 gives
    the oracle a wrong class on that share of pixels and spurious centres (seeded by k), so
    the scores are imperfect but not zero.
    """
    NUM_CLASSES = NUM_CLASSES
    IGNORE_INDEX = 255
    thing_list = THINGS
    label_divisor = 1000
    stuff_area = 1
    class_names = ["road", "sidewalk", "car", "bus"]

    def __init__(self, count=4, label_size=(10, 14), image_size=(16, 16), corrupt=0.0):
        self.samples = []
        self.records = []
        for k in range(count):
            pan = np.zeros(label_size, np.int64)
            pan[5:] = 1
            pan[2:6, 1 + k % 3:6 + k % 3] = 2000 + k
            if k % 2:
                pan[6:9, 9:13] = 3000 + k
            pan[-1, -2:] = 255
            sem = np.where(pan >= 1000, pan // 1000, pan)
            ins = np.zeros_like(pan)
            for n, value in enumerate(np.unique(pan[pan >= 1000])):
                ins[pan == value] = n + 1
            image = np.zeros((3,) + image_size, np.float32)
            h, w = min(label_size[0], image_size[0]), min(label_size[1], image_size[1])
            image[0, :h, :w] = np.where(sem == 255, 0, sem)[:h, :w]
            for value in np.unique(pan[pan >= 1000]):
                ys, xs = np.nonzero(pan == value)
                if int(ys.mean()) < h:
                    image[1, int(ys.mean()), int(xs.mean())] = 1.0
            if corrupt:
                rng = np.random.default_rng(k)
                wrong = rng.random(image_size) < corrupt
                image[0][wrong] = rng.integers(0, NUM_CLASSES, int(wrong.sum()))
                image[1][rng.random(image_size) < corrupt / 4] = 0.5
            self.samples.append({"image": image, "raw_semantic": sem, "raw_instance": ins,
                                 "raw_panoptic": pan, "index": np.int64(k)})
            self.records.append({"image_id": "city_{:06d}_000019".format(k)})

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]
