"""Layers: the engine's include and call graph (tools/include-graph) has no
circle and no arrow pointing up the declared layer order, and the checker
itself catches both."""
import os
import shutil
import sys

from fiobtest import check, test
from fiobtest.core import env_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, 'tools', 'include-graph')
ENGINE = os.path.join(ROOT, 'engine')


def graph(ctx, *args):
    return ctx.run([sys.executable, TOOL, *args], timeout=60,
                   check_rc=False)


@test('engine/ includes and calls (nm of the built objects) only look down '
      'the layer order adapter > request > core > share > ring > pure > '
      'types, with no cycle', timeout=60)
def engine_graph_only_looks_down(ctx):
    r = graph(ctx, '--src', ENGINE, '--obj', env_path('FIOB_OBJ_DIR'))
    check(r.returncode == 0, f'include-graph exit {r.returncode}: '
          f'{" | ".join(ln for ln in r.stdout.splitlines() if "PROBLEM" in ln)}'
          f'{r.stderr.strip()[-400:]}')
    # It really read both sources: an include arrow and a call arrow.
    out = r.stdout
    check('fiob_req.c includes fiob_core.h' in out,
          f'no include arrow request -> core seen: {out[-600:]}')
    check('fiob_core.o calls fiob_ring_init' in out,
          f'no call arrow core -> ring seen (nm): {out[-600:]}')


@test('the graph check fails on an include circle (core including the '
      'request module), on an upward arrow, and on a module in no layer',
      timeout=60)
def graph_check_catches_cycle_upward_and_unknown(ctx):
    src = os.path.join(ctx.tmpdir(), 'engine')
    shutil.copytree(ENGINE, src, ignore=shutil.ignore_patterns('*.so'))
    clean = graph(ctx, '--src', src)
    check(clean.returncode == 0,
          f'the unmodified copy already fails: {clean.stdout[-400:]}')
    with open(os.path.join(src, 'fiob_core.c'), 'a') as f:
        f.write('#include "fiob_req.h"\n')
    with open(os.path.join(src, 'fiob_new.h'), 'w') as f:
        f.write('/* a module nobody placed */\n')
    r = graph(ctx, '--src', src)
    problems = [ln for ln in r.stdout.splitlines()
                if ln.startswith('PROBLEM')]
    check(r.returncode == 1, f'exit {r.returncode}, want 1: {problems}')
    check(any('fiob_core (core) -> fiob_req (request) points up' in p
              for p in problems), f'no upward arrow reported: {problems}')
    check(any(p.startswith('PROBLEM cycle:') and 'fiob_core' in p and
              'fiob_req' in p for p in problems),
          f'no cycle reported: {problems}')
    check(any('fiob_new is in no layer' in p for p in problems),
          f'the unplaced module was not reported: {problems}')
