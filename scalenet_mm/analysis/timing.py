"""Benchmark measurements: interleaved timing (steps timed round-robin, so drifts hit each alike) and memory."""
import statistics
import time
from typing import Callable, Sequence

import torch


def interleaved_times(steps: Sequence[Callable[[], None]], warmup: int, repeats: int,
                      device: torch.device) -> list[list[float]]:
    """Wall times (s) of several steps timed round-robin (A, B, C, A, B, C, ...) after ``warmup`` untimed
    rounds, so drifts of the machine hit every step alike; one list of ``repeats`` times per step."""
    def timed(step: Callable[[], None]) -> float:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for _ in range(warmup):
        for step in steps:
            step()
    rounds = [[timed(step) for step in steps] for _ in range(repeats)]
    return [list(times) for times in zip(*rounds)]


def paired_medians(step_a: Callable[[], None], step_b: Callable[[], None], warmup: int, repeats: int,
                   device: torch.device) -> tuple[float, float]:
    """Median wall times (s) of two steps, timed A, B, A, B, ... after ``warmup`` untimed pairs."""
    times_a, times_b = interleaved_times((step_a, step_b), warmup, repeats, device)
    return statistics.median(times_a), statistics.median(times_b)


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
