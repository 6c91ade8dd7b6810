"""Every config under ``configs/scalenet/`` that names a pretrained file loads a file laid out as that file is.

The layout (and arch) of each referenced file is read off its address; a random file of that layout is
written with the converters timm and mmseg ship (``released_layouts.py``) and the config's own model
(backbone, and the classifier's head where the config starts it from the file) loads it strictly.
"""
from pathlib import Path

import pytest
from mmengine.config import Config

from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.registry import MODELS

from released_layouts import released_file, write_released_file

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'scalenet'


@pytest.mark.parametrize('config', sorted(CONFIG_DIR.glob('*.py')), ids=lambda p: p.stem)
def test_config_loads_a_file_of_its_pretrained_layout(tmp_path, timm_models, config):
    cfg = Config.fromfile(str(config))
    backbone = cfg.model.backbone
    init_cfg = backbone.get('init_cfg')
    if init_cfg is None:
        pytest.skip('trains from scratch: names no pretrained file')
    address = init_cfg.checkpoint
    if address.startswith('work_dirs/'):
        pytest.skip('starts from an ImageNet-stage checkpoint of this repository: tests/test_config_chain.py')
    arch, layout, fmt = released_file(address)
    assert backbone.arch == arch, f'{config.name}: arch {backbone.arch!r} loads a swin_{arch} file'
    local = write_released_file(tmp_path / Path(address).name, layout, timm_models(arch))
    backbone.init_cfg.checkpoint = local
    model = MODELS.build(backbone)
    report = load_pretrained(model, local, prefix=init_cfg.get('prefix'))
    assert report.format == fmt
    head_init = cfg.model.get('head_init')
    if head_init is not None:  # a classifier that continues from the file's 1000-class head
        assert head_init.checkpoint == address
        cfg.model.head_init.checkpoint = local
        cfg.model.backbone = backbone
        classifier = MODELS.build(cfg.model)
        classifier.init_weights()
        assert classifier.head.weight.equal(timm_models(arch).head.fc.weight)
