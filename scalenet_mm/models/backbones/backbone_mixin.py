"""The plumbing both ScaleNet backbones share, written once: :class:`ScaleNetBackboneMixin`."""
from ..scaling.growth import active_inserted_count, check_growth
from ..scaling.shared_positions import SharedPositions
from ..scaling.trainable import apply_trainable_policy
from .pretrained_init import PretrainedInit


class ScaleNetBackboneMixin(PretrainedInit):
    """Mixin for a ScaleNet backbone (a ``BaseModule``): with it the backbone satisfies
    :class:`~scalenet_mm.models.scaling.scalenet_backbone.ScaleNetBackbone`.

    The backbone defines ``architecture``, :meth:`shared_positions`, ``random_init()`` and
    :attr:`embedding_names`, and keeps ``trainable``, ``unshare`` and ``adapter_cfg``. The mixin gives it
    ``init_weights`` / ``start_as_source`` (:class:`PretrainedInit`), ``train()`` re-applying the trainable
    policy, the depths, growth (:meth:`set_growth`), ``get_layer_depth`` and ``extra_repr``.
    """

    architecture = ''  # which checkpoint layouts apply (scalenet_mm.checkpoint)
    # top-level names of the embeddings: layer 0 of layer-wise lr decay
    embedding_names: tuple[str, ...] = ()
    growth = 1.0  # set by set_growth: plain Python state, not in the state dict

    def shared_positions(self) -> dict[str, SharedPositions]:
        """The scaled sequences by state-dict key prefix: what the checkpoint code reads."""
        raise NotImplementedError

    # ------------------------------------------------------------------ trainable set
    def apply_trainable_policy(self) -> None:
        """Set ``requires_grad`` from ``trainable`` (by module type); a backbone adds what else it freezes."""
        apply_trainable_policy(self, self.trainable)

    def train(self, mode: bool = True) -> 'ScaleNetBackboneMixin':
        """Set train/eval mode and re-apply :meth:`apply_trainable_policy` (``requires_grad``, and the Swin's
        ``frozen_stages`` in eval mode), as mmdet's Swin re-freezes in ``train()``: a ``requires_grad_`` from
        outside code does not silently train frozen weights. Returns ``self``."""
        super().train(mode)
        self.apply_trainable_policy()
        return self

    # ------------------------------------------------------------------ description
    @property
    def scaled_depths(self) -> tuple[int, ...]:
        """Positions per scaled sequence (per Swin stage; one entry for a ViT)."""
        return tuple(positions.plan.depth for positions in self.shared_positions().values())

    @property
    def source_depths(self) -> tuple[int, ...]:
        """Source blocks per scaled sequence."""
        return tuple(positions.plan.source_depth for positions in self.shared_positions().values())

    @property
    def active_depths(self) -> tuple[int, ...]:
        """Positions that run per scaled sequence at the current :attr:`growth` (the scaled depths at 1)."""
        return tuple(len(positions.active_positions) for positions in self.shared_positions().values())

    def extra_repr(self) -> str:
        growth = '' if self.growth == 1 else f', growth={self.growth} (active depths {self.active_depths})'
        return (f'source_depths={self.source_depths}, scaled_depths={self.scaled_depths}{growth}, '
                f'unshare={self.unshare}, adapter={self.adapter_cfg}, trainable={self.trainable!r}')

    # ------------------------------------------------------------------ growing inside one run
    def set_growth(self, fraction: float) -> None:
        """Run, in every scaled sequence, the original positions and the first ``floor(fraction * n + 1/2)`` of
        its ``n`` inserted positions (position order); skip the others (:mod:`..scaling.growth`). ``0``: the
        source depth, ``1`` (the default): every position. Parameters, state-dict keys and the layer-wise lr
        numbering (:meth:`get_layer_depth`) do not change."""
        fraction = check_growth(fraction)
        for positions in self.shared_positions().values():
            positions.set_active_inserted(active_inserted_count(len(positions.inserted_positions), fraction))
        self.growth = fraction

    # ------------------------------------------------------------------ layer-wise lr decay
    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """``(layer_depth, num_layers)`` of a parameter, counting *positions* (mmpretrain convention).

        ``num_layers = total positions + 2``. The embeddings (:attr:`embedding_names`) are layer 0; a block
        counts at the first position that runs it, a per-position tensor (adapter, norm, gate) at its
        position (:meth:`SharedPositions.position_of`); another tensor inside a stage (a Swin's downsample) at
        the stage's last position; everything else (output norms) at ``num_layers - 1``.
        """
        sequences = self.shared_positions()
        num_layers = sum(positions.depth for positions in sequences.values()) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.split('.')[0] in self.embedding_names:
            return 0, num_layers
        before = 0
        for sequence_prefix, positions in sequences.items():
            if name.startswith(sequence_prefix):
                position = positions.position_of(name[len(sequence_prefix):])
                if position is not None:
                    return before + position + 1, num_layers
                if sequence_prefix:  # a stage's own other tensors; a whole-model sequence ('') has none
                    return before + positions.depth, num_layers
            before += positions.depth
        return num_layers - 1, num_layers
