"""The Swin configs that the installed mmdet and mmseg ship (for the drop-in and config-tool tests)."""
from functools import lru_cache
from pathlib import Path
from typing import Union

import mmdet
import mmseg
from mmengine.config import Config

from scalenet_mm.config_tools.scalenet_config import swin_backbone


@lru_cache(maxsize=1)
def shipped_swin_configs() -> tuple[tuple[str, Path, Union[Config, str]], ...]:
    """``(package, path, Config or the reason it cannot be read)`` for every shipped Swin config."""
    found = []
    for package in (mmdet, mmseg):
        root = Path(package.__file__).parent / '.mim' / 'configs'
        for path in sorted(root.rglob('*.py')):
            if 'swin' not in path.name.lower() and 'swin' not in path.read_text().lower():
                continue
            try:
                cfg = Config.fromfile(str(path))
            except Exception as exc:  # listed with the reason, never dropped silently
                found.append((package.__name__, path, f'mmengine cannot read it here: {exc!r}'))
                continue
            if swin_backbone(cfg) is not None:
                found.append((package.__name__, path, cfg))
    return tuple(found)


def pop_our_hooks(ours: dict, theirs: dict) -> None:
    """Remove from ``ours`` (a config dict) what our runtimes add to an mmdet/mmseg recipe, after checking it:
    the RNG-state hook, the data-files check, and the crash-safe checkpoint hook in place of mmengine's with
    the recipe's own arguments."""
    assert ours.pop('custom_hooks') == [dict(type='scalenet_mm.RNGStateHook')]
    hooks = ours['default_hooks']
    assert hooks.pop('data_check') == dict(type='scalenet_mm.DataFilesCheckHook')
    assert hooks['checkpoint'].pop('type') == 'scalenet_mm.CrashSafeCheckpointHook'
    hooks['checkpoint']['type'] = theirs['default_hooks']['checkpoint']['type']
