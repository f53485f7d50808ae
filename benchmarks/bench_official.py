"""Time OfficialWriter on full-size synthetic Cityscapes images.

Per image: writing the three official formats (`add`), and the wall time of the three official
evaluators run by `run()` (including making the label-id panoptic ground truth once).

    python benchmarks/bench_official.py [--images 4] [--instances 30]

Prints the timings and writes them to benchmarks/results/bench_official.json.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from paddleseg_panoptic.datasets.meta import TRAIN_ID_TO_LABEL_ID  # noqa: E402
from paddleseg_panoptic.evaluation.official import OfficialWriter  # noqa: E402
from paddleseg_panoptic.utils.panoptic_ids import panoptic_instance_scores  # noqa: E402
from _results import result_path, write_json  # noqa: E402

H, W = 1024, 2048
THING_LABEL_IDS = (24, 25, 26, 27, 28, 31, 32, 33)


def synthetic_instance_ids(rng, num_instances):
    """A street-like instanceIds map: sky, building, vegetation, road, sidewalk, void, things."""
    inst = np.full((H, W), 7, np.int64)
    inst[:300], inst[300:500], inst[250:550, 1700:] = 23, 11, 21
    inst[900:, :600], inst[980:, 800:1300] = 8, 1
    counts = {}
    for _ in range(num_instances):
        label = int(rng.choice(THING_LABEL_IDS))
        counts[label] = counts.get(label, 0) + 1
        y, x = int(rng.integers(350, 900)), int(rng.integers(0, 1900))
        h, w = int(rng.integers(20, 150)), int(rng.integers(15, 150))
        inst[y:y + h, x:x + w] = label * 1000 + counts[label]
    return inst


def to_train(inst):
    lut = np.full(256, 255, np.int64)
    lut[list(TRAIN_ID_TO_LABEL_ID)] = np.arange(len(TRAIN_ID_TO_LABEL_ID))
    semantic = lut[np.where(inst >= 1000, inst // 1000, inst)]
    panoptic = np.where(inst >= 1000, semantic * 1000 + inst % 1000, semantic)
    return semantic, panoptic


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--instances', type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, 'cityscapes')
        writer = OfficialWriter(os.path.join(tmp, 'official'), root, 'val')
        add_times = []
        for i in range(args.images):
            image_id = 'frankfurt_000000_{:06d}'.format(i)
            folder = os.path.join(root, 'gtFine', 'val', 'frankfurt')
            os.makedirs(folder, exist_ok=True)
            inst = synthetic_instance_ids(rng, args.instances)
            cv2.imwrite(os.path.join(folder, image_id + '_gtFine_instanceIds.png'),
                        inst.astype(np.uint16))
            cv2.imwrite(os.path.join(folder, image_id + '_gtFine_labelIds.png'),
                        np.where(inst >= 1000, inst // 1000, inst).astype(np.uint8))
            semantic, panoptic = to_train(inst)
            panoptic[400:460, ::7] = semantic[400:460, ::7] = 0  # some errors
            semantic = np.where(semantic == 255, 0, semantic)
            softmax = rng.random((19, H, W), dtype=np.float32)
            scores = panoptic_instance_scores(panoptic, softmax)
            start = time.perf_counter()
            writer.add(image_id, panoptic, semantic, scores)
            add_times.append(time.perf_counter() - start)
        writer.run(tasks=('panoptic',))  # makes the label-id panoptic ground truth once
        start = time.perf_counter()
        res = writer.run()
        run_time = time.perf_counter() - start
    out = {'images': args.images, 'instances_per_image': args.instances, 'size': [H, W],
           'add_s_per_image': float(np.median(add_times)), 'run_s_total': run_time,
           'evaluator_s': res['seconds'],
           'PQ': res['PQ'], 'mIoU': res['mIoU'], 'AP': res['AP']}
    print(json.dumps(out, indent=1))
    write_json(result_path('bench_official.json'), out)


if __name__ == '__main__':
    main()
