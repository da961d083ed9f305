"Stage 1 then Stage 2 run from the command line on a tiny synthetic set, as a user runs them."
import json, subprocess
from pathlib import Path
import pandas as pd
from kdnb.distill import alpha_at

def sh(*args, cwd):
    r = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f'{args} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r.stdout + r.stderr

def only(pattern, cwd):
    found = sorted(Path(cwd).glob(pattern))
    assert len(found) == 1, f'{pattern}: {found}'
    return found[0]

def test_stage1_then_stage2_cli(tmp_path, root, monkeypatch):
    (tmp_path/'configs').mkdir()
    cfg = {**json.loads((root/'configs'/'synthetic.json').read_text()), 'epoch': 3, 'progressive_epochs': 3}  # short run
    (tmp_path/'configs'/'synthetic.json').write_text(json.dumps(cfg))
    sh('kdnb_synth', cfg['data']['root'], '--n_videos', '6', '--n_frames', '2', '--size', '64', cwd=tmp_path)
    sh('kdnb_pretrain', 'configs/synthetic.json', '--teacher', '-n', 'teacher', cwd=tmp_path)
    sh('kdnb_pretrain', 'configs/synthetic.json', '-n', 'pretrain_mobilevit', cwd=tmp_path)
    teacher_files = {f: f.read_bytes() for f in tmp_path.glob('output/teacher_*/weights/*.pth')}
    assert teacher_files
    out = sh('kdnb_distill', 'configs/synthetic.json', '-n', 'distill_mobilevit', cwd=tmp_path)
    run = only('output/distill_mobilevit_synthetic_*', tmp_path)
    assert str(run.name) in out
    hist = pd.read_csv(run/'logs'/'history.csv')
    want = [alpha_at(e, cfg['alpha_start'], cfg['alpha_end'], cfg['progressive_epochs'], cfg.get('alpha_shape', 'step'))
            for e in range(1, cfg['epoch']+1)]
    assert list(hist.epoch) == list(range(1, cfg['epoch']+1))
    assert list(hist.train_alpha.round(6)) == [round(a, 6) for a in want]
    assert (hist.train_kd > 0).all() and hist.train_ce.notna().all()   # the student does not copy the teacher exactly
    assert {f: f.read_bytes() for f in tmp_path.glob('output/teacher_*/weights/*.pth')} == teacher_files
    used = json.loads((run/'config.json').read_text())
    assert (tmp_path/used['teacher_weights']).resolve() in {f.resolve() for f in teacher_files}
    assert 'pretrain_mobilevit_synthetic_' in used['pretrained_student_weights']
    assert list((run/'weights').glob('*_val.pth')) and (run/'logs'/'losses.logs').is_file()
    # refused with one line, before any run folder is made: a student glob that matches the teacher's run, a NaN teacher
    (tmp_path/'configs'/'mixed.json').write_text(json.dumps({**cfg, 'pretrained_student_weights': cfg['teacher_weights']}))
    import torch
    ck = torch.load(sorted(tmp_path.glob('output/teacher_*/weights/*.pth'))[0], weights_only=True)
    ck['model'] = {k: torch.full_like(v, float('nan')) if v.is_floating_point() else v for k, v in ck['model'].items()}
    torch.save(ck, tmp_path/'nan_teacher.pth')
    n_runs = len(list((tmp_path/'output').iterdir()))
    for args, want in [(['configs/mixed.json'], ["kdnb_distill: error: configs/mixed.json: key 'pretrained_student_weights'",
                                                 "a test_efficientnet checkpoint, but student_arch is 'mobilevitv2_050'"]),
                       (['configs/synthetic.json', '--teacher-weights', 'nan_teacher.pth'],
                        ['kdnb_distill: error: nan_teacher.pth: the teacher outputs non-finite logits on the first validation batch'])]:
        r = subprocess.run(['kdnb_distill', *args, '-n', 'bad'], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        errs = [l for l in r.stderr.splitlines() if 'error' in l]
        assert r.returncode == 2 and len(errs) == 1 and errs[0].startswith(want[0]) and all(w in errs[0] for w in want), r.stderr[-2000:]
    assert len(list((tmp_path/'output').iterdir())) == n_runs
    # the teacher module itself: same tensors, still in eval mode and frozen after a Stage 2 run (in process)
    import kdnb.distill as kd, torch
    seen = {}
    def capture(cfg, teacher_weights=None):
        teacher, fname = orig(cfg, teacher_weights)
        seen.update(model=teacher, before={k: v.clone() for k, v in teacher.state_dict().items()})
        return teacher, fname
    orig, kd._teacher = kd._teacher, capture
    monkeypatch.chdir(tmp_path)   # the config's paths are relative, as in the user flow
    try: kd.distill('configs/synthetic.json', 'again')
    finally: kd._teacher = orig
    t = seen['model']
    assert not t.training and not any(p.requires_grad for p in t.parameters())
    assert all(torch.equal(v, seen['before'][k]) for k, v in t.state_dict().items())

def test_refuses_without_stage1(tmp_path, root):
    cfg = json.loads((root/'configs'/'synthetic.json').read_text())
    cfg['pretrained_student_weights'] = None
    (tmp_path/'c.json').write_text(json.dumps(cfg))
    r = subprocess.run(['kdnb_distill', 'c.json', '-n', 'x'], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    errs = [l for l in r.stderr.splitlines() if 'error' in l]
    assert len(errs) == 1 and errs[0].startswith('kdnb_distill: error: c.json: ')
    assert all(w in errs[0] for w in ('pretrained_student_weights', 'kdnb_pretrain', '--cold-start'))
