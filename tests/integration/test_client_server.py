"""fio's client/server mode with the engine: a server started here on
127.0.0.1 (a port picked free), a misaligned verify job sent to it with
--client. The engine loads on the server side only, and its result and
summary line come back to the client.
"""
import os
import re
import signal
import socket
import subprocess
import time

from fiobtest import check, common, targets, test
from fiobtest.fio import engine_path, fio_env

JOB = """[global]
ioengine=external:{engine}
filename={dev}
direct=1
size=4m
iodepth=16

[cs-rmw-verify]
rw=randwrite
bs=1000
verify=crc32c
verify_fatal=1

[cs-window-reads]
stonewall
rw=randread
bs=1000
time_based=1
runtime=3
"""


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(proc.poll() is None, f'fio --server exited {proc.returncode}')
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.1)
    check(False, f'fio --server is not listening on port {port}')


def maps_engine(pids, engine):
    for pid in pids:
        try:
            if engine in open(f'/proc/{pid}/maps').read():
                return True
        except OSError:
            pass
    return False


@test('a misaligned verify job sent with --client to a fio --server on '
      '127.0.0.1 passes; the engine loads in the server\'s processes, not '
      'the client\'s; its result and summary line reach the client; only '
      'the server started here is stopped', timeout=180)
def client_server_misaligned_verify(ctx):
    engine = engine_path()
    dev = targets.loop(ctx, 4096, 64 << 20)
    port = free_port()
    work = ctx.tmpdir()
    log = open(os.path.join(work, 'server.log'), 'w')
    server = ctx.spawn(['fio', f'--server=ip:127.0.0.1,{port}'],
                       stdout=log, stderr=subprocess.STDOUT, cwd=work,
                       env=fio_env())
    wait_listening(port, server)
    job = os.path.join(work, 'cs.fio')
    with open(job, 'w') as f:
        f.write(JOB.format(engine=engine, dev=dev))
    client = ctx.spawn(['fio', f'--client=ip:127.0.0.1,{port}', job],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, cwd=work, env=fio_env())
    on_server = on_client = False
    while client.poll() is None:
        on_server = on_server or maps_engine(
            common.process_tree(server.pid), engine)
        on_client = on_client or maps_engine(
            common.process_tree(client.pid), engine)
        time.sleep(0.05)
    out, err = client.communicate(timeout=30)
    check(client.returncode == 0, f'fio --client exited {client.returncode}'
          f': {err[-600:]} {out[-600:]}')
    check(on_server, 'fio-bounce.so was never mapped by the server\'s '
          'processes')
    check(not on_client, 'the client mapped fio-bounce.so itself')
    for name in ('cs-rmw-verify', 'cs-window-reads'):
        check(f'{name}: (groupid=' in out and 'err= 0' in out,
              f'no clean result for {name} at the client: {out[-1500:]}')
    # The client prefixes each server line with the host name, and may put
    # it after a status line: look for the summary anywhere in a line.
    for name, counter in (('cs-rmw-verify', 'rmw'),
                          ('cs-window-reads', 'winread')):
        m = re.search(rf'fio-bounce: {name}: mode=auto .*? {counter}=(\d+) ',
                      out)
        check(m and int(m.group(1)) > 0, f'no summary line with {counter} '
              f'> 0 for {name} at the client: {m and m.group(0)}; '
              f'{out[-1500:]}')
    # Stop the server started here: its own session, nothing else. Its
    # forked children share the listening socket: wait for all of them.
    procs = common.process_tree(server.pid)
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        check(False, 'fio --server did not stop on SIGTERM')
    deadline = time.monotonic() + 15
    while any(os.path.exists(f'/proc/{pid}') for pid in procs):
        check(time.monotonic() < deadline, 'a process of fio --server '
              'outlived SIGTERM by 15 s')
        time.sleep(0.05)
    with socket.socket() as s:
        check(s.connect_ex(('127.0.0.1', port)) != 0,
              f'port {port} still accepts connections after the stop')
