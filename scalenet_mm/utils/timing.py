"""Benchmark measurements: paired timing (two steps timed alternately, so drifts hit both) and memory."""
import statistics
import time
from typing import Callable

import torch


def paired_medians(step_a: Callable[[], None], step_b: Callable[[], None], warmup: int, repeats: int,
                   device: torch.device) -> tuple[float, float]:
    """Median wall times (s) of two steps, timed A, B, A, B, ... after ``warmup`` untimed pairs."""
    def timed(step: Callable[[], None]) -> float:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for _ in range(warmup):
        step_a()
        step_b()
    pairs = [(timed(step_a), timed(step_b)) for _ in range(repeats)]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def resident_set_mib() -> float:
    """The process's current resident set size (MiB; Linux ``/proc/self/status``)."""
    return _proc_status_kib('VmRSS') / 2 ** 10


def peak_memory_mib(step: Callable[[], None], device: torch.device) -> float:
    """Peak memory a step adds over what was held before it (MiB).

    CUDA: ``max_memory_allocated`` minus ``memory_allocated`` before. CPU (Linux): the peak resident set size
    (``VmHWM``, reset through ``/proc/self/clear_refs``) minus the resident size before; NaN elsewhere.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2 ** 20
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM to the current RSS
        before = _proc_status_kib('VmRSS')
    except OSError:
        return float('nan')
    step()
    return (_proc_status_kib('VmHWM') - before) / 2 ** 10
