"""The label-id ground truth that OfficialWriter makes under ``out_dir/_gt`` is remade when the
dataset's ground truth changes (a second toy set with the same file names)."""
import pytest

from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic
from paddleseg_panoptic.datasets.toy_cityscapes import make_toy_cityscapes
from paddleseg_panoptic.evaluation.official import OfficialWriter

from conftest import TOY_HEIGHT, TOY_NUM_TRAIN, TOY_NUM_VAL, TOY_WIDTH
from test_official_toy_dataset import predictions


def _official_pq(root, out_dir):
    """Official PQ of perfect predictions for the val images of ``root``."""
    dataset = CityscapesPanoptic([], dataset_root=root, mode='val')
    writer = OfficialWriter(out_dir, root, 'val')
    for image_id, pan, sem, scores, _, _ in predictions(dataset, perturb=False):
        writer.add(image_id, pan, sem, scores)
    return writer.run(tasks=('panoptic',))['PQ']


def test_ground_truth_cache_follows_the_dataset(toy_cityscapes_root, tmp_path, capsys):
    other = str(tmp_path / 'other_toy')
    make_toy_cityscapes(other, num_train=TOY_NUM_TRAIN, num_val=TOY_NUM_VAL,
                        height=TOY_HEIGHT, width=TOY_WIDTH, seed=7)
    out_dir = str(tmp_path / 'official')
    assert _official_pq(toy_cityscapes_root, out_dir) == pytest.approx(1.0)
    # Same file names, other labels: a stale cache would score these perfect predictions < 1.
    assert _official_pq(other, out_dir) == pytest.approx(1.0)
    assert 'making it again' in capsys.readouterr().out
    assert _official_pq(other, out_dir) == pytest.approx(1.0)
    assert 'making it again' not in capsys.readouterr().out
