"""A snapshot of the process-wide state a test can change and forget to restore.

``tests/conftest.py`` takes one before and after every test and fails the test that changed it, naming what
changed: a leaked torch flag, autocast region, environment variable or monkeypatched function would otherwise
change the numbers of whichever test happens to run next on the same pytest-xdist worker.

What is covered: torch's numeric and backend switches (default dtype, threads, grad and inference mode,
deterministic algorithms, matmul precision, oneDNN/cuDNN/SDPA/MHA switches, flush-denormal, CPU autocast,
anomaly mode, every plain ``torch._C._get_*``/``_is_*`` switch, torch-function and dispatch modes left
entered), the torch._dynamo configuration, timm's layer
switches, the functions of ``torch``, ``torch.nn.functional``, ``torch.nn.init``, ``torch.Tensor`` and of
every ``torch.nn`` module class (by identity, so a monkeypatch shows), the environment and the working
directory. mmengine's current default scope is left out: every Runner and registry build sets it, by design.
"""
import os
import sys
import types
from typing import Any

import torch
import torch._dynamo.mutation_guard

# dynamo wraps torch.manual_seed & co. when imported, and nn.Module.__init__/__setstate__ at its first compile,
# once per process: done here, before any snapshot, so they are not taken for a test's monkeypatch
torch._dynamo.mutation_guard.install_generation_tagging_init()

# environment variables that libraries set once, on first use, for the whole process (not a test's doing):
# importing mmseg.utils (its tokenizer) sets TOKENIZERS_PARALLELISM, inductor's first compile its cache folder
SET_ONCE_ENVIRONMENT = {'KMP_DUPLICATE_LIB_OK', 'KMP_INIT_AT_FORK', 'PYTEST_CURRENT_TEST', 'TOKENIZERS_PARALLELISM',
                        'TORCHINDUCTOR_CACHE_DIR'}


def _flushes_denormals() -> bool:
    """``torch.set_flush_denormal`` has no getter: a float32 subnormal times one is zero when it is on."""
    return bool((torch.tensor([1e-40], dtype=torch.float32) * 1.0).item() == 0.0)


def _functions(namespace: Any) -> dict[str, int]:
    """``id`` of every function-like attribute of a module or class (a monkeypatch changes the identity)."""
    items = vars(namespace).items()
    return {name: id(value) for name, value in items
            if callable(value) and not isinstance(value, (type, types.ModuleType))}


# torch._C getters that report per-thread or diagnostic facts rather than switches
NOT_SWITCHES = {'_get_thread_name', '_get_caught_jit_exception_class_name', '_get_caught_jit_exception_original_msg',
                '_is_tracing'}


def _torch_c_getters() -> dict[str, Any]:
    """Every argument-free ``torch._C._get_*`` / ``_is_*`` switch with a plain value (SDPA backends,
    reduced-precision reductions, deterministic fill, default device, forward AD, multithreaded autograd, ...) and
    the depth of the torch-function and dispatch mode stacks (a FLOP counter left entered), so one that the list
    below misses still shows."""
    values = {}
    for name in dir(torch._C):
        if not name.startswith(('_get_', '_is_', '_are_', '_len_torch_')) or name in NOT_SWITCHES:
            continue
        try:
            value = getattr(torch._C, name)()
        except Exception:  # noqa: BLE001  (a getter that needs arguments or a device is not a switch)
            continue
        if isinstance(value, (bool, int, float, str)):
            values[f'torch._C.{name}'] = value
    autograd = torch._C._autograd
    values['saved tensors hooks enabled'] = autograd._saved_tensors_hooks_is_enabled()
    values['autograd profiler enabled'] = autograd._profiler_enabled()
    return values


def _torch_switches() -> dict[str, Any]:
    backends = torch.backends
    return {
        'torch.get_default_dtype': torch.get_default_dtype(),
        'torch.get_num_threads': torch.get_num_threads(),
        'torch.is_grad_enabled': torch.is_grad_enabled(),
        'torch.is_inference_mode_enabled': torch.is_inference_mode_enabled(),
        'torch.are_deterministic_algorithms_enabled': torch.are_deterministic_algorithms_enabled(),
        'torch.is_deterministic_algorithms_warn_only_enabled': torch.is_deterministic_algorithms_warn_only_enabled(),
        'torch.get_float32_matmul_precision': torch.get_float32_matmul_precision(),
        'torch.backends.fp32_precision': getattr(backends, 'fp32_precision', None),
        'torch.backends.mkldnn.enabled': backends.mkldnn.enabled,
        'torch.backends.mkldnn.deterministic': backends.mkldnn.deterministic,
        'torch.backends.mkldnn.matmul.fp32_precision': backends.mkldnn.matmul.fp32_precision,
        'torch.backends.mkldnn.conv.fp32_precision': backends.mkldnn.conv.fp32_precision,
        'torch.backends.mkl.is_available': backends.mkl.is_available(),
        'torch.backends.cudnn.enabled': backends.cudnn.enabled,
        'torch.backends.cudnn.benchmark': backends.cudnn.benchmark,
        'torch.backends.cudnn.deterministic': backends.cudnn.deterministic,
        'torch.backends.cuda.matmul.allow_tf32': backends.cuda.matmul.allow_tf32,
        'torch.backends.cuda.flash_sdp_enabled': backends.cuda.flash_sdp_enabled(),
        'torch.backends.cuda.mem_efficient_sdp_enabled': backends.cuda.mem_efficient_sdp_enabled(),
        'torch.backends.cuda.math_sdp_enabled': backends.cuda.math_sdp_enabled(),
        'torch.backends.cuda.cudnn_sdp_enabled': backends.cuda.cudnn_sdp_enabled(),
        'torch.backends.mha.get_fastpath_enabled': backends.mha.get_fastpath_enabled(),
        'torch.set_flush_denormal': _flushes_denormals(),
        'torch.is_autocast_enabled(cpu)': torch.is_autocast_enabled('cpu'),
        'torch.get_autocast_dtype(cpu)': torch.get_autocast_dtype('cpu'),
        'torch.is_anomaly_enabled': torch.is_anomaly_enabled(),
    }


def snapshot() -> dict[str, Any]:
    """Everything listed in the module docstring, as a flat ``{name: value}`` dict."""
    state = {**_torch_switches(), **_torch_c_getters()}
    for prefix, namespace in (('torch.', torch), ('torch.nn.functional.', torch.nn.functional),
                              ('torch.Tensor.', torch.Tensor), ('torch.nn.init.', torch.nn.init)):
        state.update({f'{prefix}{name} (function identity)': value for name, value in _functions(namespace).items()})
    for name, module_class in vars(torch.nn).items():
        if isinstance(module_class, type) and issubclass(module_class, torch.nn.Module):
            state.update({f'torch.nn.{name}.{k} (function identity)': v for k, v in _functions(module_class).items()})
    if 'torch._dynamo' in sys.modules:
        state.update({f'torch._dynamo.config.{k}': repr(v)
                      for k, v in sys.modules['torch._dynamo'].config.get_config_copy().items()})
    if 'timm.layers.config' in sys.modules:
        timm_config = sys.modules['timm.layers.config']
        state.update({f'timm.layers.config.{k}': v for k, v in vars(timm_config).items()
                      if k.startswith('_') and k.lstrip('_').isupper()})
    state.update({f'os.environ[{k!r}]': v for k, v in os.environ.items() if k not in SET_ONCE_ENVIRONMENT})
    state['os.getcwd'] = os.getcwd()
    return state


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs, one line each. Names only in ``after`` are lazily imported functions or a library's
    first-use configuration and are left out, except environment variables, which a test must not add."""
    lines = []
    for name in sorted(before.keys() | after.keys()):
        if name not in before and not name.startswith('os.environ['):
            continue
        old, new = before.get(name, '<unset>'), after.get(name, '<unset>')
        if old != new:
            lines.append(f'{name}: {old!r} -> {new!r}')
    return lines
