"""The leak detector that tests/conftest.py runs around every test sees each kind of process-wide change that
has changed another test's numbers, and nothing once it is restored."""
import os
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
import torch.utils.flop_counter

import process_state


def changes_while(context) -> list[str]:
    before = process_state.snapshot()
    with context:
        during = process_state.snapshot()
    assert process_state.changes(before, process_state.snapshot()) == []  # restored: nothing left
    return process_state.changes(before, during)


def restore_matmul_precision() -> None:
    """``set_float32_matmul_precision('highest')`` alone leaves oneDNN's matmul at 'ieee' instead of 'none'."""
    torch.set_float32_matmul_precision('highest')
    torch.backends.mkldnn.matmul.fp32_precision = 'none'


class Switch:
    """``with Switch(set_value, restore):``, for torch setters that are not context managers."""

    def __init__(self, apply, restore) -> None:
        self.apply, self.restore = apply, restore

    def __enter__(self) -> None:
        self.apply()

    def __exit__(self, *exc) -> None:
        self.restore()


@pytest.mark.parametrize('context, shows', [
    (lambda: torch.autocast('cpu', dtype=torch.bfloat16), 'torch.is_autocast_enabled(cpu)'),
    (lambda: Switch(lambda: torch.set_flush_denormal(True), lambda: torch.set_flush_denormal(False)),
     'torch.set_flush_denormal'),
    (lambda: Switch(lambda: torch.set_num_threads(torch.get_num_threads() + 1),
                    lambda: torch.set_num_threads(torch.get_num_threads() - 1)), 'torch.get_num_threads'),
    (lambda: Switch(lambda: torch.set_float32_matmul_precision('medium'), restore_matmul_precision),
     'torch.get_float32_matmul_precision'),
    (lambda: Switch(lambda: torch.use_deterministic_algorithms(True),
                    lambda: torch.use_deterministic_algorithms(False)), 'torch.are_deterministic_algorithms_enabled'),
    (lambda: torch.backends.mkldnn.flags(enabled=False), 'torch.backends.mkldnn.enabled'),
    (lambda: torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH), 'flash_sdp_enabled'),
    (lambda: torch.utils.flop_counter.FlopCounterMode(display=False), '_len_torch_dispatch_stack'),
    (lambda: mock.patch.object(F, 'scaled_dot_product_attention', lambda *a, **k: None),
     'torch.nn.functional.scaled_dot_product_attention'),
    (lambda: mock.patch.object(torch.nn.Linear, 'forward', lambda self, x: x), 'torch.nn.Linear.forward'),
    (lambda: mock.patch.dict(os.environ, {'LOCAL_RANK': '3'}), "os.environ['LOCAL_RANK']"),
    (lambda: torch.no_grad(), 'torch.is_grad_enabled'),
], ids=['autocast', 'flush-denormal', 'threads', 'matmul-precision', 'deterministic', 'mkldnn', 'sdpa-backend',
        'dispatch-mode', 'patched-function', 'patched-module', 'environment', 'grad-mode'])
def test_each_kind_of_process_wide_change_is_reported(context, shows):
    changes = changes_while(context())
    assert any(shows in line for line in changes), changes
