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
