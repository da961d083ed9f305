"Nothing is read silently wrong: frame layouts, landmark order, fakes of a split, NaN scores, half-written results and API arguments"
import json, os, shutil, subprocess, uuid
from pathlib import Path
import cv2, numpy as np, pytest, torch
from conftest import run, tiny_set

REAL, FAKE = 'original_sequences/youtube/c23', 'manipulated_sequences/FaceSwap/c23'

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    "A tiny synthetic set `data` (6 videos, 2 frames, 64 px; test pair 004/005) and an untrained `teacher.pth`"
    return tiny_set(tmp_path_factory.mktemp('silent'))

def first_err(r): return (r.stderr.strip().splitlines() or [''])[0]

def face_folder(d, frames=('real/a/0.png', 'real/b/0.png', 'fake/FaceSwap_a_b/0.png', 'fake/FaceSwap_b_a/0.png')):
    "A `--source folder` set: synthetic faces with their landmarks beside them"
    from kdnb.synthetic import synth_face
    for i, f in enumerate(frames):
        p = d/f; p.parent.mkdir(parents=True, exist_ok=True); img, lms = synth_face(i, 96)
        cv2.imwrite(str(p), img[..., ::-1]); np.save(p.with_suffix('.npy'), lms[None])
    return d

def evaluate(base, *args, ok=False):
    return run('kdnb_evaluate', '--checkpoint', base/'teacher.pth', '--bs', 8, *args, cwd=base, ok=ok)

# --source folder: the documented depth, one frame per name, temporary files ignored, counts printed

def test_folder_deeper_frame_refused(base, tmp_path):
    f = face_folder(tmp_path/'set'); (f/'real/a/sub').mkdir(); shutil.copy(f/'real/a/0.png', f/'real/a/sub/1.png')
    r = evaluate(base, '--data', f, '--source', 'folder', '--out', tmp_path/'ev')
    assert r.returncode == 2 and first_err(r) == (f'kdnb_evaluate: error: {f}/real/a/sub/1.png is nested too deep: --source folder reads '
                                                 '<root>/real/<video>/<frame> or <root>/real/<image>, nothing below; move the frames up a level or pass a lower --data')
    assert not (tmp_path/'ev').exists()

def test_folder_two_frames_one_name_refused(base, tmp_path):
    f = face_folder(tmp_path/'set'); shutil.copy(f/'fake/FaceSwap_a_b/0.png', f/'fake/FaceSwap_a_b/0.jpg')
    r = evaluate(base, '--data', f, '--source', 'folder', '--out', tmp_path/'ev')
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_evaluate: error: {f}/fake/FaceSwap_a_b: 0.jpg and 0.png are two frames named 0')
    assert not (tmp_path/'ev').exists()

def test_folder_temporary_files_ignored_and_counts_printed(base, tmp_path):
    f = face_folder(tmp_path/'set'); (f/'real/a/.0.png.k2j3x.tmp.png').write_bytes(b'half a png')
    r = evaluate(base, '--data', f, '--source', 'folder', '--out', tmp_path/'ev', ok=True)
    assert 'read real: 2 videos, 2 frames; fake: 2 videos, 2 frames (FaceSwap: 2 videos, 2 frames)' in r.stdout.splitlines()
    assert json.loads((tmp_path/'ev/metrics.json').read_text())['n_frames'] == 4

# landmarks in another order are refused, naming the file

def test_shuffled_landmarks_refused(base, tmp_path):
    d = tmp_path/'data'; shutil.copytree(base/'data', d)
    fn = d/REAL/'landmarks/004/000.npy'; a = np.load(fn); np.save(fn, a[:, np.r_[np.random.default_rng(0).permutation(68), 68:81]])
    r = evaluate(base, '--data', d, '--source', 'sbi', '--out', tmp_path/'ev')
    assert r.returncode == 2 and first_err(r) == (f'kdnb_evaluate: error: {d}/{REAL}/frames/004/000.png: landmarks {fn} (face 0) '
                                                 'are not in the 68-point order: the jaw contour (points 0-16) is not in order')
    assert not (tmp_path/'ev').exists()
    from kdnb.data import sbi_items, check_items
    bad = check_items(sbi_items(d, 'test'), d)
    assert [o.path.name for o, _ in bad] == ['000.png'] and 'are not in the 68-point order' in bad[0][1]

def test_landmark_check_passes_synthetic_mirrored_and_haar():
    from kdnb.data import landmark_problem
    from kdnb.sbi import reorder_landmarks, flip_landmarks
    from kdnb.synthetic import synth_face
    from kdnb.faces import ellipse_points
    for s in range(30):
        lms = reorder_landmarks(synth_face(s, 96, s % 4)[1])             # 81 points, forehead 68-80
        assert landmark_problem(lms) == landmark_problem(flip_landmarks(lms, 96)) == landmark_problem(lms[:68]) == ''
    assert landmark_problem(ellipse_points([[5, 5], [60, 80]])) == ''
    rng = np.random.default_rng(1)
    assert all(landmark_problem(lms[rng.permutation(68)]) for _ in range(300))

# method fakes of a split: found by their target video, with FF++ pairs and single-id splits alike

def crop_shaped(base, d):
    "The tiny set as kdnb_crop writes it today: split files of single ids, plus a Face2Face fake on the test video 004 and one on a video in no split"
    shutil.copytree(base/'data', d)
    for k in ('train', 'val', 'test'):
        ids = sorted({i for p in json.loads((d/f'{k}.json').read_text()) for i in p})
        (d/f'{k}.json').write_text(json.dumps([[i, i] for i in ids]))
    for new, old in (('004_001', '004_005'), ('750_743', '005_004')):
        for kind in ('frames', 'landmarks', 'retina'):
            shutil.copytree(d/FAKE/kind/old, d/'manipulated_sequences/Face2Face/c23'/kind/new)
    return d

def test_method_fakes_found_by_target(base, tmp_path):
    d = crop_shaped(base, tmp_path/'crop')
    r = evaluate(base, '--data', d, '--source', 'all', '--out', tmp_path/'ev', ok=True)
    lines = r.stdout.splitlines()
    assert 'read real: 2 videos, 4 frames; fake: 3 videos, 6 frames (Face2Face: 1 video, 2 frames; FaceSwap: 2 videos, 4 frames)' in lines
    assert 'Face2Face: 1 fake video(s) whose target is in no split file, in no evaluation: 750_743' in lines
    m = json.loads((tmp_path/'ev/metrics.json').read_text())['methods']
    assert {k: v['n_videos'] for k, v in m.items()} == {'all': 5, 'Face2Face': 3, 'FaceSwap': 4}

def test_ffpp_pairs_unchanged(base):
    "FF++'s official pairs find exactly the fakes a_b and b_a of each pair, each once"
    from kdnb.evaluate import eval_items
    fakes = [o.video for o in eval_items(base/'data', 'faceswap') if o.label == 1]
    assert sorted(set(fakes)) == [f'{FAKE}/frames/004_005', f'{FAKE}/frames/005_004'] and len(fakes) == 4

# NaN scores name the model; a failed write leaves nothing behind; folder names hold no '__'

def test_nan_weights_named(base, tmp_path):
    from kdnb.models import create_model, save_checkpoint
    m = create_model('test_efficientnet', image_size=64)
    with torch.no_grad(): m.net.get_classifier().weight.fill_(float('nan'))
    save_checkpoint(tmp_path/'nan.pth', m)
    r = run('kdnb_evaluate', '--checkpoint', tmp_path/'nan.pth', '--data', base/'data', '--out', tmp_path/'ev', ok=False)
    assert r.returncode == 2 and first_err(r).startswith(f'kdnb_evaluate: error: {tmp_path}/nan.pth') and 'NaN' in first_err(r)
    assert not (tmp_path/'ev').exists()

def test_default_folder_name_has_no_double_underscore(base, tmp_path):
    shutil.copy(base/'teacher.pth', tmp_path/'teacher_.pth')
    run('kdnb_evaluate', '--checkpoint', 'teacher_.pth', '--data', base/'data', '--source', 'faceswap', '--bs', 8, cwd=tmp_path)
    (out,) = (tmp_path/'output').iterdir()
    assert out.name.startswith('eval_teacher_faceswap_') and '__' not in out.name


def test_full_disk_leaves_no_half_folder(base, small_disk):
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk/'filler').write_bytes(b'\0' * (free - 12*1024))      # room for metrics.json and predictions.csv, not roc.png
    r = evaluate(base, '--data', base/'data', '--out', small_disk/'ev')
    assert r.returncode == 2 and first_err(r) == f'kdnb_evaluate: error: {small_disk}/ev: no space left on device'
    assert sorted(p.name for p in small_disk.iterdir()) == ['filler']     # no half folder, no temporary folder
    (small_disk/'filler').unlink()
    evaluate(base, '--data', base/'data', '--out', small_disk/'ev', ok=True)    # the rerun is not blocked
    assert sorted(p.name for p in (small_disk/'ev').iterdir()) == ['metrics.json', 'predictions.csv', 'roc.png']

# the public API fails in one sentence naming the argument

def test_api_arguments(base, tmp_path):
    from kdnb.synthetic import make_synthetic_dataset, synth_face, face_swap
    from kdnb.sbi import self_blend, reorder_landmarks
    from kdnb.data import SBIDataset, sbi_items, frame_files
    from kdnb.evaluate import metrics, evaluate
    img, lms = synth_face(0, 96); lms = reorder_landmarks(lms); g = np.random.default_rng(0)
    with pytest.raises(ValueError, match="^size must be an integer, not '96'$"): make_synthetic_dataset(tmp_path/'s', size='96')
    assert not (tmp_path/'s').exists()
    with pytest.raises(ValueError, match='^lms is None: an SBI fake needs the face landmarks'): self_blend(img, None, g)
    with pytest.raises(ValueError, match=r'^img must be an RGB uint8 array of shape \(H, W, 3\), got uint8 \(96, 96\)$'): self_blend(img[..., 0], lms, g)
    with pytest.raises(ValueError, match='^image_size must be an integer >= 1, not 0$'): SBIDataset(sbi_items(base/'data', 'val'), image_size=0)
    with pytest.raises(ValueError, match='^dst_lms span less than 4 px'): face_swap(img, lms, img, np.full_like(lms, 40))
    with pytest.raises(ValueError, match='^the model produced NaN scores for 1 of 2 faces'): metrics([np.nan, .5], [0, 1])
    with pytest.raises(ValueError, match='^labels has 3 entries but probs has 2'): metrics([.2, .5], [0, 1, 1])
    with pytest.raises(ValueError, match='^image_size must be an integer >= 1, not -5$'): evaluate(base/'teacher.pth', base/'data', image_size=-5)
    v = tmp_path/'v'; v.mkdir(); (v/'000.png').write_bytes(b''); (v/'000.JPG').write_bytes(b''); (v/'.001.png.x.tmp.png').write_bytes(b'')
    with pytest.raises(ValueError, match='000.JPG and 000.png are two frames named 000'): frame_files(v)
    (v/'000.JPG').unlink(); assert [p.name for p in frame_files(v)] == ['000.png']
