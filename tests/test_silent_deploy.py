"""Nothing changes silently in kdnb_export, kdnb_predict and kdnb_compare: exports tied to their sidecar, temporaries that never outlive
a command, NaN never a result, inputs checked before long work. Each case: exit status, first stderr line, files left on disk."""
import hashlib, json, math, os, shutil, signal, subprocess, sys, time
import cv2, numpy as np, pytest, torch
from conftest import run, BIN

def first_err(r): return r.stderr.strip().splitlines()[0] if r.stderr.strip() else ''
def snapshot(d): return {p.name: p.read_bytes() for p in sorted(d.iterdir())}

@pytest.fixture(scope='module')
def nan_ckpt(work):
    "A test_efficientnet checkpoint whose weights are NaN (what a diverged run could leave)"
    from kdnb.models import create_model, save_checkpoint
    m = create_model('test_efficientnet', image_size=64)
    with torch.no_grad():
        for p in m.parameters(): p.fill_(math.nan)
    return save_checkpoint(work['dir']/'nan.pth', m)

@pytest.fixture(scope='module')
def exported(work):
    "The teacher exported to ONNX and TorchScript, and a face picture to score"
    import skimage.data
    out = work['dir']/'silent_export'
    r = run('kdnb_export', '--checkpoint', work['teacher'], '--format', 'onnx,torchscript', '--out', out)
    img = work['dir']/'face.png'; cv2.imwrite(str(img), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    return dict(out=out, img=img, log=r.stdout)

def test_sidecar_records_each_file(exported):
    out = exported['out']; meta = json.loads((out/'test_efficientnet.json').read_text())
    assert {k: meta[k] for k in ('arch', 'image_size', 'threshold')} == dict(arch='test_efficientnet', image_size=64, threshold=None)
    for f in ('test_efficientnet.onnx', 'test_efficientnet.pt'):
        b = (out/f).read_bytes()
        assert meta['files'][f] == dict(sha256=hashlib.sha256(b).hexdigest(), bytes=len(b))
    assert 'test_efficientnet.onnx: exporting (ONNX fp32)' in exported['log'] and 'exporting (TorchScript fp32)' in exported['log']
    assert sorted(p.name for p in out.iterdir()) == ['test_efficientnet.json', 'test_efficientnet.onnx', 'test_efficientnet.pt']

def test_sidecar_of_another_export_is_refused(work, exported, tmp_path):
    "A copied sidecar (same arch, other weights and threshold) beside a model: refused naming both, never scored with its threshold"
    from kdnb.models import create_model, save_checkpoint
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path/'other.pth', create_model('test_efficientnet', image_size=64), threshold=0.9)
    run('kdnb_export', '--checkpoint', other, '--format', 'onnx', '--out', tmp_path/'b')
    d = tmp_path/'a'; shutil.copytree(exported['out'], d)
    shutil.copy(tmp_path/'b/test_efficientnet.json', d/'test_efficientnet.json')
    before = snapshot(d)
    r = run('kdnb_predict', d/'test_efficientnet.onnx', exported['img'], ok=False)
    assert r.returncode == 2 and first_err(r) == (f'kdnb_predict: error: {d}/test_efficientnet.onnx does not match {d}/test_efficientnet.json '
                                                  '(its SHA-256 differs from the one recorded at export): they come from different exports (run kdnb_export again)')
    assert 'Traceback' not in r.stderr and 'threshold 0.9' not in r.stdout and snapshot(d) == before
    r = run('kdnb_predict', d/'test_efficientnet.pt', exported['img'], ok=False)   # the copied sidecar does not list the .pt at all
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_predict: error: {d}/test_efficientnet.json does not record {d}/test_efficientnet.pt')

@pytest.mark.parametrize('text,msg', [
    ('{"arch": "test_efficientnet", ', 'not valid JSON'),
    ('{"arch": "test_efficientnet", "image_size": 64, "files": {}}', "key 'threshold' is missing"),
    ('{"arch": "test_efficientnet", "image_size": 0, "threshold": 0.5, "files": {}}', "key 'image_size' is 0: expected an integer from 8 to 2048"),
    ('{"arch": "test_efficientnet", "image_size": 1000000, "threshold": 0.5, "files": {}}', "key 'image_size' is 1000000"),
    ('{"arch": "test_efficientnet", "image_size": 64, "threshold": 5, "files": {}}', "key 'threshold': threshold 5: expected a number in [0, 1]"),
    ('{"arch": "test_efficientnet", "image_size": 64, "threshold": NaN, "files": {}}', "key 'threshold': threshold nan"),
    ('[1, 2]', 'not a kdnb_export sidecar')])
def test_bad_sidecar_is_one_line(exported, tmp_path, text, msg):
    shutil.copy(exported['out']/'test_efficientnet.onnx', tmp_path/'m.onnx'); (tmp_path/'m.json').write_text(text)
    r = run('kdnb_predict', tmp_path/'m.onnx', exported['img'], ok=False)
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_predict: error: {tmp_path}/m.json') and msg in first_err(r), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout.strip() == ''

def test_refused_export_replaces_nothing(work, exported, nan_ckpt, tmp_path):
    d = tmp_path/'e'; shutil.copytree(exported['out'], d); before = snapshot(d)
    r = run('kdnb_export', '--checkpoint', nan_ckpt, '--format', 'onnx,torchscript', '--out', d, ok=False)
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_export: error: {nan_ckpt}: ') and 'hold NaN or infinite values' in first_err(r)
    assert snapshot(d) == before
    r = run('kdnb_export', '--checkpoint', nan_ckpt, '--out', tmp_path/'new/sub', ok=False)
    assert r.returncode == 2 and not (tmp_path/'new').exists()

def test_killed_export_leaves_nothing_a_reader_takes(work, exported, tmp_path):
    "kill -9 during an export: the temporaries are refused by readers and removed by the next kdnb_export"
    out = tmp_path/'k'
    p = subprocess.Popen([str(BIN/'kdnb_export'), '--checkpoint', str(work['student']), '--format', 'all', '--out', str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not (out.is_dir() and list(out.glob('.*.tmp*'))) and time.time() - t0 < 120 and p.poll() is None: time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    tmps = sorted(out.glob('.*.tmp*'))
    assert tmps and not list(out.glob('mobilevitv2_050.*')), 'no temporary seen before the export ended'
    r = run('kdnb_predict', tmps[0], exported['img'], ok=False)
    assert r.returncode == 2 and 'a temporary file an interrupted write left, not a model' in first_err(r)
    r = run('kdnb_export', '--checkpoint', work['student'], '--format', 'onnx', '--out', out)
    assert f'removed {len(tmps)} temporary file(s) an interrupted export left in {out}' in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ['mobilevitv2_050.json', 'mobilevitv2_050.onnx']


@pytest.mark.parametrize('fmt,ext', [('torchscript', 'pt'), ('onnx', 'onnx'), ('executorch', 'pte')])
def test_full_disk_is_one_line_and_leaves_nothing(work, small_disk, fmt, ext):
    r = run('kdnb_export', '--checkpoint', work['student'], '--format', fmt, '--out', small_disk/'out', ok=False)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])   # not 134 (a C++ abort)
    assert first_err(r).startswith(f'kdnb_export: error: {small_disk}/out/mobilevitv2_050.{ext}: no space left on device'), r.stderr
    assert list(small_disk.rglob('*')) == [], list(small_disk.rglob('*'))

def test_predict_refuses_nan_weights(work, exported, nan_ckpt):
    r = run('kdnb_predict', nan_ckpt, exported['img'], ok=False)
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_predict: error: {nan_ckpt}: ') and 'NaN' in first_err(r)
    assert 'nan' not in r.stdout.lower().replace(str(nan_ckpt).lower(), '')

def test_compare_names_nan_checkpoint_before_timing(work, nan_ckpt, tmp_path):
    r = run('kdnb_compare', '--teacher', work['teacher'], '--student', nan_ckpt, '--formats', 'onnx', '--out', tmp_path/'c', ok=False)
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_compare: error: {nan_ckpt}: ') and 'NaN' in first_err(r)
    assert 'Input contains NaN' not in r.stderr and 'timing' not in r.stdout and not (tmp_path/'c').exists()

def test_compare_checks_source_first(work, tmp_path):
    "--source absent from the data: refused before any export or timing, naming the sources the data has"
    t0 = time.time()
    r = run('kdnb_compare', '--teacher', work['teacher'], '--student', work['student'], '--data', work['root'], '--source', 'deepfakes',
            '--out', tmp_path/'c', ok=False)
    assert r.returncode == 2 and first_err(r).startswith("kdnb_compare: error: source 'deepfakes'")
    assert first_err(r).endswith(f"--source 'deepfakes' does not fit {work['root']}, which has: sbi, FaceSwap")
    assert 'timing' not in r.stdout and not (tmp_path/'c').exists()

def test_compare_report_tells_the_truth(work, tmp_path):
    "Real output path, one thread (singular), load at start and end, spreads, and budget and verdict on deployed formats"
    r = run('kdnb_compare', '--teacher', work['teacher'], '--student', work['student'], '--formats', 'onnx,pte', '--n-runs', 3,
            '--out', tmp_path/'out/compare')
    assert f"comparison written to {tmp_path}/out/compare/compare.md" in r.stdout
    md = (tmp_path/'out/compare/compare.md').read_text()
    assert ', 1 thread, load average ' in md and ' at the start and ' in md and ' at the end' in md
    assert '| min ms | median ms | max ms |' in md and 'eager, ONNX Runtime and ExecuTorch in the same rounds' in md
    assert "Budget 0.6: a student may take 0.6 × the teacher's latency in the same deployed format (eager PyTorch does not count)" in md
    assert 'student/teacher latency in the deployed formats' in md and 'Eager PyTorch (not deployed)' in md
    assert 'NOT faster' not in md and ' 0 ms' not in md
