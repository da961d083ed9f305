"kdnb_evaluate, kdnb_compare and kdnb_export run as a user runs them, on tiny checkpoints and a tiny synthetic set."
import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch

BIN = Path(sys.executable).parent

def run(cmd, *args, cwd=None, ok=True):
    r = subprocess.run([str(BIN/cmd), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)
    if ok: assert r.returncode == 0, f'{cmd} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    from kdnb.data import make_synthetic_dataset
    from kdnb.models import create_model, save_checkpoint
    d = tmp_path_factory.mktemp('evaluate')
    root = make_synthetic_dataset(d/'synthetic', n_videos=8, n_frames=2, size=96)
    torch.manual_seed(0)
    teacher = save_checkpoint(d/'teacher.pth', create_model('test_efficientnet', image_size=64))
    student = save_checkpoint(d/'student.pth', create_model('mobilevitv2_050', image_size=64))
    return dict(dir=d, root=root, teacher=teacher, student=student)

def test_evaluate_cli(work):
    out = work['dir']/'eval'
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--data', work['root'], '--source', 'faceswap', '--out', out, '--bs', 16)
    m = json.loads((out/'metrics.json').read_text())
    assert {'frame_auc', 'video_auc', 'frame_ap', 'frame_acc', 'frame_eer', 'n_videos'} <= set(m)
    assert m['arch'] == 'test_efficientnet' and 0 <= m['frame_auc'] <= 1 and m['n_videos'] > 1
    preds = pd.read_csv(out/'predictions.csv')
    assert len(preds) == m['n_faces'] and set(preds.label) == {0, 1} and preds.prob.between(0, 1).all()
    assert (out/'roc.png').stat().st_size > 1000
    assert 'frame_auc' in r.stdout and str(out) in r.stdout

def test_evaluate_cli_sbi_source(work):
    out = work['dir']/'eval_sbi'
    run('kdnb_evaluate', '--checkpoint', work['student'], '--data', work['root'], '--source', 'sbi', '--split', 'val', '--out', out, '--bs', 16)
    m = json.loads((out/'metrics.json').read_text())
    assert m['source'] == 'sbi' and m['split'] == 'val' and m['image_size'] == 64

def test_evaluate_cli_missing_checkpoint(work):
    r = run('kdnb_evaluate', '--checkpoint', work['dir']/'missing.pth', '--data', work['root'], ok=False)
    errors = [l for l in r.stderr.splitlines() if l.startswith('kdnb_evaluate:')]  # (library warnings aside)
    assert r.returncode != 0 and len(errors) == 1 and 'missing.pth' in errors[0] and 'Traceback' not in r.stderr, r.stderr

def test_cli_bad_input_in_process(work, capsys):
    "The same one-line errors, without paying for a new interpreter each time"
    from kdnb.evaluate import kdnb_compare, kdnb_evaluate, kdnb_export
    cases = [(kdnb_evaluate, ['--checkpoint', work['teacher'], '--data', work['root'], '--source', 'nope'],
              "kdnb_evaluate: error: source 'nope': expected 'sbi', 'folder' or a method folder of "
              f"{work['root']/'manipulated_sequences'} (FaceSwap)"),
             (kdnb_evaluate, ['--data', work['root']], 'kdnb_evaluate: error: --checkpoint is required'),
             (kdnb_compare, ['--teacher', work['teacher']], 'kdnb_compare: error: --student is required'),
             (kdnb_export, ['--checkpoint', work['teacher'], '--format', 'tflite', '--out', work['dir']/'x'],
              "kdnb_export: error: format: 'tflite' is not one of all, torchscript, onnx")]
    for f, argv, msg in cases:
        with pytest.raises(SystemExit) as e: f([str(o) for o in argv])
        assert e.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == msg

def test_compare_cli(work):
    out = work['dir']/'compare'
    r = run('kdnb_compare', '--teacher', work['teacher'], '--student', work['student'], '--data', work['root'],
            '--n-runs', 3, '--threads', 1, '--out', out)
    df = pd.read_csv(out/'compare.csv').set_index('name')
    assert list(df.index) == ['teacher', 'student']
    assert (df.cpu_ms > 0).all() and (df.params_m > 0).all() and (df.gmacs > 0).all() and df.host_mb.notna().all()
    assert df.agreement['teacher'] == 1 and 0 <= df.agreement['student'] <= 1
    assert df.frame_auc.between(0, 1).all()
    md = (out/'compare.md').read_text()
    assert '| teacher |' in md and 'Measured on:' in md and 'student/teacher CPU latency' in md
    assert (out/'compare.png').stat().st_size > 1000
    ratio = df.cpu_ms['student'] / df.cpu_ms['teacher']
    assert f'{ratio:.2f}x' in r.stdout and ('NOT faster' in r.stdout) == (ratio >= 1)

def test_compare_cli_random_arch(work):
    out = work['dir']/'compare_arch'
    r = run('kdnb_compare', '--teacher', 'test_efficientnet@64', '--student', 'mobilevitv2_050@48', '--n-runs', 3, '--out', out)
    df = pd.read_csv(out/'compare.csv').set_index('name')
    assert df.image_size.tolist() == [64, 48] and 'frame_auc' not in df
    assert 'randomly initialised' in r.stdout

def test_export_cli(work):
    from kdnb.models import load_checkpoint
    import onnxruntime as ort
    out = work['dir']/'export'
    r = run('kdnb_export', '--checkpoint', work['student'], '--format', 'all', '--out', out)
    assert r.stdout.count('max abs diff vs eager') == 3
    model = load_checkpoint(work["student"])[0].eval()
    sess = ort.InferenceSession(str(out/'mobilevitv2_050.onnx'), providers=['CPUExecutionProvider'])
    ts = torch.jit.load(str(out/'mobilevitv2_050.pt'))
    for shape in [(1, 3, 64, 64), (2, 3, 90, 70)]:
        x = torch.rand(*shape)
        with torch.no_grad(): ref = model(x).numpy()
        np.testing.assert_allclose(sess.run(None, {'image': x.numpy()})[0], ref, atol=1e-4)
        np.testing.assert_allclose(ts(x).detach().numpy(), ref, atol=1e-4)
    assert (out/'mobilevitv2_050.ptl').stat().st_size > 10_000

def test_evaluate_cli_sbi_checkpoint_on_folder(work):
    "A released-SBI-style checkpoint ({'model': {'net.*': ...}}) evaluated on a plain real/fake folder"
    import shutil
    ep = pytest.importorskip('efficientnet_pytorch')
    net = ep.EfficientNet.from_name('efficientnet-b4', num_classes=2)
    torch.save({'model': {f'net.{k}': v for k, v in net.state_dict().items()}}, work['dir']/'sbi.tar')
    folder, videos = work['dir']/'folder', []
    for kind, sub in (('real', 'original_sequences/youtube/c23/frames'), ('fake', 'manipulated_sequences/FaceSwap/c23/frames')):
        src = sorted((work['root']/sub).iterdir())[0]
        (folder/kind/src.name).mkdir(parents=True)
        shutil.copy(sorted(src.glob('*.png'))[0], folder/kind/src.name/'000.png')
        videos.append(f'{kind}/{src.name}')
    out = work['dir']/'eval_folder'
    run('kdnb_evaluate', '--checkpoint', work['dir']/'sbi.tar', '--data', folder, '--source', 'folder', '--out', out)
    m = json.loads((out/'metrics.json').read_text())
    assert (m['arch'], m['image_size'], m['n_faces'], m['n_videos']) == ('tf_efficientnet_b4', 380, 2, 2)
    preds = pd.read_csv(out/'predictions.csv', dtype={'video': str})
    assert preds.video.tolist() == videos and preds.label.tolist() == [0, 1]
