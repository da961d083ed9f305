"`kdnb_pretrain` run as a user runs it: teacher then student on a small synthetic set, an interrupted run resumed, bad configs."
import csv, json, os, re, signal, subprocess, time
from pathlib import Path
import pytest, torch
from conftest import ROOT
from kdnb.pretrain import kdnb_pretrain
from kdnb.config import load_config
from kdnb.train import lr_scheds

ENV = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '2')}

def run(args, cwd, **kw):
    "Run a kdnb command in `cwd`; fail with its output if it fails unexpectedly"
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, env=ENV, **kw)

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A working folder with a small synthetic set and `configs/synthetic.json` (2 epochs, 64 px, batches of 8)"
    d = tmp_path_factory.mktemp('pretrain')
    r = run(['kdnb_synth', '--n_videos', '6', '--n_frames', '2', '--size', '128'], d)
    assert r.returncode == 0, r.stderr
    (d/'configs').mkdir()
    cfg = json.loads((ROOT/'configs/synthetic.json').read_text())
    (d/'configs/synthetic.json').write_text(json.dumps({**cfg, 'epoch': 2, 'image_size': 64, 'batch_size': 8}))  # short, small run
    return d

def lines(run_dir): return (run_dir/'logs/losses.logs').read_text().splitlines()

def only_run(d, name, stem='synthetic'):
    found = sorted((d/'output').glob(f'{name}_{stem}_*'))
    assert len(found) == 1, found
    return found[0]

def test_teacher_run_writes_its_files(work):
    r = run(['kdnb_pretrain', 'configs/synthetic.json', '-n', 'teacher', '--teacher', '--set', 'top_k=1', '--set', 'data.frames=null'], work)
    assert r.returncode == 0, r.stderr[-3000:]
    rd = only_run(work, 'teacher')
    assert re.fullmatch(r'teacher_synthetic_\d\d_\d\d_\d\d_\d\d_\d\d', rd.name)
    cfg = json.loads((rd/'config.json').read_text())
    assert (cfg['epoch'], cfg['teacher_arch'], cfg['data']['root']) == (2, 'test_efficientnet', 'data/synthetic')
    assert cfg['top_k'] == 1   # from --set
    # stdout is a pipe here: one line per epoch, the same as losses.logs, and no progress bars
    assert [l for l in r.stdout.splitlines() if l.startswith('epoch ')] == lines(rd) and '\r' not in r.stdout
    assert [l.split(' | ')[0] for l in lines(rd)] == ['epoch 1', 'epoch 2']
    assert all(re.search(r'train_loss [\d.]+ \| valid_loss [\d.]+ \| val_auc [\d.]+ .*\| lr \S+ \| time [\d.]+s', l) for l in lines(rd))
    rows = list(csv.DictReader(open(rd/'logs/history.csv')))
    assert [r_['epoch'] for r_ in rows] == ['1', '2'] and {'train_loss', 'valid_loss', 'val_auc', 'lr', 'time'} <= set(rows[0])
    ckpts = sorted((rd/'weights').iterdir())
    assert 1 <= len(ckpts) <= cfg['top_k']
    for f in ckpts:
        m = re.fullmatch(r'(\d+)_(\d\.\d{4})_val\.pth', f.name)
        assert m, f.name
        ck = torch.load(f, weights_only=True)
        assert (ck['epoch'], f"{ck['val_auc']:.4f}", ck['arch'], ck['image_size']) == (int(m[1]), m[2], 'test_efficientnet', 64)
        assert abs(ck['val_auc'] - float(rows[ck['epoch']-1]['val_auc'])) < 1e-6
        assert ck['threshold'] is None or 0 <= ck['threshold'] <= 1
    best = max(ckpts, key=lambda f: float(f.name.split('_')[1]))
    assert f'best checkpoint: {Path("output")/rd.name/"weights"/best.name}' in r.stdout
    assert torch.load(rd/'resume.pth', weights_only=True)['epoch'] == 2

def test_student_run_interrupted_then_resumed(work):
    "Kill a 3-epoch run once its first epoch is saved, continue it with --resume: same epochs, same lr schedule"
    cfg = json.loads((work/'configs/synthetic.json').read_text())
    (work/'configs/three.json').write_text(json.dumps({**cfg, 'epoch': 3, 'schedule': 'one_cycle'}))
    p = subprocess.Popen(['kdnb_pretrain', 'configs/three.json', '-n', 'student', '--arch', 'test_efficientnet'], cwd=work, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not list((work/'output').glob('student_three_*/resume.pth')):
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    rd = only_run(work, 'student', 'three')
    assert torch.load(rd/'resume.pth', weights_only=True)['epoch'] == 1 and len(lines(rd)) == 1
    assert (rd/'.lock').read_text() == str(p.pid)   # kill -9 leaves the lock behind
    # refused: another stage, a config that differs from the run's, a lock held by a live process
    r = run(['kdnb_pretrain', '--resume', str(rd), '--teacher'], work)
    assert r.returncode == 2 and 'a pretrain run; continue it with kdnb_pretrain --resume' in r.stderr, r.stderr
    r = run(['kdnb_pretrain', 'configs/synthetic.json', '--resume', str(rd)], work)
    assert r.returncode == 2 and "differs from the run's own in epoch;" in r.stderr, r.stderr
    (rd/'.lock').write_text(str(os.getpid()))
    r = run(['kdnb_pretrain', '--resume', str(rd)], work)
    assert r.returncode == 2 and f'in use by process {os.getpid()}' in r.stderr, r.stderr
    (rd/'.lock').write_text(str(p.pid))
    (rd/'weights/.1_0.5000_val.pth.x.tmp.pth').write_bytes(b'partial')   # left by a write the kill interrupted
    r = run(['kdnb_pretrain', '--resume', str(rd)], work)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'stale lock of process {p.pid}' in r.stderr and not (rd/'.lock').exists()
    assert not list((rd/'weights').glob('.*tmp*'))
    assert 'epochs 2-3' in r.stdout
    assert [l.split(' | ')[0] for l in lines(rd)] == ['epoch 1', 'epoch 2', 'epoch 3']
    ck = torch.load(rd/'resume.pth', weights_only=True)
    assert (ck['epoch'], ck['arch'], ck['image_size']) == (3, 'test_efficientnet', 64)
    # lr at the end of each epoch follows the one-cycle schedule of the whole run, across the interruption
    n = len(json.loads((work/'data/synthetic/train.json').read_text())) * 2 * 2 // (cfg['batch_size'] // 2)
    sched = lr_scheds(load_config(work/'configs/three.json'))['lr']
    lrs = [float(r_['lr']) for r_ in csv.DictReader(open(rd/'logs/history.csv'))]
    assert lrs == pytest.approx([sched((e*n - 1) / (3*n)) for e in (1, 2, 3)])
    assert len(set(lrs)) == 3

BAD = [({'alpha_start': 1.5}, "key 'alpha_start' = 1.5: must be a number in [0, 1]"),
       ({'data': {'root': 'data/nowhere'}}, "key 'data.root' = \"data/nowhere\": folder not found"),
       ({'learning_rate': 0.1}, "unknown key 'learning_rate'"),
       ({'temperature': 0}, "key 'temperature' = 0: must be a number > 0")]

def bad_config(work, change):
    cfg = json.loads((work/'configs/synthetic.json').read_text())
    (work/'bad.json').write_text(json.dumps({**cfg, **change}))

def test_bad_config_one_line(work):
    "As a user sees it: exit status 2 and one line naming the file, the key and the allowed range"
    bad_config(work, BAD[0][0])
    r = run(['kdnb_pretrain', 'bad.json', '-n', 'bad'], work)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == f'kdnb_pretrain: error: bad.json: {BAD[0][1]}'
    assert not list((work/'output').glob('bad_*'))

def test_duplicate_key_and_set(work):
    "A key given twice, a bad --set and a run name outside --out: one line each, exit 2, no run folder"
    (work/'dup.json').write_text('{"epoch": 1, "lr": 0.01, "epoch": 2}')
    for args, msg in [(['dup.json'], "dup.json: key 'epoch' is given twice"),
                      (['configs/synthetic.json', '--set', 'lr=abc'], "--set: key 'lr' = \"abc\": must be a number > 0"),
                      (['configs/synthetic.json', '--set', 'lerning_rate=1'], "--set lerning_rate=1: unknown key 'lerning_rate'"),
                      (['configs/synthetic.json', '-n', '../escape'], "run name '../escape': must be a plain name"),
                      (['configs/synthetic.json', '-n', '/tmp/abs'], "run name '/tmp/abs': must be a plain name")]:
        r = run(['kdnb_pretrain', *args], work)
        assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(f'kdnb_pretrain: error: {msg}'), r.stderr
    assert not (work/'escape').exists() and not Path('/tmp/abs').exists()

@pytest.mark.parametrize('change,msg', BAD[1:])
def test_bad_config_messages(work, change, msg, monkeypatch, capsys):
    "The same entry point, called in-process: every error is one line and creates no run folder"
    bad_config(work, change); monkeypatch.chdir(work)
    with pytest.raises(SystemExit) as e: kdnb_pretrain(['bad.json', '-n', 'bad'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1 and err.startswith(f'kdnb_pretrain: error: bad.json: {msg}'), err
    assert not list((work/'output').glob('bad_*'))
