"""The one place sharing happens: positions of a deepened block sequence, the blocks they run, and the
per-position adapters and norms. Used by the Swin stages and by the plain ViT.

A class mixes :class:`SharedPositions` in and calls :meth:`SharedPositions.build_positions` in its
``__init__``. That registers, under the mixing module:

- ``{blocks_name}.{b}``: the owned blocks, the only owners of the shared weights (``blocks`` in a Swin
  stage, ``layers`` in a ViT: the stock mmdet/mmseg keys);
- ``layer_map``: a persistent buffer, the owned block each position runs;
- ``adapters.{p}.{target}``: per-position adapters (an empty dict where a position has none);
- ``position_norms.{p}.{norm}``: per-position copies of the block's two norms (``share_norms=False``,
  inserted positions only);
- ``gates.{p}``: a zero-initialised scalar on both residual branches of each inserted position
  (``gate_inserted=True``), so the grown model starts exactly as the source network.

Every position runs by default; :meth:`SharedPositions.set_active_inserted` skips inserted positions (growing
inside one run, :mod:`.growth`). Which ones run is plain Python state (``active_positions``), not a buffer.

The map is held in exactly two tuples that everything else (loader, export, counts, layer-wise lr decay)
reads:

- ``position_block[p]``: the owned block that position ``p`` runs;
- ``block_source[b]``: the source-model block that initialises owned block ``b`` on a pretrained load.

Shared (``unshare=False``): owned block ``b`` *is* source block ``b`` (``block_source = 0..d-1``) and
``position_block`` is the layer map. Unshared: every position owns a block (``position_block = 0..d'-1``)
initialised from its source (``block_source`` is the layer map).

These names are parsed in one place, :func:`parse_position_key` (and :meth:`SharedPositions.position_of`):
the checkpoint loader, the exporter, the layout detection and both backbones' ``get_layer_depth`` read keys
through it.
"""
import functools
import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as checkpoint

from .adapters import AdapterConfig, build_position_adapters
from .layer_map import StagePlan
from .position import PositionContext

# the state-dict names a sequence of shared positions registers beside its owned blocks (``{blocks_name}.{b}``)
PER_POSITION_PARTS = ('adapters', 'position_norms', 'gates')  # followed by ``.{position}``
LAYER_MAP = 'layer_map'


@dataclass(frozen=True)
class PositionKey:
    """A state-dict key of a sequence of shared positions, taken apart.

    Attributes:
        prefix: the sequence's key prefix (``'stages.1.'`` in a Swin, ``''`` in a ViT).
        part: the blocks' name (``blocks`` / ``layers``), one of :data:`PER_POSITION_PARTS`, or
            :data:`LAYER_MAP`.
        index: the owned block (blocks) or the position (per-position parts); None for the layer map.
        rest: what follows, with its leading dot (``'.attn.w_msa.qkv.weight'``); ``''`` when nothing does.
    """
    prefix: str
    part: str
    index: Optional[int]
    rest: str

    @property
    def is_per_position(self) -> bool:
        """An adapter, per-position norm or gate: a tensor of one position."""
        return self.part in PER_POSITION_PARTS


@functools.lru_cache(maxsize=None)
def _position_key_pattern(blocks_name: Optional[str]) -> 're.Pattern[str]':
    parts = PER_POSITION_PARTS + ((blocks_name,) if blocks_name else ())
    # the shortest prefix first: a block's own ``ffn.layers.1`` is not the ViT's ``layers.{b}``
    return re.compile(rf'(?P<prefix>(?:.*?\.)??)(?:(?P<part>{"|".join(map(re.escape, parts))})\.(?P<index>\d+)'
                      rf'(?P<rest>\..*)?|(?P<map>{LAYER_MAP}))$')


def parse_position_key(key: str, blocks_name: Optional[str] = None) -> Optional[PositionKey]:
    """``key`` taken apart (see :class:`PositionKey`), or None when it is no per-position tensor, layer map or
    (given ``blocks_name``) owned-block tensor of a sequence of shared positions.

    ``'stages.1.adapters.3.fc1.down.weight'`` -> ``('stages.1.', 'adapters', 3, '.fc1.down.weight')``;
    ``'layer_map'`` -> ``('', 'layer_map', None, '')``; with ``blocks_name='layers'``,
    ``'layers.2.ffn.layers.1.weight'`` -> ``('', 'layers', 2, '.ffn.layers.1.weight')``.
    """
    match = _position_key_pattern(blocks_name).match(key)
    if match is None:
        return None
    if match['map'] is not None:
        return PositionKey(match['prefix'], LAYER_MAP, None, '')
    return PositionKey(match['prefix'], match['part'], int(match['index']), match['rest'] or '')


class SharedPositions(nn.Module):
    """Mixin: a sequence of positions running shared blocks (see the module docstring).

    Subclasses may override :meth:`position_context` to add architecture-specific per-position state.
    """

    blocks_name = 'blocks'

    def build_positions(self, plan: StagePlan, drop_path_rates: Sequence[float], unshare: bool,
                        adapter: Optional[AdapterConfig], share_norms: bool, build_block: Callable[[], nn.Module],
                        build_norm: Callable[[], nn.Module], norm_names: tuple[str, str], embed_dims: int,
                        hidden_dims: int, with_cp: bool, gate_inserted: bool = False) -> None:
        """Register the owned blocks, the map buffer, per-position adapters and norms.

        Args:
            plan: the resolved layer map.
            drop_path_rates: one rate per position.
            unshare: one block per position instead of shared source blocks.
            adapter: adapter request, or None.
            share_norms: positions use their block's norms; else inserted positions own copies.
            build_block: makes one (untrained) block.
            build_norm: makes one norm like the block's.
            norm_names: the block's two norm attribute names (``norm1, norm2`` / ``ln1, ln2``).
            embed_dims, hidden_dims: block width and MLP width (adapter shapes).
            with_cp: non-reentrant activation checkpointing per position.
            gate_inserted: a zero-initialised learnable gate per inserted position.
        """
        if len(drop_path_rates) != plan.depth:
            raise ValueError(f'{len(drop_path_rates)} drop-path rates for {plan.depth} positions')
        self.plan = plan
        self.unshare = unshare
        self.with_cp = with_cp
        self.drop_path_rates = tuple(drop_path_rates)
        self.position_block = tuple(range(plan.depth)) if unshare else plan.layer_map
        self.block_source = plan.layer_map if unshare else tuple(range(plan.source_depth))
        self.add_module(self.blocks_name, nn.ModuleList([build_block() for _ in self.block_source]))
        self.register_buffer(LAYER_MAP, torch.tensor(self.position_block, dtype=torch.long))
        inserted = set(range(plan.depth)) - set(plan.original_positions)
        self.inserted_positions = tuple(sorted(inserted))
        # plain Python state, not a buffer: state dicts and checkpoints keep their keys (see set_active_inserted)
        self.active_positions = tuple(range(plan.depth))
        self.adapters = nn.ModuleList([
            build_position_adapters(adapter, embed_dims, hidden_dims)
            if adapter is not None and (adapter.positions == 'all' or p in inserted) else nn.ModuleDict()
            for p in range(plan.depth)])
        self.position_norms = None if share_norms or unshare else nn.ModuleList([
            nn.ModuleDict({name: build_norm() for name in norm_names}) if p in inserted else nn.ModuleDict()
            for p in range(plan.depth)])
        self.gates = nn.ParameterDict({str(p): nn.Parameter(torch.zeros(())) for p in sorted(inserted)}) \
            if gate_inserted else None

    @property
    def owned_blocks(self) -> nn.ModuleList:
        """The blocks the positions run (``blocks_name``)."""
        return getattr(self, self.blocks_name)

    @property
    def depth(self) -> int:
        """Number of positions ``d'``."""
        return self.plan.depth

    def parse_key(self, name: str) -> Optional[PositionKey]:
        """``name`` (relative to this sequence) taken apart, or None when it is not one of the sequence's block,
        per-position or layer-map tensors (e.g. a Swin stage's ``downsample``, a ViT's ``pos_embed``)."""
        key = parse_position_key(name, self.blocks_name)
        return key if key is not None and key.prefix == '' else None

    def position_of(self, name: str) -> Optional[int]:
        """The position at which tensor ``name`` (relative to this sequence) first runs: the first position that
        runs its block, or the position of a per-position tensor; None for the layer map and other tensors."""
        key = self.parse_key(name)
        if key is None or key.index is None:
            return None
        return self.position_block.index(key.index) if key.part == self.blocks_name else key.index

    def layer_map_mismatch(self, saved_map: torch.Tensor) -> Optional[str]:
        """Why a checkpoint's ``layer_map`` buffer cannot load here, or None when it equals ours."""
        if saved_map.tolist() == list(self.position_block):
            return None
        return (f'checkpoint map {saved_map.tolist()} vs model map {list(self.position_block)}: build the model with '
                'the depth_scale, layer_map and unshare the checkpoint was trained with')

    def position_context(self, position: int) -> PositionContext:
        """The per-position state handed to the block at ``position``."""
        norms = self.position_norms[position] if self.position_norms is not None else None
        gate = self.gates.get(str(position)) if self.gates is not None else None
        return PositionContext(drop_path_rate=self.drop_path_rates[position],
                               adapters=dict(self.adapters[position].items()), norms=norms or None, gate=gate)

    def close_gates(self) -> None:
        """Set every gate to zero: the inserted positions compute the identity."""
        if self.gates is not None:
            with torch.no_grad():
                for gate in self.gates.values():
                    gate.zero_()

    def copy_norms_from_blocks(self) -> None:
        """Set each inserted position's own norms to its block's norms."""
        if self.position_norms is None:
            return
        with torch.no_grad():
            for position, norms in enumerate(self.position_norms):
                block = self.owned_blocks[self.position_block[position]]
                for name in norms:
                    norms[name].load_state_dict(getattr(block, name).state_dict())

    def set_active_inserted(self, count: int) -> None:
        """Run the original positions and the first ``count`` of :attr:`inserted_positions` (in position
        order); skip the other inserted positions (see :meth:`run_positions`). All of them run by default."""
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= len(self.inserted_positions):
            raise ValueError(f'count={count!r} must be an integer in 0..{len(self.inserted_positions)} (the inserted '
                             f'positions {list(self.inserted_positions)} of this {self.depth}-position sequence)')
        self.active_positions = tuple(sorted(self.plan.original_positions + self.inserted_positions[:count]))

    def run_positions(self, x: torch.Tensor, *block_args: object, keep: Sequence[int] = ()
                      ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run the :attr:`active_positions` in order: ``x -> block(x, *block_args, context)``.

        A skipped inserted position is not run (no cost, no gradient for its adapters, gate and norms): it
        passes ``x`` on unchanged, which is what a closed gate (``gate_inserted=True``, zero) computes.
        Returns the last output and the outputs after the positions in ``keep`` (``{position: x}``, skipped
        positions included).
        """
        kept: dict[int, torch.Tensor] = {}
        active = set(self.active_positions)
        for position in range(self.depth):
            if position in active:
                x = self.run_position(position, x, *block_args)
            if position in keep:
                kept[position] = x
        return x, kept

    def run_position(self, position: int, x: torch.Tensor, *block_args: object) -> torch.Tensor:
        """``block(x, *block_args, context)`` of one position (checkpointed with ``with_cp`` in training)."""
        block = self.owned_blocks[self.position_block[position]]
        context = self.position_context(position)
        if self.with_cp and x.requires_grad:
            return checkpoint.checkpoint(block, x, *block_args, context, use_reentrant=False)
        return block(x, *block_args, context)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """Refuse a checkpoint whose layer map differs from this one's: ties would silently change."""
        key = prefix + 'layer_map'
        problem = self.layer_map_mismatch(state_dict[key]) if key in state_dict else None
        if problem is not None:
            error_msgs.append(f'{key}: {problem}')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def shared_position_layers(module: nn.Module) -> list[SharedPositions]:
    """Every :class:`SharedPositions` inside ``module`` (itself included)."""
    return [m for m in module.modules() if isinstance(m, SharedPositions)]
