"""Let mmengine-written checkpoints load under ``torch.load(weights_only=True)``.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default. Checkpoints that mmengine's
``Runner`` writes carry, besides tensors, the message hub: :class:`mmengine.logging.HistoryBuffer`
objects whose ``statistics_methods`` pickle as ``getattr(HistoryBuffer, 'mean')``, and numpy arrays and
scalars. :func:`allow_mmengine_checkpoints` allow-lists exactly these globals, keeping safe loading on:

- ``mmengine.logging.history_buffer.HistoryBuffer``;
- numpy's array/scalar reconstruction (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar``) under both
  numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) module paths;
- ``getattr`` *restricted* to reading HistoryBuffer's registered statistics methods; any other use of
  ``getattr`` in a pickle raises :class:`pickle.UnpicklingError`.

A checkpoint that needs any other global is still refused by torch with its usual message. For files you
trust, :func:`trust_all_checkpoints` (``--trust-checkpoints`` in our tools) is the explicit opt-out.
"""
import os
import pickle
import warnings
from typing import Any, Callable

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

# The statistics every HistoryBuffer registers (``HistoryBuffer.__init__``); custom ones are added by
# ``HistoryBuffer.register_statistics`` and are allowed once registered.
HISTORY_BUFFER_STATISTICS = {'min', 'max', 'current', 'mean'}


def history_buffer_getattr(owner: Any, name: str) -> Callable:
    """``getattr`` as the safe unpickler sees it: only ``HistoryBuffer.<statistics method>`` passes."""
    allowed = HISTORY_BUFFER_STATISTICS | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({owner!r}, {name!r}) while loading a checkpoint: scalenet_mm only allows '
        f'getattr(HistoryBuffer, <one of {sorted(allowed)}>)')


def _numpy_core_globals() -> list[tuple[Callable, str]]:
    """numpy's pickling helpers under the module paths that numpy 1.x and 2.x write."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    return entries


def mmengine_safe_globals() -> list[Any]:
    """The allow-list entries (objects or ``(object, 'module.name')`` pairs) that mmengine checkpoints need."""
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        *[type(np.dtype(code)) for code in ('b', 'B', 'h', 'H', 'i', 'I', 'l', 'L', 'q', 'Q', 'e', 'f', 'd',
                                            '?')],
        *_numpy_core_globals(),
        (history_buffer_getattr, '__builtin__.getattr'),
        (history_buffer_getattr, 'builtins.getattr'),
    ]


def allow_mmengine_checkpoints() -> None:
    """Register :func:`mmengine_safe_globals` with torch's safe unpickler (idempotent)."""
    torch.serialization.add_safe_globals(mmengine_safe_globals())


TRUST_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


def trust_all_checkpoints() -> None:
    """Opt out of safe loading for this process: every later ``torch.load`` unpickles arbitrary objects.

    Only for checkpoints you trust (a pickle can run code). It sets torch's own switch
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which also works for mmdet's and mmseg's tools when exported in
    the shell; our tools set it with ``--trust-checkpoints``.
    """
    os.environ[TRUST_ENV] = '1'
    warnings.warn(f'safe checkpoint loading is OFF ({TRUST_ENV}=1): load only checkpoints you trust',
                  stacklevel=2)
