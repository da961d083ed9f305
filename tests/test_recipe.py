"Resumes that keep their teacher and config, --help that points to the config table, and the alpha-schedule warning"
import csv, io, json, shutil, contextlib
from pathlib import Path
import pytest, torch
from conftest import run, tiny_set

TINY = ['--set', 'image_size=64', '--set', 'student_image_size=64', '--set', 'student_arch=test_efficientnet', '--set', 'batch_size=4',
        '--set', 'epoch=1', '--set', 'top_k=1', '--set', 'num_workers=0', '--set', 'progressive_epochs=1']

def _epochs(run_dir): return [int(r['epoch']) for r in csv.DictReader(open(Path(run_dir)/'logs'/'history.csv'))]
def _run_dir(out): return next(Path(out).iterdir())

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A tiny synthetic set, an untrained test_efficientnet teacher, another teacher and a Stage 1 student, at 64 px"
    from kdnb.models import create_model, save_checkpoint
    d = tiny_set(tmp_path_factory.mktemp('recipe'))
    torch.manual_seed(1); save_checkpoint(d/'other.pth', create_model('test_efficientnet', image_size=64))
    torch.manual_seed(2); save_checkpoint(d/'student.pth', create_model('test_efficientnet', image_size=64))
    return d

def _distill(d, out, *extra, ok=True):
    return run('kdnb_distill', Path.cwd()/'configs/synthetic.json', '-n', 'd', '--out', out, '--teacher-weights', d/'teacher.pth',
               '--student-weights', d/'student.pth', '--set', f'data.root={d/"data"}', *TINY, *extra, ok=ok, cwd=None)

def test_distill_resume_keeps_its_teacher(tiny, tmp_path):
    "The teacher's SHA-256 is recorded; a resume with another teacher, or with the file replaced, is refused in one line"
    out = tmp_path/'out'
    r = _distill(tiny, out)
    rd = _run_dir(out)
    sha, _, path = (rd/'teacher.sha256').read_text().strip().partition('  ')
    assert path == str(tiny/'teacher.pth') and len(sha) == 64
    assert 'warning: epoch 1 is not past progressive_epochs 1: alpha will stop at 0.95, not alpha_end 0.5' in r.stderr
    r = run('kdnb_distill', '--resume', rd, '--teacher-weights', tiny/'other.pth', '--set', 'epoch=2', ok=False)
    assert r.returncode == 2
    first = r.stderr.splitlines()[0]
    assert first.startswith(f'kdnb_distill: error: {rd}: teacher {tiny/"other.pth"} (SHA-256 ') and f'the one the run started with, {tiny/"teacher.pth"}' in first
    keep = tmp_path/'teacher_copy.pth'; shutil.copy(tiny/'teacher.pth', keep)
    shutil.copy(tiny/'other.pth', tiny/'teacher.pth')   # another file at the recorded path
    try:
        r = run('kdnb_distill', '--resume', rd, '--set', 'epoch=2', ok=False)
        assert r.returncode == 2 and r.stderr.splitlines()[0].startswith(f'kdnb_distill: error: {rd}: teacher {tiny/"teacher.pth"} (SHA-256 ')
        assert _epochs(rd) == [1]   # nothing trained
        run('kdnb_distill', '--resume', rd, '--teacher-weights', keep, '--set', 'epoch=2')   # the same bytes elsewhere: accepted, and extended
        assert _epochs(rd) == [1, 2] and json.loads((rd/'config.json').read_text())['epoch'] == 2
    finally: shutil.copy(keep, tiny/'teacher.pth')

def test_pretrain_resume_extends_and_names_the_keys(tiny, tmp_path):
    "--resume RUN --set epoch=N extends a run; other keys are refused naming only the keys given"
    out = tmp_path/'out'
    run('kdnb_pretrain', Path.cwd()/'configs/synthetic.json', '-n', 'p', '--out', out, '--set', f'data.root={tiny/"data"}', *TINY)
    rd = _run_dir(out)
    r = run('kdnb_pretrain', '--resume', rd, '--set', 'lr=0.1', '--set', 'seed=3', ok=False)
    assert (r.returncode, r.stderr.splitlines()[0]) == (2, f'kdnb_pretrain: error: {rd}: --set lr, seed: a resumed run keeps its config; only epoch, num_workers can change (start a new run instead)')
    r = run('kdnb_pretrain', '--resume', rd, '--set', 'epoch=1', ok=False)
    assert (r.returncode, r.stderr.splitlines()[0]) == (2, f'kdnb_pretrain: error: {rd}: --set epoch=1: the run has done 1 epochs already; give more to extend it')
    run('kdnb_pretrain', '--resume', rd, '--set', 'epoch=2', '--set', 'num_workers=0')
    assert _epochs(rd) == [1, 2] and json.loads((rd/'config.json').read_text())['epoch'] == 2
    run('kdnb_pretrain', '--resume', rd)   # the extended config is the run's own now: nothing left to do, and no refusal
    assert _epochs(rd) == [1, 2]

@pytest.mark.parametrize('cmd', ['kdnb_pretrain', 'kdnb_distill'])
def test_help_points_to_the_config_table(cmd):
    out = ' '.join(run(cmd, '--help').stdout.split())
    assert 'https://kdnb.github.io/kdnb/config.html' in out and 'config_table' in out
    if cmd == 'kdnb_distill':
        for s in ('--student-weights', 'pretrained_student_weights', 'output/pretrain_mobilevit_config_SBI_*/weights/*.pth', '-n pretrain_mobilevit'):
            assert s in out, s

@pytest.mark.parametrize('config', ['configs/synthetic.json', 'configs/config_SBI.json'])
def test_shipped_configs_reach_alpha_end(config):
    "The shipped configs run alpha all the way to alpha_end (README's 0.95 -> 0.5): no warning"
    from kdnb.config import load_config
    from kdnb.distill import _alpha_warning, alpha_at
    cfg, err = load_config(config), io.StringIO()
    with contextlib.redirect_stderr(err): _alpha_warning(cfg)
    assert err.getvalue() == ''
    assert alpha_at(cfg.epoch, cfg.alpha_start, cfg.alpha_end, cfg.progressive_epochs, cfg.alpha_shape) == cfg.alpha_end == 0.5
