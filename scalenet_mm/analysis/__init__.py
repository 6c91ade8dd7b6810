"""Measuring models, for the analysis tools (``tools/analysis/``): FLOPs, parameter counts with sharing, timing
and memory, the models the benchmarks compare, a clock that leaves out stopped time, and training curves.

Nothing in the library imports this package: it sits above ``models`` and ``checkpoint``.
"""
