"kdnb_predict --explain run as a user runs it: Grad-CAM maps for a CNN and a hybrid student, exported files refused in one line."
import json
import cv2, numpy as np, pytest
from conftest import run

skimage = pytest.importorskip('skimage.data')
pytest.importorskip('torchcam')

def first_err(r): return r.stderr.strip().splitlines()[0] if r.stderr.strip() else ''

@pytest.fixture(scope='module')
def img(tmp_path_factory):
    d = tmp_path_factory.mktemp('explain')
    cv2.imwrite(str(d/'astronaut.png'), cv2.cvtColor(skimage.astronaut(), cv2.COLOR_RGB2BGR))
    return d/'astronaut.png'

@pytest.mark.parametrize('who,layer', [('teacher', 'blocks.4'), ('student', 'final_conv')])
def test_explain_maps(work, img, who, layer, tmp_path):
    r = run('kdnb_predict', work[who], img, '--explain', '--out', tmp_path/'x.json')
    arch = 'test_efficientnet' if who == 'teacher' else 'mobilevitv2_050'
    assert f'heat maps: Grad-CAM of the fake logit at {arch} layer {layer}' in r.stdout
    js = json.loads((tmp_path/'x.json').read_text())[0]
    assert js['faces'] >= 1 and 'cams' not in js and 'crops' not in js
    for o in js['per_face']:
        m = np.array(o['cam']); assert m.shape == (8, 8) and 0 <= m.min() and m.max() <= 1

def test_explain_layer_choice(work, img, tmp_path):
    r = run('kdnb_predict', work['teacher'], img, '--explain', '--cam-layer', '-2')
    assert 'at test_efficientnet layer blocks.3' in r.stdout
    r = run('kdnb_predict', work['teacher'], img, '--explain', '--cam-layer', 'head9', ok=False)
    assert r.returncode == 2 and first_err(r).startswith("kdnb_predict: error: --cam-layer 'head9': expected an index or a module")

def test_explain_refuses_exported(work, img, tmp_path):
    run('kdnb_export', '--checkpoint', work['teacher'], '--format', 'onnx', '--out', tmp_path/'exp')
    onnx = next((tmp_path/'exp').glob('*.onnx'))
    r = run('kdnb_predict', onnx, img, '--explain', '--out', tmp_path/'p.json', ok=False)
    assert r.returncode == 2 and first_err(r) == f'kdnb_predict: error: {onnx}: an exported .onnx model has no gradients; --explain needs a kdnb checkpoint'
    assert not (tmp_path/'p.json').exists() and r.stdout == ''
    run('kdnb_predict', onnx, img)   # the same file scores without --explain
