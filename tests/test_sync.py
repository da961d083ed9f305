"Exporting the notebooks into a temporary copy of the repo leaves kdnb/ unchanged."
import filecmp, shutil, subprocess, sys
from pathlib import Path

def test_notebooks_and_library_in_sync(root, tmp_path):
    dst = tmp_path/'repo'
    dst.mkdir()
    for o in ['settings.ini', 'setup.py']: shutil.copy(root/o, dst/o)
    shutil.copytree(root/'nbs', dst/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc'))
    shutil.copytree(root/'kdnb', dst/'kdnb', ignore=shutil.ignore_patterns('__pycache__'))
    exe = Path(sys.executable).parent/'nbdev_export'
    r = subprocess.run([str(exe)], cwd=dst, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (root/'kdnb').glob('*.py'))
    assert names == sorted(p.name for p in (dst/'kdnb').glob('*.py')), 'exported module set differs'
    _, mismatch, errors = filecmp.cmpfiles(root/'kdnb', dst/'kdnb', names, shallow=False)
    assert not mismatch and not errors, f'kdnb/ differs from the notebooks in {mismatch + errors}: run nbdev_export'
