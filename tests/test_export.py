"""Export to a plain, deeper, unshared Swin that stock mmdet/mmseg load strictly and that computes the same."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import ConfigDict

from scalenet_mm.checkpoint import export_plain

from conftest import SMALL_ARCH, build, perturb_

mmdet_swin = pytest.importorskip('mmdet.models.backbones.swin')
mmseg_swin = pytest.importorskip('mmseg.models.backbones.swin')
REPO = Path(__file__).resolve().parents[1]


def plain_swin(module, depths):
    model = module.SwinTransformer(embed_dims=16, depths=depths, num_heads=(1, 2, 2, 4), window_size=4,
                                   drop_path_rate=0.0)
    return model


@pytest.mark.parametrize('module', [mmdet_swin, mmseg_swin], ids=['mmdet', 'mmseg'])
@pytest.mark.parametrize('kwargs', [
    dict(adapter=dict(type='lora', targets=('fc1', 'fc2', 'qkv', 'proj'), dim=4, scale=0.5)),
    dict(adapter=dict(type='lora', positions='inserted'), share_norms=False),
    dict(adapter=None, depth_scale=1.5),
], ids=['lora-all', 'lora-inserted-own-norms', 'no-adapter-1.5x'])
def test_export_loads_strictly_and_matches(module, kwargs):
    kwargs = {'depth_scale': 2, **kwargs}
    model = perturb_(build(**kwargs)).eval()
    state = export_plain(model)
    reference = plain_swin(module, model.scaled_depths)
    reference.load_state_dict(state, strict=True)
    reference.eval()
    x = torch.randn(1, 3, 97, 131)
    with torch.no_grad():
        for a, b in zip(model(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    pointers = [v.data_ptr() for v in state.values() if v.numel() > 1]
    assert len(pointers) == len(set(pointers)), 'exported positions must not share storage'


def test_parallel_adapters_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="GELU.*cannot be merged.*type='lora'"):
        export_plain(build(depth_scale=2))


def test_window_mode_a_plain_swin_cannot_express_is_refused():
    model = build(arch=SMALL_ARCH, depth_scale=2, adapter=None, layer_map='interleave', shift_policy='inherit_source')
    with pytest.raises(ValueError, match='plain Swin cannot express'):
        export_plain(model)


@pytest.mark.parametrize('growth', [0.0, 0.5])
def test_a_backbone_skipping_inserted_positions_is_refused(growth):
    """Mid-growth (GrowthScheduleHook) the model skips inserted positions a plain model would run."""
    model = build(depth_scale=2, adapter=dict(type='lora'))
    model.set_growth(growth)
    with pytest.raises(ValueError, match=rf'growth {growth} \(active depths .* of \(4, 4, 4, 4\)\).*reached 1'):
        export_plain(model)
    model.set_growth(1.0)
    assert len(export_plain(model)) > 0


def test_export_tool_refuses_a_checkpoint_saved_before_the_growth_schedule_reached_1(tmp_path):
    """With the config's GrowthScheduleHook the tool exports the depth the checkpoint last trained at: epoch 2
    of [(0, 0.0), (2, 1.0)] trained at the source depth (refused), epoch 3 at full depth (written)."""
    model = build(depth_scale=2, adapter=dict(type='lora'))
    config = tmp_path / 'grown.py'
    config.write_text(f"model = dict(backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer', arch={SMALL_ARCH!r}, "
                      "depth_scale=2, window_size=4, adapter=dict(type='lora')))\n"
                      "custom_hooks = [dict(type='scalenet_mm.GrowthScheduleHook', schedule=[(0, 0.0), (2, 1.0)])]\n")
    state = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    results = {}
    for epoch in (2, 3, None):
        checkpoint = tmp_path / f'epoch_{epoch}.pth'
        torch.save({'state_dict': state, **({'meta': {'epoch': epoch}} if epoch else {})}, checkpoint)
        results[epoch] = subprocess.run([sys.executable, 'tools/export_plain.py', str(config), str(checkpoint),
                                         str(tmp_path / f'plain_{epoch}.pth')], cwd=REPO, capture_output=True,
                                        text=True)
    assert results[2].returncode != 0 and 'growth 0.0 (active depths (2, 2, 2, 2)' in results[2].stderr
    assert not (tmp_path / 'plain_2.pth').exists()
    assert results[3].returncode == 0, results[3].stderr[-2000:]
    assert results[None].returncode == 0 and 'has no meta epoch count: exported at full depth' in results[None].stdout
    for epoch in (3, None):
        plain = torch.load(tmp_path / f'plain_{epoch}.pth', weights_only=True)['state_dict']
        assert plain.keys() == {f'backbone.{k}' for k in export_plain(model)}


def test_export_tool_writes_a_checkpoint_mmdet_init_cfg_accepts(tmp_path):
    model = perturb_(build(depth_scale=2, adapter=dict(type='lora')))
    source = tmp_path / 'scalenet.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in model.state_dict().items()}}, source)
    config = tmp_path / 'backbone.py'
    config.write_text(f"model = dict(backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer', arch={SMALL_ARCH!r}, "
                      "depth_scale=2, window_size=4, adapter=dict(type='lora')))\n")
    out = tmp_path / 'plain.pth'
    subprocess.run([sys.executable, str(REPO / 'tools' / 'export_plain.py'), str(config), str(source), str(out)],
                   check=True, cwd=REPO)
    reference = plain_swin(mmdet_swin, model.scaled_depths)
    reference.init_cfg = ConfigDict(type='Pretrained', checkpoint=str(out))
    reference.init_weights()  # mmdet's own loader: keeps keys under 'backbone.'
    reference.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model.eval()(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_export_round_trip_leaves_the_model_tied_and_reloads_as_a_stack(tmp_path):
    from scalenet_mm.checkpoint import load_pretrained
    model = perturb_(build(depth_scale=2, adapter=None)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params_before = [id(p) for p in model.parameters()]
    path = tmp_path / 'plain.pth'
    torch.save(export_plain(model), path)
    # the ScaleNet model is unchanged and still shared: same parameter objects, same values
    assert [id(p) for p in model.parameters()] == params_before
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # the plain deeper Swin loads back (strictly) as an untied ScaleNet model of the same depth
    stack = build(depth_scale=1, arch=dict(SMALL_ARCH, depths=model.scaled_depths), adapter=None).eval()
    load_pretrained(stack, str(path))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(x), stack(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
