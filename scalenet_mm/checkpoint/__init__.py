"""Checkpoints in (architecture and layout detection, conversion, strict loading with a report) and out
(export to the plain, deeper architecture)."""
from .convert import detect_format, to_mm_backbone
from .export import export_plain
from .load import LoadReport, load_pretrained

__all__ = ['LoadReport', 'detect_format', 'export_plain', 'load_pretrained', 'to_mm_backbone']
