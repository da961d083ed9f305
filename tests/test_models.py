"kdnb.models: import direction, and models that carry their resize/normalisation through export."
import re, subprocess, sys
import pytest, torch
from kdnb.models import KdnbModel, create_model, save_checkpoint, load_checkpoint

def test_models_imports_nothing_downstream(root):
    src = (root/'kdnb'/'models.py').read_text()
    assert not re.search(r'kdnb\.(pretrain|distill|evaluate)|from \.(pretrain|distill|evaluate)', src)
    code = "import sys, kdnb.models; print(sorted(m for m in sys.modules if m.startswith('kdnb.')))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert not re.search(r'kdnb\.(pretrain|distill|evaluate)', out), out

@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    net = create_model('test_efficientnet', image_size=64).net
    return KdnbModel(net, 'test_efficientnet', 64, dict(mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3])).eval()

def test_torchscript_keeps_preprocessing(model, tmp_path):
    x = torch.rand(2, 3, 96, 80)
    scripted = torch.jit.script(model)
    scripted.save(str(tmp_path/'m.pt'))
    back = torch.jit.load(str(tmp_path/'m.pt'))
    with torch.no_grad():
        for xb in (x, torch.rand(1, 3, 64, 64)):  # resized and already at size
            torch.testing.assert_close(back(xb), model(xb), rtol=0, atol=1e-5)

def test_onnx_keeps_preprocessing(model, tmp_path):
    ort = pytest.importorskip('onnxruntime')
    x = torch.rand(2, 3, 96, 80)
    torch.onnx.export(model, (x,), str(tmp_path/'m.onnx'), dynamo=False, input_names=['x'], output_names=['logits'],
                      dynamic_axes={'x': {0: 'batch'}})
    y = ort.InferenceSession(str(tmp_path/'m.onnx')).run(None, {'x': x.numpy()})[0]
    with torch.no_grad(): ref = model(x).numpy()
    assert abs(y - ref).max() < 1e-5

def test_checkpoint_round_trip_in_fresh_process(model, tmp_path):
    fname = save_checkpoint(tmp_path/'run'/'weights'/'3_0.8123_val.pth', model, epoch=3, val_auc=0.8123, config={'lr': 1e-3})
    code = ("import torch; c = torch.load(r'%s', weights_only=True); "
            "print(c['arch'], c['image_size'], c['epoch'], c['val_auc'], c['input']['std'])") % fname
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:4] == ['test_efficientnet', '64', '3', '0.8123'], out
    back, ckpt = load_checkpoint(tmp_path/'run')
    x = torch.rand(1, 3, 100, 100)
    with torch.no_grad(): assert torch.equal(back.eval()(x), model(x))
