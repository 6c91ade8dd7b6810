"""Checkpoints in (format detection, conversion, strict loading with a report) and out (plain Swin export)."""
from .convert import detect_format, to_mm_backbone
from .export import export_plain_swin
from .load import LoadReport, load_pretrained

__all__ = ['LoadReport', 'detect_format', 'export_plain_swin', 'load_pretrained', 'to_mm_backbone']
