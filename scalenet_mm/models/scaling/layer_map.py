"""Layer maps: which source block each position of a scaled stage runs (any architecture).

A stage of source depth ``d`` scaled to ``d'`` runs, at position ``p``, the source block ``g(p)``:

- ``'cyclic'``: ``g(p) = p mod d`` -> ``[0, 1, ..., d-1, 0, 1, ...]``;
- ``'interleave'``: ``g(p) = floor(p * d / d')`` -> ``[0, 0, 1, 1, ...]`` for 2x;
- an explicit list of source indices per stage.

A Swin has four stages (sharing only within a stage), a plain ViT one. Window modes of Swin positions are
resolved in :mod:`..layers.shift_modes`. Everything here validates the whole request and raises
``ValueError`` naming the argument before any module is built.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Union

LayerMapSpec = Union[str, Sequence[Sequence[int]]]
NAMED_MAPS = ('cyclic', 'interleave')


@dataclass(frozen=True)
class StagePlan:
    """The resolved layout of one stage.

    Attributes:
        source_depth: number of original (source) blocks ``d``.
        layer_map: source block index per position, length ``d'``.
    """
    source_depth: int
    layer_map: tuple[int, ...]

    @property
    def depth(self) -> int:
        """Scaled depth ``d'``."""
        return len(self.layer_map)

    @property
    def original_positions(self) -> tuple[int, ...]:
        """Positions that are the first to run their source block (the source model's own layers)."""
        seen: set[int] = set()
        firsts = []
        for position, source in enumerate(self.layer_map):
            if source not in seen:
                seen.add(source)
                firsts.append(position)
        return tuple(firsts)


def resolve_scaled_depths(source_depths: Sequence[int],
                          depth_scale: Optional[Union[float, Sequence[float]]],
                          scaled_depths: Optional[Sequence[int]]) -> tuple[int, ...]:
    """Target depth per stage from ``depth_scale`` (one number or one per stage) or ``scaled_depths``."""
    num_stages = len(source_depths)
    if depth_scale is not None and scaled_depths is not None:
        raise ValueError('give either depth_scale or scaled_depths, not both '
                         f'(got depth_scale={depth_scale!r}, scaled_depths={scaled_depths!r})')
    if scaled_depths is not None:
        depths = tuple(scaled_depths)
        if len(depths) != num_stages or not all(isinstance(d, int) for d in depths):
            raise ValueError(f'scaled_depths={scaled_depths!r} must be {num_stages} integers, one per stage')
    else:
        scales = depth_scale if depth_scale is not None else 1
        if isinstance(scales, (int, float)):
            scales = [scales] * num_stages
        scales = list(scales)
        if len(scales) != num_stages or not all(isinstance(s, (int, float)) and s > 0 for s in scales):
            raise ValueError(f'depth_scale={depth_scale!r} must be a positive number or {num_stages} positive '
                             'numbers, one per stage')
        depths = tuple(int(round(d * s)) for d, s in zip(source_depths, scales))
    too_shallow = [s for s, (d, t) in enumerate(zip(source_depths, depths)) if t < d]
    if too_shallow:
        raise ValueError(f'scaled depths {depths} fall below the source depths {tuple(source_depths)} in stage(s) '
                         f'{too_shallow}: ScaleNet only deepens, use depth_scale >= 1')
    return depths


def _named_map(name: str, source_depth: int, depth: int) -> list[int]:
    if name == 'cyclic':
        return [p % source_depth for p in range(depth)]
    return [p * source_depth // depth for p in range(depth)]


def resolve_layer_maps(source_depths: Sequence[int], scaled_depths: Optional[Sequence[int]],
                       layer_map: LayerMapSpec) -> list[list[int]]:
    """Per-stage source indices; an explicit map fixes the scaled depths itself."""
    num_stages = len(source_depths)
    if isinstance(layer_map, str):
        if layer_map not in NAMED_MAPS:
            raise ValueError(f"layer_map={layer_map!r} is not known; use 'cyclic', 'interleave' or one list of "
                             'source indices per stage')
        assert scaled_depths is not None
        return [_named_map(layer_map, d, t) for d, t in zip(source_depths, scaled_depths)]
    maps = [list(stage) for stage in layer_map]
    if len(maps) != num_stages:
        raise ValueError(f'layer_map has {len(maps)} stage lists, the arch has {num_stages} stages')
    for stage, (stage_map, d) in enumerate(zip(maps, source_depths)):
        for position, index in enumerate(stage_map):
            if not isinstance(index, int) or not 0 <= index < d:
                raise ValueError(f'layer_map[{stage}][{position}]={index!r} is out of range: stage {stage} has '
                                 f'{d} source blocks (indices 0..{d - 1}); sharing is only within a stage')
        if len(stage_map) < d:
            raise ValueError(f'layer_map[{stage}] has {len(stage_map)} positions, below the source depth {d}')
        unused = sorted(set(range(d)) - set(stage_map))
        if unused:
            raise ValueError(f'layer_map[{stage}] never runs source block(s) {unused}: their weights would be '
                             'dead; every source block must appear at least once')
    if scaled_depths is not None and tuple(len(m) for m in maps) != tuple(scaled_depths):
        raise ValueError(f'layer_map lengths {tuple(len(m) for m in maps)} disagree with the scaled depths '
                         f'{tuple(scaled_depths)} from depth_scale/scaled_depths; give only one of them')
    return maps


def plan_stages(source_depths: Sequence[int],
                depth_scale: Optional[Union[float, Sequence[float]]] = None,
                scaled_depths: Optional[Sequence[int]] = None,
                layer_map: LayerMapSpec = 'cyclic') -> list[StagePlan]:
    """Validate the scaling request and return one :class:`StagePlan` per stage."""
    explicit_map_only = not isinstance(layer_map, str) and depth_scale is None and scaled_depths is None
    targets = None if explicit_map_only else resolve_scaled_depths(source_depths, depth_scale, scaled_depths)
    maps = resolve_layer_maps(source_depths, targets, layer_map)
    return [StagePlan(d, tuple(m)) for d, m in zip(source_depths, maps)]
