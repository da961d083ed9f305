"The docs build (`nbdev_proc_nbs`) runs every notebook cell that imports something: such cells must hold imports only."
import ast, json, re
import pytest

def code_cells(root):
    for nb in sorted((root/'nbs').glob('*.ipynb')):
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            src = ''.join(c['source'])
            if c['cell_type'] == 'code' and not re.search(r'^#\|\s*(export|exporti|exports)\b', src, re.M) and 'nbdev_export()' not in src:
                yield nb.name, i, src

def test_import_cells_hold_only_imports(root):
    bad = []
    for name, i, src in code_cells(root):
        body = ast.parse(src).body
        imports = [s for s in body if isinstance(s, (ast.Import, ast.ImportFrom))]
        if imports and len(imports) < len(body): bad.append(f'{name} cell {i}')
    assert not bad, f'imports mixed with other code (the docs build would run these cells): {bad}'

PICTURE = re.compile(r'\bplt\.|\.imshow\(|show_batch\(|\bplot_\w+\(|\.plot\(|display\(Image')
TMP = re.compile(r'/tmp/|/var/folders/|\btmp[a-z0-9_]{8}\b|/work/|/home/|/root/|\.venv/|site-packages')   # temporary folders and machine paths
BAR = re.compile(r'\r|<progress|progress-bar')   # fastai's bars: carriage-return redraws on a terminal, an HTML <progress> in a notebook
SKIP = re.compile(r'^#\|\s*(slow|cuda|notest|eval:\s*false)\s*$', re.M)

def outputs(cell):
    for o in cell.get('outputs', []):
        yield o.get('text', '') if isinstance(o.get('text', ''), str) else ''.join(o['text']), o.get('data', {})

@pytest.mark.parametrize('nb', sorted(p.name for p in (__import__('pathlib').Path(__file__).parents[1]/'nbs').glob('[0-9]*.ipynb')))
def test_notebook_outputs_reach_the_site(root, nb):
    "Notebooks are committed executed: a page that draws shows its pictures, no output names a temporary folder or a path of the machine it ran on, and none holds a progress bar's residue."
    cells = json.loads((root/'nbs'/nb).read_text())['cells']
    run = [c for c in cells if c['cell_type'] == 'code' and not SKIP.search(''.join(c['source']))]
    draws = any(PICTURE.search(''.join(c['source'])) for c in run if not ''.join(c['source']).startswith('#|export'))
    texts = [(t, d) for c in cells for t, d in outputs(c)]
    assert texts, f'{nb} has no saved outputs: run `python .ci/exec_nb.py nbs/{nb}`'
    if draws: assert any('image/png' in d for _, d in texts), f'{nb} draws pictures but none is saved'
    for t, d in texts:
        for s in [t, *(v if isinstance(v, str) else ''.join(v) for k, v in d.items() if k.startswith('text/'))]:
            assert not TMP.search(s), f'{nb}: an output names a temporary folder or machine path: {TMP.search(s)[0]!r} in {s[:120]!r}'
            assert not BAR.search(s), f'{nb}: an output holds a progress bar\'s redraws ({BAR.search(s)[0]!r} in {s[:120]!r}): run that cell under learn.no_bar()'
