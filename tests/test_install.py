"The package imports and every console script declared in settings.ini is installed and answers --help."
import shutil, subprocess, sys
import pytest
from conftest import settings

def console_scripts():
    return [o.split('=')[0].strip() for o in settings().get('console_scripts', '').split() if '=' in o]

def test_import_version():
    import kdnb
    assert kdnb.__version__ == settings()['version']

def test_console_scripts_declared_match_setup():
    # every entry is NAME=module:function and the module/function exist
    import importlib
    for o in settings().get('console_scripts', '').split():
        name, target = o.split('=')
        mod, fn = target.split(':')
        assert callable(getattr(importlib.import_module(mod), fn)), f'{name}: {target} is not callable'

@pytest.mark.parametrize('script', console_scripts())
def test_console_script_help(script):
    exe = shutil.which(script)
    assert exe, f'{script} is declared in settings.ini but not installed (pip install -e .)'
    r = subprocess.run([exe, '--help'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'usage' in r.stdout.lower()
