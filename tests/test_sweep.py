"kdnb_sweep runs as a user runs it: two tiny students on a tiny synthetic set, again with --resume, and a bad student name."
import json
import numpy as np, pandas as pd, pytest
from conftest import run, tiny_set

@pytest.fixture(scope='module')
def sweep_dir(tmp_path_factory):
    "A tiny synthetic set, an untrained test_resnet teacher and a one-epoch config, all at 64 px"
    d = tiny_set(tmp_path_factory.mktemp('sweep'), 'test_resnet')
    cfg = dict(image_size=64, batch_size=8, epoch=1, progressive_epochs=1, lr=5e-3, schedule='one_cycle', top_k=1, num_workers=0,
               data={'root': 'data'}, teacher_arch='test_resnet', teacher_weights='teacher.pth', student_image_size=64)
    (d/'tiny.json').write_text(json.dumps(cfg))
    return d

def test_sweep_cli_and_resume(sweep_dir):
    d = sweep_dir
    args = ['--n-runs', 3, '--threads', 1, '--formats', 'eager,onnx']
    r = run('kdnb_sweep', 'tiny.json', '--students', 'test_efficientnet,test_convnext', '-n', 'tiny', '--eval-source', 'faceswap', *args,
            cwd=d, timeout=900)
    (sw,) = (d/'output').glob('tiny_sweep_*')
    for s in ('test_efficientnet@64', 'test_convnext@64'):
        assert sorted(p.name.split('_')[0] for p in (sw/s).glob('stage*')) == ['stage1', 'stage2']
        assert json.loads((sw/s/'status.json').read_text()).keys() == {'stage1', 'stage2'}
    res = pd.read_csv(sw/'sweep.csv', index_col='name')
    assert list(res.index) == ['teacher', 'test_efficientnet@64', 'test_convnext@64']
    assert np.isfinite(res[['auc_val', 'auc_faceswap', 'lost_val', 'lost_faceswap']].values).all()
    assert (res.eager_ms > 0).all() and (res.onnx_ms > 0).all()
    assert (sw/'pareto.png').stat().st_size > 5000
    sentence = next(l for l in r.stdout.splitlines() if l.startswith("Budget 0.6: a student may take 0.6 × the teacher's latency in the same deployed format"))
    assert 'ONNX Runtime fp32' in sentence
    assert f'**{sentence}**' in (sw/'sweep.md').read_text()
    assert f'wrote output/{sw.name}/sweep.md' in r.stdout
    md = (sw/'sweep.md').read_text()
    assert ', 1 thread, load average ' in md and ' at the end' in md and '| min ms | median ms | max ms |' in md

    before = sorted(sw.glob('*/stage*'))
    r2 = run('kdnb_sweep', '--resume', sw, *args, cwd=d, timeout=600)
    assert r2.stdout.count('finished earlier, not trained again') == 2
    assert 'training ' not in r2.stdout and 'distilling ' not in r2.stdout
    assert sorted(sw.glob('*/stage*')) == before

def test_sweep_cli_bad_student(sweep_dir):
    d = sweep_dir
    r = run('kdnb_sweep', 'tiny.json', '--students', 'test_efficientnet,mobilevit_v2_050', '-n', 'bad', cwd=d, ok=False)
    errors = [l for l in r.stderr.splitlines() if l.startswith('kdnb_sweep:')]
    assert r.returncode == 2 and len(errors) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert errors[0].startswith("kdnb_sweep: error: student 'mobilevit_v2_050': 'mobilevit_v2_050' is not a timm model (did you mean mobilevitv2_050")
    assert not list((d/'output').glob('bad_sweep_*')) and 'training' not in r.stdout
