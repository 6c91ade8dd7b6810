"""Feature maps no larger than the window: ``pad_small_map=False`` computes what timm (and Microsoft's Swin) compute.

timm builds each stage for a fixed grid: along a side no larger than the window, the window shrinks to the side
and the shift is 0. Its shrunk windows own smaller bias tables; ours read the same offsets from the full
table, so timm's small tables are written into the centre of ours before comparing.
"""
import pytest
import torch
import torch.nn.functional as F

from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.models.layers.window_attention import window_geometry

from conftest import build
from released_layouts import random_timm_swin, write_released_file

timm = pytest.importorskip('timm')

ARCH = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


def centred_table(table: torch.Tensor, window: tuple[int, int], window_size: int) -> torch.Tensor:
    """A ``((2Wh-1)(2Ww-1), heads)`` table of a shrunk window placed at the centre of a ``window_size`` table."""
    rows, cols = 2 * window[0] - 1, 2 * window[1] - 1
    span, heads = 2 * window_size - 1, table.shape[1]
    grid = torch.zeros(span, span, heads)
    top, left = window_size - window[0], window_size - window[1]
    grid[top:top + rows, left:left + cols] = table.view(rows, cols, heads)
    return grid.view(span * span, heads)


def timm_features(model, x):
    raw = model.forward_intermediates(x, intermediates_only=True, norm=False)
    return raw, model.forward_features(x)


@pytest.mark.parametrize('img_size, window', [(32, 4), ((64, 128), 4), (224, 7)],
                         ids=['cifar-32px-window4', 'rectangular-64x128', 'imagenet-224-window7'])
def test_official_small_map_semantics_equal_timm(tmp_path, img_size, window):
    model = random_timm_swin('tiny', seed=2, img_size=img_size, window_size=window, embed_dim=16,
                             depths=ARCH['depths'], num_heads=ARCH['num_heads'], num_classes=10)
    state = model.state_dict()
    for key in [k for k in state if k.endswith('relative_position_bias_table')]:
        attention = model.get_submodule(key[:-len('.relative_position_bias_table')])
        state[key] = centred_table(state[key], attention.window_size, window)
    path = str(tmp_path / 'timm.pth')
    torch.save(state, path)
    ours = build(arch=ARCH, window_size=window, adapter=None, pad_small_map=False).eval()
    load_pretrained(ours, path)
    x = torch.randn(2, 3, *((img_size, img_size) if isinstance(img_size, int) else img_size))
    with torch.no_grad():
        raw, final = timm_features(model, x)
        got = ours(x)
    for i, (g, r) in enumerate(zip(got, raw)):
        norm = getattr(ours, f'norm{i}')
        expected = F.layer_norm(r.permute(0, 2, 3, 1), (r.shape[1], ), norm.weight, norm.bias).permute(0, 3, 1, 2)
        torch.testing.assert_close(g, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got[3], final.permute(0, 3, 1, 2), rtol=1e-4, atol=1e-4)


def test_geometry_of_both_conventions():
    device = torch.device('cpu')
    mm = window_geometry((2, 9), 4, True, device)
    assert (mm.window, mm.shift, mm.padded_hw, mm.bias_index) == ((4, 4), (2, 2), (4, 12), None)
    assert mm.shift_mask.shape == (3, 16, 16)
    official = window_geometry((2, 9), 4, False, device)
    assert (official.window, official.shift, official.padded_hw) == ((2, 4), (0, 2), (2, 12))
    assert official.shift_mask.shape == (3, 8, 8) and official.bias_index.shape == (8, 8)
    assert window_geometry((4, 4), 4, False, device).shift_mask is None  # map == window: no shift


def test_small_maps_differ_between_conventions_and_padding_is_not_attended():
    padded = build(arch=ARCH, window_size=4, pad_small_map=True).eval()
    official = build(arch=ARCH, window_size=4, pad_small_map=False).eval()
    official.load_state_dict(padded.state_dict())
    x = torch.randn(1, 3, 32, 32)  # maps 8, 4, 2, 1
    with torch.no_grad():
        a, b = padded(x), official(x)
    torch.testing.assert_close(a[0], b[0])  # 8x8 > window: the same function
    assert all((p - o).abs().max() > 1e-3 for p, o in zip(a[1:], b[1:]))


def test_adapters_take_the_blocks_hidden_width():
    # 112 * 1.03 = 115.36 -> a 115-wide MLP; a width from hidden / embed_dims would round to 114
    model = build(arch=dict(embed_dims=112, depths=(2, 2), num_heads=(2, 4)), mlp_ratio=1.03, depth_scale=2,
                  out_indices=(0, 1), adapter=dict(targets=('fc1', 'fc2'), dim=4))
    stage = model.stages[0]
    assert stage.blocks[0].ffn.fc1.out_features == 115
    assert stage.adapters[2]['fc2'].down.in_features == 115 and stage.adapters[2]['fc1'].up.out_features == 115
    outs = model(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 112, 8, 8), (1, 224, 4, 4)]


def test_shift_masks_are_not_kept_between_forwards():
    import scalenet_mm.models.layers.window_attention as window_attention
    assert not any(hasattr(obj, 'cache_info') for obj in vars(window_attention).values())


def test_microsoft_file_loads_at_224_into_both_conventions(tmp_path):
    swin_t = random_timm_swin('tiny')
    path = write_released_file(tmp_path / 'swin_tiny_patch4_window7_224.pth', 'microsoft', swin_t)
    for pad_small_map in (True, False):
        report = load_pretrained(build(arch='tiny', window_size=7, pad_small_map=pad_small_map), path)
        assert report.format == 'official'
