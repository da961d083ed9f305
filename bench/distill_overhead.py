"""Cost of a distillation step against its parts.

Prints, for each batch size, time(distillation step) / (time(teacher forward) + time(student training step)) with each part
timed alone at the same sizes (target <= 1.05), in wall time and in the process's CPU time (user + system, which other jobs
on a shared machine disturb less), and the phases of both steps. Each round times every part once, interleaved; the ratio
is taken within each round (median over its steps) and the median of the rounds' ratios is printed with their spread.
Run from the repository root: `python bench/distill_overhead.py` (full size: tf_efficientnet_b4@380 teacher,
mobilevitv2_200@256 student, batches 2, 4 and 8; minutes on a CPU), `--teacher-size 64 --student mobilevitv2_050
--student-size 64` for a quick run, `--feature` to add feature distillation.
"""
import argparse, os, platform, resource, statistics, time
import torch, torch.nn.functional as F
from fastai.learner import Learner
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from kdnb.models import create_model
from kdnb.distill import DistillationCallback, FeatureDistillationCallback, AlphaScheduleCallback
from kdnb.train import keep_freed_memory

PHASES = ('teacher forward', 'student forward', 'loss', 'backward', 'optimizer step')

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def clock(device):
    "(wall, CPU, system) seconds so far."
    sync(device); r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime, r.ru_stime

class StepTimer(Callback):
    "Wall/CPU/system time of each training batch and of its phases (the teacher runs in `DistillationCallback.before_batch`)."
    order, run_valid = -20, False
    def before_fit(self): self.steps = []
    def _mark(self, phase):
        t = clock(self.dls.device); self.cur[phase] = [b - a for a, b in zip(self.t, t)]; self.t = t
    def before_batch(self): self.t0 = self.t = clock(self.dls.device); self.cur = {}
    def after_pred(self): self._mark('student forward')
    def after_loss(self): self._mark('loss')
    def after_backward(self): self._mark('backward')
    def after_step(self): self._mark('optimizer step')
    def after_batch(self):
        self.cur['total'] = [b - a for a, b in zip(self.t0, clock(self.dls.device))]; self.steps.append(self.cur)

class TeacherMark(Callback):
    "Ends the teacher phase: runs right after `DistillationCallback.before_batch`."
    order, run_valid = DistillationCallback.order + 0.5, False
    def before_batch(self): self.step_timer._mark('teacher forward')

def batches(n, bs, size, device):
    g = torch.Generator().manual_seed(0)
    items = [(torch.rand(3, size, size, generator=g), torch.tensor(i % 2)) for i in range(n*bs)]
    dl = DataLoader(items, bs=bs, shuffle=False, drop_last=True, device=device)
    return DataLoaders(dl, DataLoader(items[:bs], bs=bs, device=device), device=device)

def step_times(student, dls, cbs, warmup, amp):
    "Per-step {phase: (wall, cpu, sys)} of one epoch of training `student` with `cbs`."
    timer = StepTimer()
    learn = Learner(dls, student, loss_func=F.cross_entropy, cbs=[timer, TeacherMark(), AlphaScheduleCallback(), *cbs])
    if amp: learn = learn.to_bf16()
    with learn.no_logging(), learn.no_bar(): learn.fit(1, lr=1e-5)
    return timer.steps[warmup:]

def teacher_times(teacher, dls, warmup, amp):
    "Per-batch {phase: (wall, cpu, sys)} of the teacher alone, as `DistillationCallback` runs it."
    steps = []
    teacher.eval().requires_grad_(False)
    for xb, _ in dls.train:
        t0 = clock(xb.device)
        with torch.no_grad(), torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=amp): teacher(xb)
        d = [b - a for a, b in zip(t0, clock(xb.device))]
        steps.append({'teacher forward': d, 'total': d})
    return steps[warmup:]

def medians(steps):
    "{phase: [wall, cpu, sys]}: the median over the steps of one round."
    return {k: [statistics.median(s[k][i] for s in steps) for i in range(3)] for k in steps[0]}

def summary(rounds):
    "{phase: [wall, cpu, sys]}: the median over steps in each round, then the median over the rounds."
    meds = [medians(steps) for steps in rounds]
    return {k: [statistics.median(m[k][i] for m in meds) for i in range(3)] for k in meds[0]}

def round_ratios(runs, bs, kind, i):
    "kind / (teacher forward + student step) in each round, from the same round's medians (i: 0 wall, 1 CPU)."
    t, s, d = ([medians(r)['total'][i] for r in runs[bs, k]] for k in ('teacher forward', 'student step', kind))
    return [dd / (tt + ss) for tt, ss, dd in zip(t, s, d)]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--teacher', default='tf_efficientnet_b4'); p.add_argument('--teacher-size', type=int, default=380)
    p.add_argument('--student', default='mobilevitv2_200'); p.add_argument('--student-size', type=int, default=256)
    p.add_argument('--bs', default='2,4,8', help='batch sizes, comma separated')
    p.add_argument('--steps', type=int, default=2); p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--rounds', type=int, default=12); p.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch default)')
    p.add_argument('--feature', action='store_true', help='also time feature distillation')
    p.add_argument('--glibc-default', action='store_true', help="on a CPU, leave glibc's allocator as it is (training calls keep_freed_memory)")
    p.add_argument('--pairs', default='2,2;3,3', help='feature pairs "s,t;s,t" (indices into feature_info)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    amp = device.type == 'cuda'
    kept = device.type == 'cpu' and not a.glibc_default and keep_freed_memory()   # as build_learner does for a CPU run
    hw = torch.cuda.get_device_name() if amp else f'{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads'
    print(f'hardware: {hw}; torch {torch.__version__}; bf16 autocast: {amp}; freed memory kept (keep_freed_memory): {kept}; '
          f'load average at start: {os.getloadavg()[0]:.1f}')
    print(f'teacher {a.teacher}@{a.teacher_size}, student {a.student}@{a.student_size}; median of {a.steps} steps after {a.warmup} warm-up, '
          f'{a.rounds} interleaved rounds (ratios: median of the per-round ratios)')
    torch.manual_seed(0)
    teacher = create_model(a.teacher, image_size=a.teacher_size).to(device)
    new_student = lambda: create_model(a.student, image_size=a.student_size).to(device)
    pairs = [tuple(int(i) for i in s.split(',')) for s in a.pairs.split(';')]
    kinds = {'student step': lambda dls: step_times(new_student(), dls, [], a.warmup, amp),
             'teacher forward': lambda dls: teacher_times(teacher, dls, a.warmup, amp),
             'distillation step': lambda dls: step_times(new_student(), dls, [DistillationCallback(teacher)], a.warmup, amp)}
    if a.feature: kinds['with feature distillation'] = lambda dls: step_times(
        new_student(), dls, [DistillationCallback(teacher), FeatureDistillationCallback(teacher, pairs)], a.warmup, amp)
    bss = [int(b) for b in a.bs.split(',')]
    data = {bs: batches(a.steps + a.warmup, bs, max(a.teacher_size, a.student_size), device) for bs in bss}
    runs = {(bs, k): [] for bs in bss for k in kinds}
    for _ in range(a.rounds): # interleaved: each round times every kind at every batch size, so load changes hit all of them
        for bs in bss:
            for k, f in kinds.items(): runs[bs, k].append(f(data[bs]))
    print(f'load average at end: {os.getloadavg()[0]:.1f}')
    for bs in bss:
        s = {k: summary(runs[bs, k]) for k in kinds}
        print(f'\nbatch {bs}: ms per step, wall / CPU (system)')
        print(f'| phase | ' + ' | '.join(kinds) + ' |'); print('|---' * (len(kinds) + 1) + '|')
        for ph in (*PHASES, 'total'):
            cells = [f'{s[k][ph][0]*1e3:.0f} / {s[k][ph][1]*1e3:.0f} ({s[k][ph][2]*1e3:.0f})' if ph in s[k] else '' for k in kinds]
            print(f'| {ph} | ' + ' | '.join(cells) + ' |')
        for k in kinds:
            if k.startswith(('distillation', 'with')):
                w, c = (round_ratios(runs, bs, k, i) for i in range(2))
                fmt = lambda r: f"{statistics.median(r):.3f} (rounds {', '.join(f'{x:.2f}' for x in r)})"
                print(f'batch {bs}: {k} / (teacher forward + student step) = {fmt(w)} wall, {fmt(c)} CPU (target <= 1.05)')

if __name__ == '__main__': main()
