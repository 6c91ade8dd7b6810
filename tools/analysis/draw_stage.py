#!/usr/bin/env python
"""Draw one scaled stage of a config's ScaleNet backbone: which source block each position runs.

    python tools/analysis/draw_stage.py CONFIG [--stage N] [--out stage.png] [--cfg-options ...]

A Swin backbone draws its stage N (0-based); a ViT draws its one sequence of layers (``--stage 0``). Each
position is a box labelled with the source block it runs (the stage's ``position_block`` / ``layer_map``),
coloured by that block; original positions (the first to run their block) are solid, inserted ones hatched.
Under each box: the position's adapter (type, width and target linears, from the backbone's ``adapter``),
and the zero-initialised gate of inserted positions when ``gate_inserted=True``. Nothing is downloaded: the
backbone is built without its pretrained weights.
"""
import argparse
from dataclasses import dataclass
from typing import Optional

from mmengine.config import DictAction

import scalenet_mm  # noqa: F401
from scalenet_mm.config_tools.backbone_config import build_backbone, load_config
from scalenet_mm.models.scaling.scalenet_backbone import ScaleNetBackbone
from scalenet_mm.models.scaling.shared_positions import SharedPositions

PER_ROW = 12  # positions per row of the drawing


@dataclass(frozen=True)
class PositionInfo:
    """What one position of a scaled stage runs.

    Attributes:
        index: the position ``p``.
        source: the source block it runs (or whose copy it runs, with ``unshare=True``).
        inserted: False for the first position running its source block (the source model's own layer).
        adapter: adapter label (``'parallel r=16\\nfc1+fc2'``), or None where the position has none.
        gated: whether the position has a residual gate (``gate_inserted=True``).
        window: ``'W-MSA'`` / ``'SW-MSA'`` for a Swin position, None for a ViT layer.
    """
    index: int
    source: int
    inserted: bool
    adapter: Optional[str]
    gated: bool
    window: Optional[str]


def select_positions(backbone: ScaleNetBackbone, stage: int) -> SharedPositions:
    """The positions to draw: Swin stage ``stage``, or the ViT itself (``stage`` 0)."""
    sequences = list(backbone.shared_positions().values())
    if not 0 <= stage < len(sequences):
        raise ValueError(f'--stage {stage}: the {backbone.architecture} backbone has stage(s) '
                         f'0..{len(sequences) - 1}')
    return sequences[stage]


def describe_positions(positions: SharedPositions, backbone: ScaleNetBackbone) -> list[PositionInfo]:
    """One :class:`PositionInfo` per position, read from the built modules."""
    originals = set(positions.plan.original_positions)
    adapter_cfg = backbone.adapter_cfg
    shifted = getattr(positions, 'shifted', None)
    infos = []
    for p in range(positions.depth):
        targets = list(positions.adapters[p].keys())
        adapter = f'{adapter_cfg.type} r={adapter_cfg.dim}\n{"+".join(targets)}' if targets else None
        window = None if shifted is None else ('SW-MSA' if shifted[p] else 'W-MSA')
        infos.append(PositionInfo(index=p, source=positions.block_source[positions.position_block[p]],
                                  inserted=p not in originals, adapter=adapter,
                                  gated=positions.gates is not None and str(p) in positions.gates, window=window))
    return infos


def stage_title(config: str, backbone: ScaleNetBackbone, positions: SharedPositions, stage: int) -> str:
    """Figure title: which stage, its depths, sharing and the trainable policy."""
    where = f'stage {stage}' if backbone.architecture == 'swin' else 'layers'
    sharing = 'untied copies (unshare=True)' if backbone.unshare else 'shared weights'
    return (f'{config}\n{where}: {positions.plan.source_depth} source blocks -> {positions.depth} positions, '
            f'{sharing}, trainable={backbone.trainable!r}')


def draw_positions(infos: list[PositionInfo], title: str, unshare: bool, out: str) -> None:
    """Draw the positions in rows of ``PER_ROW``, each with its adapter (and gate) box, to a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch
    colours = plt.get_cmap('tab20' if max(i.source for i in infos) >= 10 else 'tab10')
    rows = (len(infos) + PER_ROW - 1) // PER_ROW
    columns = min(len(infos), PER_ROW)
    fig, ax = plt.subplots(figsize=(max(1.25 * columns + 0.6, 8.0), 2.3 * rows + 1.2))
    for info in infos:
        x, y = 1.25 * (info.index % PER_ROW), -2.3 * (info.index // PER_ROW)
        colour = colours(info.source % colours.N)
        ax.add_patch(FancyBboxPatch((x, y), 1.0, 1.0, boxstyle='round,pad=0.02', facecolor=colour,
                                    edgecolor='black', hatch='//' if info.inserted else None,
                                    linewidth=1.6 if info.inserted else 1.0))
        kind = ('copy' if unshare else 'shared') if info.inserted else 'original'
        ax.text(x + 0.5, y + 0.62, f'block {info.source}', ha='center', va='center', fontsize=9, weight='bold',
                bbox=dict(facecolor='white', edgecolor='none', alpha=0.8, pad=1))
        ax.text(x + 0.5, y + 0.27, kind, ha='center', va='center', fontsize=7,
                bbox=dict(facecolor='white', edgecolor='none', alpha=0.8, pad=1))
        ax.text(x + 0.5, y + 1.12, f'p{info.index}' + (f' {info.window}' if info.window else ''), ha='center',
                fontsize=7)
        if info.index % PER_ROW:
            ax.annotate('', xy=(x - 0.02, y + 0.5), xytext=(x - 0.23, y + 0.5),
                        arrowprops=dict(arrowstyle='->', linewidth=0.8))
        ax.plot([x + 0.5, x + 0.5], [y, y - 0.15], color='grey', linewidth=0.8)
        ax.add_patch(FancyBboxPatch((x + 0.1, y - 0.72), 0.8, 0.55, boxstyle='round,pad=0.02',
                                    facecolor='#fff3c4' if info.adapter else 'white', edgecolor='grey',
                                    linestyle='-' if info.adapter else ':'))
        ax.text(x + 0.5, y - 0.445, info.adapter or 'no adapter', ha='center', va='center', fontsize=6)
        if info.gated:
            ax.text(x + 0.5, y - 0.95, 'gate g=0', ha='center', va='center', fontsize=6, color='darkred')
    ax.set_xlim(-0.3, 1.25 * columns)
    ax.set_ylim(-2.3 * (rows - 1) - 1.05, 1.45)
    ax.set_aspect('equal')
    ax.axis('off')
    ax.set_title(title + '\nsolid: original position; hatched: inserted position; colour: source block; '
                 'yellow: per-position adapter', fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=150, bbox_inches='tight')
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config whose model.backbone (or model) is a ScaleNet backbone')
    parser.add_argument('--stage', type=int, default=0, help='Swin stage to draw, 0-based (a ViT: 0)')
    parser.add_argument('--out', default='stage.png', help='output PNG (default stage.png)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    backbone = build_backbone(load_config(args.config, args.cfg_options))
    positions = select_positions(backbone, args.stage)
    infos = describe_positions(positions, backbone)
    draw_positions(infos, stage_title(args.config, backbone, positions, args.stage), backbone.unshare, args.out)
    print(f'wrote {args.out}: {len(infos)} positions running source blocks {[i.source for i in infos]}')


if __name__ == '__main__':
    main()
