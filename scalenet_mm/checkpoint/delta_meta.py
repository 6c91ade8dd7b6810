"""What marks a delta checkpoint (:mod:`.delta`): its ``meta['scalenet_delta']``. A module of its own so the
backbone loader (:mod:`.load`), which :mod:`.delta` builds on, can refuse a delta with the way out."""
from typing import Any, Mapping

DELTA_META = 'scalenet_delta'


def is_delta(checkpoint: Mapping[str, Any]) -> bool:
    """Whether ``checkpoint`` (a loaded checkpoint dict) is a delta checkpoint."""
    meta = checkpoint.get('meta')
    return isinstance(meta, Mapping) and DELTA_META in meta
