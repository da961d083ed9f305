"Bad input to every kdnb command, as a user gives it: exit status 2, one line naming the file, key or value, nothing written."
import importlib, json, os, pickle, random, shutil, subprocess, sys
from pathlib import Path
from types import SimpleNamespace
import numpy as np, pytest, torch
from conftest import ROOT, settings, tiny_set

def console_scripts()->dict:
    "{command: 'module:function'} from settings.ini, so a command keeps working when its code moves to another module"
    return dict(l.strip().split('=', 1) for l in settings()['console_scripts'].splitlines() if l.strip())

SCRIPTS = console_scripts()

def entry_point(cmd):
    mod, fn = SCRIPTS[cmd].split(':')
    return getattr(importlib.import_module(mod), fn)

# ---- the valid things a case puts one bad thing next to ----

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    "A tiny synthetic set (6 videos, 2 frames, 64 px) and an untrained test_efficientnet checkpoint"
    return tiny_set(tmp_path_factory.mktemp('base'), data='data/synthetic')

SYN = json.loads((ROOT/'configs/synthetic.json').read_text())   # data.root is data/synthetic, as in the case folders
VID, REAL = '004', 'original_sequences/youtube/c23'              # a test-split video of the synthetic set

class Marker:
    "Unpickling this runs code: it creates the file `pwned` (no case may let that happen)"
    def __reduce__(self): return (Path.touch, (Path('pwned').absolute(),))

def write(c, name, data):
    "Write `data` (str, bytes, or JSON-able) to `c.d/name`; returns `name`"
    p = c.d/name; p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes): p.write_bytes(data)
    else: p.write_text(data if isinstance(data, str) else json.dumps(data))
    return name

def config(c, name='bad.json', **change): return write(c, name, {**SYN, **change})

def dataset(c, name='set'):
    "A copy of the synthetic set at `c.d/name`, to break one file of"
    shutil.copytree(c.base/'data/synthetic', c.d/name); return name

def broken_set(c, fname, data):
    "A copy of the synthetic set whose file `fname` holds `data` (None: is an empty folder)"
    dataset(c); (c.d/'set'/fname).unlink()
    if data is None: (c.d/'set'/fname).mkdir()
    else: write(c, f'set/{fname}', data)
    return 'set'

def frame_file(c, kind, name='set'): return c.d/name/REAL/kind/VID/('000.png' if kind == 'frames' else '000.npy')

def run_dir(c, name, stage, cfg=True):
    "A run folder whose resume.pth says which stage wrote it"
    (c.d/name).mkdir(); torch.save({'stage': stage, 'epoch': 1, 'arch': 'mobilevitv2_050', 'image_size': 64}, c.d/name/'resume.pth')
    if cfg: config(c, f'{name}/config.json')
    return name

def readonly(c, name='ro'):
    "A folder nobody may write to (also for root, with the immutable flag where chattr exists)"
    p = c.d/name; p.mkdir(); p.chmod(0o555); c.cleanups.append(lambda: p.chmod(0o755))
    if os.geteuid() == 0 and shutil.which('chattr') and subprocess.run(['chattr', '+i', p], capture_output=True).returncode == 0:
        c.cleanups.insert(0, lambda: subprocess.run(['chattr', '-i', p], capture_output=True))
    try: (p/'probe').touch()
    except OSError: return name
    (p/'probe').unlink(); pytest.skip('no read-only folder can be made here')

def one_class_set(c, kind='fake'):
    "A --source folder set with faces of one class only (landmarks beside each frame)"
    import cv2
    from kdnb.synthetic import synth_face
    for i, v in enumerate(['a', 'b']):
        face, lms = synth_face(i, 96); f = c.d/'faces'/kind/v/'0.png'; f.parent.mkdir(parents=True)
        cv2.imwrite(str(f), face[..., ::-1]); np.save(f.with_suffix('.npy'), lms[None])
    return 'faces'

def not_images(c):
    for f in ('real/v/0.txt', 'fake/v/0.txt'): write(c, f'docs/{f}', 'not a frame')
    return 'docs'

def bad_npy(c, kind, arr):
    "A copy of the synthetic set whose first landmark or box file of a test video holds `arr` (or `arr(the file's array)`)"
    f = frame_file(c, kind, dataset(c)); np.save(f, arr(np.load(f)) if callable(arr) else arr, allow_pickle=True); return 'set'

# ---- the cases: (id, command, argv from a case folder `c`, exit status, start of stderr's first line after 'CMD: error: ', more it holds) ----

Case = lambda id, cmd, argv, start, *contains, code=2: SimpleNamespace(id=id, cmd=cmd, argv=argv, start=start, contains=contains, code=code)
PERM = ('permission denied', 'operation not permitted')   # chmod for users, the immutable flag for root

CASES = [
    # kdnb_pretrain: the config file, --set, the run name, --resume, --out
    Case('pretrain-no-config', 'kdnb_pretrain', lambda c: [], 'give a CONFIG file (or --resume RUN_DIR)'),
    Case('pretrain-config-missing', 'kdnb_pretrain', lambda c: ['missing.json'], 'missing.json: config file not found'),
    Case('pretrain-config-bad-json', 'kdnb_pretrain', lambda c: [write(c, 'bad.json', '{"epoch": 2,, }')],
         'bad.json: not valid JSON (line 1: Expecting property name'),
    Case('pretrain-config-empty', 'kdnb_pretrain', lambda c: [write(c, 'empty.json', '')], 'empty.json: not valid JSON (line 1: Expecting value)'),
    Case('pretrain-config-not-object', 'kdnb_pretrain', lambda c: [write(c, 'list.json', [1, 2])], 'list.json: must hold a JSON object of config keys'),
    Case('pretrain-config-nested-duplicate', 'kdnb_pretrain', lambda c: [write(c, 'dup.json', '{"data": {"root": "a", "root": "b"}}')],
         "dup.json: key 'root' is given twice"),
    Case('pretrain-config-unknown-nested-key', 'kdnb_pretrain', lambda c: [config(c, data={**SYN['data'], 'rooot': 'x'})],
         "bad.json: unknown key 'data.rooot' (known: root, layout, compression, frames)"),
    Case('pretrain-config-data-not-object', 'kdnb_pretrain', lambda c: [config(c, data='data/synthetic')],
         "bad.json: key 'data' = 'data/synthetic': must be an object with keys root, layout, compression, frames"),
    Case('pretrain-config-odd-batch', 'kdnb_pretrain', lambda c: [config(c, batch_size=7)], "bad.json: key 'batch_size' = 7: must be an even integer >= 2"),
    Case('pretrain-config-small-image', 'kdnb_pretrain', lambda c: [config(c, image_size=16)], "bad.json: key 'image_size' = 16: must be an integer >= 32"),
    Case('pretrain-config-nan-lr', 'kdnb_pretrain', lambda c: [write(c, 'nan.json', '{"lr": NaN}')], "nan.json: key 'lr' = NaN: must be a number > 0"),
    Case('pretrain-config-nan-limit', 'kdnb_pretrain', lambda c: [config(c, nan_limit=1.5)],
         "bad.json: key 'nan_limit' = 1.5: must be an integer >= 1 (steps) or a fraction in (0, 1) of all steps"),
    Case('pretrain-config-alpha-shape', 'kdnb_pretrain', lambda c: [config(c, alpha_shape='square')],
         "bad.json: key 'alpha_shape' = \"square\": must be one of 'step', 'linear', 'cos'"),
    Case('pretrain-config-bool', 'kdnb_pretrain', lambda c: [config(c, mixed_precision='yes')], "bad.json: key 'mixed_precision' = \"yes\": must be true or false"),
    Case('pretrain-config-feature-pairs', 'kdnb_pretrain', lambda c: [config(c, feature_distillation={'enabled': True, 'pairs': [[1, 2, 3]]})],
         "bad.json: key 'feature_distillation.pairs' = [[1, 2, 3]]: must be a list of [student, teacher] pairs"),
    Case('pretrain-config-sam-micro-batch', 'kdnb_pretrain', lambda c: [config(c, optimizer='sam', micro_batch_size=4)],
         "bad.json: key 'micro_batch_size' = 4: must be null with optimizer 'sam'"),
    Case('pretrain-config-folder-layout', 'kdnb_pretrain', lambda c: [config(c, data={**SYN['data'], 'layout': 'folder'})],
         "bad.json: key 'data.layout' = \"folder\": training needs 'sbi'"),
    Case('pretrain-set-no-equals', 'kdnb_pretrain', lambda c: [config(c), '--set', 'epoch'], "--set 'epoch': expected KEY=VALUE"),
    Case('pretrain-set-unknown-nested', 'kdnb_pretrain', lambda c: [config(c), '--set', 'data.nope=1'],
         "--set data.nope=1: unknown key 'data.nope' (known: root, layout, compression, frames)"),
    Case('pretrain-run-name-slash', 'kdnb_pretrain', lambda c: [config(c), '-n', 'a/b'], "run name 'a/b': must be a plain name"),
    Case('pretrain-run-name-empty', 'kdnb_pretrain', lambda c: [config(c), '-n', ''], "run name '': must be a plain name"),
    Case('pretrain-resume-not-a-run', 'kdnb_pretrain', lambda c: ['--resume', write(c, 'notrun/notes.txt', 'x') and 'notrun'],
         'notrun/resume.pth: nothing to resume (no finished epoch)'),
    Case('pretrain-resume-distill-run', 'kdnb_pretrain', lambda c: ['--resume', run_dir(c, 'run', 'distill')],
         'run: a distill run; continue it with kdnb_distill --resume run'),
    Case('pretrain-resume-no-config', 'kdnb_pretrain', lambda c: ['--resume', run_dir(c, 'run', 'pretrain', cfg=False)],
         'run/config.json: config file not found'),
    Case('pretrain-out-is-a-file', 'kdnb_pretrain', lambda c: [config(c), '-n', 'x', '--out', write(c, 'afile', 'x')], 'afile/x_bad_', ': not a directory'),
    Case('pretrain-out-read-only', 'kdnb_pretrain', lambda c: [config(c), '-n', 'x', '--out', readonly(c)], 'ro/x_bad_', PERM),
    # kdnb_distill: the Stage 1 student, the teacher checkpoint, --resume
    Case('distill-no-config', 'kdnb_distill', lambda c: [], 'give a CONFIG file (or --resume RUN_DIR)'),
    Case('distill-resume-with-set', 'kdnb_distill', lambda c: ['--resume', run_dir(c, 'run', 'distill'), '--set', 'lr=0.1'],
         'run: --set lr: a resumed run keeps its config; only epoch, num_workers can change'),
    Case('distill-student-is-teacher-arch', 'kdnb_distill', lambda c: [config(c, pretrained_student_weights='teacher.pth')],
         "bad.json: key 'pretrained_student_weights' = \"teacher.pth\" resolves to teacher.pth, a test_efficientnet checkpoint",
         "student_arch is 'mobilevitv2_050'"),
    Case('distill-student-random-bytes', 'kdnb_distill', lambda c: [config(c, pretrained_student_weights=write(c, 'rand.pth', random.Random(0).randbytes(512)))],
         'rand.pth is not a checkpoint (not a file written by torch.save)'),
    Case('distill-teacher-with-code', 'kdnb_distill', lambda c: [config(c, pretrained_student_weights=None), '--cold-start', '--teacher-weights', write(c, 'evil.pth', _torch_bytes({'model': Marker()}))],
         'evil.pth: this file contains code objects and was not loaded'),
    Case('distill-teacher-glob-no-match', 'kdnb_distill', lambda c: [config(c, pretrained_student_weights=None), '--cold-start', '--teacher-weights', 'runs/*/weights/*.pth'],
         "no checkpoint matches the pattern 'runs/*/weights/*.pth'"),
    Case('distill-teacher-run-without-weights', 'kdnb_distill', lambda c: [config(c, pretrained_student_weights=None), '--cold-start', '--teacher-weights', (c.d/'run/weights').mkdir(parents=True) or 'run'],
         'no checkpoint (*.pth) in run/weights'),
    Case('distill-run-name-dotdot', 'kdnb_distill', lambda c: [config(c, pretrained_student_weights=None), '--cold-start', '--teacher-weights', 'teacher.pth', '-n', '../x'],
         "run name '../x': must be a plain name"),
    # kdnb_evaluate: checkpoints, split files, landmark/box/frame files, sources, benchmark lists, --out
    Case('evaluate-no-checkpoint', 'kdnb_evaluate', lambda c: ['--data', 'data/synthetic'], '--checkpoint is required'),
    Case('evaluate-ckpt-random-bytes', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'rand.pth', random.Random(0).randbytes(512)), '--out', 'ev'],
         'rand.pth is not a checkpoint (not a file written by torch.save)'),
    Case('evaluate-ckpt-empty-file', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'empty.pth', b''), '--out', 'ev'],
         'empty.pth is not a checkpoint (not a file written by torch.save)'),
    Case('evaluate-ckpt-plain-pickle-with-code', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'evil.pth', pickle.dumps(Marker())), '--out', 'ev'],
         'evil.pth is not a checkpoint (not a file written by torch.save)'),
    Case('evaluate-ckpt-torch-pickle-with-code', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'evil.pth', _torch_bytes({'model': Marker()})), '--out', 'ev'],
         'evil.pth: this file contains code objects and was not loaded'),
    Case('evaluate-ckpt-list', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'list.pth', _torch_bytes([1, 2, 3])), '--out', 'ev'],
         'list.pth is not a checkpoint (no dict of tensors)'),
    Case('evaluate-ckpt-no-tensors', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'meta.pth', _torch_bytes({'a': 1})), '--out', 'ev'],
         "meta.pth is not a kdnb or SBI checkpoint (keys: ['a'])"),
    Case('evaluate-ckpt-bare-state-dict', 'kdnb_evaluate', lambda c: ['--checkpoint', write(c, 'bare.pth', _torch_bytes({'w': torch.zeros(3)})), '--out', 'ev'],
         'bare.pth is a bare state dict: pass the arch it belongs to'),
    Case('evaluate-ckpt-empty-folder', 'kdnb_evaluate', lambda c: ['--checkpoint', (c.d/'dir.pth').mkdir() or 'dir.pth', '--out', 'ev'],
         'no checkpoint (*.pth) in dir.pth'),
    Case('evaluate-split-not-pairs', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, 'test.json', {'a': 1}), '--source', 'sbi', '--out', 'ev'],
         'split file set/test.json must be a list of video id pairs like [["000", "003"], ...], got {"a": 1}'),
    Case('evaluate-split-number-id', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, 'test.json', [[VID, 5]]), '--source', 'sbi', '--out', 'ev'],
         'split file set/test.json must be a list of video id pairs', f'got entry 0: ["{VID}", 5]'),
    Case('evaluate-split-bad-json', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, 'test.json', '[["004", "005"],'), '--source', 'faceswap', '--out', 'ev'],
         'split file set/test.json is not valid JSON:'),
    Case('evaluate-split-empty', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, 'test.json', []), '--source', 'sbi', '--out', 'ev'],
         'split file set/test.json names no videos'),
    Case('evaluate-split-is-a-folder', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, 'test.json', None), '--source', 'sbi', '--out', 'ev'],
         'set/test.json: is a directory'),
    Case('evaluate-unknown-split', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--source', 'sbi', '--split', 'tset', '--out', 'ev'],
         'split file data/synthetic/tset.json not found'),
    Case('evaluate-landmarks-bad-shape', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', bad_npy(c, 'landmarks', np.zeros((1, 5, 3))), '--source', 'sbi', '--out', 'ev'],
         f'set/{REAL}/frames/{VID}/000.png: landmarks set/{REAL}/landmarks/{VID}/000.npy must have shape (n_faces, 81|68, 2), got (1, 5, 3)'),
    Case('evaluate-landmarks-outside-frame', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', bad_npy(c, 'landmarks', lambda a: a + 5000), '--source', 'sbi', '--out', 'ev'],
         f'set/{REAL}/frames/{VID}/000.png: landmarks set/{REAL}/landmarks/{VID}/000.npy lie outside the 64x64 image'),
    Case('evaluate-landmarks-objects', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', bad_npy(c, 'landmarks', np.array([{'a': 1}])), '--source', 'sbi', '--out', 'ev'],
         f'cannot read landmarks set/{REAL}/landmarks/{VID}/000.npy:'),
    Case('evaluate-box-bad-shape', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', bad_npy(c, 'retina', np.zeros((1, 3))), '--source', 'sbi', '--out', 'ev'],
         f'set/{REAL}/frames/{VID}/000.png: box file set/{REAL}/retina/{VID}/000.npy must have shape (n, 7, 2) or (n, 2, 2), got (1, 3)'),
    Case('evaluate-box-corners-swapped', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', bad_npy(c, 'retina', lambda b: b[:, [1, 0, *range(2, b.shape[1])]]), '--source', 'sbi', '--out', 'ev'],
         f'set/{REAL}/frames/{VID}/000.png: box file set/{REAL}/retina/{VID}/000.npy: face 0 is not a box'),
    Case('evaluate-frame-not-an-image', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, f'{REAL}/frames/{VID}/000.png', 'not a png'), '--source', 'faceswap', '--out', 'ev'],
         f'cannot read image set/{REAL}/frames/{VID}/000.png: missing, corrupt or not an image'),
    Case('evaluate-folder-without-images', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', not_images(c), '--source', 'folder', '--out', 'ev'],
         'no images found under docs/real or docs/fake'),
    Case('evaluate-one-class', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', one_class_set(c), '--source', 'folder', '--out', 'ev'],
         'faces: only fake faces (2): AUC, AP and EER are undefined with one class', '--accuracy-only'),
    Case('evaluate-celebdf-without-list', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--source', 'celebdf', '--out', 'ev'],
         'data/synthetic/List_of_testing_videos.txt not found: the Celeb-DF v2 test list'),
    Case('evaluate-benchmarks-missing', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--benchmarks', 'bench.json', '--out', 'ev'],
         'bench.json: no such file or directory'),
    Case('evaluate-benchmarks-bad-json', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--benchmarks', write(c, 'bench.json', '{"celebdf": }'), '--out', 'ev'],
         'bench.json is not valid JSON:'),
    Case('evaluate-benchmarks-not-object', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--benchmarks', write(c, 'bench.json', ['celebdf']), '--out', 'ev'],
         'bench.json: expected an object such as {"celebdf": "/data/Celeb-DF-v2"}'),
    Case('evaluate-out-read-only', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--out', f'{readonly(c)}/ev'], 'ro/ev: ', PERM),
    Case('evaluate-unknown-detector', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--source', 'sbi', '--detector', 'yolo', '--out', 'ev'],
         "--detector must be auto, dlib, haar or none, not 'yolo'"),
    Case('evaluate-unknown-no-face', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--source', 'sbi', '--no-face', 'maybe', '--out', 'ev'],
         "--no-face must be half or skip, not 'maybe'"),
    Case('evaluate-batch-size-zero', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--bs', '0', '--out', 'ev'],
         '--bs must be an integer >= 1, not 0'),
    Case('evaluate-unknown-compression', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', 'data/synthetic', '--compression', 'c99', '--out', 'ev'],
         "--compression must be raw, c23 or c40, not 'c99'"),
    Case('evaluate-landmarks-text', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, f'{REAL}/landmarks/{VID}/000.npy', 'not an array'), '--source', 'sbi', '--out', 'ev'],
         f'cannot read landmarks set/{REAL}/landmarks/{VID}/000.npy: not a numeric .npy array'),
    Case('evaluate-box-text', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', broken_set(c, f'{REAL}/retina/{VID}/000.npy', 'not an array'), '--source', 'sbi', '--out', 'ev'],
         f'set/{REAL}/frames/{VID}/000.png: cannot read box file set/{REAL}/retina/{VID}/000.npy: not a numeric .npy array'),
    Case('evaluate-landmarks-nan', 'kdnb_evaluate', lambda c: ['--checkpoint', 'teacher.pth', '--data', bad_npy(c, 'landmarks', lambda a: a * np.nan), '--source', 'sbi', '--out', 'ev'],
         f'set/{REAL}/frames/{VID}/000.png: landmarks set/{REAL}/landmarks/{VID}/000.npy are not finite'),
    # kdnb_export
    Case('export-no-checkpoint', 'kdnb_export', lambda c: ['--format', 'onnx', '--out', 'ex'], '--checkpoint is required'),
    Case('export-unknown-format', 'kdnb_export', lambda c: ['--checkpoint', 'teacher.pth', '--format', 'onnx,coreml', '--out', 'ex'],
         "format: 'coreml' is not one of all, executorch, onnx, torchscript"),
    Case('export-unknown-quantize', 'kdnb_export', lambda c: ['--checkpoint', 'teacher.pth', '--quantize', 'int4', '--out', 'ex'], "quantize: 'int4' is not 'int8'"),
    Case('export-ckpt-glob-no-match', 'kdnb_export', lambda c: ['--checkpoint', 'runs/*/weights/*.pth', '--format', 'onnx', '--out', 'ex'],
         "no checkpoint matches the pattern 'runs/*/weights/*.pth'"),
    Case('export-out-read-only', 'kdnb_export', lambda c: ['--checkpoint', 'teacher.pth', '--format', 'onnx', '--out', f'{readonly(c)}/ex'], 'ro/ex: ', PERM),
    Case('export-arch-size-not-integer', 'kdnb_export', lambda c: ['--checkpoint', 'test_efficientnet@abc', '--format', 'onnx', '--out', 'ex'],
         "test_efficientnet@abc: the input size after @ must be an integer >= 32, not 'abc'"),
    Case('export-arch-size-too-small', 'kdnb_export', lambda c: ['--checkpoint', 'test_efficientnet@8', '--format', 'torchscript', '--out', 'ex'],
         "test_efficientnet@8: the input size after @ must be an integer >= 32, not '8'"),
    Case('export-int8-data-missing', 'kdnb_export', lambda c: ['--checkpoint', 'teacher.pth', '--format', 'onnx', '--quantize', 'int8', '--data', 'nowhere', '--out', 'x8'],
         'split file nowhere/val.json not found'),
    Case('export-int8-torchscript', 'kdnb_export', lambda c: ['--checkpoint', 'teacher.pth', '--format', 'torchscript', '--quantize', 'int8', '--data', 'data/synthetic', '--out', 'x10'],
         'TorchScript has no int8 export here'),
    Case('export-ckpt-text', 'kdnb_export', lambda c: ['--checkpoint', write(c, 't.pth', 'a\nb'), '--format', 'onnx', '--out', 'ex'],
         't.pth is not a checkpoint (not a file written by torch.save)'),
    # kdnb_compare
    Case('compare-no-teacher', 'kdnb_compare', lambda c: ['--student', 'teacher.pth'], '--teacher is required'),
    Case('compare-unknown-format', 'kdnb_compare', lambda c: ['--teacher', 'teacher.pth', '--student', 'teacher.pth', '--formats', 'onnx,int4'],
         "--formats: 'int4' is not one of all, onnx, onnx_int8, pte, pte_int8"),
    Case('compare-teacher-missing', 'kdnb_compare', lambda c: ['--teacher', 'missing.pth', '--student', 'teacher.pth', '--formats', 'onnx', '--out', 'cmp'],
         'checkpoint not found: missing.pth'),
    Case('compare-budget-negative', 'kdnb_compare', lambda c: ['--teacher', 'teacher.pth', '--student', 'teacher.pth', '--formats', 'onnx', '--budget', '-1', '--out', 'cmp'],
         "--budget -1: must be a number > 0 (a share of the teacher's latency in the same deployed format)"),
    Case('compare-no-runs', 'kdnb_compare', lambda c: ['--teacher', 'teacher.pth', '--student', 'teacher.pth', '--formats', 'onnx', '--n-runs', '0', '--out', 'cmp'],
         '--n-runs 0: must be an integer >= 1'),
    # kdnb_predict
    Case('predict-model-missing', 'kdnb_predict', lambda c: ['missing.pth', image(c)], 'checkpoint not found: missing.pth'),
    Case('predict-model-with-code', 'kdnb_predict', lambda c: [write(c, 'evil.pth', _torch_bytes({'model': Marker()})), image(c)],
         'evil.pth: this file contains code objects and was not loaded'),
    Case('predict-pte-without-json', 'kdnb_predict', lambda c: [write(c, 'm.pte', b'\0' * 16), image(c)],
         'm.json: missing; kdnb_export writes it beside m.pte (crop size, threshold)'),
    Case('predict-input-missing', 'kdnb_predict', lambda c: ['teacher.pth', 'missing.png'], 'missing.png: no such file or folder'),
    Case('predict-folder-without-media', 'kdnb_predict', lambda c: ['teacher.pth', not_images(c)], 'no image or video found in docs'),
    Case('predict-out-suffix', 'kdnb_predict', lambda c: ['teacher.pth', 'teacher.pth', '--out', 'scores.txt'], '--out scores.txt: expected a .csv or .json file'),
    Case('predict-unknown-detector', 'kdnb_predict', lambda c: ['teacher.pth', image(c), '--detector', 'yolo'],
         "detector must be 'dlib', 'haar' or 'auto', not 'yolo'"),
    Case('predict-threshold-above-one', 'kdnb_predict', lambda c: ['teacher.pth', image(c), '--threshold', '1.5'], '--threshold 1.5: must be in [0, 1] (a fake probability)'),
    Case('predict-out-read-only', 'kdnb_predict', lambda c: ['teacher.pth', image(c), '--out', f'{readonly(c)}/p.csv'], 'ro/p.csv: ', PERM),
    Case('predict-onnx-junk', 'kdnb_predict', lambda c: [exported(c, 'm.onnx'), image(c)], 'm.onnx: not a valid ONNX file'),
    Case('predict-pte-junk', 'kdnb_predict', lambda c: [exported(c, 'm.pte'), image(c)], 'm.pte: not a valid ExecuTorch file'),
    Case('predict-pt-junk', 'kdnb_predict', lambda c: [exported(c, 'm.pt'), image(c)], 'm.pt: not a valid TorchScript file'),
    # kdnb_synth
    Case('synth-odd-videos', 'kdnb_synth', lambda c: ['syn', '--n-videos', '5'], 'n_videos must be an even number >= 6, got 5'),
    Case('synth-no-frames', 'kdnb_synth', lambda c: ['syn', '--n-frames', '0'], 'n_frames must be >= 1, got 0'),
    Case('synth-small-size', 'kdnb_synth', lambda c: ['syn', '--size', '32'], 'size must be >= 64, got 32'),
    Case('synth-other-set-there', 'kdnb_synth', lambda c: ['data/synthetic', '--n-videos', '8'],
         "data/synthetic exists and holds another synthetic data set {'n_videos': 6, 'n_frames': 2, 'size': 64, 'seed': 0}", 'nothing was overwritten'),
    Case('synth-out-is-a-file', 'kdnb_synth', lambda c: [write(c, 'afile', 'x'), '--n-videos', '6', '--n-frames', '1', '--size', '64'], 'afile: not a directory'),
    Case('synth-out-read-only', 'kdnb_synth', lambda c: [f'{readonly(c)}/syn', '--n-videos', '6', '--n-frames', '1', '--size', '64'], 'ro/syn: ', PERM),
    # kdnb_crop (all refused before a video is read)
    Case('crop-src-missing', 'kdnb_crop', lambda c: ['videos', 'out'], 'videos: no such video or folder'),
    Case('crop-src-without-videos', 'kdnb_crop', lambda c: [not_images(c), 'out'], 'docs: no video files (.mp4, .avi, .mov, .mkv, .webm) found'),
    Case('crop-unknown-label', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'maybe'], "--label must be 'real' or 'fake', not 'maybe'"),
    Case('crop-unknown-compression', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--compression', 'c99'],
         "--compression must be raw, c23 or c40 (what kdnb reads), not 'c99'"),
    Case('crop-unknown-detector', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--detector', 'yolo'], "detector must be 'dlib', 'haar' or 'auto', not 'yolo'"),
    Case('crop-fractions-not-numbers', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--fractions', 'a,b,c'],
         "--fractions must be train,val,test shares that sum to 1 (train and val above 0), not 'a,b,c'"),
    Case('crop-splits-missing', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--splits', 'ff'],
         'ff/train.json: FF++ split file not found (--splits needs train.json, val.json and test.json)'),
    Case('crop-splits-not-pairs', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--splits', splits(c, {'a': 1})],
         'ff/train.json is not a list of [id, id] pairs'),
    Case('crop-splits-bad-json', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--splits', splits(c, 'nope')], 'ff/train.json is not valid JSON:'),
    Case('crop-video-unreadable', 'kdnb_crop', lambda c: [videos(c), 'out', '--label', 'real', '--detector', 'haar'],   # opens the video: FFmpeg's own complaint must not come first
         'no usable video under videos: 0 without a face, 1 unreadable'),
    # kdnb_demo (refused before any data is made)
    Case('demo-config-missing', 'kdnb_demo', lambda c: ['demo', '--fast', '--config', 'missing.json'], 'missing.json: demo config not found (pass --config)'),
    Case('demo-config-bad-json', 'kdnb_demo', lambda c: ['demo', '--fast', '--config', write(c, 'bad.json', '{"epoch": }')], 'bad.json: not valid JSON (line 1:'),
    Case('demo-out-not-empty', 'kdnb_demo', lambda c: [write(c, 'demo/notes.txt', 'x') and 'demo', '--fast'],
         'demo exists and is not empty: choose another folder; nothing was overwritten'),
    Case('demo-odd-videos', 'kdnb_demo', lambda c: ['demo', '--fast', '--n-videos', '3'], 'n_videos must be an even number >= 6, got 3'),
    Case('demo-teacher-arch-not-timm', 'kdnb_demo', lambda c: ['demo', '--fast', '--teacher-arch', 'nope'], "--teacher-arch: 'nope' is not a timm model"),
    Case('demo-epoch-zero', 'kdnb_demo', lambda c: ['demo', '--fast', '--epoch', '0'], '--epoch 0: must be an integer >= 1'),
    # kdnb_sweep (refused before any training)
    Case('sweep-no-config', 'kdnb_sweep', lambda c: [], 'give a CONFIG file (or --resume SWEEP_DIR)'),
    Case('sweep-config-unknown-key', 'kdnb_sweep', lambda c: [config(c, learning_rate=0.1), '--students', 'mobilevitv2_050'], "bad.json: unknown key 'learning_rate'"),
    Case('sweep-student-not-timm', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'nope_arch'], "student 'nope_arch': 'nope_arch' is not a timm model"),
    Case('sweep-student-small-size', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050@16'],
         "student 'mobilevitv2_050@16': input size '16' must be an integer >= 32"),
    Case('sweep-student-weights-missing', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050@64:missing.pth'],
         "student 'mobilevitv2_050@64:missing.pth': pretrained weights missing.pth: file not found"),
    Case('sweep-student-twice', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050,mobilevitv2_050'], 'student mobilevitv2_050@64 is listed twice'),
    Case('sweep-unknown-metric', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050', '--metric', 'auc'],
         "metric 'auc': expected video_auc or frame_auc"),
    Case('sweep-unknown-format', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050', '--formats', 'eager,tflite'],
         "format 'tflite': expected auto or a list of eager, executorch, onnx"),
    Case('sweep-resume-not-a-sweep', 'kdnb_sweep', lambda c: ['--resume', run_dir(c, 'run', 'distill')], 'run/sweep.json: not found, so run is not a sweep folder to resume'),
    Case('sweep-resume-latency-only', 'kdnb_sweep', lambda c: ['--resume', 'run', '--latency-only'], '--latency-only trains nothing, so there is nothing to --resume'),
    Case('sweep-name-slash', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050', '-n', 'a/b'], "run name 'a/b': must be a plain name"),
    Case('sweep-budget-negative', 'kdnb_sweep', lambda c: [sweep_cfg(c), '--students', 'mobilevitv2_050', '--latency-only', '--budget', '-1'],
         "--budget -1: must be a finite number > 0"),
    Case('sweep-config-duplicate-key', 'kdnb_sweep', lambda c: [write(c, 'dup.json', json.dumps({**SYN, 'teacher_weights': 'teacher.pth', 'students': ['mobilevitv2_050']})[:-1] + ', "epoch": 99}')],
         "dup.json: key 'epoch' is given twice"),
]

def _torch_bytes(obj):
    import io
    b = io.BytesIO(); torch.save(obj, b); return b.getvalue()


def image(c):
    "A picture to score (a synthetic frame)"
    shutil.copy(c.base/'data/synthetic'/REAL/'frames'/VID/'000.png', c.d/'x.png'); return 'x.png'

def exported(c, name):
    "A junk file with the extension of an exported model, and the valid sidecar JSON kdnb_export writes beside it"
    write(c, str(Path(name).with_suffix('.json')), {'arch': 'test_efficientnet', 'image_size': 64, 'threshold': None})
    return write(c, name, b'not a model file')

def videos(c):
    "A folder with one (unreadable) video: every crop case is refused before it is opened"
    return write(c, 'videos/a.mp4', b'\0garbage') and 'videos'

def splits(c, train):
    for s in ('val', 'test'): write(c, f'ff/{s}.json', [])
    write(c, 'ff/train.json', train); return 'ff'

def sweep_cfg(c): return config(c, 'sweep.json', teacher_weights='teacher.pth')

def files(d):
    "Every path under `d` (links not followed): what a refused command must leave as it was"
    return {p for p in Path(d).rglob('*')}

def run_case(case, d, base):
    "Set `case` up in the new folder `d`, run its command in-process there; returns (exit status, stderr, paths before, paths after)"
    c = SimpleNamespace(d=d, base=base, cleanups=[])
    (d/'data').symlink_to(base/'data', target_is_directory=True); (d/'teacher.pth').symlink_to(base/'teacher.pth')
    cwd = os.getcwd(); os.chdir(d)
    try:
        argv = [str(a) for a in case.argv(c)]
        before = files(d)
        try: entry_point(case.cmd)(argv); code = 0
        except SystemExit as e: code = e.code
        return code, argv, before, files(d)
    finally:
        os.chdir(cwd)
        for f in c.cleanups: f()

def first_line(err): return next((l for l in err.splitlines() if l.strip()), '')

def check(case, code, err, d):
    line = first_line(err)
    assert 'Traceback' not in err, err
    assert code == case.code, f'exit status {code}, expected {case.code}; stderr:\n{err}'
    assert line.startswith(f'{case.cmd}: error: {case.start}'), line
    for want in case.contains: assert any(w in line for w in (want if isinstance(want, tuple) else (want,))), (want, line)

@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_bad_input(case, base, tmp_path, capfd):
    code, argv, before, after = run_case(case, tmp_path, base)
    err = capfd.readouterr().err
    check(case, code, err, tmp_path)
    assert after == before, f'{case.cmd} {argv} wrote {sorted(map(str, after - before))}'   # nothing written, no code run (pwned)

SUBPROCESS = ['pretrain-config-nested-duplicate', 'pretrain-resume-distill-run', 'evaluate-ckpt-torch-pickle-with-code', 'synth-odd-videos']

@pytest.mark.parametrize('id', SUBPROCESS)
def test_console_script_as_in_process(id, base, tmp_path, capfd):
    "The console script on PATH prints the same line and exits with the same status as the in-process call"
    case = next(c for c in CASES if c.id == id)
    code, argv, *_ = run_case(case, tmp_path, base)
    err = capfd.readouterr().err
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}'}
    r = subprocess.run([case.cmd, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    check(case, r.returncode, r.stderr, tmp_path)
    assert (r.returncode, first_line(r.stderr)) == (code, first_line(err))
    assert not (tmp_path/'pwned').exists()

N_CASES = len(CASES)

def test_many_cases(): assert N_CASES >= 40 and len({c.id for c in CASES}) == N_CASES
