"""Window modes of the positions of a scaled Swin stage.

Swin alternates W-MSA (even position) and SW-MSA (odd position). The cyclic map keeps every position's mode
equal to its source block's (Swin stage depths are even); a map that puts a block at a position of the other
parity needs a ``shift_policy``: ``'by_position'`` (the position decides, as in a plain deeper Swin) or
``'inherit_source'`` (the source block's own mode). For a map that keeps the parity both give the usual
alternation, so a sweep may set one for every map.
"""
from typing import Optional, Sequence

SHIFT_POLICIES = ('by_position', 'inherit_source')


def resolve_shift_modes(layer_maps: Sequence[Sequence[int]], shift_policy: Optional[str]) -> list[list[bool]]:
    """Per position: shifted (SW-MSA) or not. Parity breaks require a ``shift_policy``."""
    breaks = [(s, p, g) for s, stage_map in enumerate(layer_maps) for p, g in enumerate(stage_map) if p % 2 != g % 2]
    if breaks and shift_policy is None:
        s, p, g = breaks[0]
        raise ValueError(f'layer_map puts source block {g} ({"SW" if g % 2 else "W"}-MSA) at position {p} of '
                         f'stage {s} ({"SW" if p % 2 else "W"}-MSA in Swin), and {len(breaks)} such position(s) '
                         f"in all: set shift_policy='by_position' or 'inherit_source'")
    if shift_policy is not None and shift_policy not in SHIFT_POLICIES:
        raise ValueError(f'shift_policy={shift_policy!r} is not known; use one of {SHIFT_POLICIES}')
    by_source = shift_policy == 'inherit_source'
    return [[bool((g if by_source else p) % 2) for p, g in enumerate(stage_map)] for stage_map in layer_maps]
