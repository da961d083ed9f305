"""Execute notebooks top to bottom in a fresh kernel and save their outputs (the docs site shows them).

Usage: python .ci/exec_nb.py nbs/00_data.ipynb [...] [--flags slow]
Cells flagged with a `tst_flags` flag (slow, cuda, notest) that is not given, `#| eval: false` cells and the
`nbdev_export()` cell are skipped, as `nbdev_test` skips them. Each notebook is then cleaned with nbdev_clean.
"""
import json, os, re, subprocess, sys, time
from pathlib import Path
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory

FLAGS = {'slow', 'cuda', 'notest'}

def skip(cell, run_flags):
    if cell.cell_type != 'code': return True
    src = cell.source
    if 'nbdev_export(' in src: return True
    if re.search(r'^#\|\s*eval:\s*false', src, re.M | re.I): return True
    flags = set(re.findall(r'^#\|\s*(\w+)\s*$', src, re.M)) & FLAGS
    return bool(flags - set(run_flags))

def run(fn, run_flags=()):
    fn = Path(fn).resolve()
    os.environ.pop('IN_TEST', None)
    t0 = time.time()
    nb = json.loads(fn.read_text())   # a cell that prints nothing now must not keep what it printed before
    for c in nb['cells']:
        if c['cell_type'] == 'code' and not skip(type('C', (), dict(cell_type='code', source=''.join(c['source'])))(), run_flags): c['outputs'] = []
    fn.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    shell = CaptureShell(fn)
    with working_directory(fn.parent):
        shell.execute(fn, fn, exc_stop=True, preproc=lambda c: skip(c, run_flags))
    subprocess.run(['nbdev_clean', '--fname', str(fn)], check=True)
    print(f'{fn.name}: executed in {time.time()-t0:.0f} s')

if __name__ == '__main__':
    args = sys.argv[1:]
    flags = args[args.index('--flags')+1].split(',') if '--flags' in args else []
    nbs = [a for a in args if a.endswith('.ipynb')]
    if len(nbs) == 1: run(nbs[0], flags)
    else:   # each notebook in a fresh process, as in a clean kernel
        for nb in nbs: subprocess.run([sys.executable, __file__, nb, *(['--flags', ','.join(flags)] if flags else [])], check=True)
