"""The Swin architecture zoo and mmdet/mmseg ``SwinTransformer`` arguments, resolved and validated.

:class:`ScaleNetSwinTransformer` takes either our ``arch`` (an mmpretrain-style zoo name or dict) or
mmdet/mmseg's ``embed_dims`` / ``depths`` / ``num_heads``, and every other argument of their
``SwinTransformer`` with its meaning, so a shipped mmdet/mmseg config works after changing ``type``. What
cannot be honoured (a patch stride other than the patch size, a merging stride other than 2; another norm or
activation in :mod:`.backbone_arguments`) is refused, with the reason, before anything is built.
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
