"""Checkpoints in (architecture and layout detection, conversion, strict loading with a report) and out
(export to the plain, deeper architecture), delta checkpoints of frozen-shared runs (:mod:`.delta`), and safe
loading of mmengine-written files (:mod:`.safe_loading`).
Backbones are read through the :class:`~scalenet_mm.models.scaling.scalenet_backbone.ScaleNetBackbone` contract."""
from .convert import detect_format, to_mm_backbone
from .export import check_exportable, export_plain
from .load import LoadReport, load_pretrained, load_pretrained_from, read_checkpoint

__all__ = ['LoadReport', 'check_exportable', 'detect_format', 'export_plain', 'load_pretrained', 'load_pretrained_from',
           'read_checkpoint', 'to_mm_backbone']
