"""The real-data path as a user runs it: an FF++-shaped tree of short .mp4 videos → `kdnb_crop` → `kdnb_pretrain`
on its output with no other file → `kdnb_evaluate --source <method>`; folders whose labels are unknown are refused."""
import json, subprocess, sys
from pathlib import Path
import numpy as np, pytest

skimage = pytest.importorskip('skimage.data')
pytest.importorskip('dlib')
from test_faces import IMG, SIZE, frame, landmarks, write_video   # tiny astronaut videos
BIN = Path(sys.executable).parent

def run(cmd, *args, cwd, ok=True, timeout=300):
    "Run console script `cmd` as a user would; with `ok`, fail unless it exits 0."
    r = subprocess.run([str(BIN/cmd), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    if ok: assert r.returncode == 0, f'{cmd} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r

N_FRAMES = 4

@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    "FF++ layout: 6 real videos, and Deepfakes `t_s` = the face of video s swapped onto video t, for 3 pairs both ways."
    from kdnb.synthetic import face_swap
    from kdnb.faces import DlibDetector
    d = tmp_path_factory.mktemp('real_path')
    root = d/'data'/'FaceForensics++'       # kdnb_crop is pointed above the tree
    lms0 = DlibDetector()(IMG)[1][0].astype(np.float32)
    for v in range(6): write_video(root/f'original_sequences/youtube/c23/videos/{v:03d}.mp4', [frame(v, i) for i in range(N_FRAMES)])
    for t in range(6):
        s = t + 1 - 2*(t % 2)
        write_video(root/f'manipulated_sequences/Deepfakes/c23/videos/{t:03d}_{s:03d}.mp4',
                    [face_swap(frame(s, i), landmarks(s, i, lms0), frame(t, i), landmarks(t, i, lms0)) for i in range(N_FRAMES)])
    return d

@pytest.fixture(scope='module')
def cropped(tree):
    r = run('kdnb_crop', 'data', 'crops', '--n-frames', N_FRAMES, '--detector', 'dlib', cwd=tree)
    return tree, r

def test_crop_writes_a_training_set(cropped):
    d, r = cropped
    assert 'videos 12, real 6, fake 6, no_face_videos 0' in r.stdout, r.stdout
    assert 'split files: a split by video, seed 0, 80/10/10: train 2, val 2, test 2 real videos (each fake with its target)' in r.stdout
    split = {k: json.loads((d/'crops'/f'{k}.json').read_text()) for k in ('train', 'val', 'test')}
    assert sorted(p for v in split.values() for p in v) == [['000', '001'], ['002', '003'], ['004', '005']]   # [target, source], once per two videos
    summary = json.loads((d/'crops'/'kdnb_crop.json').read_text())
    assert (summary['videos'], summary['fakes_without_target'], summary['sources_not_cropped']) == (12, [], [])
    for vid in ('000', '000_001'):
        kind = 'original_sequences/youtube' if vid == '000' else 'manipulated_sequences/Deepfakes'
        base = d/'crops'/kind/'c23'
        assert len(list((base/'frames'/vid).glob('*.png'))) == N_FRAMES
        assert np.load(base/'landmarks'/vid/'000.npy').shape == (1, 68, 2)
        assert np.load(base/'retina'/vid/'000.npy').shape == (1, 7, 2)
    assert not list((d/'crops').rglob('.*.tmp*'))

def test_pretrain_and_evaluate_per_method(cropped):
    "kdnb_pretrain reads the kdnb_crop output as it stands; kdnb_evaluate scores its test split per method."
    d, _ = cropped
    cfg = dict(image_size=64, batch_size=8, epoch=1, lr=1e-3, data=dict(root='crops', frames=None), student_arch='test_efficientnet',
               student_image_size=64, num_workers=0, mixed_precision=False, schedule='one_cycle', top_k=1)
    (d/'tiny.json').write_text(json.dumps(cfg))
    r = run('kdnb_pretrain', 'tiny.json', '-n', 'real', '--out', 'output', cwd=d)
    weights = list((d/'output').glob('real_tiny_*/weights/*_val.pth'))
    assert len(weights) == 1, r.stdout
    r = run('kdnb_evaluate', '--checkpoint', weights[0].parent.parent.relative_to(d), '--data', 'crops', '--source', 'deepfakes',
            '--out', 'output/eval_deepfakes', '--bs', 8, cwd=d)
    metrics = json.loads((d/'output/eval_deepfakes/metrics.json').read_text())
    assert 0 <= metrics['frame_auc'] <= 1
    assert (metrics['n_videos'], metrics['n_frames']) == (4, 4*N_FRAMES)   # the test pair: 2 real videos and their 2 fakes
    assert 'deepfakes' in r.stdout.lower()

def test_unlabelled_folder_is_refused_and_label_real_accepted(tree):
    clips = tree/'clips'
    for sub in ('day', 'night'): write_video(clips/sub/'clip.mp4', [frame(7, i) for i in range(2)])
    r = run('kdnb_crop', 'clips', 'out_clips', cwd=tree, ok=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith('kdnb_crop: error: clips: cannot tell real from fake videos here; kdnb_crop reads an FF++ tree')
    assert not (tree/'out_clips').exists()
    r = run('kdnb_crop', 'clips', 'out_clips', '--label', 'real', '--n-frames', 2, '--detector', 'dlib', cwd=tree)
    assert 'videos 2, real 2, fake 0' in r.stdout
    assert json.loads((tree/'out_clips/videos.json').read_text()) == ['day_clip', 'night_clip']
    assert sorted(p.name for p in (tree/'out_clips/original_sequences/youtube/c23/frames').iterdir()) == ['day_clip', 'night_clip']

def test_no_usable_video_fails(tree):
    write_video(tree/'walls'/'wall.mp4', [np.full((SIZE, SIZE, 3), 120, np.uint8)]*2)
    r = run('kdnb_crop', 'walls', 'out_walls', '--label', 'real', '--detector', 'dlib', cwd=tree, ok=False)
    assert r.returncode == 2 and 'no face in 1 video(s)' in r.stdout
    assert r.stderr.strip() == 'kdnb_crop: error: no usable video under walls: 1 without a face, 0 unreadable'
