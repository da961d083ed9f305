"""Several processes, proven on CPU: `torchrun --nproc_per_node 2` with the gloo backend runs Stage 1 and Stage 2 as on
several GPUs (set KDNB_DIST_DEVICE=cuda on a machine with two or more GPUs to run the same checks with NCCL)."""
import json, os, shutil, subprocess, sys, time
from pathlib import Path
import psutil, pytest, torch
from conftest import BIN, ROOT

gloo = torch.distributed.is_available() and torch.distributed.is_gloo_available()
pytestmark = [pytest.mark.skipif(not gloo, reason='torch.distributed with the gloo backend is not available in this torch build'),
              pytest.mark.skipif(shutil.which('torchrun', path=str(BIN)) is None, reason='torchrun is not installed beside python')]
if os.environ.get('KDNB_DIST_DEVICE') == 'cuda' and torch.cuda.device_count() < 2: pytestmark.append(pytest.mark.skip(reason='fewer than 2 GPUs'))
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT), **({} if os.environ.get('KDNB_DIST_DEVICE') == 'cuda' else {'CUDA_VISIBLE_DEVICES': ''})}

def torchrun(*args, cwd, n=2, ok=True):
    r = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', str(n), *map(str, args)],
                       capture_output=True, text=True, cwd=cwd, env=ENV, timeout=600)
    if ok: assert r.returncode == 0, f'{args[0]} under torchrun failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}'
    return r

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('dist')
    from kdnb.synthetic import make_synthetic_dataset
    make_synthetic_dataset(d/'data', n_videos=8, n_frames=2, size=64)
    cfg = dict(image_size=64, student_image_size=64, batch_size=8, epoch=2, lr=1e-3, teacher_arch='test_efficientnet',
               student_arch='test_efficientnet', num_workers=0, top_k=1, data={'root': 'data', 'frames': 2}, progressive_epochs=2)
    (d/'tiny.json').write_text(json.dumps(cfg))
    return d

def driver(kind, d, n):
    "Rank 0's record of every process (one process: plain python)"
    args = [ROOT/'tests'/'dist_driver.py', kind, d, d/'data']
    if n == 1:
        r = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=600)
        assert r.returncode == 0, r.stderr[-4000:]
    else: torchrun(*args, cwd=d, n=n)
    return json.loads((d/f'{kind}_{n}.json').read_text())

def test_cli_one_run_written_once(data):
    "kdnb_pretrain and kdnb_distill under torchrun: one run folder each, every file and log line written once, rank 1 silent"
    r = torchrun(BIN/'kdnb_pretrain', 'tiny.json', '-n', 'teacher', '--teacher', '--out', 'out', cwd=data)
    runs = list((data/'out').iterdir())
    assert len(runs) == 1, runs
    run = runs[0]
    assert [l.split(' | ')[0] for l in (run/'logs/losses.logs').read_text().splitlines()] == ['epoch 1', 'epoch 2']
    assert len((run/'logs/history.csv').read_text().splitlines()) == 3
    assert len(list((run/'weights').glob('*.pth'))) == 1 and (run/'resume.pth').is_file() and not list(run.rglob('.*.tmp*'))
    assert r.stdout.count('wrote ') == 1 and r.stdout.count('epoch 1 |') == 1, r.stdout
    torchrun(BIN/'kdnb_pretrain', 'tiny.json', '-n', 'student', '--out', 'out', cwd=data)
    cfg = json.loads((data/'tiny.json').read_text())
    cfg.update(teacher_weights='out/teacher_*/weights/*.pth', pretrained_student_weights='out/student_*/weights/*.pth',
               feature_distillation={'enabled': True, 'gamma': 0.5, 'pairs': [[2, 2]]}, trackers=['csv', 'tensorboard'])
    (data/'d.json').write_text(json.dumps(cfg))
    r = torchrun(BIN/'kdnb_distill', 'd.json', '-n', 'distill', '--out', 'out', cwd=data)
    run = next((data/'out').glob('distill_*'))
    assert r.stdout.count('distilling ') == 1 and (run/'adapters.pth').is_file()
    assert [l.split(' | ')[0] for l in (run/'logs/losses.logs').read_text().splitlines()] == ['epoch 1', 'epoch 2']
    # trackers: one process writes; the KD terms reach them through fastai's recorder
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = list((run/'tensorboard').glob('events.out.tfevents.*'))
    assert len(events) == 1, events
    ev = EventAccumulator(str(run/'tensorboard')); ev.Reload()
    assert {'train_ce', 'train_kd', 'train_alpha', 'val_auc'} <= set(ev.Tags()['scalars']) and len(ev.Scalars('train_kd')) == 2
    assert (run/'logs/fastai.csv').read_text().splitlines()[0].split(',')[-4:] == ['train_ce', 'train_kd', 'train_alpha', 'time']
    assert len((run/'logs/fastai.csv').read_text().splitlines()) == 3
    # resume with another number of processes: the finished run trains nothing more and its logs stay as they were
    log = (run/'logs/losses.logs').read_text()
    r = subprocess.run([str(BIN/'kdnb_distill'), '--resume', str(run)], capture_output=True, text=True, cwd=data, env=ENV, timeout=600)
    assert r.returncode == 0 and 'epochs 3-2' in r.stdout, r.stderr[-2000:]
    assert (run/'logs/losses.logs').read_text() == log
    assert (run/'logs/fastai.csv').read_text().count('epoch,') == 1   # a resume appends under the one header

def test_resume_under_torchrun(data):
    "A 2-process run killed after its first epoch continues under torchrun where it stopped: each epoch once in the logs"
    cfg = {**json.loads((data/'tiny.json').read_text()), 'epoch': 20}
    (data/'three.json').write_text(json.dumps(cfg))
    p = subprocess.Popen([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', '2', str(BIN/'kdnb_pretrain'), 'three.json', '-n', 'killed', '--out', 'rs'],
                         cwd=data, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list((data/'rs').glob('killed_*/resume.pth')): time.sleep(0.2)
    for q in [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]: q.kill()   # kill -9, launcher and workers
    p.wait(); psutil.wait_procs(psutil.Process().children(recursive=True), timeout=10)
    run = next((data/'rs').glob('killed_*'))
    done = torch.load(run/'resume.pth', weights_only=True)['epoch']
    assert done < 20, 'the run ended before it could be killed'
    (run/'.lock').write_text('999999')   # what kill -9 leaves: a lock of a process that is gone
    r = torchrun(BIN/'kdnb_pretrain', '--resume', run, cwd=data)
    assert f'epochs {done+1}-20' in r.stdout, r.stdout
    assert [l.split(' | ')[0] for l in (run/'logs/losses.logs').read_text().splitlines()] == [f'epoch {i}' for i in range(1, 21)]
    assert len((run/'logs/history.csv').read_text().splitlines()) == 21 and not (run/'.lock').exists()

def test_two_processes_train_as_one(data):
    """Same global batch, seed and pairs: the loss over both processes follows the 1-process curve, and both copies of the
    weights are identical. The tolerance (1e-5 relative on the loss) covers only float32 summation order: the gradient
    all-reduce adds the two halves of the batch in another order than one process does."""
    one, two = driver('pretrain', data, 1), driver('pretrain', data, 2)
    assert len(two) == 2 and two[0]['digest'] == two[1]['digest']
    assert two[0]['values'] == two[1]['values']   # validation loss and AUC: gathered, the same in every process
    assert two[0]['model'] == 'KdnbModel' and len(one[0]['losses']) == len(two[0]['losses']) >= 4
    assert two[0]['losses'] == pytest.approx(one[0]['losses'], rel=1e-5)

def test_sam_and_micro_batches(data):
    "SAM's second pass under DDP follows one process too; with micro-batches the gradient all-reduce runs only on the step"
    one, two = driver('sam', data, 1), driver('sam', data, 2)
    assert two[0]['digest'] == two[1]['digest'] and two[0]['losses'] == pytest.approx(one[0]['losses'], rel=1e-5)
    res = driver('micro', data, 2)
    assert res[0]['digest'] == res[1]['digest'] and res[0]['sync'][:4] == [False, True, False, True], res[0]['sync']

def test_nan_in_one_process_is_skipped_by_both(data):
    res = driver('nan', data, 2)
    assert [r['n_bad'] for r in res] == [1, 1] and res[0]['n_good'] == res[1]['n_good'] == len(res[0]['losses']) - 1
    assert res[0]['digest'] == res[1]['digest'] and res[0]['opt_steps'] == res[1]['opt_steps'] == res[0]['n_good']

def test_distill_teacher_on_each_device_not_ddp(data):
    res = driver('distill', data, 2)
    dev = 'cuda' if os.environ.get('KDNB_DIST_DEVICE') == 'cuda' else 'cpu'
    for r in res:   # during training: the student is wrapped in DDP, the teacher is not, and it sits on this process's device
        assert [s[:2] for s in r['seen']] == [['DistributedDataParallel', 'KdnbModel']], r['seen']
        assert r['seen'][0][2].startswith(dev) and (dev == 'cpu' or r['seen'][0][2] == f"cuda:{r['rank']}"), r['seen']
    assert res[0]['digest'] == res[1]['digest']
