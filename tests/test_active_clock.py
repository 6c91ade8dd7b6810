"""The fidelity runner's clock leaves out the time its process was stopped (kill -STOP / -CONT)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from scalenet_mm.analysis.active_clock import ActiveClock

CHILD = '''
import json, time
from scalenet_mm.analysis.active_clock import ActiveClock
start = time.perf_counter()
with ActiveClock(tick=0.02, stall=0.5) as clock:
    print('ready', flush=True)
    while clock.seconds < 3.0:
        time.sleep(0.01)
print(json.dumps(dict(wall=time.perf_counter() - start, active=clock.seconds, stopped=clock.stopped)), flush=True)
'''


@pytest.mark.skipif(not hasattr(signal, 'SIGSTOP'), reason='needs POSIX job control signals')
def test_a_stopped_interval_is_left_out():
    child = subprocess.Popen([sys.executable, '-c', CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'ready'
    time.sleep(0.3)
    os.kill(child.pid, signal.SIGSTOP)
    time.sleep(1.5)
    os.kill(child.pid, signal.SIGCONT)
    result = json.loads(child.stdout.readline())
    assert child.wait(timeout=30) == 0
    assert result["wall"] >= 4.2  # 3 s active + 1.5 s stopped
    assert result['stopped'] == pytest.approx(1.5, abs=0.3)
    assert result['active'] == pytest.approx(result['wall'] - result['stopped'], abs=0.1)


def test_an_unstopped_clock_is_the_wall_clock():
    start = time.perf_counter()
    with ActiveClock(tick=0.01, stall=0.5) as clock:
        time.sleep(0.2)
    assert clock.stopped == 0.0
    assert clock.seconds == pytest.approx(time.perf_counter() - start, abs=0.05)
    with pytest.raises(ValueError, match='0 < tick < stall'):
        ActiveClock(tick=1.0, stall=0.5)
