"""The comparison set of configs: every leaf builds, each downstream arm starts from its own ImageNet stage,
and the real configs' optimizers group the parameters as their comments say."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.config_tools.backbone_config import build_model
from scalenet_mm.registry import MODELS

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'scalenet'
LEAVES = sorted(CONFIG_DIR.glob('*.py'))
DOWNSTREAM = [c for c in LEAVES if c.name.startswith(('mask-rcnn_', 'upernet_'))]
# backbone arguments that may differ between an ImageNet stage and its downstream configs
TASK_SPECIFIC = ('init_cfg', 'drop_path_rate', 'trainable', 'out_indices', 'pad_small_map', 'with_cp', 'frozen_stages',
                 'patch_norm', 'qkv_bias', 'qk_scale', 'mlp_ratio', 'drop_rate', 'attn_drop_rate', 'window_size',
                 'patch_size')
# {model} field of a downstream `..._in1k-pre_...` config -> the ImageNet-stage config it starts from
ARMS = {'swin-t': 'swin-t_in1k-pre_8xb128-100e_in1k',
        'scalenet-swin-t-d2x': 'scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k',
        'scalenet-swin-t-d2x-frozen': 'scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k',
        'swin-t-d2x-shared': 'swin-t-d2x-shared_in1k-pre_8xb128-100e_in1k',
        'swin-t-d2x-stack': 'swin-t-d2x-stack_in1k-pre_8xb128-100e_in1k',
        'swin-t-d2x-scratch': 'swin-t-d2x-scratch_8xb128-300e_in1k'}
# the fields of a downstream name: {algorithm}_{model}[_{init}]_[{neck}_]{schedule}_{dataset}
IN1K_PRE = [c for c in DOWNSTREAM if c.stem.split('_')[2] == 'in1k-pre']


def without_downloads(cfg: Config) -> Config:
    cfg.model.backbone.init_cfg = None
    if 'head_init' in cfg.model:
        cfg.model.head_init = None
    return cfg


def built(config: Path) -> torch.nn.Module:
    return build_model(without_downloads(Config.fromfile(str(config))))


def test_every_arm_has_its_detection_and_segmentation_config():
    names = {c.stem for c in DOWNSTREAM}
    for arm in ARMS:
        assert f'mask-rcnn_{arm}_in1k-pre_fpn_1x_coco' in names, arm
        assert f'upernet_{arm}_in1k-pre_8xb2-160k_ade20k-512x512' in names, arm
    # the references start from the released checkpoints (mmdet's and mmseg's own names)
    for arm in ['swin-t-p4-w7', 'swin-s-p4-w7']:
        assert f'mask-rcnn_{arm}_fpn_1x_coco' in names, arm
    for arm in ['swin-t', 'swin-s']:
        assert f'upernet_{arm}_8xb2-160k_ade20k-512x512' in names, arm
    # the layer-wise lr decay variants of the ScaleNet arm: the trick is in the schedule field
    assert 'mask-rcnn_scalenet-swin-t-d2x_in1k-pre_fpn_lrd-1x_coco' in names
    assert 'upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-lrd-160k_ade20k-512x512' in names
    assert IN1K_PRE and all(c.stem.split('_')[1] in ARMS for c in IN1K_PRE)


@pytest.mark.parametrize('config', IN1K_PRE, ids=lambda c: c.stem)
def test_downstream_config_starts_from_its_arms_imagenet_stage(tmp_path, config):
    cfg = Config.fromfile(str(config))
    arm = config.stem.split('_')[1]
    init_cfg = cfg.model.backbone.init_cfg
    match = re.fullmatch(r'work_dirs/(.+)/epoch_(\d+)\.pth', init_cfg.checkpoint)
    assert match and match.group(1) == ARMS[arm] and init_cfg.prefix == 'backbone.', init_cfg
    imagenet = Config.fromfile(str(CONFIG_DIR / f'{match.group(1)}.py'))
    assert int(match.group(2)) == imagenet.train_cfg.max_epochs  # the stage's last checkpoint
    upstream, downstream = imagenet.model.backbone, cfg.model.backbone
    for key in set(upstream) | set(downstream):
        if key not in TASK_SPECIFIC:
            assert upstream.get(key) == downstream.get(key), (key, upstream.get(key), downstream.get(key))
    # a checkpoint as the ImageNet config's model saves it loads strictly into the downstream backbone
    classifier = MODELS.build(without_downloads(imagenet).model)
    with torch.no_grad():
        for param in classifier.parameters():
            param.normal_(0, 0.02)
    path = tmp_path / 'epoch.pth'
    torch.save({'meta': {'epoch': imagenet.train_cfg.max_epochs}, 'state_dict': classifier.state_dict()}, path)
    backbone = MODELS.build(dict(downstream, init_cfg=None))
    report = load_pretrained(backbone, str(path), prefix='backbone.')
    assert report.format == 'scalenet'
    for key, value in classifier.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key
    assert set(report.initialised) == {f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')}


def optimizer_groups(config: Path):
    cfg = Config.fromfile(str(config))
    model = built(config)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    return cfg, model, wrapper.optimizer, {names[id(g['params'][0])]: g for g in wrapper.optimizer.param_groups}


@pytest.mark.parametrize('config', [c for c in LEAVES if 'd2x' in c.stem and 'scalenet' in c.stem],
                         ids=lambda c: c.stem)
def test_real_optimizers_group_adapters_norms_and_frozen_weights(config):
    cfg, model, optimizer, groups = optimizer_groups(config)
    base_lr, base_wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    params = [p for g in optimizer.param_groups for p in g['params']]
    assert len(params) == len({id(p) for p in params})  # no shared parameter twice
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == trainable  # frozen weights are not handed to the optimizer
    decay = {n: g.get('weight_decay', base_wd) for n, g in groups.items()}
    adapters = [n for n in groups if '.adapters.' in n]
    assert adapters and all(decay[n] == base_wd for n in adapters)  # the explicit adapter key: full decay
    assert all(decay[n] == 0 for n in groups if 'relative_position_bias_table' in n)
    assert all(decay[n] == 0 for n in groups if re.search(r'backbone\.(norm\d|stages\.\d+\.blocks\.\d+\.norm)', n))
    if 'frozen' in config.stem:
        assert not any('.blocks.' in n and '.norm' not in n for n in groups)
    if 'lrd' not in config.stem:
        assert all(g.get('lr', base_lr) == pytest.approx(base_lr * g.get('lr_mult', 1.0)) for g in groups.values())


@pytest.mark.parametrize('config', [c for c in LEAVES if 'lrd' in c.stem], ids=lambda c: c.stem)
def test_layer_decay_configs_scale_lr_by_position(config):
    cfg, model, optimizer, groups = optimizer_groups(config)
    base_lr, rate = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.paramwise_cfg.layer_decay_rate
    # Swin-T-2x: 24 positions (4, 4, 12, 4) between the patch embedding (layer 0) and the output norms (25)
    expected_layer = {
        'backbone.patch_embed.projection.weight': 0,
        'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight': 1,      # block 0 first runs at position 0
        'backbone.stages.0.blocks.1.ffn.layers.1.weight': 2,
        'backbone.stages.0.adapters.3.fc1.down.weight': 4,          # adapters belong to their position
        'backbone.stages.0.downsample.reduction.weight': 4,         # the stage's last position
        'backbone.stages.1.blocks.0.norm1.weight': 5,
        'backbone.stages.2.blocks.5.ffn.layers.0.0.weight': 14,    # 8 earlier positions + position 5
        'backbone.stages.2.adapters.11.fc2.up.weight': 20,
        'backbone.stages.3.adapters.3.fc2.up.weight': 24,
        'backbone.norm3.weight': 25,
    }
    for name, layer in expected_layer.items():
        group = groups[name]
        assert group['layer_id'] == layer, name
        custom = group.get('lr_mult', 1.0)
        assert group['lr'] == pytest.approx(base_lr * custom * rate ** (25 - layer)), name
    heads = [g for n, g in groups.items() if not n.startswith('backbone.')]
    assert heads and all('layer_id' not in g and g.get('lr', base_lr) == base_lr for g in heads)


def test_layer_decay_constructor_refuses_a_missing_rate_and_a_backbone_without_depths():
    from scalenet_mm.engine import LayerDecayOptimWrapperConstructor
    with pytest.raises(ValueError, match='layer_decay_rate=None'):
        LayerDecayOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)))
    constructor = LayerDecayOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)),
                                                    dict(layer_decay_rate=0.9))
    with pytest.raises(ValueError, match='has no get_layer_depth'):
        constructor(torch.nn.Linear(2, 2))
