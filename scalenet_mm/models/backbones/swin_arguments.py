"""The Swin architecture zoo and mmdet/mmseg ``SwinTransformer`` arguments, resolved and validated.

:class:`ScaleNetSwinTransformer` takes either our ``arch`` (an mmpretrain-style zoo name or dict) or
mmdet/mmseg's ``embed_dims`` / ``depths`` / ``num_heads``, and every other argument of their
``SwinTransformer`` with its meaning, so a shipped mmdet/mmseg config works after changing ``type``. What
cannot be honoured (another norm or activation, a patch stride other than the patch size, a merging
stride other than 2) is refused here, with the reason, before anything is built.
"""
from typing import Any, Optional, Sequence, Union

ARCH_ZOO: dict[str, dict[str, Any]] = {
    'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'large': dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
}
ARCH_ALIASES = {'t': 'tiny', 's': 'small', 'b': 'base', 'l': 'large'}
# the values mmdet's/mmseg's SwinTransformer take when embed_dims/depths/num_heads are left out (Swin-T)
MM_SWIN_DEFAULTS = ARCH_ZOO['tiny']


def resolve_arch(arch: Optional[Union[str, dict]] = None, embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None) -> dict[str, Any]:
    """``{'embed_dims', 'depths', 'num_heads'}`` from ``arch`` *or* mmdet-style arguments (default Swin-T)."""
    mm_style = {k: v for k, v in dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads).items()
                if v is not None}
    if arch is not None and mm_style:
        raise ValueError(f'give either arch={arch!r} or mmdet-style {sorted(mm_style)}, not both: they could '
                         'contradict each other')
    if arch is None:
        resolved = dict(MM_SWIN_DEFAULTS, **mm_style)
    elif isinstance(arch, str):
        name = ARCH_ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCH_ZOO:
            raise ValueError(f'arch={arch!r} is not known; use one of {sorted(ARCH_ZOO)} (aliases '
                             f'{sorted(ARCH_ALIASES)}) or a dict with embed_dims, depths, num_heads')
        resolved = dict(ARCH_ZOO[name])
    elif isinstance(arch, dict) and set(arch) == {'embed_dims', 'depths', 'num_heads'}:
        resolved = dict(arch)
    else:
        raise ValueError(f'arch={arch!r} must be a zoo name or a dict with exactly the keys embed_dims, depths, '
                         'num_heads')
    if len(resolved['depths']) != len(resolved['num_heads']):
        raise ValueError(f'depths {tuple(resolved["depths"])} and num_heads {tuple(resolved["num_heads"])} differ '
                         'in length: one entry per stage')
    return dict(embed_dims=resolved['embed_dims'], depths=tuple(resolved['depths']),
                num_heads=tuple(resolved['num_heads']))


def check_strides(strides: Optional[Sequence[int]], patch_size: int, num_stages: int) -> None:
    """mmdet's ``strides``: the patch embedding's stride, then each PatchMerging's; only ``(p, 2, 2, ...)``."""
    if strides is None:
        return
    expected = (patch_size,) + (2,) * (num_stages - 1)
    if tuple(strides) != expected:
        raise ValueError(f'strides={tuple(strides)} cannot be honoured: the patch embedding is non-overlapping '
                         f'(stride = patch_size = {patch_size}) and each patch merging halves the map, so strides '
                         f'must be {expected} for {num_stages} stages')


def check_layer_configs(norm_cfg: Optional[dict], act_cfg: Optional[dict]) -> None:
    """Only LayerNorm and (exact) GELU are implemented, as in every Swin checkpoint."""
    norm = dict(norm_cfg or {})
    if norm.pop('type', None) != 'LN' or norm.pop('requires_grad', True) is not True or \
            norm.pop('eps', 1e-5) != 1e-5 or norm:
        raise ValueError(f"norm_cfg={norm_cfg!r} cannot be honoured: the Swin blocks use LayerNorm (eps 1e-5); "
                         "use norm_cfg=dict(type='LN') (freeze with frozen_stages or trainable instead of "
                         'requires_grad)')
    act = dict(act_cfg or {})
    if act.pop('type', None) != 'GELU' or act.pop('approximate', 'none') != 'none' or act:
        raise ValueError(f"act_cfg={act_cfg!r} cannot be honoured: the Swin MLP uses exact GELU; use "
                         "act_cfg=dict(type='GELU')")


def resolve_init_cfg(init_cfg: Optional[dict], pretrained: Optional[str]) -> Optional[dict]:
    """mmdet's deprecated ``pretrained=<path>`` as ``init_cfg``; only ``Pretrained`` init configs are taken."""
    if pretrained is not None:
        if init_cfg is not None:
            raise ValueError('init_cfg and pretrained cannot be given together (pretrained is the deprecated '
                             "form of init_cfg=dict(type='Pretrained', checkpoint=...))")
        if not isinstance(pretrained, str):
            raise ValueError(f'pretrained={pretrained!r} must be a checkpoint path or URL, or None')
        init_cfg = dict(type='Pretrained', checkpoint=pretrained)
    if init_cfg is not None and (init_cfg.get('type') != 'Pretrained' or 'checkpoint' not in init_cfg
                                 or set(init_cfg) - {'type', 'checkpoint', 'prefix'}):
        raise ValueError(f"init_cfg={init_cfg!r}: only dict(type='Pretrained', checkpoint=..., prefix=...) is "
                         'supported; leave init_cfg=None for random initialisation')
    return init_cfg


def to_2tuple(size: Union[int, Sequence[int]], name: str) -> tuple[int, int]:
    """``224 -> (224, 224)``; ``(h, w)`` as is; anything else is refused naming the argument."""
    if isinstance(size, int):
        return size, size
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f'{name}={size!r} must be an int or (height, width)')
