"""Top-k classification accuracy (percent) over a whole evaluation."""
from typing import Sequence

import torch
from mmengine.evaluator import BaseMetric

from ..registry import METRICS


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, topk: Sequence[int]) -> dict[str, float]:
    """``scores`` ``(N, num_classes)``, ``labels`` ``(N,)`` -> ``{'top1': %, 'top5': %}``."""
    ranked = scores.topk(max(topk), dim=1).indices
    hits = ranked == labels[:, None]
    return {f'top{k}': hits[:, :k].any(dim=1).float().mean().item() * 100 for k in topk}


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """Top-1 / top-5 accuracy of ``pred_score`` against ``gt_label`` (k larger than the classes is skipped)."""

    default_prefix = 'accuracy'

    def __init__(self, topk: Sequence[int] = (1, 5), collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        self.topk = tuple(topk)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """``data_samples``: dicts (mmengine's evaluator converts data elements) with pred_score, gt_label."""
        for sample in data_samples:
            self.results.append((sample['pred_score'].cpu(), sample['gt_label'].cpu()))

    def compute_metrics(self, results: list) -> dict[str, float]:
        scores = torch.stack([score for score, _ in results])
        labels = torch.stack([label for _, label in results]).view(-1)
        return topk_accuracy(scores, labels, [k for k in self.topk if k <= scores.shape[1]])
