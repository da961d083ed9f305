"The `kdnb_synth` command as a user runs it, and the data set it writes read back through `kdnb.data`."
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

EXE = Path(sys.executable).parent/'kdnb_synth'

def run(*args, cwd):
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)

def test_default_output_folder(tmp_path):
    r = run('--n-videos', 6, '--n-frames', 2, '--size', 96, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    root = tmp_path/'data'/'synthetic'
    assert f'wrote synthetic dataset to data/synthetic' in r.stdout
    assert 'original_sequences/youtube/c23: 6 videos, 12 frames' in r.stdout
    assert 'manipulated_sequences/FaceSwap/c23: 2 videos, 4 frames' in r.stdout
    assert json.loads((root/'test.json').read_text()) == [['004', '005']]
    assert json.loads((root/'train.json').read_text()) == [['000', '001']]
    assert sorted(p.name for p in (root/'manipulated_sequences/FaceSwap/c23/frames').iterdir()) == ['004_005', '005_004']
    lms = np.load(root/'original_sequences/youtube/c23/landmarks/003/001.npy')
    assert lms.shape == (1, 81, 2) and (lms > 0).all() and (lms < 96).all()

def test_out_and_options_are_deterministic(tmp_path):
    for d in ('a', 'b'):
        r = run(d, '--n_videos', 8, '--n_frames', 3, '--size', 80, '--seed', 3, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert f'wrote synthetic dataset to {d}' in r.stdout
    fa = sorted(p.relative_to(tmp_path/'a') for p in (tmp_path/'a').rglob('*') if p.is_file())
    assert fa == sorted(p.relative_to(tmp_path/'b') for p in (tmp_path/'b').rglob('*') if p.is_file())
    assert len([p for p in fa if p.suffix == '.png']) == 8*3 + 2*3
    for p in fa: assert (tmp_path/'a'/p).read_bytes() == (tmp_path/'b'/p).read_bytes(), p

def test_readers_on_cli_output(tmp_path):
    assert run('d', '--n_videos', 8, '--n_frames', 2, '--size', 96, cwd=tmp_path).returncode == 0
    from kdnb.data import sbi_items, sbi_dls
    from kdnb.evaluate import eval_items
    root = tmp_path/'d'
    assert [len(sbi_items(root, s)) for s in ('train', 'val', 'test')] == [8, 4, 4]
    items = eval_items(root, 'faceswap')
    assert [o.label for o in items] == [0]*4 + [1]*4
    xb, yb = sbi_dls(root, image_size=48, bs=4).one_batch()
    assert tuple(xb.shape) == (4, 3, 48, 48) and yb.tolist() == [0, 0, 1, 1]

@pytest.mark.parametrize('args, msg', [(['--n-videos', 5], 'n_videos must be an even number >= 6, got 5'),
                                       (['--size', 10], 'size must be >= 64, got 10')])
def test_bad_arguments(tmp_path, args, msg):
    r = run('x', *args, cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] == f'kdnb_synth: error: {msg}'
    assert 'Traceback' not in r.stderr and not (tmp_path/'x').exists()

def test_loader_workers_skip_count_and_one_line_errors(tmp_path):
    "With worker processes, a bad frame is replaced and counted across workers, and a fatal error is the main process's one line."
    from kdnb.synthetic import make_synthetic_dataset
    from kdnb.data import sbi_dls, SBIDataset, SBIDataLoader, FaceItem
    root = make_synthetic_dataset(tmp_path/'d', n_videos=6, n_frames=2, size=96)
    bad = root/'original_sequences/youtube/c23/frames/000/001.png'
    bad.write_bytes(b'not a png')
    dls = sbi_dls(root, image_size=32, bs=4, num_workers=2, check=False)
    for _ in range(2): assert sum(len(yb) for _, yb in dls.train) == 8   # persistent workers: epoch 2 works as epoch 1
    assert 2 <= dls.train.dataset.n_skipped                # counted in the workers, read in the main process
    with pytest.raises(ValueError, match='1 frame\\(s\\) under'): sbi_dls(root, image_size=32, bs=4)
    ds = SBIDataset([FaceItem(bad, root/'original_sequences/youtube/c23/landmarks/000/001.npy')], 32, max_skip=0)
    with pytest.raises(ValueError) as e: next(iter(SBIDataLoader(ds, bs=1, num_workers=1)))
    assert str(e.value) == f'cannot read image {bad}: missing, corrupt or not an image'
