"""ScaleNet Swin Transformer: a deeper Swin whose extra positions share the weights of a stage's blocks.

Layout (keys equal mmdet/mmseg ``SwinTransformer`` keys, plus adapters, optional per-position norms and
the layer map)::

    patch_embed.{projection,norm}
    absolute_pos_embed               (1, N, C), only with use_abs_pos_embed
    stages.{s}.blocks.{b}.*          the stage's source blocks: the only owners of the shared weights
    stages.{s}.layer_map             (persistent buffer) the owned block each position runs
    stages.{s}.adapters.{p}.{t}.{down,up}.weight    per-position adapters (targets t)
    stages.{s}.position_norms.{p}.{norm1,norm2}.*  per-position norms (share_norms=False, inserted p)
    stages.{s}.gates.{p}             per-position residual gates (gate_inserted=True, inserted p)
    stages.{s}.downsample.{norm,reduction}
    norm{i}                          output norms for i in out_indices

With ``unshare=True`` every position owns a block (``blocks.{p}``, ``layer_map = [0..d'-1]``), each
initialised from its source block when a source checkpoint is loaded: the "stack" baseline, or a deeper
Swin from scratch without one.
"""
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from ...registry import MODELS
from ..layers.patch_layers import PatchEmbed, PatchMerging
from ..layers.position_resize import resize_pos_embed
from ..layers.shift_modes import resolve_shift_modes
from ..layers.swin_block import SWIN_NORM_NAMES, SwinBlock, SwinPositionContext
from ..layers.window_attention import window_geometry
from ..scaling.adapters import AdapterConfig, parse_adapter_config
from ..scaling.layer_map import LayerMapSpec, StagePlan, plan_stages
from ..scaling.shared_positions import SharedPositions
from ..scaling.trainable import check_trainable
from .backbone_arguments import check_norm_and_act, check_share_norms, resolve_init_cfg, to_2tuple
from .backbone_mixin import ScaleNetBackboneMixin
from .pretrained_init import init_linears_and_norms
from .swin_arguments import check_strides, resolve_arch


class ScaleNetStage(SharedPositions):
    """One Swin stage: shared positions (see :class:`SharedPositions`) with window modes, and the downsample.

    Args:
        plan: the stage's resolved layer map.
        shifted: per position, SW-MSA (True) or W-MSA.
        drop_path_rates: one rate per position.
        unshare: one block per position instead of shared source blocks.
        adapter: adapter request, or None.
        share_norms: use the blocks' norms at every position; else inserted positions own a copy.
        block_args: arguments of :class:`SwinBlock`.
        downsample: the PatchMerging after the stage, or None.
        with_cp: non-reentrant activation checkpointing per position.
        pad_small_map: small-map window convention (see :mod:`..layers.window_attention`).
        gate_inserted: a zero-initialised learnable gate per inserted position.
    """

    def __init__(self, plan: StagePlan, shifted: Sequence[bool], drop_path_rates: Sequence[float], unshare: bool,
                 adapter: Optional[AdapterConfig], share_norms: bool, block_args: dict[str, Any],
                 downsample: Optional[PatchMerging], with_cp: bool, pad_small_map: bool, gate_inserted: bool) -> None:
        super().__init__()
        self.shifted = tuple(shifted)
        self.pad_small_map = pad_small_map
        self.window_size = block_args['window_size']
        embed_dims = block_args['embed_dims']
        self.build_positions(plan, drop_path_rates, unshare, adapter, share_norms,
                             build_block=lambda: SwinBlock(**block_args), build_norm=lambda: nn.LayerNorm(embed_dims),
                             norm_names=SWIN_NORM_NAMES, embed_dims=embed_dims,
                             hidden_dims=block_args['hidden_dims'], with_cp=with_cp, gate_inserted=gate_inserted)
        self.downsample = downsample

    def position_context(self, position: int) -> SwinPositionContext:
        """The shared per-position state plus the position's window mode."""
        context = super().position_context(position)
        return SwinPositionContext(context.drop_path_rate, context.adapters, context.norms, context.gate,
                                   self.shifted[position])

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]
                ) -> tuple[torch.Tensor, tuple[int, int], torch.Tensor, tuple[int, int]]:
        """``(B, H*W, C)`` -> (downsampled x, its hw, stage output before downsample, its hw)."""
        # one window layout (and SW-MSA mask) per stage forward, shared by all positions: no global cache
        geometry = window_geometry(hw_shape, self.window_size, self.pad_small_map, x.device)
        x, _ = self.run_positions(x, hw_shape, geometry)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        x_down, down_hw = self.downsample(x, hw_shape)
        return x_down, down_hw, x, hw_shape


@MODELS.register_module()
class ScaleNetSwinTransformer(ScaleNetBackboneMixin, BaseModule):
    """Swin Transformer deepened by stage-wise weight sharing with per-position adapters (ScaleNet).

    Args:
        arch: ``'tiny'|'small'|'base'|'large'`` (aliases ``t|s|b|l``) or a dict with ``embed_dims``,
            ``depths``, ``num_heads``; or leave it None and give those three as mmdet does (default
            Swin-T). Giving both is refused.
        depth_scale: a number or one per stage (``2``: Swin-T ``(2,2,6,2) -> (4,4,12,4)``); default 1.
        scaled_depths: target depth per stage, instead of ``depth_scale``.
        layer_map: ``'cyclic'``, ``'interleave'`` or a per-stage list of source indices.
        shift_policy: ``'by_position'`` or ``'inherit_source'`` for maps that break W/SW-MSA parity.
        adapter: None (sharing without adapters) or a dict: ``type`` (``'parallel'``|``'lora'``),
            ``targets`` (among ``fc1, fc2, qkv, proj``), ``dim``, ``scale``, ``positions``
            (``'all'``|``'inserted'``). Default: parallel adapters on fc1 and fc2, dim 16, everywhere.
        share_norms: positions share their block's LayerNorms; if False, inserted positions own copies.
        trainable: ``'all'``; ``'adapters_norms'``: adapters, gates and every LayerNorm train (block norms,
            per-position norms, ``patch_embed.norm``, ``downsample.norm``, ``norm{i}``), everything else is
            frozen; ``'adapters'``: adapters and gates only. Re-applied on every ``train()``.
        unshare: build the scaled depth untied (each position its own block).
        gate_inserted: give every inserted position (one that is not the first to run its source block) a
            learnable scalar gate on both residual branches, zero at the start: the grown model then starts
            exactly as the source network whatever the adapters. Trained under every ``trainable`` policy;
            export folds it into the branch output weights.
        pad_small_map: how a stage whose feature map has a side no larger than ``window_size`` attends.
            True (default, mmdet/mmseg): pad to a whole window and shift (SW-MSA) anyway. False (Microsoft's
            Swin, timm, mmpretrain classifiers): the window shrinks to that side and does not shift, so the
            function equals the official one (e.g. the 7x7 last stage at 224 with window 7) and no padding
            token is attended to. Use False for classification and tiny inputs, True for parity with
            mmdet/mmseg in detection and segmentation.
        embed_dims, depths, num_heads, pretrain_img_size, in_channels, patch_size, strides, window_size,
        mlp_ratio, qkv_bias, qk_scale, patch_norm, drop_rate, attn_drop_rate, drop_path_rate,
        use_abs_pos_embed, norm_cfg, act_cfg, out_indices, frozen_stages, with_cp, pretrained, init_cfg:
            as mmdet's/mmseg's ``SwinTransformer``. ``drop_path_rate`` is spread linearly over all
            *positions*. ``strides`` must be ``(patch_size, 2, 2, ...)``, ``norm_cfg`` LayerNorm and
            ``act_cfg`` GELU (the only ones a Swin checkpoint fits); others are refused. The absolute
            position embedding (``absolute_pos_embed``, ``(1, N, C)`` for ``pretrain_img_size``) is
            resized bicubically for other input sizes, where mmdet's would fail.
            ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=None)`` (or ``pretrained=<path>``)
            loads any supported Swin checkpoint strictly (see :func:`scalenet_mm.checkpoint.load_pretrained`).
        convert_weights: mmdet's switch for Microsoft's key layout. Accepted for compatibility; every
            supported layout is detected from the keys, so both values load the same files.

    Unlike mmdet's, the patch embedding, patch merging and drop-path are re-implemented with torch only
    (same keys and numerics), so the backbone builds without compiled mmcv.

    Inputs ``(B, in_channels, H, W)``; outputs a tuple of ``(B, C_i, ceil(H/(p*2^i)), ceil(W/(p*2^i)))`` for
    ``i`` in ``out_indices``.
    """

    architecture = 'swin'  # which checkpoint layouts apply (scalenet_mm.checkpoint)
    embedding_names = ('patch_embed', 'absolute_pos_embed')

    def __init__(self,
                 arch: Optional[Union[str, dict]] = None,
                 depth_scale: Optional[Union[float, Sequence[float]]] = None,
                 scaled_depths: Optional[Sequence[int]] = None,
                 layer_map: LayerMapSpec = 'cyclic',
                 shift_policy: Optional[str] = None,
                 adapter: Optional[dict] = dict(type='parallel', targets=('fc1', 'fc2'), dim=16),
                 share_norms: bool = True,
                 trainable: str = 'all',
                 unshare: bool = False,
                 gate_inserted: bool = False,
                 pad_small_map: bool = True,
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 pretrain_img_size: Union[int, Sequence[int]] = 224,
                 in_channels: int = 3,
                 patch_size: int = 4,
                 strides: Optional[Sequence[int]] = None,
                 window_size: int = 7,
                 mlp_ratio: float = 4,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 patch_norm: bool = True,
                 drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1,
                 use_abs_pos_embed: bool = False,
                 norm_cfg: Optional[dict] = dict(type='LN'),
                 act_cfg: Optional[dict] = dict(type='GELU'),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 convert_weights: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # validate the whole request before building anything
        arch_cfg = resolve_arch(arch, embed_dims, depths, num_heads)
        plans = plan_stages(arch_cfg['depths'], depth_scale, scaled_depths, layer_map)
        shifted = resolve_shift_modes([plan.layer_map for plan in plans], shift_policy)
        adapter_cfg = parse_adapter_config(adapter)
        num_stages = len(plans)
        check_strides(strides, patch_size, num_stages)
        check_norm_and_act(norm_cfg, act_cfg, 'Swin', eps=1e-5, freeze_with='frozen_stages or trainable')
        init_cfg = resolve_init_cfg(init_cfg, pretrained)
        pretrain_grid = tuple(side // patch_size for side in to_2tuple(pretrain_img_size, 'pretrain_img_size'))
        if not isinstance(convert_weights, bool):
            raise ValueError(f'convert_weights={convert_weights!r} must be True or False')
        check_trainable(trainable, adapter_cfg is not None)
        check_share_norms(share_norms, unshare, 'block')
        bad_out = [i for i in out_indices if not 0 <= i < num_stages]
        if bad_out or len(set(out_indices)) != len(out_indices):
            raise ValueError(f'out_indices={tuple(out_indices)} must be distinct stage indices in 0..{num_stages - 1}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages={frozen_stages} must be in -1..{num_stages}')
        super().__init__(init_cfg=init_cfg)

        self.arch = arch_cfg
        self.plans = plans
        self.adapter_cfg = adapter_cfg
        self.trainable = trainable
        self.unshare = unshare
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        embed_dims = arch_cfg['embed_dims']
        self.num_features = [embed_dims * 2 ** i for i in range(num_stages)]

        self.patch_embed = PatchEmbed(in_channels, embed_dims, patch_size, patch_norm)
        self.pretrain_grid = pretrain_grid
        self.absolute_pos_embed = nn.Parameter(torch.zeros(1, pretrain_grid[0] * pretrain_grid[1], embed_dims)) \
            if use_abs_pos_embed else None
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        total_positions = sum(plan.depth for plan in plans)
        rates = torch.linspace(0, drop_path_rate, total_positions).tolist()
        self.stages = nn.ModuleList()
        start = 0
        for s, plan in enumerate(plans):
            dims = self.num_features[s]
            block_args = dict(embed_dims=dims, num_heads=arch_cfg['num_heads'][s],
                              hidden_dims=int(mlp_ratio * dims), window_size=window_size, qkv_bias=qkv_bias,
                              qk_scale=qk_scale, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate)
            downsample = PatchMerging(dims, 2 * dims, patch_norm) if s < num_stages - 1 else None
            self.stages.append(ScaleNetStage(plan, shifted[s], rates[start:start + plan.depth], unshare, adapter_cfg,
                                             share_norms, block_args, downsample, with_cp, pad_small_map,
                                             gate_inserted))
            start += plan.depth
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self.apply_trainable_policy()

    # ------------------------------------------------------------------ trainable set
    def apply_trainable_policy(self) -> None:
        """Set ``requires_grad`` from ``trainable`` (by module type) and ``frozen_stages`` (in eval mode)."""
        super().apply_trainable_policy()
        for module in self.frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False
        if self.frozen_stages >= 0 and self.absolute_pos_embed is not None:
            self.absolute_pos_embed.requires_grad = False

    def frozen_modules(self) -> list[nn.Module]:
        """Modules frozen by ``frozen_stages`` (mmdet semantics: patch embed, then stages and their norms)."""
        if self.frozen_stages < 0:
            return []
        modules: list[nn.Module] = [self.patch_embed, self.drop_after_pos]
        for i in range(self.frozen_stages):
            modules.append(self.stages[i])
            if i in self.out_indices:
                modules.append(getattr(self, f'norm{i}'))
        return modules

    # ------------------------------------------------------------------ initialisation
    def random_init(self) -> None:
        """Truncated-normal linears and bias tables (as Microsoft's Swin and timm; mmdet leaves the tables at
        zero), unit LayerNorms, zero-``up`` adapters."""
        init_linears_and_norms(self)
        for stage in self.stages:
            for block in stage.blocks:
                trunc_normal_(block.attn.w_msa.relative_position_bias_table, std=0.02)
        if self.absolute_pos_embed is not None:
            trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.start_as_source()

    def shared_positions(self) -> dict[str, SharedPositions]:
        """The scaled sequences by state-dict key prefix (``stages.{s}.``): what the checkpoint code reads."""
        return {f'stages.{s}.': stage for s, stage in enumerate(self.stages)}

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(B, C_in, H, W)`` -> tuple of ``(B, C_i, H_i, W_i)`` for ``i`` in ``out_indices``."""
        x, hw_shape = self.patch_embed(x)
        if self.absolute_pos_embed is not None:
            x = x + self.position_embedding(hw_shape)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_hw = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.view(-1, *out_hw, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def position_embedding(self, hw_shape: tuple[int, int]) -> torch.Tensor:
        """``(1, H*W, C)``: ``absolute_pos_embed`` as is for the pretraining grid, else resized bicubically."""
        return resize_pos_embed(self.absolute_pos_embed, self.pretrain_grid, hw_shape, mode='bicubic')
