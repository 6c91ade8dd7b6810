"""What tools/train.py and tools/test.py share: the launcher arguments and the config they describe."""
import argparse
import gc
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..checkpoint.safe_loading import trust_all_checkpoints
from .backbone_config import load_config


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher``, ``--local-rank`` (as mmdet's/mmseg's tools), ``--trust-checkpoints``,
    ``--delta-base``."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (nested keys with dots)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_trust_argument(parser)
    add_delta_base_argument(parser)


def add_delta_base_argument(parser: argparse.ArgumentParser) -> None:
    """``--delta-base``: where the base file of a delta checkpoint is now, when it moved (same SHA-256)."""
    parser.add_argument('--delta-base', metavar='PATH',
                        help='the base file of a delta checkpoint, when it is no longer at the path the checkpoint '
                             'records (its size and SHA-256 must match; docs/checkpoints.md, "Delta checkpoints")')


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    """``--trust-checkpoints``: the explicit opt-out of safe loading (see ``trust_all_checkpoints``)."""
    parser.add_argument('--trust-checkpoints', action='store_true',
                        help='load checkpoints without torch safe loading (arbitrary pickled objects, which can run '
                             'code): only for files you trust; same as TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1')


def apply_trust_argument(args: argparse.Namespace) -> None:
    """Turn safe loading off for this process when ``--trust-checkpoints`` was given."""
    if args.trust_checkpoints:
        trust_all_checkpoints()


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that pass ``--local-rank``."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    apply_trust_argument(args)
    return args


def load_tool_config(args: argparse.Namespace) -> Config:
    """``args.config`` with ``--cfg-options``, the launcher and the work dir (CLI > config > ./work_dirs/<name>)."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.delta_base is not None:
        hook = cfg.get('default_hooks', {}).get('checkpoint') or {}
        if str(hook.get('type', '')).split('.')[-1] != 'CrashSafeCheckpointHook':
            raise ValueError(f'--delta-base needs default_hooks.checkpoint of type scalenet_mm.CrashSafeCheckpointHook '
                             f'(it completes delta checkpoints) in {args.config}; it is {hook.get("type")!r}')
        if not osp.isfile(args.delta_base):
            raise FileNotFoundError(f'--delta-base {args.delta_base}: no such file')
        hook['delta_base'] = args.delta_base
    return cfg


def build_runner(cfg: Config) -> Runner:
    """mmengine's ``Runner``, or the config's ``runner_type``."""
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def close_process_group() -> None:
    """End a distributed run while the interpreter is whole; call it once the runner is unreachable.

    A gloo worker thread that still owns a finished collective's tensors when Python finalizes aborts the
    process ("terminate called without an active exception", pytorch/pytorch#190489). The runner's reference
    cycles keep the DDP reducer, and through it the process group, alive until then; collecting them after
    leaving the group frees the group here, whose destructor releases the GIL and joins its worker threads.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
        gc.collect()
