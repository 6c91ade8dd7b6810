"""Skipping the ImageNet stage: the ScaleNet detection and segmentation configs without an ``in1k-pre`` field
grow their backbone at load from the released Swin checkpoint (Microsoft's file, or mmseg's conversion of it).

For each such config the real mmdet/mmseg model is built from the config and initialised the way training
does (``model.init_weights()``) from a file laid out as the released one (``released_layouts.py``: timm's
model written out in Microsoft's layout, and through mmseg's own converter); then

- the load is strict: every file tensor is used, and only what the file cannot hold (layer maps, adapters,
  the output norms a classification file lacks) keeps its initialisation;
- every position of the grown stages runs the source block the cyclic map names (position ``p`` of a stage
  grown from ``n`` blocks runs block ``p mod n``), compared with mmdet's own Swin loading Microsoft's file;
- the adapters start at zero, so the grown model starts as the source's function, and the shared weights are
  frozen as the name's ``-frozen`` says.

The documented ``--cfg-options`` override (docs/train_test.md) turns the chain's ``in1k-pre`` config into
the released-start one exactly.
"""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict, DictAction

from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.config_tools.backbone_config import build_model
from scalenet_mm.models.scaling.adapters import LowRankAdapter

from released_layouts import released_file, write_released_file

mmdet_swin = pytest.importorskip('mmdet.models.backbones.swin')

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / 'configs' / 'scalenet'
SWIN_DEPTHS = {'tiny': (2, 2, 6, 2), 'small': (2, 2, 18, 2)}
SWIN_HEADS = {'tiny': (3, 6, 12, 24), 'small': (3, 6, 12, 24)}
# the released-start ScaleNet configs: a ScaleNet model field and no init field
RELEASED_START = sorted(c for c in CONFIG_DIR.glob('*.py')
                        if re.match(r'(mask-rcnn|upernet)_scalenet-swin-[ts]-d2x(-frozen)?_(fpn_|8xb2-)', c.name))
CASES = [(config, layout) for config in RELEASED_START
         for layout in dict.fromkeys(['microsoft', released_file(Config.fromfile(str(config)).model.backbone
                                                                 .init_cfg.checkpoint)[1]])]


def test_both_tasks_start_from_the_released_swin_t_and_swin_s():
    names = {c.stem for c in RELEASED_START}
    assert names == {'mask-rcnn_scalenet-swin-t-d2x-frozen_fpn_1x_coco',
                     'upernet_scalenet-swin-t-d2x-frozen_8xb2-160k_ade20k-512x512',
                     'mask-rcnn_scalenet-swin-s-d2x-frozen_fpn_ms-crop-3x_coco',
                     'upernet_scalenet-swin-s-d2x-frozen_8xb2-160k_ade20k-512x512'}


def mmdet_reference(path: str, arch: str) -> torch.nn.Module:
    """mmdet's Swin loading Microsoft's file its own way (``convert_weights=True``): the source blocks."""
    model = mmdet_swin.SwinTransformer(embed_dims=96, depths=SWIN_DEPTHS[arch], num_heads=SWIN_HEADS[arch],
                                       window_size=7, drop_path_rate=0.0, convert_weights=True,
                                       init_cfg=ConfigDict(type='Pretrained', checkpoint=path))
    model.init_weights()
    return model


@pytest.mark.parametrize('config, layout', CASES, ids=[f'{c.stem}-{layout}' for c, layout in CASES])
def test_released_file_grows_strictly_into_the_real_model(tmp_path, timm_models, config, layout):
    cfg = Config.fromfile(str(config))
    address = cfg.model.backbone.init_cfg.checkpoint
    arch, _, _ = released_file(address)
    assert cfg.model.backbone.arch == arch and cfg.model.backbone.depth_scale == 2
    assert cfg.model.backbone.init_cfg.get('prefix') is None  # a released file is a bare backbone/classifier
    source = timm_models(arch)
    local = write_released_file(tmp_path / Path(address).name, layout, source)
    microsoft = write_released_file(tmp_path / 'microsoft.pth', 'microsoft', source)
    cfg.model.backbone.init_cfg.checkpoint = local
    model = build_model(cfg, with_init_cfg=True)  # the real mmdet MaskRCNN / mmseg EncoderDecoder
    assert type(model).__name__ == ('MaskRCNN' if config.name.startswith('mask-rcnn_') else 'EncoderDecoder')
    model.init_weights()
    backbone = model.backbone

    # strict: the file's tensors all land, and only what it cannot hold keeps its initialisation
    report = load_pretrained(backbone, local)
    assert report.format == ('official' if layout == 'microsoft' else 'mm')
    assert not report.resized
    assert set(report.skipped.values()) <= {'buffer recomputed by the model',
                                            'classification head (not part of a backbone)'}
    kept = {k for k in report.initialised
            if not re.fullmatch(r'stages\.\d\.(layer_map|adapters\.\d+\.fc[12]\.(down|up)\.weight)', k)}
    assert kept == {f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')}, sorted(kept)
    assert torch.equal(backbone.norm3.weight, source.norm.weight)  # the file's final norm, on the last output

    # every position runs the source block of the cyclic map
    reference = mmdet_reference(microsoft, arch)
    assert torch.equal(backbone.patch_embed.projection.weight, reference.patch_embed.projection.weight)
    for s, (stage, ref_stage) in enumerate(zip(backbone.stages, reference.stages)):
        n = len(ref_stage.blocks)
        assert len(stage.blocks) == n and stage.depth == 2 * n, s  # shared: n unique blocks at 2n positions
        assert list(stage.position_block) == [p % n for p in range(2 * n)], s
        for p in range(2 * n):
            ran = dict(stage.blocks[stage.position_block[p]].named_parameters())
            expected = dict(ref_stage.blocks[p % n].named_parameters())
            assert set(ran) == set(expected), (s, p)
            for name, value in expected.items():
                assert torch.equal(ran[name], value), (s, p, name)
        if ref_stage.downsample is not None:
            assert torch.equal(stage.downsample.reduction.weight, ref_stage.downsample.reduction.weight), s

    # the grown model starts as the source's function, and `-frozen` trains only adapters and norms
    adapters = [m for m in backbone.modules() if isinstance(m, LowRankAdapter)]
    assert adapters and all(torch.equal(m.up.weight, torch.zeros_like(m.up.weight)) for m in adapters)
    assert cfg.model.backbone.trainable == 'adapters_norms'
    for name, param in backbone.named_parameters():
        if '.blocks.' in name and '.norm' not in name:
            assert not param.requires_grad, name
        if '.adapters.' in name:
            assert param.requires_grad, name


# the documented override: the chain's in1k-pre config started from the released file instead
OVERRIDES = {
    'mask-rcnn_scalenet-swin-t-d2x-frozen_fpn_1x_coco': (
        'mask-rcnn_scalenet-swin-t-d2x-frozen_in1k-pre_fpn_1x_coco',
        'model.backbone.init_cfg.checkpoint=https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
        'swin_tiny_patch4_window7_224.pth model.backbone.init_cfg.prefix=None'),
    'upernet_scalenet-swin-t-d2x-frozen_8xb2-160k_ade20k-512x512': (
        'upernet_scalenet-swin-t-d2x-frozen_in1k-pre_8xb2-160k_ade20k-512x512',
        'model.backbone.init_cfg.checkpoint=https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
        'swin_tiny_patch4_window7_224_20220317-1cdeb081.pth model.backbone.init_cfg.prefix=None'),
}


def parse_cfg_options(options: str) -> dict:
    """``--cfg-options A=B C=D`` as tools/train.py parses it (mmengine's ``DictAction``)."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options.split()]).cfg_options


@pytest.mark.parametrize('released_start', list(OVERRIDES))
def test_documented_override_gives_the_released_start_config(released_start):
    chain_config, options = OVERRIDES[released_start]
    page = (REPO / 'docs' / 'train_test.md').read_text()
    assert f'configs/scalenet/{chain_config}.py' in page  # the command is on the page, with these options
    assert all(option in page for option in options.split())
    overridden = Config.fromfile(str(CONFIG_DIR / f'{chain_config}.py'))
    overridden.merge_from_dict(parse_cfg_options(options))
    expected = Config.fromfile(str(CONFIG_DIR / f'{released_start}.py'))
    assert overridden.model.backbone.init_cfg.pop('prefix') is None
    variables = ('imagenet_checkpoint', 'pretrained', 'checkpoint_file')
    got = {k: v for k, v in overridden.to_dict().items() if k not in variables}
    want = {k: v for k, v in expected.to_dict().items() if k not in variables}
    assert got == want
