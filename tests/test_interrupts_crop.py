"""kdnb_crop interrupted and rerun as a user does it: a rerun produces exactly what its arguments say (no mixed
samplings, no temporary file passing for a frame), two videos with one id are refused, and Ctrl-C or SIGTERM stops
every worker process."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest

skimage = pytest.importorskip('skimage.data')
from test_faces import frame, write_video   # tiny astronaut videos
BIN = Path(sys.executable).parent
LAYOUT = Path('original_sequences/youtube/c23')

def crop(*args, cwd, timeout=300):
    return subprocess.run([str(BIN/'kdnb_crop'), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)

def start(*args, cwd):
    "kdnb_crop started in its own session, as from a terminal: a signal can go to its whole process group"
    return subprocess.Popen([str(BIN/'kdnb_crop'), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, start_new_session=True)

def expected(n_video, n_frames):
    "Frame names of an `n_video`-frame video sampled with `--n-frames n_frames` (evenly spaced, as kdnb_crop samples)"
    return sorted(f'{i:03d}' for i in set(np.linspace(0, n_video-1, n_frames).round().astype(int).tolist()))

def names(out, vid, sub='frames'): return sorted(p.stem for p in (out/LAYOUT/sub/vid).iterdir())
def temporary(out): return sorted(str(p) for p in Path(out).rglob('.*tmp*'))
def n_files(out): return sum(1 for p in Path(out).rglob('*') if p.is_file())

def wait_for_frames(out, p, n=1, timeout=120):
    "Wait until `n` frames are written under `out` (the run is at work), failing if `p` ends first"
    t = time.time()
    while len(list(Path(out).rglob('*.png'))) < n:
        assert p.poll() is None, f'kdnb_crop ended before it was interrupted: {p.communicate()}'
        assert time.time() - t < timeout
        time.sleep(.05)

def alive(pid):
    "Whether process `pid` exists and is not a zombie"
    try: return Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()[0] != 'Z'
    except OSError: return False

@pytest.fixture(scope='module')
def short(tmp_path_factory):
    "Two 12-frame videos in a folder (given --label real)"
    d = tmp_path_factory.mktemp('short')
    for v in range(2): write_video(d/'clips'/f'v{v}.mp4', [frame(v, i) for i in range(12)])
    return d

LONG = 60
@pytest.fixture(scope='module')
def long(tmp_path_factory):
    "Ten 60-frame 256-px videos: a run with dlib takes seconds, long enough to be interrupted"
    d = tmp_path_factory.mktemp('long')
    for v in range(10): write_video(d/'clips'/f'v{v}.mp4', [frame(v, i % 12, 256) for i in range(LONG)])
    return d

def test_rerun_with_other_n_frames_gives_exactly_the_new_frames(short, tmp_path):
    pytest.importorskip('dlib')
    r = crop(short/'clips', 'out', '--label', 'real', '--detector', 'dlib', '--n-frames', 4, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert names(tmp_path/'out', 'v0') == expected(12, 4) == ['000', '004', '007', '011']
    r = crop(short/'clips', 'out', '--label', 'real', '--detector', 'dlib', '--n-frames', 2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'cropped 2 video(s) again, their earlier crop removed, as it was asked differently' in r.stdout, r.stdout
    assert '(n_frames 4 → 2)' in r.stdout and ', resumed 0, redone 2, frames 4,' in r.stdout
    for v in ('v0', 'v1'):
        for sub in ('frames', 'landmarks', 'retina'): assert names(tmp_path/'out', v, sub) == ['000', '011'], (v, sub)
    summary = json.loads((tmp_path/'out/kdnb_crop.json').read_text())
    assert (summary['redone'], summary['frames']) == (2, 4)
    # the same arguments again: resumed, nothing redone; another detector: redone
    r = crop(short/'clips', 'out', '--label', 'real', '--detector', 'dlib', '--n-frames', 2, cwd=tmp_path)
    assert ', resumed 2, redone 0, frames 4,' in r.stdout, r.stdout
    r = crop(short/'clips', 'out', '--label', 'real', '--detector', 'haar', '--n-frames', 2, cwd=tmp_path)
    assert r.returncode == 0 and '(detector dlib → haar, upsample 1 → None)' in r.stdout, r.stdout

def test_kill_9_then_rerun_with_other_n_frames_mixes_nothing(long, tmp_path):
    pytest.importorskip('dlib')
    p = start(long/'clips', 'out', '--label', 'real', '--detector', 'dlib', '--n-frames', LONG, cwd=tmp_path)
    wait_for_frames(tmp_path/'out', p, 5)
    p.kill(); p.communicate()
    assert p.returncode == -signal.SIGKILL
    v0 = tmp_path/'out'/LAYOUT/'frames/v0'
    assert 5 <= len(list(v0.glob('*.png'))) < LONG        # killed in the middle of the first video
    stale = v0/'.012.png.k1ll3d.tmp.png'; stale.write_bytes(b'')     # what a write killed before its replace leaves
    r = crop(long/'clips', 'out', '--label', 'real', '--detector', 'dlib', '--n-frames', 3, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('kdnb_crop: removed '), r.stdout
    assert 'temporary file(s) left in out by an interrupted run' in r.stdout.splitlines()[0]
    assert temporary(tmp_path/'out') == []
    for v in range(10):
        for sub in ('frames', 'landmarks', 'retina'): assert names(tmp_path/'out', f'v{v}', sub) == expected(LONG, 3), (v, sub)
    assert ', frames 30,' in r.stdout, r.stdout

def test_same_name_from_two_folders_is_refused(short, tmp_path):
    for d, v in (('day', 0), ('night', 1)): write_video(tmp_path/d/'clip.mp4', [frame(v, i) for i in range(3)])
    r = crop(tmp_path/'day/clip.mp4', 'out', '--label', 'real', '--detector', 'haar', '--n-frames', 2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = {p: p.stat().st_mtime_ns for p in (tmp_path/'out').rglob('*')}
    r = crop(tmp_path/'night/clip.mp4', 'out', '--label', 'real', '--detector', 'haar', '--n-frames', 2, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    first = r.stderr.splitlines()[0]
    assert first.startswith('kdnb_crop: error: ') and str(tmp_path/'day/clip.mp4') in first and 'night/clip.mp4' in first, first
    assert "are both video 'clip'" in first
    assert {p: p.stat().st_mtime_ns for p in (tmp_path/'out').rglob('*')} == before     # refused before any work
    # in one run: a_b/x.mp4 and a/b_x.mp4 would both be a_b_x
    for rel, v in (('src/a_b/x.mp4', 0), ('src/a/b_x.mp4', 1)): write_video(tmp_path/rel, [frame(v, i) for i in range(3)])
    r = crop('src', 'out2', '--label', 'real', '--detector', 'haar', cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("kdnb_crop: error: src/a/b_x.mp4 and src/a_b/x.mp4 are both video 'a_b_x'"), r.stderr
    assert not (tmp_path/'out2').exists()

def _children(pid):
    return [int(c) for c in Path(f'/proc/{pid}/task/{pid}/children').read_text().split()]

@pytest.mark.parametrize('sig,status,says', [(signal.SIGTERM, 143, 'kdnb_crop: terminated; run the same command again to resume: finished videos are kept'),
                                             (signal.SIGINT, 130, 'kdnb_crop: interrupted; run the same command again to resume: finished videos are kept')], ids=['SIGTERM', 'Ctrl-C'])
def test_signal_stops_every_worker(long, tmp_path, sig, status, says):
    "SIGTERM to the main process (a scheduler), or Ctrl-C to the process group (a terminal): all stop, no temporary file"
    pytest.importorskip('dlib')
    p = start(long/'clips', 'out', '--label', 'real', '--detector', 'dlib', '--workers', 2, '--n-frames', LONG, cwd=tmp_path)
    wait_for_frames(tmp_path/'out', p, 4)
    workers = _children(p.pid)
    assert len(workers) == 2, workers
    if sig == signal.SIGTERM: p.send_signal(sig)
    else: os.killpg(p.pid, sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == status, (out, err)
    assert err.splitlines()[0] == says, err
    n = n_files(tmp_path/'out')
    time.sleep(2)
    assert n_files(tmp_path/'out') == n                       # nothing keeps writing
    assert not [w for w in workers if alive(w)]
    assert temporary(tmp_path/'out') == []
    assert n < 3*10*LONG                                      # it was stopped, not finished
