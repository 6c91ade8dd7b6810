"""The plain ViT / DeiT architecture zoo and mmseg ``VisionTransformer`` arguments, resolved and validated.

:class:`ScaleNetVisionTransformer` takes either ``arch`` (DeiT's widths, as timm names them) or mmseg's
``embed_dims`` / ``num_layers`` / ``num_heads`` (default ViT-B/16), and mmseg's other arguments with their
meaning. What cannot be honoured is refused here, with the reason, before anything is built.
"""
from typing import Any, Optional, Sequence, Union

VIT_ARCH_ZOO: dict[str, dict[str, int]] = {
    'deit-tiny': dict(embed_dims=192, num_layers=12, num_heads=3),
    'deit-small': dict(embed_dims=384, num_layers=12, num_heads=6),
    'deit-base': dict(embed_dims=768, num_layers=12, num_heads=12),
}
VIT_ARCH_ALIASES = {alias: name for name in VIT_ARCH_ZOO
                    for alias in (name[len('deit-'):], name[len('deit-')], f'deit-{name[len("deit-")]}')}
# mmseg's VisionTransformer defaults (ViT-B/16)
MM_VIT_DEFAULTS = VIT_ARCH_ZOO['deit-base']
INTERPOLATE_MODES = ('nearest', 'bilinear', 'bicubic', 'area')


def resolve_vit_arch(arch: Optional[Union[str, dict]], embed_dims: Optional[int], num_layers: Optional[int],
                     num_heads: Optional[int]) -> dict[str, int]:
    """``{'embed_dims', 'num_layers', 'num_heads'}`` from ``arch`` *or* mmseg-style arguments."""
    mm_style = {k: v for k, v in dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads).items()
                if v is not None}
    if arch is not None and mm_style:
        raise ValueError(f'give either arch={arch!r} or mmseg-style {sorted(mm_style)}, not both: they could '
                         'contradict each other')
    if arch is None:
        return dict(MM_VIT_DEFAULTS, **mm_style)
    if isinstance(arch, str):
        name = VIT_ARCH_ALIASES.get(arch.lower(), arch.lower())
        if name not in VIT_ARCH_ZOO:
            raise ValueError(f'arch={arch!r} is not known; use one of {sorted(VIT_ARCH_ZOO)} (aliases '
                             f'{sorted(VIT_ARCH_ALIASES)}) or a dict with embed_dims, num_layers, num_heads')
        return dict(VIT_ARCH_ZOO[name])
    if isinstance(arch, dict) and set(arch) == {'embed_dims', 'num_layers', 'num_heads'}:
        return dict(arch)
    raise ValueError(f'arch={arch!r} must be a zoo name or a dict with exactly the keys embed_dims, num_layers, '
                     'num_heads')


def check_mmseg_options(patch_pad: Any, num_fcs: int, pre_norm: bool, norm_eval: bool,
                        frozen_exclude: Sequence[str], interpolate_mode: str, with_cls_token: bool,
                        output_cls_token: bool) -> None:
    """Refuse mmseg ``VisionTransformer`` options this backbone does not implement, naming the alternative."""
    if patch_pad != 'corner':
        raise ValueError(f"patch_pad={patch_pad!r} is not supported; only 'corner' (mmseg's default: zero-pad the "
                         'bottom/right to a multiple of the patch size)')
    if num_fcs != 2:
        raise ValueError(f'num_fcs={num_fcs} is not supported: the ViT MLP has two linears (fc1, fc2)')
    if pre_norm:
        raise ValueError('pre_norm=True (a LayerNorm before the first layer, CLIP-style) is not supported')
    if norm_eval:
        raise ValueError('norm_eval=True has no effect on LayerNorm (it only freezes BatchNorm statistics); '
                         "leave it False and use trainable='adapters_norms' or 'adapters' to freeze weights")
    if list(frozen_exclude) != ['all']:
        raise ValueError(f"frozen_exclude={list(frozen_exclude)!r} is not supported; use trainable='all', "
                         "'adapters_norms' or 'adapters'")
    if interpolate_mode not in INTERPOLATE_MODES:
        raise ValueError(f'interpolate_mode={interpolate_mode!r} is not one of {INTERPOLATE_MODES}')
    if output_cls_token and not with_cls_token:
        raise ValueError('output_cls_token=True needs with_cls_token=True')
