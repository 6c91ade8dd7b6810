"""Checkpoints in (architecture and layout detection, conversion, strict loading with a report) and out
(export to the plain, deeper architecture), delta checkpoints of frozen-shared runs (:mod:`.delta`), and safe
loading of mmengine-written files (:mod:`.safe_loading`).
Backbones are read through the :class:`~scalenet_mm.models.scaling.scalenet_backbone.ScaleNetBackbone` contract."""
from .convert import detect_format, to_mm_backbone
from .export import export_plain
from .load import LoadReport, load_pretrained

__all__ = ['LoadReport', 'detect_format', 'export_plain', 'load_pretrained', 'to_mm_backbone']
