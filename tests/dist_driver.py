"""Run by `tests/test_distributed.py`, as `torchrun --nproc_per_node N tests/dist_driver.py KIND OUT ROOT` or with plain python
(one process). It trains with kdnb's own `build_learner`/`fit` (what `kdnb_pretrain`/`kdnb_distill` call) and writes what
each process saw to OUT/KIND_<world>.json from rank 0."""
import hashlib, json, sys
from pathlib import Path
import torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from kdnb.config import load_config
from kdnb.data import SBIDataLoader, SBIDataset, sbi_items
from kdnb.distill import distill_cbs
from kdnb.distributed import is_main, rank, setup_distributed, world
from kdnb.models import create_model
from kdnb.train import build_learner, fit

kind, out, root = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
dev = setup_distributed() or torch.device('cpu')
torch.use_deterministic_algorithms(True)
cfg = load_config(image_size=64, student_image_size=64, batch_size=8, epoch=2, lr=1e-3, num_workers=0, top_k=1, mixed_precision=False,
                  teacher_arch='test_efficientnet', student_arch='test_efficientnet_ln', data={'root': root, 'frames': 2},
                  optimizer='sam' if kind == 'sam' else 'adamw', micro_batch_size=4 if kind == 'micro' else None)

class _Interleaved(SBIDataLoader):
    "One process, the same pairs per step as N processes: fastai's `DistributedDL` gives rank r the r-th contiguous slice of an epoch"
    def get_idxs(self):
        n, b = self.n, self.bs // self.ranks
        return [i for j in range(0, n // self.ranks, b) for r in range(self.ranks) for i in range(r*n//self.ranks + j, r*n//self.ranks + j + b)]

def dls(ranks=2):
    "Fixed SBI pairs (validation-style fakes, seeded per index), in the order N processes see them"
    items = {s: sbi_items(root, s, n_frames=2) for s in ('train', 'val')}
    tr, va = (SBIDataset(items[s], 64, train=False, seed=0) for s in ('train', 'val'))
    per = (cfg.micro_batch_size or cfg.batch_size) // 2 // world()
    tdl = _Interleaved(tr, bs=per, shuffle=False, drop_last=True) if world() == 1 else SBIDataLoader(tr, bs=per, shuffle=False, drop_last=True)
    tdl.ranks = ranks
    return DataLoaders(tdl, SBIDataLoader(va, bs=per, shuffle=False), device=dev)

class Record(Callback):
    "Per step: the loss over all processes; whether the model is DDP, and where the teacher is"
    order = 90
    def before_fit(self): self.losses, self.seen, self.sync = [], set(), []
    def after_backward(self): self.sync.append(getattr(self.model, 'require_backward_grad_sync', None))
    def after_loss(self):
        if not self.training: return
        t = self.loss.detach().float().clone()
        if world() > 1: dist.all_reduce(t); t /= world()
        self.losses.append(float(t))
        d = getattr(self.learn, 'distillation', None)
        if d is not None: self.seen.add((type(self.model).__name__, type(d.teacher).__name__, str(next(d.teacher.parameters()).device)))

class NaNOnRank1(Callback):
    "A non-finite loss at the third step, in process 1 only"
    order = 5
    def after_loss(self):
        if self.training and self.train_iter == 2 and rank() == 1: self.learn.loss_grad = self.loss_grad * float('nan')

def digest(model):
    return hashlib.sha256(b''.join(v.detach().cpu().numpy().tobytes() for v in model.state_dict().values())).hexdigest()

torch.manual_seed(0)
student = create_model('test_efficientnet_ln', image_size=64)
cbs = [Record()] + ([NaNOnRank1()] if kind == 'nan' else [])
if kind == 'distill':
    torch.manual_seed(1)
    cbs += distill_cbs(cfg, create_model('test_efficientnet', image_size=64))
run = out/f'{kind}_{world()}_run'
if is_main(): (run/'weights').mkdir(parents=True, exist_ok=True); (run/'logs').mkdir(exist_ok=True)
if world() > 1: dist.barrier()
learn = build_learner(cfg, student, dls(), run, cbs=cbs, bars=False)
fit(learn)
rec, guard = learn.record, learn.nan_guard
mine = dict(rank=rank(), digest=digest(learn.model), losses=rec.losses, sync=rec.sync, values=[list(map(float, v)) for v in learn.recorder.values], n_bad=guard.n_bad, n_good=guard.n_good, seen=sorted(rec.seen),
            model=type(learn.model).__name__, device=str(dev), opt_steps=int(max([s['step'] for s in learn.opt.state.values() if 'step' in s] or [-1])))
allr = [None]*world()
if world() > 1: dist.all_gather_object(allr, mine)
else: allr = [mine]
if is_main(): (out/f'{kind}_{world()}.json').write_text(json.dumps(allr))
