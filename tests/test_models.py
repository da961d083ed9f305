"kdnb.models: import direction, and models that carry their resize/normalisation through export."
import os, re, subprocess, sys
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

def test_pretrained_true_offline_is_one_line(tmp_path):
    "Offline, timm's hub weights cannot come: one line that says to give a file instead, no traceback."
    code = ("from kdnb.models import create_model\n"
            "try: create_model('test_efficientnet', pretrained=True)\n"
            "except RuntimeError as e: print(f'RuntimeError: {e}')")
    env = dict(os.environ, HF_HUB_OFFLINE='1', HF_HUB_CACHE=str(tmp_path/'hub'))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300).stdout.strip()
    assert out == ("RuntimeError: timm's pretrained weights for 'test_efficientnet' could not be downloaded (offline?) and "
                   "are not in the cache: give a local weights file (.pth, .bin or .safetensors) instead"), out

class _Evil:
    def __init__(self, fname): self.fname = fname
    def __reduce__(self): return (open, (self.fname, 'w'))

def test_a_pickle_with_code_is_never_run(tmp_path):
    torch.save({'model': {}, 'arch': 'test_efficientnet', 'x': _Evil(str(tmp_path/'pwned'))}, tmp_path/'evil.pth')
    with pytest.raises(ValueError) as e: load_checkpoint(tmp_path/'evil.pth')
    assert str(e.value) == f'{tmp_path}/evil.pth: this file contains code objects and was not loaded (it refers to io.open)'
    assert not (tmp_path/'pwned').exists()

def test_checkpoints_keep_the_umask(model, tmp_path):
    old = os.umask(0o027)
    try: fname = save_checkpoint(tmp_path/'w'/'a.pth', model)
    finally: os.umask(old)
    assert oct(fname.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in (tmp_path/'w').iterdir()] == ['a.pth']
