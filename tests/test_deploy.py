"kdnb_compare, kdnb_export and kdnb_predict run as a user runs them, on tiny checkpoints and a tiny synthetic set."
import json, subprocess, sys
import cv2, numpy as np, pandas as pd, pytest, torch
from conftest import run

def test_compare_cli(work):
    out = work['dir']/'compare'
    r = run('kdnb_compare', '--teacher', work['teacher'], '--student', work['student'], '--data', work['root'],
            '--formats', 'onnx,onnx_int8,pte', '--n-runs', 3, '--threads', 1, '--out', out)
    df = pd.read_csv(out/'compare.csv').set_index('name')
    assert list(df.index) == ['teacher', 'student']
    assert (df[['cpu_ms', 'onnx_ms', 'onnx_int8_ms', 'pte_ms']] > 0).all().all() and (df.params_m > 0).all()
    assert (df.pte_mb > 0).all() and (df.onnx_int8_mb < df.onnx_mb).all() and df.host_mb.notna().all()
    assert df.agreement['teacher'] == 1 and 0 <= df.agreement['student'] <= 1
    assert df.frame_auc.between(0, 1).all() and df.onnx_int8_auc.between(0, 1).all()
    md = (out/'compare.md').read_text()
    assert '| teacher |' in md and 'Measured on:' in md and 'student/teacher latency in the deployed formats' in md and 'Budget 0.6' in md
    assert (out/'compare.png').stat().st_size > 1000
    assert 'ONNX Runtime fp32 ' in r.stdout and 'Eager PyTorch (not deployed): ' in r.stdout and 'NOT faster' not in r.stdout
    assert "Budget 0.6: a student may take 0.6 × the teacher's latency in the same deployed format" in r.stdout
    assert f'comparison written to {out}/compare.md' in r.stdout

def test_compare_cli_random_arch(work):
    out = work['dir']/'compare_arch'
    r = run('kdnb_compare', '--teacher', 'test_efficientnet@64', '--student', 'mobilevitv2_050@48', '--formats', 'onnx',
            '--budget', 0.0001, '--n-runs', 3, '--out', out)
    df = pd.read_csv(out/'compare.csv').set_index('name')
    assert df.image_size.tolist() == [64, 48] and 'frame_auc' not in df and 'pte_ms' not in df
    assert 'randomly initialised' in r.stdout and 'no student format meets it' in r.stdout
    r = run('kdnb_compare', '--teacher', 'test_efficientnet@64', '--student', 'x', '--formats', 'tflite', ok=False)
    assert r.returncode == 2 and "--formats: 'tflite' is not one of all, onnx, onnx_int8, pte, pte_int8" in r.stderr

def test_export_cli(work):
    from kdnb.models import load_checkpoint
    from kdnb.deploy import load_exported
    out = work['dir']/'export'
    r = run('kdnb_export', '--checkpoint', work['student'], '--format', 'all', '--out', out)
    assert r.stdout.count("of the eager model's on random inputs") == 3 and 'XNNPACK partitions' in r.stdout
    model = load_checkpoint(work['student'])[0].eval()
    for f in ('mobilevitv2_050.pte', 'mobilevitv2_050.onnx', 'mobilevitv2_050.pt'):
        run_f = load_exported(out/f)
        for shape in [(1, 3, 64, 64), (2, 3, 90, 70)]:
            x = torch.rand(*shape)
            with torch.no_grad(): np.testing.assert_allclose(run_f(x).numpy(), model(x).numpy(), atol=1e-4, err_msg=f)
    assert not (out/'mobilevitv2_050.ptl').exists()
    assert json.loads((out/'mobilevitv2_050.json').read_text())['image_size'] == 64

def _trained(work):
    "test_efficientnet fitted for a few steps on the synthetic SBI training crops, so int8 has something to lose"
    from kdnb.evaluate import eval_items, eval_dl
    from kdnb.models import create_model, save_checkpoint
    torch.manual_seed(0)
    m = create_model('test_efficientnet', image_size=64); opt = torch.optim.Adam(m.parameters(), 3e-3)
    for _ in range(3):
        for xb, yb in eval_dl(eval_items(work['root'], 'sbi', 'train'), 64, 16):
            loss = torch.nn.functional.cross_entropy(m(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
    return save_checkpoint(work['dir']/'trained.pth', m.eval(), threshold=0.5)

def test_export_int8_cli(work):
    ckpt, out = _trained(work), work['dir']/'int8'
    r = run('kdnb_export', '--checkpoint', ckpt, '--quantize', 'int8', '--data', work['root'], '--max-drop', -1, '--out', out)
    assert {p.name for p in out.iterdir()} == {'test_efficientnet_int8.pte', 'test_efficientnet_int8.onnx', 'test_efficientnet_int8.json'}
    lines = [l for l in r.stdout.splitlines() if 'frame AUC int8' in l]
    assert len(lines) == 2 and all('vs fp32' in l and 'video AUC' in l for l in lines)
    assert r.stdout.count('warning:') == 2 and 'frame AUC in int8, more than --max-drop -1' in r.stdout  # any change is over a negative limit
    assert 'calibrating int8 on ' in r.stdout and r.stdout.count('verdicts agree with fp32 on ') == 2 and 'videos (noisy)' in r.stdout
    r = run('kdnb_export', '--checkpoint', ckpt, '--quantize', 'int8', '--out', out, ok=False)
    assert r.returncode == 2 and 'kdnb_export: error: --quantize int8 needs --data' in r.stderr

def test_missing_extra(work):
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from kdnb.deploy import kdnb_export\n"
            f"kdnb_export(['--checkpoint', {str(work['student'])!r}, '--format', 'onnx', '--out', {str(work['dir']/'x')!r}])")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 2 and "kdnb_export: error: onnxruntime is not installed: pip install 'kdnb[deploy]'" in r.stderr

@pytest.fixture(scope='module')
def media(work):
    "scikit-image's astronaut (a real face) as a PNG and a 12-frame video, a corrupt JPEG, and a faceless picture"
    import skimage.data
    d = work['dir']/'media'; d.mkdir()
    img = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(d/'astronaut.png'), img)
    vw = cv2.VideoWriter(str(d/'astronaut.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 10, (256, 256))
    for i in range(12): vw.write(cv2.resize(np.roll(img, 4*i, 1), (256, 256)))
    vw.release()
    (d/'broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    cv2.imwrite(str(d/'wall.png'), np.full((120, 160, 3), 128, np.uint8))
    return d

def test_predict_cli(work, media):
    out = work['dir']/'scores.csv'
    r = run('kdnb_predict', work['teacher'], media/'astronaut.png', media/'astronaut.mp4', media/'broken.jpg', media/'wall.png',
            '--frames', 4, '--out', out)
    assert 'threshold 0.5 (the checkpoint stores none' in r.stdout
    df = pd.read_csv(out)
    assert df.prob[:2].between(0, 1).all() and df.frames.tolist()[:2] == [1, 4] and (df.faces[:2] >= df.frames[:2]).all()
    assert 'broken.jpg: skipped: cannot read image' in r.stdout and df.note[2].startswith('skipped')
    assert 'wall.png: no face found' in r.stdout and df.faces[3] == 0
    for i, v in enumerate(df.verdict[:2]): assert f"astronaut.{'png' if i == 0 else 'mp4'}: {v} {df.prob[i]:.3f}" in r.stdout
    r = run('kdnb_predict', work['teacher'], media, '--threshold', 0, '--out', work['dir']/'scores.json')
    assert 'threshold 0 (given)' in r.stdout
    js = json.loads((work['dir']/'scores.json').read_text())
    assert [o['verdict'] for o in js if o['faces']] == ['fake', 'fake'] and all('per_face' in o for o in js if o['faces'])

def test_predict_exported_matches_checkpoint(work, media):
    out = work['dir']/'export_p'
    run('kdnb_export', '--checkpoint', work['teacher'], '--format', 'executorch,onnx', '--out', out)
    files = [media/'astronaut.mp4', media/'astronaut.png']
    ref = pd.read_csv(run('kdnb_predict', work['teacher'], *files, '--frames', 4, '--out', work['dir']/'ref.csv') and work['dir']/'ref.csv')
    for f in ('test_efficientnet.pte', 'test_efficientnet.onnx'):
        run('kdnb_predict', out/f, *files, '--frames', 4, '--out', work['dir']/'p.csv')
        np.testing.assert_allclose(pd.read_csv(work['dir']/'p.csv').prob, ref.prob, atol=1e-4, err_msg=f)
    r = run('kdnb_predict', work['dir']/'nothing.onnx', *files, ok=False)
    assert r.returncode == 2 and 'nothing.json: missing' in r.stderr
