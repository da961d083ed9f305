"kdnb_evaluate runs as a user runs it, on tiny checkpoints and a tiny synthetic set."
import json
import numpy as np, pandas as pd, pytest, torch
from conftest import run

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
    from kdnb.evaluate import kdnb_evaluate
    from kdnb.deploy import kdnb_compare, kdnb_export
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
