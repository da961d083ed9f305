import configparser, os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def settings():
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']

@pytest.fixture
def root(): return ROOT

@pytest.fixture(autouse=True)
def _few_threads(monkeypatch):
    "Subprocesses started by tests share the 2 CI cores politely."
    monkeypatch.setenv('OMP_NUM_THREADS', os.environ.get('OMP_NUM_THREADS', '2'))
