"""The installed OpenMMLab stack works for real: compiled mmcv ops, model packages, our registry scope."""
import pytest
import torch
import torchvision
from mmengine.registry import DefaultScope

import scalenet_mm
from scalenet_mm.registry import MODELS

mmcv_ops = pytest.importorskip('mmcv.ops')


def test_mmcv_nms_agrees_with_torchvision():
    generator = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=generator) * 100
    boxes = torch.cat([xy, xy + torch.rand(200, 2, generator=generator) * 40 + 1], dim=1)
    scores = torch.rand(200, generator=generator)
    dets, keep = mmcv_ops.nms(boxes, scores, iou_threshold=0.5)
    expected = torchvision.ops.nms(boxes, scores, 0.5)
    assert torch.equal(keep, expected)
    torch.testing.assert_close(dets[:, 4], scores[expected])


def test_mmcv_roi_align_agrees_with_torchvision():
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(2, 4, 24, 30, generator=generator, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 2.0, 19.5, 22.0], [1, 0.0, 0.0, 29.0, 23.0], [0, 4.2, 3.3, 6.1, 7.7]])
    ours = mmcv_ops.roi_align(features, rois, (7, 7), 0.5, 2, 'avg', True)
    expected = torchvision.ops.roi_align(features, rois, (7, 7), 0.5, 2, aligned=True)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
    grad_ours, = torch.autograd.grad(ours.sum(), features)
    grad_expected, = torch.autograd.grad(expected.sum(), features)
    torch.testing.assert_close(grad_ours, grad_expected, rtol=1e-5, atol=1e-6)


def test_model_packages_import():
    import mmdet.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmdet.models.detectors import MaskRCNN  # noqa: F401
    from mmseg.models.segmentors import EncoderDecoder  # noqa: F401


def test_package_has_a_version():
    assert scalenet_mm.__version__.count('.') == 2


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmengine', 'scalenet_mm'])
def test_scoped_type_resolves_from_every_default_scope(scope):
    if scope == 'mmdet':
        from mmdet.registry import MODELS as registry
    elif scope == 'mmseg':
        from mmseg.registry import MODELS as registry
    elif scope == 'mmengine':
        from mmengine.registry import MODELS as registry
    else:
        registry = MODELS
    with DefaultScope.overwrite_default_scope(scope):
        backbone = registry.build(dict(type='scalenet_mm.ScaleNetSwinTransformer', arch='tiny', depth_scale=2))
    assert isinstance(backbone, scalenet_mm.ScaleNetSwinTransformer)
    assert backbone.scaled_depths == (4, 4, 12, 4)


def test_registry_is_a_child_of_mmengine_root():
    from mmengine.registry import MODELS as ROOT
    assert MODELS.parent is ROOT and MODELS.scope == 'scalenet_mm'
    assert ROOT.children['scalenet_mm'] is MODELS
