"""Every documented way of naming a checkpoint — a file, a glob of files, a run folder, a glob of run folders, `RUN best` —
picks the same checkpoint through `kdnb_distill` (teacher and Stage 1 student) and `kdnb_evaluate`, run as a user runs them.
A temporary file an interrupted write left (with the highest AUC in its name) is never picked."""
import json, re, subprocess, sys
from pathlib import Path
import pytest, torch
from conftest import BIN

TEACHER_RUNS = {'teacher_a': {'1_0.6000_val.pth': .6}, 'teacher_b': {'1_0.7000_val.pth': .7, '2_0.8000_val.pth': .8}}
FORMS = [  # (spec, the checkpoint it names)
    ('output/teacher_a/weights/1_0.6000_val.pth', 'teacher_a/weights/1_0.6000_val.pth'),           # a file
    ('output/teacher_*/weights/*.pth', 'teacher_b/weights/2_0.8000_val.pth'),                      # a glob of files
    ('output/teacher_b', 'teacher_b/weights/2_0.8000_val.pth'),                                    # a run folder
    ('output/teacher_*', 'teacher_b/weights/2_0.8000_val.pth'),                                    # a glob of run folders
    ('output/teacher_a best', 'teacher_a/weights/1_0.6000_val.pth'),                               # a run folder, best
]

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "Two teacher run folders and one Stage 1 run folder of untrained checkpoints, a tiny synthetic set, a config naming them by glob"
    from kdnb.synthetic import make_synthetic_dataset
    from kdnb.models import create_model, save_checkpoint
    d = tmp_path_factory.mktemp('forms')
    make_synthetic_dataset(d/'data', n_videos=6, n_frames=2, size=64)
    for i, (run, files) in enumerate(TEACHER_RUNS.items()):
        for j, (name, auc) in enumerate(files.items()):
            torch.manual_seed(10*i + j)
            save_checkpoint(d/'output'/run/'weights'/name, create_model('test_efficientnet', image_size=64), epoch=j+1, val_auc=auc)
    torch.manual_seed(5)   # an interrupted write of a better checkpoint: never a candidate
    save_checkpoint(d/'output/teacher_b/weights/.3_0.9900_val.pth.x1y2.tmp.pth', create_model('test_efficientnet', image_size=64), epoch=3, val_auc=.99)
    for auc in (.55, .65):
        save_checkpoint(d/'output/pretrain_s/weights'/f'{int(auc*100)}_{auc:.4f}_val.pth', create_model('test_efficientnet', image_size=64), val_auc=auc)
    cfg = dict(image_size=64, batch_size=8, epoch=1, lr=1e-3, data=dict(root='data', frames=None), teacher_weights='unused.pth',
               pretrained_student_weights='output/pretrain_*', student_arch='test_efficientnet', student_image_size=64,
               num_workers=0, mixed_precision=False, top_k=1, progressive_epochs=1)
    (d/'tiny.json').write_text(json.dumps(cfg))
    return d

def sh(*args, cwd):
    r = subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert r.returncode == 0, f'{args} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r.stdout

@pytest.mark.parametrize('spec,want', FORMS, ids=['file', 'glob-of-files', 'run-folder', 'glob-of-run-folders', 'run-best'])
def test_distill_teacher_forms(runs, spec, want):
    "--teacher-weights and --set teacher_weights= take every form; the student comes from the glob of Stage 1 run folders"
    name = re.sub(r'\W', '', spec)[-12:]
    for how in (['--teacher-weights', spec], ['--set', f'teacher_weights={spec}']):
        out = sh('kdnb_distill', 'tiny.json', '-n', f'd{name}', *how, cwd=runs)
        m = re.search(r'distilling test_efficientnet@64 \((.*?)\) into test_efficientnet@64 \((.*?)\)', out)
        assert m, out
        assert (runs/m[1]).resolve() == (runs/'output'/want).resolve(), (spec, m[1])
        assert (runs/m[2]).resolve() == (runs/'output/pretrain_s/weights/65_0.6500_val.pth').resolve()
    for run in runs.glob(f'output/d{name}_tiny_*'):
        used = json.loads((run/'config.json').read_text())
        assert (runs/used['teacher_weights']).resolve() == (runs/'output'/want).resolve()

@pytest.mark.parametrize('spec,want', FORMS, ids=['file', 'glob-of-files', 'run-folder', 'glob-of-run-folders', 'run-best'])
def test_evaluate_forms(runs, spec, want, tmp_path):
    sh('kdnb_evaluate', '--checkpoint', spec, '--data', 'data', '--source', 'sbi', '--out', tmp_path/'ev', '--bs', 8, cwd=runs)
    m = json.loads((tmp_path/'ev'/'metrics.json').read_text())
    assert (runs/m['checkpoint']).resolve() == (runs/'output'/want).resolve(), (spec, m['checkpoint'])
    assert 0 <= m['frame_auc'] <= 1
