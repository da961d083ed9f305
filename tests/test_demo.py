"`kdnb_demo --fast` end to end, as a user runs it: data, teacher, Stage 1, Stage 2, evaluation, comparison, export, report."
import subprocess, sys, time
from pathlib import Path
import pandas as pd

def test_demo_fast(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # one thread per process keeps timings sane on a shared 2-core box
    out, t = tmp_path/'demo', time.time()
    r = subprocess.run([str(Path(sys.executable).parent/'kdnb_demo'), str(out), '--fast'], capture_output=True, text=True, timeout=300)
    seconds = time.time() - t
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert f'report: {out/"report.md"}' in r.stdout
    report = (out/'report.md').read_text()
    for o in ['roc_faceswap.png', 'roc_sbi.png', 'compare/compare.png', 'alpha.png', 'losses.png']:
        assert f'({o})' in report and (out/o).stat().st_size > 1000, o
    for k in ('teacher', 'stage1', 'stage2'): assert len(list((out/'runs').glob(f'{k}_*/weights/*.pth'))) >= 1, k
    assert '| teacher | sbi | val |' in report and '| stage2 | faceswap | test |' in report
    df = pd.read_csv(out/'compare/compare.csv').set_index('name')
    assert list(df.index) == ['teacher', 'stage2'] and (df[['cpu_ms', 'onnx_ms', 'pte_ms']] > 0).all().all()
    assert df.params_m['teacher'] > df.params_m['stage2']  # as in real use: the teacher is the larger model
    assert 'student/teacher latency in the deployed formats' in report and "Budget 0.6: a student may take 0.6 × the teacher's latency in the same deployed format" in report
    assert {p.suffix for p in (out/'export').iterdir()} == {'.pt', '.pte', '.onnx', '.json'}
    assert report.count('max abs difference from the eager model') == 3
    assert seconds < 300, f'kdnb_demo --fast took {seconds:.0f} s'  # 276 s with ExecuTorch lowering at load average 15
