#!/usr/bin/env python
"""Bytes of a config's checkpoints, full and delta (docs/checkpoints.md#delta-checkpoints), without training.

    python tools/analysis/checkpoint_sizes.py CONFIG [CONFIG ...] [--cfg-options ...]

For the model a config builds: the serialized state dict (what a full checkpoint's weights take), the same
without the frozen parameters (what a delta of a run grown from its base file leaves out: every frozen
weight, as under the ``adapters_norms`` policy of the ``-frozen`` configs), and the optimizer state a training
checkpoint adds (AdamW: two tensors per trained weight, SGD with momentum: one). Sizes in MiB.
"""
import argparse
import io
from collections import OrderedDict

import torch
from mmengine.config import DictAction

import scalenet_mm  # noqa: F401  (registers our modules)
from scalenet_mm.analysis.optimizer_state import optimizer_states
from scalenet_mm.config_tools.backbone_config import build_model, load_config

MIB = 1024 ** 2


def serialized_bytes(state: dict[str, torch.Tensor]) -> int:
    """Bytes ``torch.save`` writes for ``state``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def checkpoint_sizes(config: str, cfg_options: dict | None = None) -> dict[str, float]:
    """MiB of the full and the delta weights of ``config``'s model, of its optimizer state, and the trained
    parameters (millions)."""
    cfg = load_config(config, cfg_options)
    model = build_model(cfg)
    state = model.state_dict()
    frozen = {name for name, param in model.named_parameters() if not param.requires_grad}
    trained = [param for param in {id(p): p for p in model.parameters()}.values() if param.requires_grad]
    optimizer = optimizer_states(cfg) * sum(p.numel() * p.element_size() for p in trained)
    full = serialized_bytes(state)
    kept = OrderedDict((k, v) for k, v in state.items() if k not in frozen)
    kept._metadata = state._metadata  # the modules' versions, which a saved state dict carries too
    delta = serialized_bytes(kept)
    return dict(trained_m=sum(p.numel() for p in trained) / 1e6, full=full / MIB, delta=delta / MIB,
                optimizer=optimizer / MIB, frozen_tensors=len(frozen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', help='configs whose models to size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    print('| config | trained params | full: weights / with optimizer | delta: weights / with optimizer |')
    print('| --- | --- | --- | --- |')
    for config in args.configs:
        size = checkpoint_sizes(config, args.cfg_options)
        print(f'| `{config.rsplit("/", 1)[-1]}` | {size["trained_m"]:.1f} M | {size["full"]:.1f} / '
              f'{size["full"] + size["optimizer"]:.1f} MiB | {size["delta"]:.1f} / '
              f'{size["delta"] + size["optimizer"]:.1f} MiB |', flush=True)


if __name__ == '__main__':
    main()
