#!/usr/bin/env python3
# stat-check.py - `ptreclaim stat` against real processes, every field
# checked against /proc (and need against a pagemap count of its own):
#   a jemalloc program under the shim (and the shim's fields against its
#   own report at exit, stats_format:json), its fork child (its own page),
#   a child forked by the system call (only its parent's page),
#   a fence whose worker stopped for a seccomp filter installed late,
#   a glibc program without the shim, a PID that does not exist, one stat
#   may not read (run as nobody); --prometheus through promtool; --watch
#   --json recorded and drawn by `ptreclaim plot`.
# usage: stat-check.py PTRECLAIM SHIM JEMALLOC STAT_TARGET
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

cli, shim, jemalloc, target = sys.argv[1:5]
failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


def start(preload, conf, *args):
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    env.pop('PTRECLAIM_CONF', None)
    if preload:
        env['LD_PRELOAD'] = preload
        env['PTRECLAIM_CONF'] = conf
        env['MALLOC_CONF'] = 'dirty_decay_ms:0,muzzy_decay_ms:0'
    p = subprocess.Popen([target, *args], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    words = p.stdout.readline().split()
    assert words and words[0] == 'ready', 'target did not start'
    return p, [int(w) for w in words[1:]]


def stat(*args, user=None):
    cmd = [cli, 'stat', *map(str, args)]
    if user:
        cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user,
               '--clear-groups', *cmd]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    return r.returncode, r.stdout


def status(pid, key):
    for line in open('/proc/%d/status' % pid):
        if line.startswith(key + ':'):
            return int(line.split()[1])
    return None


def need_kb(pid):
    """Page tables what is mapped needs: a table per 2 MiB, 1 GiB and
    512 GiB region mapping a present or swapped page (bits 63, 62)."""
    pte, pmd, pud = set(), set(), set()
    with open('/proc/%d/pagemap' % pid, 'rb') as pm:
        for line in open('/proc/%d/maps' % pid):
            if '[vsyscall]' in line:
                continue
            lo, hi = (int(x, 16) for x in line.split()[0].split('-'))
            a = lo
            while a < hi:
                end = min(hi, (a | ((1 << 21) - 1)) + 1)
                if (a >> 21) not in pte:
                    pm.seek((a >> 12) * 8)
                    chunk = pm.read(((end - a) >> 12) * 8)
                    # byte 7 of an entry holds bits 56-63: >= 0x40 means
                    # bit 62 or 63 is set
                    if chunk and max(chunk[7::8]) >= 0x40:
                        pte.add(a >> 21)
                        pmd.add(a >> 30)
                        pud.add(a >> 39)
                a = end
    return 4 * (len(pte) + len(pmd) + len(pud))


def check_proc(o, pid, label):
    check(o.get('pid') == pid and 'error' not in o, label + ': read')
    check(o.get('comm') == open('/proc/%d/comm' % pid).read().strip(),
          label + ': comm')
    check(o.get('vmpte_kb') == status(pid, 'VmPTE'), label + ': vmpte_kb')
    check(o.get('rss_kb') == status(pid, 'VmRSS'), label + ': rss_kb')
    need = need_kb(pid)
    check(o.get('need_kb') == need,
          label + ': need_kb %s == pagemap %d' % (o.get('need_kb'), need))
    check(o.get('reclaimable_kb') == o['vmpte_kb'] - o['need_kb'],
          label + ': reclaimable_kb')


def stop_report(p):
    """SIGTERM: the target exits through exit(), the shim reports."""
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    lines = [line for line in err.splitlines() if line.startswith('{')]
    return json.loads(lines[-1]) if lines else None


def check_shim(o, rep, label):
    s = o.get('shim') or {}
    check(s.get('published') is True, label + ': shim page read')
    check(rep is not None, label + ': report at exit in JSON')
    if not s.get('published') or rep is None:
        return
    check(s['strategy'] == rep['mode'],
          label + ': strategy %s == report %s' % (s['strategy'], rep['mode']))
    if s['strategy'] == 'jemalloc-hooks':
        check(s['tables_freed'] > 0, label + ': tables were freed')
    for k in ('tables_freed', 'errors'):
        check(s[k] == rep[k], label + ': %s %d == report %d' % (k, s[k], rep[k]))
    check(s['regions_tracked'] == rep['regions']['tracked'],
          label + ': regions_tracked %d == report %d' %
          (s['regions_tracked'], rep['regions']['tracked']))
    c = s['counters']
    for k in ('madvise', 'dontneed', 'munmap', 'mmap'):
        check(c[k + '_calls'] == rep['calls'][k], label + ': %s_calls' % k)
    for st in rep['strategies']:
        mine = s['strategies'].get(st['name'], {})
        check(mine.get('state') == st['state'] and
              (st['reason'] or '').startswith(mine.get('reason') or ''),
              label + ': %s state and reason' % st['name'])


# bad usage: status 2
for args in ([], ['--all', '1'], ['--watch', '0', '1'], ['--count', '1.5', '1'],
             ['--watch'], ['x1']):
    rc, _ = stat(*args)
    check(rc == 2, 'usage %s: exit status 2' % ' '.join(args))

conf = 'stats:1,stats_format:json'
shimmed, (spid, cpid) = start(shim + ':' + jemalloc, conf, '64', '--fork')
plain, (gpid,) = start('', '', '64')
try:
    # one PID: an object
    rc, out = stat('--json', spid)
    o = json.loads(out)
    check(rc == 0, 'jemalloc under the shim: exit status 0')
    check_proc(o, spid, 'jemalloc under the shim')
    check(o['shim'] and o['shim']['strategy'] in
          ('jemalloc-hooks', 'advice', 'observe'), 'a strategy is named')
    # the fork child: its own page, its own pid
    rc, out = stat('--json', cpid)
    c = json.loads(out)
    pages = [line for line in open('/proc/%d/maps' % cpid)
             if 'ptreclaim-stats' in line]
    check(rc == 0 and c['shim'] and c['shim']['published'],
          'fork child: its own stats page read')
    check(len(pages) == 1, 'fork child: one stats page (%d)' % len(pages))
    # glibc, no shim
    rc, out = stat('--json', gpid)
    g = json.loads(out)
    check(rc == 0, 'glibc without the shim: exit status 0')
    check_proc(g, gpid, 'glibc without the shim')
    check(g.get('shim') is None, 'glibc without the shim: shim is null')
    # several PIDs, one missing: a list, the others still read, status 1
    missing = (1 << 22) + 12345
    rc, out = stat('--json', gpid, missing, spid)
    lst = json.loads(out)
    check(rc == 1, 'a missing PID: exit status 1')
    check(isinstance(lst, list) and len(lst) == 3, 'several PIDs: a list')
    check(lst[1] == {'pid': missing, 'time': lst[1]['time'],
                     'error': 'no such process'}, 'missing PID: its error')
    check('error' not in lst[0] and 'error' not in lst[2],
          'missing PID: the others read')
    rc, out = stat(gpid, missing)
    check(rc == 1 and 'no such process' in out and 'glibc' not in out and
          str(gpid) in out, 'table: the error on its row')
    # no permission: nobody may not read root's pagemap
    rc, out = stat('--json', spid, user=65534)
    n = json.loads(out)
    check(rc == 1, 'no permission: exit status 1')
    check('Permission denied' in n.get('error', ''),
          'no permission: the error says so (%s)' % n.get('error'))
    check(n.get('vmpte_kb') == status(spid, 'VmPTE') and
          n.get('need_kb') is None, 'no permission: status fields, need null')
    # Prometheus, through promtool
    rc, out = stat('--prometheus', spid, gpid)
    check(rc == 0, 'prometheus: exit status 0')
    check('ptreclaim_vmpte_bytes{pid="%d",comm="stat_target"} %d' %
          (spid, 1024 * status(spid, 'VmPTE')) in out, 'prometheus: vmpte')
    check('ptreclaim_tables_freed_total{pid="%d",comm="stat_target",strategy="%s"}'
          % (spid, o['shim']['strategy']) in out, 'prometheus: tables_freed')
    check('ptreclaim_tables_freed_total{pid="%d"' % gpid not in out,
          'prometheus: no shim metrics without the shim')
    promtool = shutil.which('promtool')
    check(promtool is not None, 'promtool installed (scripts/install-deps)')
    if promtool:
        r = subprocess.run([promtool, 'check', 'metrics'], input=out,
                           text=True, capture_output=True)
        check(r.returncode == 0, 'promtool check metrics: ' +
              (r.stdout + r.stderr).strip().replace('\n', '; '))
    with tempfile.TemporaryDirectory() as d:
        prom = os.path.join(d, 'ptreclaim.prom')
        rc, _ = stat('--prometheus', '-o', prom, spid)
        check(rc == 0 and open(prom).read().startswith('# HELP') and
              os.listdir(d) == ['ptreclaim.prom'], 'prometheus -o: one file')
        # a timeline: three JSON lines, then the plot
        rc, out = stat(spid, '--watch', '0.2', '--count', '3', '--json')
        lines = out.splitlines()
        check(rc == 0 and len(lines) == 3 and
              all(json.loads(x)['pid'] == spid for x in lines),
              'watch --json: a line per sample')
        rec = os.path.join(d, 'rec.jsonl')
        open(rec, 'w').write(out)
        svg = os.path.join(d, 'out.svg')
        r = subprocess.run([cli, 'plot', '--label', 'shim', rec, '-o', svg])
        root = ET.parse(svg).getroot() if r.returncode == 0 else None
        lines_drawn = root.findall('{http://www.w3.org/2000/svg}polyline') \
            if root is not None else []
        check(len(lines_drawn) == 3 and
              all(len(x.get('points').split()) == 3 for x in lines_drawn),
              'plot: VmPTE, need and RSS, three points each')
    # last: the shim's own count at exit against what stat read just now
    # (the child first: it holds the pipes the report comes through)
    os.kill(cpid, signal.SIGKILL)
    rc, out = stat('--json', spid)
    o = json.loads(out)
    check_shim(o, stop_report(shimmed), 'jemalloc under the shim')
finally:
    for p in (shimmed, plain):
        if p.poll() is None:
            p.kill()
    try:
        os.kill(cpid, signal.SIGKILL)
    except OSError:
        pass
# A recording ends when its process does (scripts/plot-demo relies on it).
short = subprocess.Popen(['sleep', '1.5'])
rc, out = stat(short.pid, '--watch', '0.2', '--json')
short.wait()
check(rc == 0 and len(out.splitlines()) >= 3 and
      all(json.loads(x)['pid'] == short.pid for x in out.splitlines()),
      'watch ends with its process, status 0 (%d lines)' % len(out.splitlines()))

# A child forked without atfork handlers keeps only its parent's page:
# stat must not show the parent's counters as the child's.
raw, (rpid, rcpid) = start(shim + ':' + jemalloc, conf, '16', '--rawfork')
try:
    rc, out = stat('--json', rcpid)
    r = json.loads(out).get('shim') or {}
    check(rc == 0 and r.get('published') is False and
          r.get('inherited_from') == rpid and 'strategy' not in r,
          'raw fork child: the parent\'s page is not read as its own (%s)' % r)
finally:
    for pid in (rcpid, rpid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    raw.wait()

# The fence, stopped by a seccomp filter after it published: stat says
# so from the live state, as the report does.
fenced, (fpid, fcpid) = start(shim + ':' + jemalloc,
                              conf + ',fence:on,jemalloc:off,fence_delay_ms:0',
                              '64', '--seccomp-fork')
try:
    # a child forked under the filter maps no page of its own (the call
    # could be one the filter punishes)
    rc, out = stat('--json', fcpid)
    r = json.loads(out).get('shim') or {}
    check(r.get('published') is False and r.get('inherited_from') == fpid,
          'fork under seccomp: no page of its own (%s)' % r)
    os.kill(fcpid, signal.SIGKILL)
    rc, out = stat('--json', fpid)
    f = (json.loads(out).get('shim') or {})
    fence = f.get('strategies', {}).get('fence', {})
    check(rc == 0 and f.get('strategy') == 'observe' and
          fence.get('state') == 'unavailable' and
          'seccomp' in (fence.get('reason') or ''),
          'fence stopped by seccomp: observe, and why (%s)' % fence)
    check_shim(json.loads(out), stop_report(fenced), 'fence stopped')
finally:
    if fenced.poll() is None:
        fenced.kill()
print('%d failed' % len(failures))
sys.exit(1 if failures else 0)
