"kdnb_crop run as a user runs it: a folder with a good and a corrupt video, dlib and Haar detectors, labels and split files."
import json, os, subprocess, sys
from pathlib import Path
import cv2, numpy as np, pytest

skimage = pytest.importorskip('skimage.data')
IMG, SIZE = skimage.astronaut(), 160

# Tiny videos of the astronaut photo, shared with test_real_path and test_interrupts_crop
def _pose(video, i):
    "Per video: scale, shift and colour gain of the photo; per frame: a slow pan."
    rng = np.random.default_rng(video)
    s, (dx, dy) = rng.uniform(.5, .65), rng.uniform(-15, 15, 2)
    return np.float32([[s, 0, dx + 3*i - 40], [0, s, dy - 15]]), rng.uniform(.8, 1.2, 3)

def frame(video, i, size=SIZE):
    "Frame `i` of video number `video`: the astronaut's face, placed and tinted per video, panning per frame"
    M, gain = _pose(video, i)
    M = M*size/SIZE
    return np.clip(cv2.warpAffine(IMG, M, (size, size), borderMode=cv2.BORDER_REFLECT)*gain, 0, 255).astype(np.uint8)

def landmarks(video, i, lms0):
    "The photo's landmarks `lms0` where `frame(video, i)` shows them"
    M, _ = _pose(video, i)
    return lms0 @ M[:, :2].T + M[:, 2]

def write_video(fn, frames, fps=5):
    "Write RGB `frames` to the mp4 file `fn` (folders made)"
    fn.parent.mkdir(parents=True, exist_ok=True)
    vw = cv2.VideoWriter(str(fn), cv2.VideoWriter_fourcc(*'mp4v'), fps, frames[0].shape[1::-1])
    for f in frames: vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return fn

@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp('videos')
    img = skimage.astronaut()
    vw = cv2.VideoWriter(str(d/'astronaut.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 10, img.shape[1::-1])
    for i in range(10): vw.write(cv2.cvtColor(np.roll(img, 3*i, axis=1), cv2.COLOR_RGB2BGR))
    vw.release()
    (d/'broken.mp4').write_bytes(b'\x00garbage' * 64)
    return d

def crop(*args, cwd):
    return subprocess.run([str(Path(sys.executable).parent/'kdnb_crop'), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)

@pytest.mark.parametrize('detector', ['dlib', 'haar'])
def test_kdnb_crop_folder(videos, tmp_path, detector):
    r = crop(videos, 'out', '--n-frames', 3, '--detector', detector, '--label', 'real', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'broken.mp4' in r.stdout and 'skipped' in r.stdout
    assert 'videos 1, real 1, fake 0, no_face_videos 0, unreadable_videos 1' in r.stdout and ', frames 3,' in r.stdout
    layout = tmp_path/'out/original_sequences/youtube/c23'
    assert sorted(p.name for p in (layout/'frames/astronaut').glob('*.png')) == ['000.png', '004.png', '009.png']
    lms, box = np.load(layout/'landmarks/astronaut/004.npy'), np.load(layout/'retina/astronaut/004.npy')
    assert lms.shape[1:] == (68, 2) and box.shape[1:] == (7, 2) and len(lms) == len(box)
    if detector == 'dlib':   # Haar's landmarks are an ellipse inside its box by construction
        assert (lms[0].min(0) > box[0, 0] - 30).all() and (lms[0].max(0) < box[0, 1] + 30).all()
        assert 150 < lms[0, :, 0].mean() < 290 and 60 < lms[0, :, 1].mean() < 190   # on the astronaut's face
    assert json.loads((tmp_path/'out/videos.json').read_text()) == ['astronaut']
    assert json.loads((tmp_path/'out/train.json').read_text()) == [['astronaut', 'astronaut']]
    assert 'val.json is empty (too few videos)' in r.stdout
    # resumable: a second run skips the finished video
    r = crop(videos, 'out', '--n-frames', 3, '--detector', detector, '--label', 'real', cwd=tmp_path)
    assert r.returncode == 0 and 'resumed 1' in r.stdout

def test_kdnb_crop_missing_source(tmp_path):
    r = crop(tmp_path/'nope', 'out', cwd=tmp_path)
    assert r.returncode != 0 and 'nope' in r.stderr and len(r.stderr.strip().splitlines()) == 1

def test_kdnb_crop_refuses_unknown_labels(videos, tmp_path):
    r = crop(videos, 'out', cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert 'cannot tell real from fake videos here' in r.stderr and '--label real' in r.stderr
    assert not (tmp_path/'out').exists()

def test_kdnb_crop_files_keep_the_umask(videos, tmp_path):
    old = os.umask(0o027)
    try: r = crop(videos, 'out', '--n-frames', 1, '--detector', 'haar', '--label', 'real', cwd=tmp_path)
    finally: os.umask(old)
    assert r.returncode == 0, r.stderr
    modes = {oct(p.stat().st_mode & 0o777) for p in (tmp_path/'out').rglob('*') if p.is_file()}
    assert modes == {oct(0o640)}, modes

def test_split_pairs_name_the_fakes_of_a_partial_ffpp_tree(tmp_path):
    "FF++ as a partial download leaves it: 519_515 without 515, 750_743 without 750; kdnb_evaluate's sets find 519_515"
    ff = tmp_path/'ff'
    for rel, v in (('original_sequences/youtube/c23/videos/519', 0), ('original_sequences/youtube/c23/videos/520', 1),
                   ('manipulated_sequences/Deepfakes/c23/videos/519_515', 2), ('manipulated_sequences/Face2Face/c23/videos/750_743', 3)):
        write_video(ff/f'{rel}.mp4', [frame(v, i) for i in range(3)])
    r = crop('ff', 'out', '--n-frames', 2, '--detector', 'haar', '--fractions', '0.5,0.5,0', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    split = {k: json.loads((tmp_path/f'out/{k}.json').read_text()) for k in ('train', 'val', 'test')}
    assert sorted(p for v in split.values() for p in v) == [['519', '515'], ['520', '520']], split
    assert 'kdnb_crop: 1 fake video(s) in no split file, their target real video in none: Face2Face/750_743' in r.stdout, r.stdout
    assert 'kdnb_crop: 1 source video(s) of fakes not in OUT, named in split pairs' in r.stdout
    summary = json.loads((tmp_path/'out/kdnb_crop.json').read_text())
    assert (summary['fakes_without_target'], summary['sources_not_cropped']) == (['Face2Face/750_743'], ['515'])
    from kdnb.evaluate import eval_items
    k = next(k for k, v in split.items() if ['519', '515'] in v)
    assert {o.video.rsplit('/', 1)[1] for o in eval_items(tmp_path/'out', 'deepfakes', k) if o.label} == {'519_515'}
