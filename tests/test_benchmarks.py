"Benchmark readers on miniatures of each release (videos written with OpenCV from scikit-image's astronaut), and kdnb_evaluate on them."
import json
import cv2, numpy as np, pandas as pd, pytest
from pathlib import Path
from conftest import run

@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    "A short clip of the astronaut's face panning, written with OpenCV"
    from skimage.data import astronaut
    fn = tmp_path_factory.mktemp('clip')/'astronaut.mp4'
    img = cv2.cvtColor(astronaut()[20:320, 90:390], cv2.COLOR_RGB2BGR)
    w = cv2.VideoWriter(str(fn), cv2.VideoWriter_fourcc(*'mp4v'), 10, (192, 192))
    for i in range(6): w.write(cv2.warpAffine(img, np.float32([[.64, 0, i], [0, .64, 0]]), (192, 192)))
    w.release()
    assert cv2.VideoCapture(str(fn)).get(cv2.CAP_PROP_FRAME_COUNT) == 6
    return fn

EXPECTED = dict(  # (videos, real, fake, fake methods) of each miniature with n_real=2, n_fake=3
    celebdf=(7, 4, 3, {'Celeb-synthesis'}), dfdc=(5, 2, 3, {''}), dfdcp=(5, 2, 3, {'method_A', 'method_B'}),
    ffiw=(5, 2, 3, {'target'}), dfd=(5, 2, 3, {'DeepFakeDetection'}))

@pytest.mark.parametrize('name', list(EXPECTED))
def test_reader_on_release_layout(name, clip, tmp_path, capsys):
    from kdnb.benchmarks import benchmark_videos, write_release, BENCHMARKS
    root = write_release(name, tmp_path/name, clip, n_real=2, n_fake=3)
    df = benchmark_videos(name, root)
    n, r, f, methods = EXPECTED[name]
    assert (len(df), (df.label == 0).sum(), (df.label == 1).sum()) == (n, r, f)
    assert set(df.method[df.label == 1]) == methods and df.path.map(Path.is_file).all()
    assert df.video.is_unique and not df.video.str.contains('train').any()   # training videos are not in the test list
    e = BENCHMARKS[name]['expected']
    assert f'(the official test set has {e[0]} videos: {e[1]} real, {e[2]} fake)' in capsys.readouterr().out

def test_celebdf_label_convention(clip, tmp_path, capsys):
    "List_of_testing_videos.txt says 1 for real: kdnb converts and says so"
    from kdnb.benchmarks import celebdf_videos
    root = tmp_path/'cdf'
    for rel in ('YouTube-real/00001.mp4', 'Celeb-synthesis/id1_id2_0003.mp4'): (root/rel).parent.mkdir(parents=True, exist_ok=True); (root/rel).write_bytes(clip.read_bytes())
    (root/'List_of_testing_videos.txt').write_text('1 YouTube-real/00001.mp4\n0 Celeb-synthesis/id1_id2_0003.mp4\n')
    df = celebdf_videos(root)
    assert dict(zip(df.video, df.label)) == {'YouTube-real/00001.mp4': 0, 'Celeb-synthesis/id1_id2_0003.mp4': 1}
    assert '1 means real in this file; converted to 0 = real, 1 = fake' in capsys.readouterr().out
    (root/'List_of_testing_videos.txt').write_text('real YouTube-real/00001.mp4\n')
    with pytest.raises(ValueError, match='line 1: expected "<1|0> <folder>/<video>.mp4"'): celebdf_videos(root)

def test_dfdc_labels_csv_variants(clip, tmp_path):
    "labels.csv with REAL/FAKE strings and videos beside it (DeepfakeBench's test/ folder) reads the same"
    from kdnb.benchmarks import benchmark_videos
    t = tmp_path/'DFDC/test'; t.mkdir(parents=True)
    for f in ('aaaa.mp4', 'bbbb.mp4'): (t/f).write_bytes(clip.read_bytes())
    pd.DataFrame(dict(filename=['aaaa.mp4', 'bbbb.mp4'], label=['REAL', 'FAKE'])).to_csv(t/'labels.csv', index=False)
    assert benchmark_videos('dfdc', tmp_path/'DFDC').label.tolist() == [0, 1]
    pd.DataFrame(dict(name=['aaaa.mp4'], is_fake=[0])).to_csv(t/'labels.csv', index=False)
    with pytest.raises(ValueError, match='expected columns filename, label; found name, is_fake'): benchmark_videos('dfdc', tmp_path/'DFDC')

def test_kdnb_evaluate_benchmark_and_table(work, clip, tmp_path):
    "--source celebdf on a Celeb-DF miniature, then --benchmarks ROOTS.json over three datasets: one table with SBI's numbers"
    from kdnb.benchmarks import write_release
    cdf = write_release('celebdf', tmp_path/'Celeb-DF-v2', clip)
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--source', 'celebdf', '--data', cdf, '--n-frames', 3,
            '--detector', 'haar', '--out', tmp_path/'e_cdf')
    m = json.loads((tmp_path/'e_cdf/metrics.json').read_text())
    assert (m['n_videos'], m['no_face_videos'], m['n_frames_per_video'], m['benchmark']) == (6, 0, 3, 'Celeb-DF v2')
    assert m['checkpoint_sha256'] and '1 means real in this file' in r.stdout and 'video AUC' in r.stdout
    roots = dict(celebdf=str(cdf), dfdcp=str(write_release('dfdcp', tmp_path/'DFDCP', clip)),
                 ffiw=dict(root=str(write_release('ffiw', tmp_path/'FFIW', clip)), split='val'))
    (tmp_path/'roots.json').write_text(json.dumps(roots))
    r = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--benchmarks', tmp_path/'roots.json', '--n-frames', 2,
            '--detector', 'haar', '--workers', 2, '--out', tmp_path/'bench')
    table = pd.read_csv(tmp_path/'bench/benchmarks.csv', index_col=0)
    assert list(table.index) == ['Celeb-DF v2', 'DFDC preview', 'FFIW-10K']
    assert table['SBI paper video AUC'].tolist() == [93.18, 86.15, 84.83] and table.videos.tolist() == [6, 4, 4]
    md = (tmp_path/'bench/benchmarks.md').read_text()
    assert 'Shiohara & Yamasaki' in md and '| Celeb-DF v2 | 6 | 0 |' in md and '32' not in md.split('Protocol:')[1][:20]
    bad = run('kdnb_evaluate', '--checkpoint', work['teacher'], '--source', 'dfd', '--data', tmp_path/'FFIW', ok=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith('kdnb_evaluate: error: ') and 'original_sequences/actors/raw/videos not found' in bad.stderr
