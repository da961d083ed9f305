"kdnb_evaluate runs as a user runs it, on tiny checkpoints and a tiny synthetic set."
import hashlib, json, shutil
import cv2, numpy as np, pandas as pd, pytest, torch
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
    from kdnb.deploy import kdnb_export
    from kdnb.compare import kdnb_compare
    cases = [(kdnb_evaluate, ['--checkpoint', work['teacher'], '--data', work['root'], '--source', 'nope'],
              "kdnb_evaluate: error: source 'nope': expected 'sbi', 'folder', 'all' or a method folder of "
              f"{work['root']/'manipulated_sequences'} (FaceSwap)"),
             (kdnb_evaluate, ['--data', work['root']], 'kdnb_evaluate: error: --checkpoint is required'),
             (kdnb_compare, ['--teacher', work['teacher']], 'kdnb_compare: error: --student is required'),
             (kdnb_export, ['--checkpoint', work['teacher'], '--format', 'tflite', '--out', work['dir']/'x'],
              "kdnb_export: error: format: 'tflite' is not one of all, executorch, onnx, torchscript")]
    for f, argv, msg in cases:
        with pytest.raises(SystemExit) as e: f([str(o) for o in argv])
        assert e.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == msg

def test_evaluate_cli_sbi_checkpoint_on_folder(work):
    "A released-SBI-style checkpoint ({'model': {'net.*': ...}}) evaluated on a plain real/fake folder"
    ep = pytest.importorskip('efficientnet_pytorch')
    net = ep.EfficientNet.from_name('efficientnet-b4', num_classes=2)
    torch.save({'model': {f'net.{k}': v for k, v in net.state_dict().items()}}, work['dir']/'sbi.tar')
    folder, videos = work['dir']/'folder', []
    for kind, sub in (('real', 'original_sequences/youtube/c23'), ('fake', 'manipulated_sequences/FaceSwap/c23')):
        src = sorted((work['root']/sub/'frames').iterdir())[0]
        (folder/kind/src.name).mkdir(parents=True)
        shutil.copy(sorted(src.glob('*.png'))[0], folder/kind/src.name/'000.png')
        shutil.copy(work['root']/sub/'landmarks'/src.name/'000.npy', folder/kind/src.name/'000.npy')   # the face's landmarks beside it
        videos.append(f'{kind}/{src.name}')
    out = work['dir']/'eval_folder'
    run('kdnb_evaluate', '--checkpoint', work['dir']/'sbi.tar', '--data', folder, '--source', 'folder', '--out', out)
    m = json.loads((out/'metrics.json').read_text())
    assert (m['arch'], m['image_size'], m['n_faces'], m['n_videos']) == ('tf_efficientnet_b4', 380, 2, 2)
    preds = pd.read_csv(out/'predictions.csv', dtype={'video': str})
    assert preds.video.tolist() == videos and preds.label.tolist() == [0, 1]

def _score(model, img, box):
    "The model's fake probability for the validation crop (box + 12.5 %) of `img`"
    from kdnb.data import final_crop
    x = cv2.resize(final_crop([img], box)[0], (model.image_size,)*2, interpolation=cv2.INTER_LINEAR)
    with torch.no_grad(): return model(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255).softmax(1)[0, 1].item()

def test_small_offcentre_face_scores_as_its_crop(work):
    "A 160 px face in a corner of a 1280x720 frame scores exactly as the face cropped correctly; a frame without geometry is skipped and counted"
    from kdnb.synthetic import synth_face
    from kdnb.models import load_checkpoint
    folder, expected = work['dir']/'offcentre', {}
    model = load_checkpoint(work['teacher'])[0].eval()
    for kind, seed, (x0, y0), side in (('real', 3, (1080, 520), 'landmarks'), ('fake', 4, (40, 30), 'box')):
        face, lms = synth_face(seed, 160)
        frame = np.full((720, 1280, 3), 200, np.uint8); frame[y0:y0+160, x0:x0+160] = face
        (folder/kind/'clip').mkdir(parents=True); cv2.imwrite(str(folder/kind/'clip/000.png'), frame[..., ::-1])
        box = np.stack([lms[:68].min(0), lms[:68].max(0)])
        if side == 'landmarks': np.save(folder/kind/'clip/000.landmarks.npy', (lms + [x0, y0])[None])
        else: np.save(folder/kind/'clip/000.box.npy', (box + [x0, y0])[None])
        expected[f'{kind}/clip'] = _score(model, face, box)
        whole = _score(model, frame, np.array([[0, 0], [1279, 719]]))
    shutil.copy(folder/'real/clip/000.png', folder/'real/clip/001.jpg')      # no geometry beside it
    out = work['dir']/'eval_offcentre'
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--data', folder, '--source', 'folder', '--detector', 'none', '--out', out)
    preds, m = pd.read_csv(out/'predictions.csv'), json.loads((out/'metrics.json').read_text())
    assert dict(zip(preds.video, preds.prob)) == pytest.approx(expected, abs=1e-5)
    assert abs(preds.prob.iloc[1] - whole) > 1e-4                          # the whole frame would have scored differently
    assert (m['n_faces'], m['skipped_frames']) == (2, 1) and '1 of 1 frames without a landmark or box file were skipped' in r.stdout

def test_run_folder_glob_checkpoint_record_and_fresh_folders(work, tmp_path):
    "A glob of run folders picks the best val AUC of all; metrics.json records its path and SHA-256; default folders never overwrite"
    from kdnb.models import load_checkpoint, save_checkpoint
    model = load_checkpoint(work['teacher'])[0]
    for run_dir, auc in (('teacher_a', .61), ('teacher_b', .74), ('teacher_c', .70)):
        save_checkpoint(tmp_path/'output'/run_dir/'weights'/f'1_{auc:.4f}_val.pth', model, 1, auc)
    args = ('--checkpoint', 'output/teacher_*', '--data', work['root'], '--source', 'faceswap', '--bs', 16)
    run('kdnb_evaluate', *args, cwd=tmp_path); run('kdnb_evaluate', *args, cwd=tmp_path)
    outs = sorted((tmp_path/'output').glob('eval_teacher_faceswap_*'))
    assert len(outs) == 2, outs                                            # two runs, two folders, named without '__'
    assert not any('__' in p.name for p in (tmp_path/'output').iterdir())
    m = json.loads((outs[0]/'metrics.json').read_text())
    best = tmp_path/'output/teacher_b/weights/1_0.7400_val.pth'
    assert m['checkpoint'] == 'output/teacher_b/weights/1_0.7400_val.pth'
    assert m['checkpoint_sha256'] == hashlib.sha256(best.read_bytes()).hexdigest() and m['threshold'] == 0.5
    r = run('kdnb_evaluate', *args, '--out', outs[0], cwd=tmp_path, ok=False)   # an explicit folder with results is refused
    assert r.returncode == 2 and r.stderr.strip().endswith('exists and is not empty: choose another folder; nothing was overwritten')

def test_one_class_and_methods(work, tmp_path):
    "One class stops with one line unless --accuracy-only; fake/<Method>_<video> folders give a per-method table"
    from kdnb.synthetic import synth_face
    for i, d in enumerate(['real/a', 'real/b', 'fake/Deepfakes_000_001', 'fake/FaceSwap_000_001']):
        (tmp_path/'set'/d).mkdir(parents=True); face, lms = synth_face(i, 96)
        cv2.imwrite(str(tmp_path/'set'/d/'0.jpg'), face[..., ::-1]); np.save(tmp_path/'set'/d/'0.npy', lms[None])
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--data', tmp_path/'set', '--source', 'folder', '--out', tmp_path/'e1')
    m = json.loads((tmp_path/'e1/metrics.json').read_text())
    assert list(m['methods']) == ['all', 'Deepfakes', 'FaceSwap'] and 'Deepfakes' in r.stdout and 'FaceSwap' in r.stdout
    shutil.rmtree(tmp_path/'set/fake')
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--data', tmp_path/'set', '--source', 'folder', '--out', tmp_path/'e2', ok=False)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].endswith(
        'only real faces (2): AUC, AP and EER are undefined with one class; add the other class or pass --accuracy-only')
    assert not (tmp_path/'e2').exists()                                    # no empty folder left behind
    run('kdnb_evaluate', '--checkpoint', work['teacher'], '--data', tmp_path/'set', '--source', 'folder', '--out', tmp_path/'e3', '--accuracy-only')
    m = json.loads((tmp_path/'e3/metrics.json').read_text())
    assert m['frame_auc'] is None and m['frame_acc'] in (0, 0.5, 1)
