#!/usr/bin/env python
"""Turn a delta checkpoint into a full one, or a full checkpoint of a frozen-shared run into a delta.

    python tools/checkpoint_delta.py full CONFIG DELTA.pth OUT.pth [--delta-base PATH] [--cfg-options ...]
    python tools/checkpoint_delta.py delta CONFIG FULL.pth OUT.pth [--cfg-options ...]

CONFIG is the config the checkpoint was trained with. ``full`` checks the base file the delta records (size and
SHA-256; ``--delta-base`` when it moved) and writes the checkpoint with the frozen weights back in: the same
state dict the run would have saved with ``delta=False``, and the same optimizer, schedulers and meta, so it
resumes and tests like one. ``delta`` loads FULL strictly into CONFIG's model and leaves out the frozen weights
that the backbone's ``init_cfg`` base file gives back bit for bit (a frozen weight that differs from the base
refuses the request). Everything is checked before OUT is written (atomically: the old OUT or the whole new one).
"""
import argparse
import io

import torch
from mmengine.config import DictAction
from mmengine.runner.checkpoint import _load_checkpoint_to_model

import scalenet_mm  # noqa: F401  (registers our modules; safe loading of mmengine checkpoints)
from scalenet_mm.checkpoint.delta import complete_delta, is_delta, make_delta, plan_delta
from scalenet_mm.checkpoint.load import read_checkpoint
from scalenet_mm.config_tools.backbone_config import build_model, load_config
from scalenet_mm.config_tools.tool_config import add_delta_base_argument, add_trust_argument, apply_trust_argument
from scalenet_mm.engine.atomic_local_backend import write_atomically


def to_full(args: argparse.Namespace) -> str:
    """Complete the delta ``args.checkpoint``; returns what was done, for the output line."""
    checkpoint = read_checkpoint(args.checkpoint)
    if not is_delta(checkpoint):
        raise ValueError(f'{args.checkpoint} is not a delta checkpoint (no meta.scalenet_delta): it is full already')
    model = build_model(load_config(args.config, args.cfg_options))
    plan = complete_delta(model, checkpoint, args.checkpoint, args.delta_base)
    save(checkpoint, args.out)
    return f'{len(plan.keys)} frozen tensors put back from the base {args.delta_base or plan.base.path}'


def to_delta(args: argparse.Namespace) -> str:
    """Strip the full checkpoint ``args.checkpoint`` to a delta; returns what was done, for the output line."""
    if args.delta_base is not None:
        raise ValueError('--delta-base is for the full command; a delta is made against the base that '
                         'CONFIG\'s model.backbone.init_cfg names')
    checkpoint = read_checkpoint(args.checkpoint)
    if is_delta(checkpoint):
        raise ValueError(f'{args.checkpoint} is a delta checkpoint already')
    model = build_model(load_config(args.config, args.cfg_options), with_init_cfg=True)
    _load_checkpoint_to_model(model, checkpoint, strict=True)
    plan = plan_delta(model)
    make_delta(checkpoint, plan)
    save(checkpoint, args.out)
    return plan.summary()


def save(checkpoint: dict, path: str) -> None:
    """``torch.save`` of ``checkpoint`` to ``path``, atomically."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_atomically(buffer.getvalue(), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('command', choices=('full', 'delta'), help='full: delta -> full; delta: full -> delta')
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the checkpoint to convert')
    parser.add_argument('out', help='output .pth')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    add_trust_argument(parser)
    add_delta_base_argument(parser)
    args = parser.parse_args()
    apply_trust_argument(args)
    done = {'full': to_full, 'delta': to_delta}[args.command](args)
    print(f'{args.checkpoint} -> {args.out}: {done}')


if __name__ == '__main__':
    main()
