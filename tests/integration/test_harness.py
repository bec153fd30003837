"""The runner's own process handling (fiobtest/core.py): a test's command
that hangs dies whole, so that nothing it started outlives the test,
spinning or holding a device the next test needs."""
import os
import subprocess
import sys
import time

from fiobtest import check, test
from fiobtest.core import Fail

# A parent that sleeps and a child that leaves its process group with
# setsid() and spins: the shape of a hung fio (its job processes call
# setsid()).
HANG = '''
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    with open(sys.argv[1], 'w') as f:
        f.write(str(os.getpid()))
    while True:
        pass
time.sleep(3600)
'''


def alive(pid):
    """@pid exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(')') + 2] != 'Z'


@test('a command that times out is killed with everything below it, '
      'including a child that left its process group with setsid() (as '
      'fio\'s job processes do): nothing it started is left running',
      timeout=60)
def timed_out_command_leaves_no_process(ctx):
    pid_file = os.path.join(ctx.tmpdir(), 'child.pid')
    try:
        ctx.run([sys.executable, '-c', HANG, pid_file], timeout=3)
        raise Fail('the hanging command returned')
    except subprocess.TimeoutExpired:
        pass
    check(os.path.exists(pid_file), 'the child never started')
    with open(pid_file) as f:
        pid = int(f.read())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, 9)
        raise Fail(f'the setsid() child {pid} outlived its timed-out '
                   'parent (killed now)')
