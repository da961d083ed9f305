"""Cost of a distillation step against its parts.

Prints time(distillation step) / (time(teacher forward) + time(student training step)), each part timed alone
at the same sizes (target <= 1.05), and the same ratio with feature distillation on. Median over steps, fastest of several interleaved rounds.
Run from the repository root: `python bench/distill_overhead.py` (CPU-sized defaults) or, on a GPU,
`python bench/distill_overhead.py --teacher tf_efficientnet_b4 --teacher-size 380 --student mobilevitv2_200 --student-size 256 --bs 32`.
"""
import argparse, platform, statistics, time
import torch, torch.nn.functional as F
from fastai.learner import Learner
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from kdnb.models import create_model
from kdnb.distill import DistillationCallback, FeatureDistillationCallback, AlphaScheduleCallback

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

class StepTimer(Callback):
    "Wall time of each training batch (forward, loss, backward, step)."
    order, run_valid = -20, False
    def before_fit(self): self.times = []
    def before_batch(self): sync(self.dls.device); self.t0 = time.perf_counter()
    def after_batch(self): sync(self.dls.device); self.times.append(time.perf_counter() - self.t0)

def batches(n, bs, size, device):
    g = torch.Generator().manual_seed(0)
    items = [(torch.rand(3, size, size, generator=g), torch.tensor(i % 2)) for i in range(n*bs)]
    dl = DataLoader(items, bs=bs, shuffle=False, drop_last=True, device=device)
    return DataLoaders(dl, DataLoader(items[:bs], bs=bs, device=device), device=device)

def step_time(student, dls, cbs, warmup, amp):
    timer = StepTimer()
    learn = Learner(dls, student, loss_func=F.cross_entropy, cbs=[timer, AlphaScheduleCallback(), *cbs])
    if amp: learn = learn.to_bf16()
    with learn.no_logging(), learn.no_bar(): learn.fit(1, lr=1e-5)
    return statistics.median(timer.times[warmup:])

def teacher_time(teacher, dls, warmup, amp):
    times = []
    teacher.eval().requires_grad_(False)
    for xb, _ in dls.train:
        sync(xb.device); t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=amp): teacher(xb)
        sync(xb.device); times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--teacher', default='tf_efficientnet_b4'); p.add_argument('--teacher-size', type=int, default=64)
    p.add_argument('--student', default='mobilevitv2_050'); p.add_argument('--student-size', type=int, default=64)
    p.add_argument('--bs', type=int, default=4); p.add_argument('--steps', type=int, default=5); p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--rounds', type=int, default=3); p.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch default)')
    p.add_argument('--pairs', default='2,2;3,3', help='feature pairs "s,t;s,t" (indices into feature_info)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    amp = device.type == 'cuda'
    hw = torch.cuda.get_device_name() if amp else f'{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads'
    print(f'hardware: {hw}; torch {torch.__version__}; bf16 autocast: {amp}')
    print(f'teacher {a.teacher}@{a.teacher_size}, student {a.student}@{a.student_size}, batch {a.bs}, median of {a.steps} steps after {a.warmup} warm-up, best of {a.rounds} interleaved rounds')
    torch.manual_seed(0)
    teacher = create_model(a.teacher, image_size=a.teacher_size).to(device)
    new_student = lambda: create_model(a.student, image_size=a.student_size).to(device)
    dls = batches(a.steps + a.warmup, a.bs, max(a.teacher_size, a.student_size), device)
    pairs = [tuple(int(i) for i in s.split(',')) for s in a.pairs.split(';')]
    kd_cbs = lambda: [DistillationCallback(teacher)]
    feat_cbs = lambda: [DistillationCallback(teacher), FeatureDistillationCallback(teacher, pairs)]
    runs = []
    for _ in range(a.rounds): # interleaved rounds; the fastest of each kind is the least disturbed by other load
        runs.append((teacher_time(teacher, dls, a.warmup, amp), step_time(new_student(), dls, [], a.warmup, amp),
                     step_time(new_student(), dls, kd_cbs(), a.warmup, amp), step_time(new_student(), dls, feat_cbs(), a.warmup, amp)))
    t_teacher, t_student, t_kd, t_feat = map(min, zip(*runs))
    base = t_teacher + t_student
    print(f'teacher forward {t_teacher*1e3:.1f} ms | student step {t_student*1e3:.1f} ms | distillation step {t_kd*1e3:.1f} ms '
          f'| with feature distillation {t_feat*1e3:.1f} ms')
    print(f'distillation overhead ratio: {t_kd/base:.3f} (target <= 1.05)')
    print(f'feature distillation ratio: {t_feat/base:.3f}')

if __name__ == '__main__': main()
