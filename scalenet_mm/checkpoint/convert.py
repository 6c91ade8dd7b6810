"""Recognise a backbone checkpoint's architecture and layout and convert it to our mm keys (pure functions).

The rules of each architecture live in :mod:`.swin_layouts` (Microsoft / timm / mmdet / mmseg / mmpretrain
Swin) and :mod:`.vit_layouts` (timm / DeiT / mmpretrain / mmseg ViT).
"""
from .layout import BackboneLayout, ConvertedBackbone, StateDict
from .swin_layouts import SwinLayout
from .vit_layouts import ViTLayout

LAYOUTS: dict[str, BackboneLayout] = {'swin': SwinLayout(), 'vit': ViTLayout()}


def detect_architecture(state: StateDict) -> str:
    """``'swin'`` or ``'vit'`` from the keys; ``ValueError`` if neither fits."""
    found = [name for name, layout in LAYOUTS.items() if layout.matches(state)]
    if len(found) != 1:
        keys = ', '.join(list(state)[:5])
        raise ValueError(f'unknown checkpoint format: no Swin or ViT blocks found (expected keys like '
                         "'layers.0.blocks.0.attn.qkv.weight' (Swin), 'stages.0.blocks.0.attn.w_msa.qkv.weight' "
                         "(mm Swin), 'blocks.0.attn.qkv.weight' (timm ViT/DeiT) or "
                         f"'layers.0.attn.attn.in_proj_weight' (mmseg ViT)); first keys: {keys}")
    return found[0]


def detect_format(state: StateDict) -> str:
    """The layout name of a backbone state dict (prefixes removed), within its architecture."""
    return LAYOUTS[detect_architecture(state)].detect(state)


def to_mm_backbone(state: StateDict) -> ConvertedBackbone:
    """Detect architecture and layout, and convert to mm keys, reporting what was skipped and renamed."""
    return LAYOUTS[detect_architecture(state)].convert(state)
