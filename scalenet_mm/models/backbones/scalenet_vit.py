"""ScaleNet Vision Transformer: a deeper plain ViT / DeiT whose extra positions share the weights of its layers.

Layout (keys equal mmseg ``VisionTransformer`` keys, plus adapters, optional per-position norms and the map)::

    cls_token                         (1, 1, C)
    pos_embed                         (1, 1 + h*w, C) for the img_size grid (h, w)
    patch_embed.projection            Conv2d, kernel = stride = patch_size (+ patch_embed.norm)
    layers.{b}.*                      the source layers: the only owners of the shared weights
    layer_map                         (persistent buffer) the owned layer each position runs
    adapters.{p}.{t}.{down,up}.weight per-position adapters (targets t)
    position_norms.{p}.{ln1,ln2}.*    per-position norms (share_norms=False, inserted p)
    gates.{p}                         per-position residual gates (gate_inserted=True, inserted p)
    ln1                               final norm (final_norm=True)

The whole depth is one sequence of positions (``g(p) = p mod L`` for the cyclic map).
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from ...registry import MODELS
from ..layers.patch_layers import PatchEmbed
from ..layers.position_resize import resize_pos_embed
from ..layers.vit_block import VIT_NORM_NAMES, PackedProjections, ViTBlock
from ..scaling.adapters import parse_adapter_config
from ..scaling.layer_map import plan_stages
from ..scaling.shared_positions import SharedPositions
from ..scaling.trainable import check_trainable
from .backbone_arguments import check_norm_and_act, check_share_norms, resolve_init_cfg, to_2tuple
from .backbone_mixin import ScaleNetBackboneMixin
from .pretrained_init import init_linears_and_norms
from .vit_arguments import check_mmseg_options, resolve_vit_arch

ViTLayerMap = Union[str, Sequence[int], Sequence[Sequence[int]]]


@MODELS.register_module()
class ScaleNetVisionTransformer(SharedPositions, ScaleNetBackboneMixin, BaseModule):
    """Plain ViT / DeiT deepened by weight sharing with per-position adapters (ScaleNet).

    Args:
        arch: ``'deit-tiny'|'deit-small'|'deit-base'`` (aliases ``tiny|small|base``, ``t|s|b``) or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``; or leave it None and give those three as mmseg does
            (default ViT-B/16). Giving both is refused.
        depth_scale: positions per source layer (``2``: DeiT-S 12 -> 24 positions); default 1.
        scaled_depth: the number of positions, instead of ``depth_scale``.
        layer_map: ``'cyclic'`` (``g(p) = p mod L``), ``'interleave'`` or a list of source layer indices, one per
            position.
        adapter, share_norms, trainable, unshare, gate_inserted: as :class:`ScaleNetSwinTransformer`.
        img_size: pretraining image size; ``pos_embed`` covers its patch grid and is resized for other inputs.
        out_indices: *positions* whose outputs are returned (``-1``: the last), e.g. ``(5, 11, 17, 23)`` for a
            UperNet on a 24-position model.
        patch_size, patch_pad, in_channels, embed_dims, num_layers, num_heads, mlp_ratio, out_origin, qkv_bias,
        drop_rate, attn_drop_rate, drop_path_rate, with_cls_token, output_cls_token, norm_cfg, act_cfg,
        patch_norm, patch_bias, pre_norm, final_norm, interpolate_mode, num_fcs, norm_eval, with_cp,
        frozen_exclude, pretrained, init_cfg: as mmseg's ``VisionTransformer`` (defaults too). ``drop_path_rate``
            is spread linearly over the positions and applied to both residual branches (DeiT/timm; mmseg's
            own ViT applies it to the MLP branch only). ``norm_cfg`` may set any LayerNorm ``eps`` (DeiT: 1e-6).
            DeiT files have a patch-embedding bias: set ``patch_bias=True`` to load them (mmseg's default False
            would drop it). Options not implemented (``pre_norm``, ``norm_eval=True``, ``frozen_exclude``,
            ``patch_pad`` other than 'corner', ``num_fcs != 2``) are refused with the reason.

    Inputs ``(B, in_channels, H, W)``; outputs a tuple with, per entry of ``out_indices``, the patch tokens as
    ``(B, C, ceil(H/p), ceil(W/p))`` (a list ``[map, (B, C) class token]`` with ``output_cls_token``).
    """

    blocks_name = 'layers'
    architecture = 'vit'  # which checkpoint layouts apply (scalenet_mm.checkpoint)
    embedding_names = ('cls_token', 'pos_embed', 'patch_embed')

    def __init__(self,
                 arch: Optional[Union[str, dict]] = None,
                 depth_scale: Optional[float] = None,
                 scaled_depth: Optional[int] = None,
                 layer_map: ViTLayerMap = 'cyclic',
                 adapter: Optional[dict] = dict(type='parallel', targets=('fc1', 'fc2'), dim=16),
                 share_norms: bool = True,
                 trainable: str = 'all',
                 unshare: bool = False,
                 gate_inserted: bool = False,
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 patch_pad: str = 'corner',
                 in_channels: int = 3,
                 embed_dims: Optional[int] = None,
                 num_layers: Optional[int] = None,
                 num_heads: Optional[int] = None,
                 mlp_ratio: float = 4,
                 out_origin: bool = False,
                 out_indices: Union[int, Sequence[int]] = -1,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0,
                 with_cls_token: bool = True,
                 output_cls_token: bool = False,
                 norm_cfg: Optional[dict] = dict(type='LN'),
                 act_cfg: Optional[dict] = dict(type='GELU'),
                 patch_norm: bool = False,
                 patch_bias: bool = False,
                 pre_norm: bool = False,
                 final_norm: bool = False,
                 interpolate_mode: str = 'bicubic',
                 num_fcs: int = 2,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 frozen_exclude: Sequence[str] = ('all',),
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # validate the whole request before building anything
        arch_cfg = resolve_vit_arch(arch, embed_dims, num_layers, num_heads)
        if isinstance(layer_map, (list, tuple)) and all(isinstance(i, int) for i in layer_map):
            layer_map = [list(layer_map)]
        if depth_scale is not None and not isinstance(depth_scale, (int, float)):
            raise ValueError(f'depth_scale={depth_scale!r} must be one positive number (a ViT has one stage)')
        plan = plan_stages([arch_cfg['num_layers']], depth_scale,
                           None if scaled_depth is None else [scaled_depth], layer_map)[0]
        adapter_cfg = parse_adapter_config(adapter)
        norm_eps = check_norm_and_act(norm_cfg, act_cfg, 'ViT', eps=None)
        check_mmseg_options(patch_pad, num_fcs, pre_norm, norm_eval, frozen_exclude, interpolate_mode,
                            with_cls_token, output_cls_token)
        check_trainable(trainable, adapter_cfg is not None)
        check_share_norms(share_norms, unshare, 'layer')
        init_cfg = resolve_init_cfg(init_cfg, pretrained)
        img_hw = to_2tuple(img_size, 'img_size')
        positions = list(out_indices) if isinstance(out_indices, (list, tuple)) else [out_indices]
        positions = [plan.depth - 1 if p == -1 else p for p in positions]
        if any(not isinstance(p, int) or not 0 <= p < plan.depth for p in positions) or \
                len(set(positions)) != len(positions):
            raise ValueError(f'out_indices={out_indices!r} must be distinct positions in 0..{plan.depth - 1} '
                             f'(or -1 for the last) of the {plan.depth}-position model')
        super().__init__(init_cfg=init_cfg)

        self.arch = arch_cfg
        self.adapter_cfg = adapter_cfg
        self.trainable = trainable
        self.out_indices = tuple(positions)
        self.out_origin = out_origin
        self.with_cls_token = with_cls_token
        self.output_cls_token = output_cls_token
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.pretrain_grid = (img_hw[0] // patch_size, img_hw[1] // patch_size)
        dims = arch_cfg['embed_dims']
        hidden_dims = int(mlp_ratio * dims)

        self.patch_embed = PatchEmbed(in_channels, dims, patch_size, patch_norm, bias=patch_bias, norm_eps=norm_eps)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.pretrain_grid[0] * self.pretrain_grid[1], dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        rates = torch.linspace(0, drop_path_rate, plan.depth).tolist()
        self.build_positions(plan, rates, unshare, adapter_cfg, share_norms,
                             build_block=lambda: ViTBlock(dims, arch_cfg['num_heads'], hidden_dims, qkv_bias,
                                                          drop_rate, attn_drop_rate, norm_eps),
                             build_norm=lambda: nn.LayerNorm(dims, eps=norm_eps), norm_names=VIT_NORM_NAMES,
                             embed_dims=dims, hidden_dims=hidden_dims, with_cp=with_cp,
                             gate_inserted=gate_inserted)
        if final_norm:
            self.ln1 = nn.LayerNorm(dims, eps=norm_eps)
        self.apply_trainable_policy()

    # ------------------------------------------------------------------ initialisation
    def random_init(self) -> None:
        """Truncated-normal (std 0.02) linears, projections, ``pos_embed`` and ``cls_token``; zero biases; unit
        LayerNorms; the patch projection as a fresh Conv2d; zero-``up`` adapters."""
        init_linears_and_norms(self)
        for module in self.modules():
            if isinstance(module, PackedProjections):
                trunc_normal_(module.in_proj_weight, std=0.02)
                if module.in_proj_bias is not None:
                    nn.init.zeros_(module.in_proj_bias)
        self.patch_embed.projection.reset_parameters()
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        self.start_as_source()

    def shared_positions(self) -> dict[str, SharedPositions]:
        """The scaled sequence by state-dict key prefix (the whole model): what the checkpoint code reads."""
        return {'': self}

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> tuple:
        """``(B, C_in, H, W)`` -> per out index ``(B, C, H/p, W/p)`` (or ``[map, (B, C) class token]``)."""
        x, hw_shape = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.drop_after_pos(x + self.position_embedding(hw_shape))
        if not self.with_cls_token:
            x = x[:, 1:]
        outs = [self.format_output(x, hw_shape)] if self.out_origin else []
        last, kept = self.run_positions(x, keep=self.out_indices)
        for position in self.out_indices:
            out = kept[position]
            if position == self.depth - 1 and self.final_norm:
                out = self.ln1(out)
            outs.append(self.format_output(out, hw_shape))
        return tuple(outs)

    def format_output(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> Union[torch.Tensor, list]:
        """Tokens ``(B, [1 +] H*W, C)`` -> ``(B, C, H, W)`` (with the class token as ``[map, (B, C)]``)."""
        patches = x[:, 1:] if self.with_cls_token else x
        out = patches.reshape(x.shape[0], *hw_shape, x.shape[-1]).permute(0, 3, 1, 2).contiguous()
        return [out, x[:, 0]] if self.output_cls_token else out

    def position_embedding(self, hw_shape: tuple[int, int]) -> torch.Tensor:
        """``(1, 1 + H*W, C)``: ``pos_embed`` as is on the pretraining grid, else its patch part resized."""
        return resize_pos_embed(self.pos_embed, self.pretrain_grid, hw_shape, mode=self.interpolate_mode,
                                num_extra_tokens=1)
