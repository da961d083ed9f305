import configparser, os, subprocess, sys
from pathlib import Path
import pytest, torch

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

BIN = Path(sys.executable).parent

def run(cmd, *args, cwd=None, ok=True, timeout=300):
    "Run console script `cmd` as a user would; with `ok`, fail the test unless it exits 0."
    r = subprocess.run([str(BIN/cmd), *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if ok: assert r.returncode == 0, f'{cmd} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r

def tiny_set(d, arch='test_efficientnet', data='data'):
    "A tiny synthetic set (6 videos, 2 frames, 64 px) in `d/data` and an untrained `arch` checkpoint `d/teacher.pth`, at 64 px"
    from kdnb.synthetic import make_synthetic_dataset
    from kdnb.models import create_model, save_checkpoint
    make_synthetic_dataset(d/data, n_videos=6, n_frames=2, size=64)
    torch.manual_seed(0)
    save_checkpoint(d/'teacher.pth', create_model(arch, image_size=64))
    return d

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A tiny synthetic set and two untrained checkpoints (a test_efficientnet teacher and a mobilevitv2_050 student) at 64 px."
    from kdnb.synthetic import make_synthetic_dataset
    from kdnb.models import create_model, save_checkpoint
    d = tmp_path_factory.mktemp('work')
    root = make_synthetic_dataset(d/'synthetic', n_videos=8, n_frames=2, size=96)
    torch.manual_seed(0)
    teacher = save_checkpoint(d/'teacher.pth', create_model('test_efficientnet', image_size=64))
    student = save_checkpoint(d/'student.pth', create_model('mobilevitv2_050', image_size=64))
    return dict(dir=d, root=root, teacher=teacher, student=student)

@pytest.fixture
def small_disk(tmp_path):
    "A 2 MiB tmpfs (needs root) for full-disk cases; skipped with the reason where mounting is not allowed"
    d = tmp_path/'disk'; d.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', str(d)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f'cannot mount a small tmpfs here: {r.stderr.strip() or r.returncode}')
    yield d
    subprocess.run(['umount', str(d)])
