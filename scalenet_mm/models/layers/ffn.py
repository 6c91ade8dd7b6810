"""The transformer MLP in mmcv's ``FFN`` layout, shared by the Swin and ViT blocks.

Keys: ``layers.0.0`` (fc1), ``layers.0.1`` (GELU), ``layers.0.2`` (dropout), ``layers.1`` (fc2),
``layers.2`` (dropout). The residual connection lives in the block, not here.
"""
import torch
import torch.nn as nn

from ..scaling.adapters import LowRankAdapter, linear_with_adapter


class FFN(nn.Module):
    """``(B, L, C) -> (B, L, C)``: fc1 (+adapter), GELU, dropout, fc2 (+adapter), dropout."""

    def __init__(self, embed_dims: int, hidden_dims: int, drop_rate: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, hidden_dims), nn.GELU(), nn.Dropout(drop_rate)),
            nn.Linear(hidden_dims, embed_dims), nn.Dropout(drop_rate))

    @property
    def fc1(self) -> nn.Linear:
        return self.layers[0][0]

    @property
    def fc2(self) -> nn.Linear:
        return self.layers[1]

    def forward(self, x: torch.Tensor, adapters: dict[str, LowRankAdapter]) -> torch.Tensor:
        fc1, fc2 = self.fc1, self.fc2
        hidden = self.layers[0][1](linear_with_adapter(x, fc1.weight, fc1.bias, adapters.get('fc1')))
        hidden = self.layers[0][2](hidden)
        return self.layers[2](linear_with_adapter(hidden, fc2.weight, fc2.bias, adapters.get('fc2')))
