"kdnb_compare and kdnb_export run as a user runs them, on tiny checkpoints and a tiny synthetic set."
import numpy as np, pandas as pd, pytest, torch
from conftest import run

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
