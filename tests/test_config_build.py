"""Building components from configs: registry lookup, num_classes, pretrained, optimisation."""
import os
import textwrap

import paddle
import pytest

import paddleseg_panoptic  # noqa: F401
from paddleseg_panoptic.cvlibs import Config, ConfigError, manager
from paddleseg_panoptic.utils.weights import PretrainedWeightsError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_BS1 = os.path.join(REPO, "configs/panoptic_deeplab/"
                       "panoptic_deeplab_resnet50_os32_cityscapes_2049x1025_bs1_90k_lr00005.yml")
TOY = os.path.join(REPO, "configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml")
# Nothing listens on the discard port: the fetch fails at once, with or without network.
UNREACHABLE = "http://127.0.0.1:9/paddleseg_panoptic_test_weights.tar.gz"


@manager.register(manager.BACKBONES)
class ConfigTestBackbone(paddle.nn.Layer):
    """Test-only backbone recording what it was built with."""

    def __init__(self, width=4, pretrained=None):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, width, 1)
        self.pretrained_seen = pretrained


@manager.register(manager.MODELS)
class ConfigTestModel(paddle.nn.Layer):
    """Test-only model recording its arguments."""

    def __init__(self, num_classes, backbone=None, pretrained=None, scale=1.0):
        super().__init__()
        self.num_classes = num_classes
        self.backbone = backbone
        self.pretrained_seen = pretrained
        self.scale = scale
        self.fc = paddle.nn.Linear(2, 2)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture
def cfg_path(tmp_path):
    # paddleseg's Cityscapes (NUM_CLASSES = 19) with a root that does not exist: building the
    # dataset would fail, so the tests prove num_classes is read from the class alone.
    return write(tmp_path, "m.yml", """
        batch_size: 2
        iters: 10
        model:
          type: ConfigTestModel
          backbone: {type: ConfigTestBackbone, width: 3, pretrained: null}
        train_dataset:
          type: Cityscapes
          dataset_root: /nonexistent/cityscapes
          transforms: [{type: Normalize}]
          mode: train
        val_dataset:
          type: Cityscapes
          dataset_root: /nonexistent/cityscapes
          transforms:
            - {type: Padding, target_size: [64, 32]}
            - {type: Normalize}
          mode: val
        optimizer: {type: adam}
        learning_rate: {value: 0.1, decay: {type: poly, power: 0.9, end_lr: 0.0}}
        loss:
          types: [{type: CrossEntropyLoss, top_k_percent_pixels: 0.2},
                  {type: MSELoss, reduction: none}, {type: L1Loss, reduction: none}]
          coef: [1, 200, 0.001]
        """)


def test_nested_components_are_built_and_num_classes_comes_from_the_dataset_class(cfg_path):
    cfg = Config(cfg_path)
    model = cfg.model
    assert isinstance(model, ConfigTestModel)
    assert isinstance(model.backbone, ConfigTestBackbone)
    assert model.backbone.conv.weight.shape == [3, 3, 1, 1]
    assert model.num_classes == 19
    assert cfg.model is model                       # cached
    assert cfg.train_dataset_class.__name__ == "Cityscapes"
    assert cfg.val_dataset_class.NUM_CLASSES == 19
    with pytest.raises(Exception):                  # only now is the dataset touched
        cfg.train_dataset


def test_explicit_num_classes_wins(cfg_path):
    assert "num_classes" not in Config(cfg_path).dic["model"]
    cfg = Config(cfg_path, opts=["model={type: ConfigTestModel, num_classes: 5}"])
    assert cfg.model.num_classes == 5
    # A num_classes argument of the dataset comes before the class attribute.
    cfg = Config(cfg_path, opts=["train_dataset={type: Cityscapes, num_classes: 7}"])
    assert cfg.model_dic["num_classes"] == 7


def test_val_transforms_are_built_without_the_dataset(cfg_path):
    transforms = Config(cfg_path).val_transforms
    assert [type(t).__name__ for t in transforms] == ["Padding", "Normalize"]
    assert list(transforms[0].target_size) == [64, 32]


def test_loss_types_and_coef(cfg_path):
    loss = Config(cfg_path).loss
    assert [type(t).__name__ for t in loss["types"]] == ["CrossEntropyLoss", "MSELoss", "L1Loss"]
    assert loss["types"][0].top_k_percent_pixels == 0.2
    assert loss["coef"] == [1.0, 200.0, 0.001]


def test_schedule_is_polynomial_over_iters_after_override(cfg_path):
    iters, value, power = 8, 0.1, 0.9
    cfg = Config(cfg_path, iters=iters)
    optimizer = cfg.optimizer
    assert isinstance(optimizer, paddle.optimizer.Adam)
    assert optimizer._learning_rate is cfg.lr_scheduler
    seen = []
    for _ in range(iters + 2):
        seen.append(optimizer.get_lr())
        cfg.lr_scheduler.step()
    for i in range(1, iters + 1):
        # Iteration i (1-based) uses value * (1 - (i - 1) / iters) ** power.
        assert seen[i - 1] == pytest.approx(value * (1 - (i - 1) / iters) ** power, rel=1e-6)
    assert seen[iters] == pytest.approx(0.0, abs=1e-12)


def test_learning_rate_override_and_default_decay(tmp_path):
    path = write(tmp_path, "lr.yml", "iters: 4\nlearning_rate: {value: 5e-05}\n")
    cfg = Config(path, learning_rate=0.2)
    sched = cfg.lr_scheduler
    assert sched.base_lr == pytest.approx(0.2)
    assert sched.power == pytest.approx(0.9) and sched.end_lr == 0.0
    assert sched.decay_steps == 4
    # "5e-05" is a string to PyYAML; it is still read as the number.
    assert Config(path).lr_scheduler.base_lr == pytest.approx(5e-05)


def test_sgd_optimizer_with_passed_through_keys(cfg_path):
    cfg = Config(cfg_path, opts=["optimizer={type: sgd, weight_decay: 0.0001}"])
    opt = cfg.build_optimizer(paddle.nn.Linear(2, 2))
    assert isinstance(opt, paddle.optimizer.Momentum)
    assert opt._momentum == pytest.approx(0.9)
    cfg = Config(cfg_path, opts=["optimizer={type: rmsprop}"])
    with pytest.raises(ConfigError, match="rmsprop"):
        cfg.build_optimizer(paddle.nn.Linear(2, 2))
    cfg = Config(cfg_path, opts=["optimizer={type: adam, bogus: 1}"])
    with pytest.raises(ConfigError, match="bogus"):
        cfg.build_optimizer(paddle.nn.Linear(2, 2))


def test_unknown_component_type_lists_close_names(cfg_path):
    cfg = Config(cfg_path, opts=["model.backbone.type=ConfigTestBakbone"])
    with pytest.raises(ConfigError) as info:
        cfg.model
    text = str(info.value)
    assert "ConfigTestBakbone" in text and "ConfigTestBackbone" in text
    assert "model.backbone" in text and "m.yml" in text


def test_bad_argument_names_component_keyword_and_signature(cfg_path):
    cfg = Config(cfg_path, opts=["model.backbone={type: ConfigTestBackbone, widht: 3}"])
    with pytest.raises(ConfigError) as info:
        cfg.model
    text = str(info.value)
    assert "ConfigTestBackbone" in text and "widht" in text and "width=4" in text


def test_bad_argument_of_a_paddleseg_function_component(cfg_path):
    # ResNet18_vd(**args) accepts anything; the error comes one call deeper and is rewritten.
    cfg = Config(cfg_path, opts=["model.backbone={type: ResNet18_vd, outputstride: 32}"])
    with pytest.raises(ConfigError) as info:
        cfg.model
    text = str(info.value)
    assert "ResNet18_vd" in text and "outputstride" in text
    assert "output_stride=8" in text     # ResNet_vd's signature is shown


def test_load_pretrained_false_strips_every_pretrained(cfg_path):
    cfg = Config(cfg_path, opts=["model.backbone.pretrained=" + UNREACHABLE])
    model = cfg.build_model(load_pretrained=False)
    assert model.backbone.pretrained_seen is None


def test_backbone_pretrained_goes_through_the_loader(cfg_path):
    cfg = Config(cfg_path, opts=["model.backbone.pretrained=" + UNREACHABLE])
    with pytest.raises(PretrainedWeightsError) as info:
        cfg.model
    text = str(info.value)
    assert UNREACHABLE in text
    assert "--opts model.backbone.pretrained=null" in text
    cfg = Config(cfg_path, opts=["model.backbone.pretrained=/nonexistent/w.pdparams"])
    with pytest.raises(FileNotFoundError, match="/nonexistent/w.pdparams"):
        cfg.model


def test_reference_model_with_unreachable_backbone_url_fails_clearly():
    cfg = Config(REF_BS1, opts=["model.backbone.pretrained=" + UNREACHABLE])
    with pytest.raises(PretrainedWeightsError, match="model.backbone.pretrained=null"):
        from paddleseg_panoptic.cvlibs.builder import build_object
        build_object(dict(cfg.dic["model"], num_classes=19), "model", cfg.path)


def test_toy_config_builds_a_small_model():
    cfg = Config(TOY)
    assert cfg.batch_size == 4 and cfg.iters > 0
    assert cfg.dic["val_dataset"]["transforms"][0]["target_size"] == [513, 257]
    if "CityscapesPanoptic" in manager.DATASETS.components_dict:
        model = cfg.build_model()
    else:  # dataset not available yet: give num_classes explicitly
        from paddleseg_panoptic.cvlibs.builder import build_object
        model = build_object(dict(cfg.dic["model"], num_classes=19), "model", cfg.path)
    model.eval()
    outputs = model(paddle.zeros([1, 3, 65, 129]))
    assert [list(o.shape) for o in outputs] == [[1, 19, 65, 129], [1, 1, 65, 129],
                                                [1, 2, 65, 129]]


def test_warmup_then_polynomial_decay_ending_at_end_lr(tmp_path):
    iters, warmup, value, start = 10, 4, 0.1, 0.02
    path = write(tmp_path, "warm.yml", "iters: {}\nlearning_rate: {{value: {}, warmup_iters: {}, "
                 "warmup_start_lr: {}}}\n".format(iters, value, warmup, start))
    sched = Config(path).lr_scheduler
    seen = []
    for _ in range(iters + 1):
        seen.append(sched.get_lr())
        sched.step()
    expected = [start + (value - start) * i / warmup for i in range(warmup)]
    expected += [value * (1 - i / (iters - warmup)) ** 0.9 for i in range(iters - warmup + 1)]
    assert seen == pytest.approx(expected, rel=1e-6, abs=1e-12)
    # A warm-up as long as the run (a short --iters) leaves one iteration to the decay.
    short = Config(path, iters=3).lr_scheduler
    assert short.warmup_steps == 2 and short.learning_rate.decay_steps == 1
