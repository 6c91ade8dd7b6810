"""The memory a training forward keeps for backward: every tensor autograd saves, counted once per storage."""
from typing import Any, Callable

import torch
import torch.nn as nn


def saved_activation_bytes(forward: Callable[[], Any], weights: nn.Module) -> int:
    """Bytes of the distinct storages autograd saves for backward while ``forward()`` runs, without the
    storages of ``weights``' parameters and buffers (counted elsewhere).

    Views share their base's storage and count once; a storage stays referenced until the count is done, so
    no address is reused for another tensor meanwhile.
    """
    excluded = {t.untyped_storage().data_ptr() for t in (*weights.parameters(), *weights.buffers())}
    storages: dict[int, int] = {}
    saved: list[torch.Tensor] = []  # keeps every saved storage alive

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            storages[storage.data_ptr()] = storage.nbytes()
            saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return sum(storages.values())
