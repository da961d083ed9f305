"""README's "On your own data" as a user follows it: every command line of its code blocks, read from README.md itself,
run in order as a subprocess in a fresh folder holding an FF++-shaped tree of short videos (under a `~` of its own), a
Celeb-DF miniature for `roots.json`, a clip and a folder of photos. Only size options are added to a line (tiny models,
64 px, one epoch, few timing rounds); each line must exit 0 and leave what it says it wrote."""
import json, os, re, shlex, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest

skimage = pytest.importorskip('skimage.data')
pytest.importorskip('dlib')
pytest.importorskip('executorch')
from conftest import ROOT
from test_faces import IMG, frame, landmarks, write_video   # tiny astronaut videos
BIN = Path(sys.executable).parent
N_FRAMES = 4

SETS = ' '.join(f'--set {kv}' for kv in (
    'teacher_arch=test_efficientnet', 'teacher_pretrained=false', 'image_size=64', 'student_arch=mobilevitv2_050',
    'student_pretrained=false', 'student_image_size=64', 'epoch=1', 'batch_size=8', 'num_workers=0', 'top_k=1', 'data.frames=null'))
SIZE = {  # what each command gets added, only to make it small
    'kdnb_pretrain': SETS, 'kdnb_distill': SETS, 'kdnb_evaluate': '--n-frames 2 --bs 8', 'kdnb_export': '--n-calib 8 --n-eval 64',
    'kdnb_compare': '--n-runs 2', 'kdnb_crop': '', 'kdnb_predict': '--frames 2', 'torchrun': SETS, 'accelerate': SETS}

def readme_block(title):
    "The command lines (comments dropped) of the first bash block after README's heading `title`"
    text = (ROOT/'README.md').read_text()
    sec = text[text.index(f'### {title}\n'):]
    block = re.search(r'```bash\n(.*?)```', sec, re.S).group(1)
    return [re.sub(r'\s+#.*$', '', l).strip() for l in block.splitlines() if l.strip()]

def program(line): return shlex.split(line)[0]

@pytest.fixture(scope='module')
def user(tmp_path_factory):
    "A clone's working folder (configs/ only) and a home with `~/data/FaceForensics++`: 6 real videos, Deepfakes and FaceSwap fakes, FF++ splits"
    from kdnb.synthetic import face_swap
    from kdnb.faces import DlibDetector
    from kdnb.benchmarks import write_release
    d = tmp_path_factory.mktemp('own_data')
    home, work = d/'home', d/'clone'
    shutil.copytree(ROOT/'configs', work/'configs')
    ff = home/'data'/'FaceForensics++'
    lms0 = DlibDetector()(IMG)[1][0].astype(np.float32)
    for v in range(6): write_video(ff/f'original_sequences/youtube/c23/videos/{v:03d}.mp4', [frame(v, i) for i in range(N_FRAMES)])
    for t in range(6):
        s = t + 1 - 2*(t % 2)
        swapped = [face_swap(frame(s, i), landmarks(s, i, lms0), frame(t, i), landmarks(t, i, lms0)) for i in range(N_FRAMES)]
        for method in ('Deepfakes', 'FaceSwap'): write_video(ff/f'manipulated_sequences/{method}/c23/videos/{t:03d}_{s:03d}.mp4', swapped)
    (ff/'splits').mkdir()
    for k, pair in (('train', ['000', '001']), ('val', ['002', '003']), ('test', ['004', '005'])): (ff/'splits'/f'{k}.json').write_text(json.dumps([pair]))
    clip = write_video(work/'clip.mp4', [frame(7, i) for i in range(N_FRAMES)])
    (work/'photos').mkdir()
    import cv2
    cv2.imwrite(str(work/'photos'/'astronaut.png'), cv2.cvtColor(IMG, cv2.COLOR_RGB2BGR))
    (work/'roots.json').write_text(json.dumps(dict(celebdf=str(write_release('celebdf', d/'Celeb-DF-v2', clip, n_real=1, n_fake=2)))))
    env = dict(os.environ, HOME=str(home), OMP_NUM_THREADS='1', PATH=f'{BIN}{os.pathsep}{os.environ["PATH"]}')
    return dict(work=work, home=home, env=env)

def sh(line, user, timeout=600):
    "Run one README line as bash would, with its size options, in the clone folder"
    cmd = f'{line} {SIZE[program(line)]}'
    r = subprocess.run(['bash', '-c', cmd], capture_output=True, text=True, cwd=user['work'], env=user['env'], timeout=timeout)
    assert r.returncode == 0, f'README line failed ({r.returncode}): {line}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r

def test_training_evaluating_deploying_as_written(user):
    "README's block, line by line, in order; each line's own output is checked"
    lines, w = readme_block('Training, evaluating, deploying'), user['work']
    assert [program(l) for l in lines] == ['kdnb_crop', 'kdnb_pretrain', 'kdnb_pretrain', 'kdnb_distill', 'kdnb_evaluate',
                                           'kdnb_evaluate', 'kdnb_export', 'kdnb_compare', 'kdnb_predict', 'kdnb_predict'], lines
    out = [sh(l, user) for l in lines]
    assert 'videos 18, real 6, fake 12, no_face_videos 0' in out[0].stdout and 'split files from' in out[0].stdout, out[0].stdout
    assert json.loads((w/'data/ffpp/test.json').read_text()) == [['004', '005']]
    assert len(list(w.glob('output/teacher_config_SBI_*/weights/*_val.pth'))) == 1
    assert len(list(w.glob('output/pretrain_mobilevit_config_SBI_*/weights/*_val.pth'))) == 1
    assert re.search(r'distilling test_efficientnet@64 .*teacher_config_SBI_.* into mobilevitv2_050@64 .*pretrain_mobilevit_config_SBI_', out[3].stdout), out[3].stdout
    assert len(list(w.glob('output/distill_mobilevit_config_SBI_*/weights/*_val.pth'))) == 1
    (ev,) = [p for p in w.glob('output/eval_*') if 'all' in p.name]
    m = json.loads((ev/'metrics.json').read_text())
    assert m['n_videos'] == 6 and {k: v['n_videos'] for k, v in m['methods'].items()} == dict(all=6, Deepfakes=4, FaceSwap=4)
    assert 'celebdf' in out[5].stdout.lower() and len(list(w.glob('output/benchmarks_distill_mobilevit_*'))) == 1
    assert sorted(p.name for p in (w/'output/export').iterdir()) == ['mobilevitv2_050_int8.json', 'mobilevitv2_050_int8.pte']
    assert (w/'output/compare/compare.md').is_file() and 'output/compare/compare.md' in out[7].stdout
    preds = (w/'verdicts.csv').read_text().splitlines()
    assert len(preds) == 3 and preds[1].startswith('clip.mp4,video,2,') and preds[2].startswith('photos/astronaut.png,image,1,'), preds
    html = (w/'report/report.html').read_text()
    assert 'clip.mp4' in html and 'data:image/png;base64,' in html and str(w) not in html and not list((w/'report').glob('.*'))

def test_several_gpus_lines_run_on_two_cpu_processes(user):
    "The launcher lines start; here with 2 gloo processes (README's 4 GPUs → `--nproc_per_node 2`, `--num_processes 2`)"
    if not list(user['work'].glob('output/teacher_config_SBI_*/weights/*_val.pth')): pytest.skip('needs the first test\'s runs')
    lines = [l.replace('--nproc_per_node 4', '--nproc_per_node 2').replace('--num_processes 4', '--num_processes 2 --cpu')
             for l in readme_block('Several GPUs')]
    for l in lines:
        r = sh(l, user)
        assert 'wrote' in r.stdout, r.stdout[-1000:]

def test_config_table_line(user):
    "The line README gives for the table of every config key prints it"
    cmd = re.search(r'\(`(python -c "from kdnb\.config import config_table; print\(config_table\(\)\)")`\)', (ROOT/'README.md').read_text()).group(1)
    r = subprocess.run(['bash', '-c', cmd], capture_output=True, text=True, cwd=user['work'], env=user['env'], timeout=120)
    assert r.returncode == 0, r.stderr
    for key in ('teacher_pretrained', 'pretrained_student_weights', 'progressive_epochs', 'data.root'): assert key in r.stdout
