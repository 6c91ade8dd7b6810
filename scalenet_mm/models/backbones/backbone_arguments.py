"""Argument checks and conversions both backbones take the same way (the architecture-specific ones are in
:mod:`.swin_arguments` and :mod:`.vit_arguments`)."""
from typing import Optional, Sequence, Union


def to_2tuple(size: Union[int, Sequence[int]], name: str) -> tuple[int, int]:
    """``224 -> (224, 224)``; ``(h, w)`` as is; anything else is refused naming the argument."""
    if isinstance(size, int):
        return size, size
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f'{name}={size!r} must be an int or (height, width)')


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


def check_norm_and_act(norm_cfg: Optional[dict], act_cfg: Optional[dict], network: str,
                       eps: Optional[float] = 1e-5, freeze_with: str = 'trainable') -> float:
    """Only LayerNorm and exact GELU are implemented, as in every Swin and ViT checkpoint; returns the
    LayerNorm epsilon.

    Args:
        norm_cfg, act_cfg: the mmdet/mmseg arguments.
        network: names the blocks in the message (``'Swin'``, ``'ViT'``).
        eps: the only epsilon the network's checkpoints fit, or None to take any ``norm_cfg['eps']``
            (default 1e-5).
        freeze_with: the arguments that freeze weights, named in the message instead of ``requires_grad``.
    """
    norm = dict(norm_cfg or {})
    norm_eps = norm.pop('eps', 1e-5)
    if norm.pop('type', None) != 'LN' or norm.pop('requires_grad', True) is not True or norm or \
            (eps is not None and norm_eps != eps):
        layer_norm, use = ('LayerNorm', "dict(type='LN', eps=...)") if eps is None else \
            (f"LayerNorm (eps {f'{eps:g}'.replace('e-0', 'e-')})", "dict(type='LN')")
        raise ValueError(f'norm_cfg={norm_cfg!r} cannot be honoured: the {network} blocks use {layer_norm}; use '
                         f'norm_cfg={use} (freeze with {freeze_with} instead of requires_grad)')
    act = dict(act_cfg or {})
    if act.pop('type', None) != 'GELU' or act.pop('approximate', 'none') != 'none' or act:
        raise ValueError(f"act_cfg={act_cfg!r} cannot be honoured: the {network} MLP uses exact GELU; use "
                         "act_cfg=dict(type='GELU')")
    return float(norm_eps)


def check_share_norms(share_norms: bool, unshare: bool, block: str) -> None:
    """``share_norms=False`` only means something for shared blocks; ``block`` names them (``block``, ``layer``)."""
    if unshare and not share_norms:
        raise ValueError(f'share_norms=False gives inserted positions norms of their own; with unshare=True every '
                         f'position already owns its {block} and its norms: leave share_norms=True')
