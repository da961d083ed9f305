"kdnb_predict's per-frame scores, --aggregate and calibrated probabilities, and kdnb_evaluate --calibrate, run as a user runs them."
import json, math
import cv2, numpy as np, pandas as pd, pytest, torch
from conftest import run

skimage = pytest.importorskip('skimage.data')

def first_err(r): return r.stderr.strip().splitlines()[0] if r.stderr.strip() else ''

@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    "A 12-frame astronaut clip whose second half carries a pasted, recoloured face (a crude swap), and a checkpoint storing T = 2"
    from kdnb.models import create_model, save_checkpoint
    d = tmp_path_factory.mktemp('why'); img = skimage.astronaut()
    vw = cv2.VideoWriter(str(d/'swap.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 10, (256, 256))
    for i in range(12):
        f = cv2.resize(np.roll(img, 4*i, 1), (256, 256))
        if i >= 6: f[40:130, 80:170] = np.clip(f[40:130, 80:170][:, ::-1] * [1.5, .8, .8], 0, 255).astype(np.uint8)
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    torch.manual_seed(0)
    save_checkpoint(d/'t2.pth', create_model('test_efficientnet', image_size=64), threshold=0.4, temperature=2.0)
    return d

def test_per_frame_json_and_aggregate(clip):
    probs = {}
    for how in ('mean', 'topk', 'max'):
        r = run('kdnb_predict', clip/'t2.pth', clip/'swap.mp4', '--frames', 8, '--aggregate', how, '--out', clip/f'{how}.json')
        js = json.loads((clip/f'{how}.json').read_text())[0]
        fr = [o['prob'] for o in js['per_frame'] if o['faces']]
        assert len(js['per_frame']) == 8 and len(fr) == js['frames_with_faces'] >= 6 and js['aggregate'] == how
        assert all(len(o['box']) == 4 and o['prob'] == pytest.approx(1/(1+math.exp(-o['logit']/2))) for o in js['per_face'])
        k = math.ceil(len(fr)/4)
        want = dict(mean=np.mean(fr), max=max(fr), topk=np.mean(sorted(fr)[-k:]))[how]
        assert js['prob'] == pytest.approx(want) and f"swap.mp4: {js['verdict']} {js['prob']:.3f}" in r.stdout
        probs[how] = js['prob']
    assert probs['mean'] < probs['topk'] <= probs['max']
    assert 'calibration: temperature 2 (stored with the model' in r.stdout
    thr = 1/(1+math.exp(-math.log(.4/.6)/2))
    assert f'threshold {thr:.4g} (stored in the checkpoint: chosen on validation at training time; 0.4 on the raw softmax)' in r.stdout

def test_csv_gains_frames_csv(clip):
    r = run('kdnb_predict', clip/'t2.pth', clip/'swap.mp4', '--frames', 8, '--out', clip/'s.csv', '--temperature', 1)
    df, fr = pd.read_csv(clip/'s.csv'), pd.read_csv(clip/'s_frames.csv')
    assert len(df) == 1 and 'per_frame' not in df.columns and df.temperature[0] == 1
    assert fr.columns.tolist() == ['file', 'frame', 'time', 'faces', 'prob'] and len(fr) == 8
    assert fr.time.iloc[1] == pytest.approx(fr.frame.iloc[1] / 10, abs=1e-3)   # the clip is 10 fps
    assert df.prob[0] == pytest.approx(fr.prob.mean()) and 'calibration: temperature 1 (given)' in r.stdout

def test_bad_aggregate_and_temperature(clip):
    r = run('kdnb_predict', clip/'t2.pth', clip/'swap.mp4', '--aggregate', 'median', ok=False)
    assert r.returncode == 2 and first_err(r) == "kdnb_predict: error: --aggregate 'median': expected mean, max, topk"
    r = run('kdnb_predict', clip/'t2.pth', clip/'swap.mp4', '--temperature', -1, ok=False)
    assert r.returncode == 2 and first_err(r) == 'kdnb_predict: error: --temperature -1: must be a positive number (1: the raw softmax)'

def test_evaluate_calibrate_overconfident(work, tmp_path):
    "A model made over-confident (head x 30): the fitted temperature lowers its ECE; predict reads it back"
    from kdnb.models import load_checkpoint, save_checkpoint
    net, _ = load_checkpoint(work['teacher'])
    with torch.no_grad():
        for p in net.net.get_classifier().parameters(): p.mul_(30)
    ck = save_checkpoint(tmp_path/'loud.pth', net)
    r = run('kdnb_evaluate', '--checkpoint', ck, '--data', work['root'], '--out', tmp_path/'ev', '--calibrate')
    c = json.loads((tmp_path/'ev/calibration.json').read_text())
    assert c['temperature'] > 1 and c['ece_after'] < c['ece_before'] and c['nll_after'] < c['nll_before']
    assert (tmp_path/'ev/reliability.png').stat().st_size > 1000 and f"--temperature {c['temperature']:.4g}" in r.stdout
    img = tmp_path/'a.png'; cv2.imwrite(str(img), cv2.cvtColor(skimage.astronaut(), cv2.COLOR_RGB2BGR))
    raw = run('kdnb_predict', ck, img, '--out', tmp_path/'raw.json')
    assert 'calibration: none (the model stores no temperature)' in raw.stdout
    run('kdnb_predict', ck, img, '--temperature', c['temperature'], '--out', tmp_path/'cal.json')
    a, b = (json.loads((tmp_path/f).read_text())[0]['per_face'][0] for f in ('raw.json', 'cal.json'))
    assert b['prob'] == pytest.approx(1/(1+math.exp(-a['logit']/c['temperature']))) and abs(b['prob']-.5) < abs(a['prob']-.5)

def test_evaluate_calibrate_refuses_benchmarks(work, tmp_path):
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--source', 'celebdf', '--data', tmp_path, '--calibrate', ok=False, cwd=tmp_path)
    assert r.returncode == 2 and first_err(r).startswith('kdnb_evaluate: error: --calibrate fits on one evaluation set')
    assert not (tmp_path/'output').exists()
