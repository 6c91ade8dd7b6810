"""Configs for the tools (``tools/*.py``) and the inferencers: reading a config and building its model or
backbone, checking it before a run, its task, the launcher arguments, and writing ScaleNet versions of
mmdet/mmseg Swin configs.

Nothing in ``models`` or ``checkpoint`` imports this package: it sits above them.
"""
