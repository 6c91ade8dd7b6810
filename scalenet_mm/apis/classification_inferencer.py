"""Top-k classes of a user's own images with a trained classifier config and checkpoint (no labels needed)."""
import os
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from ..checkpoint.delta import load_checkpoint_strictly
from ..config_tools.backbone_config import build_model, load_config

# the model types accepted, by whether the config's default scope is scalenet_mm
CLASSIFIER_TYPES = {True: ('scalenet_mm.ImageClassifier', 'ImageClassifier'), False: ('scalenet_mm.ImageClassifier', )}


@dataclass
class Classification:
    """The ``topk`` ``(class name, softmax score)`` pairs of one image, best first."""
    image: str
    topk: list[tuple[str, float]]

    def __str__(self) -> str:
        return f'{self.image}: ' + ', '.join(f'{name} {score:.3f}' for name, score in self.topk)


def class_names(cfg: Config, checkpoint_meta: dict, num_classes: int) -> list[str]:
    """Class names: the checkpoint's ``dataset_meta`` (written by mmengine's Runner), else the ``classes`` of the
    config's test dataset, else ``class 0``, ``class 1``, ..."""
    names = (checkpoint_meta.get('dataset_meta') or {}).get('classes')
    if names is None:
        names = cfg.test_dataloader.dataset.get('classes') if 'test_dataloader' in cfg else None
    names = list(names) if names is not None else [f'class {i}' for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f'{len(names)} class names (from the checkpoint\'s dataset_meta, else the config\'s test '
                         f'dataset) for a {num_classes}-class head: the checkpoint or the classes do not belong to '
                         'this config')
    return names


class ImageClassificationInferencer:
    """A classifier built from ``config`` (our ``ImageClassifier``), weights from ``checkpoint`` (strict), images
    prepared by the config's test pipeline (e.g. resize 256, centre crop 224, normalise).

    Args:
        config: config path or ``Config``.
        checkpoint: a training checkpoint of that config (full or delta); None keeps the random initialisation.
        device: where the model runs.
        cfg_options: ``--cfg-options`` overrides.
        delta_base: where a delta checkpoint's base file is, if it moved from the path the checkpoint records.
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None, device: str = 'cpu',
                 cfg_options: Optional[dict] = None, delta_base: Optional[str] = None) -> None:
        self.cfg = load_config(config, cfg_options) if isinstance(config, str) else config
        model_type = self.cfg.model.get('type')
        if model_type not in CLASSIFIER_TYPES[self.cfg.get('default_scope') == 'scalenet_mm']:
            raise ValueError(f'{self.cfg.filename or "the config"} describes a {model_type}, not a '
                             'scalenet_mm.ImageClassifier (detectors and segmentors: mmdet DetInferencer / mmseg '
                             'MMSegInferencer)')
        self.model = build_model(self.cfg)
        meta = {}
        if checkpoint is None:
            warnings.warn('ImageClassificationInferencer without a checkpoint: the model keeps its random '
                          'initialisation')
        else:
            meta = load_checkpoint_strictly(self.model, checkpoint, delta_base).get('meta', {})
        self.model.to(device).eval()
        self.device = torch.device(device)
        self.classes = class_names(self.cfg, meta, self.model.num_classes)
        with DefaultScope.overwrite_default_scope('scalenet_mm'):
            self.pipeline = Compose(list(self.cfg.test_dataloader.dataset.pipeline))

    def preprocess(self, image: str) -> torch.Tensor:
        """``(3, H, W)`` normalised input of the image file at ``image``."""
        if not osp.isfile(image):
            raise FileNotFoundError(f'image {image!r} does not exist')
        return self.pipeline(dict(img_path=image))['inputs']

    @torch.no_grad()
    def scores(self, images: Sequence[str]) -> torch.Tensor:
        """Softmax class scores ``(N, num_classes)`` of the image files."""
        inputs = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        return self.model(inputs, mode='tensor').softmax(dim=1).cpu()

    def __call__(self, images: Union[str, Sequence[str]], topk: int = 5, batch_size: int = 8
                 ) -> list[Classification]:
        """The ``topk`` best classes of each image file (one path or several)."""
        images = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        images = [os.fspath(image) for image in images]
        if not 1 <= topk <= len(self.classes):
            raise ValueError(f'topk={topk} must be between 1 and the {len(self.classes)} classes')
        if batch_size < 1:
            raise ValueError(f'batch_size={batch_size} must be at least 1')
        missing = [image for image in images if not osp.isfile(image)]
        if missing:
            raise FileNotFoundError(f'{len(missing)} image(s) do not exist: {missing[:5]}')
        results = []
        for start in range(0, len(images), batch_size):
            batch = list(images[start:start + batch_size])
            values, indices = self.scores(batch).topk(topk, dim=1)
            results += [Classification(image, [(self.classes[i], float(v)) for v, i in zip(vs, ix)])
                        for image, vs, ix in zip(batch, values.tolist(), indices.tolist())]
        return results
