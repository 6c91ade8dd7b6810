"""An image classifier for the ImageNet stage: backbone, pooling (global average or class token), linear head.

Training loss: with ``mixup`` set, timm's Mixup/CutMix mixes the batch and its one-hot (label-smoothed)
targets and the loss is timm's ``SoftTargetCrossEntropy``; without it, cross entropy with
``label_smoothing``. ``predict`` returns the data samples with ``pred_score`` (softmax) and ``pred_label``.
Inputs: a list (or batch) of normalised ``(3, H, W)`` tensors from ``TimmClassificationTransform``.
"""
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from ...registry import MODELS

POOLS = ('avg', 'cls_token')
MIXUP_KEYS = ('mixup_alpha', 'cutmix_alpha', 'cutmix_minmax', 'prob', 'switch_prob', 'mode')


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """``backbone -> last output -> pooled (B, C) -> Linear(num_classes)``.

    Args:
        backbone: config of the backbone (e.g. ``scalenet_mm.ScaleNetSwinTransformer`` with
            ``out_indices=(3,)``); its last output ``(B, C, H, W)`` is pooled.
        pool: ``'avg'`` (mean over H, W; Swin) or ``'cls_token'`` (the class token of a ViT/DeiT built with
            ``output_cls_token=True`` and ``final_norm=True``, as DeiT's head reads it).
        num_classes: number of classes.
        in_channels: channels ``C`` of the pooled feature.
        label_smoothing: smoothing of the targets (mixed or not).
        mixup: None, or timm ``Mixup`` arguments among ``mixup_alpha``, ``cutmix_alpha``,
            ``cutmix_minmax``, ``prob``, ``switch_prob``, ``mode``.
        head_init: None, or ``dict(checkpoint=..., prefix='head.')``: start the linear head from a trained
            classifier's ``{prefix}weight`` / ``{prefix}bias`` (loaded strictly, shapes checked), e.g. when a
            deeper ScaleNet model continues from a trained source classifier on the same classes.
        data_preprocessor: mmengine data preprocessor config (moves and casts; inputs are normalised).
        init_cfg: mmengine init config of the whole classifier.
    """

    def __init__(self, backbone: dict, num_classes: int, in_channels: int, pool: str = 'avg',
                 label_smoothing: float = 0.1, mixup: Optional[dict] = None, head_init: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        if pool not in POOLS:
            raise ValueError(f'pool={pool!r} is not one of {POOLS}')
        if head_init is not None and (set(head_init) - {'checkpoint', 'prefix'} or 'checkpoint' not in head_init):
            raise ValueError(f"head_init={head_init!r} must be dict(checkpoint=<path>, prefix='head.')")
        if mixup is not None and set(mixup) - set(MIXUP_KEYS):
            raise ValueError(f'mixup has unknown key(s) {sorted(set(mixup) - set(MIXUP_KEYS))}; allowed: {MIXUP_KEYS}')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if pool == 'cls_token' and not getattr(self.backbone, 'output_cls_token', False):
            raise ValueError("pool='cls_token' reads the class token: build the backbone with output_cls_token=True "
                             '(a ScaleNetVisionTransformer)')
        self.pool = pool
        self.head = nn.Linear(in_channels, num_classes)
        self.num_classes = num_classes
        self.head_init = head_init
        self.label_smoothing = label_smoothing
        self.mixup = None
        if mixup is not None:  # timm is imported only here: the backbone alone needs torch and mmengine
            from timm.data import Mixup
            from timm.loss import SoftTargetCrossEntropy
            self.mixup = Mixup(**mixup, label_smoothing=label_smoothing, num_classes=num_classes)
            self.soft_target_loss = SoftTargetCrossEntropy()

    def init_weights(self) -> None:
        super().init_weights()
        if self.head_init is None:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)
        else:
            self.load_head(self.head_init['checkpoint'], self.head_init.get('prefix', 'head.'))

    def load_head(self, checkpoint: str, prefix: str) -> None:
        """Copy ``{prefix}weight`` ``(num_classes, C)`` and ``{prefix}bias`` from a checkpoint, strictly."""
        from ...checkpoint.load import extract_state_dict, read_checkpoint
        state = extract_state_dict(read_checkpoint(checkpoint))
        for name, param in self.head.named_parameters():
            key = prefix + name
            if key not in state:
                raise KeyError(f'head_init: checkpoint {checkpoint!r} has no {key!r}; keys under that prefix: '
                               f'{[k for k in state if k.startswith(prefix)][:5]}')
            if state[key].shape != param.shape:
                raise ValueError(f'head_init: {key!r} in {checkpoint!r} has shape {tuple(state[key].shape)}, the '
                                 f'head needs {tuple(param.shape)} (num_classes={self.num_classes}, '
                                 f'in_channels={param.shape[-1]})')
        with torch.no_grad():
            for name, param in self.head.named_parameters():
                param.copy_(state[prefix + name])

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W) -> (B, C)``: pooled last backbone output."""
        out = self.backbone(inputs)[-1]
        return out[1] if self.pool == 'cls_token' else out.mean(dim=(2, 3))

    def forward(self, inputs: Union[torch.Tensor, list[torch.Tensor]],
                data_samples: Optional[list[BaseDataElement]] = None, mode: str = 'tensor'):
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'predict':
            if data_samples is None:
                data_samples = [BaseDataElement() for _ in range(inputs.shape[0])]
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            if data_samples is None or any('gt_label' not in sample for sample in data_samples):
                raise ValueError("mode='loss' needs data_samples that all carry gt_label")
            labels = torch.stack([s.gt_label for s in data_samples]).view(-1).to(inputs.device)
            return self.loss(inputs, labels)
        raise ValueError(f"mode='{mode}' is not one of 'tensor', 'loss', 'predict'")

    def loss(self, inputs: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mixed (soft-target) or label-smoothed cross entropy."""
        if self.mixup is not None:
            if inputs.shape[0] % 2:
                raise ValueError(f'timm Mixup needs an even batch size, got {inputs.shape[0]}')
            inputs, soft_targets = self.mixup(inputs, labels)
            logits = self.head(self.extract_feat(inputs))
            return dict(loss=self.soft_target_loss(logits, soft_targets))
        logits = self.head(self.extract_feat(inputs))
        return dict(loss=F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: list[BaseDataElement]) -> list[BaseDataElement]:
        """Softmax scores and argmax labels written into the data samples."""
        scores = self.head(self.extract_feat(inputs)).softmax(dim=1)
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax()
        return data_samples
