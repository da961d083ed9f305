"""SBI pairs per second per process, with a per-stage breakdown, on synthetic faces.

Inputs mimic the reference measurement: 448x296 frames with ~150 px faces (81 landmarks, detector box),
read from PNG/NPY files like a training run. One process, OpenCV single-threaded.
Run from the repository root: `python bench/sbi_throughput.py [--runs 5] [--pairs 40]`.
"""
import argparse, os, platform, statistics, tempfile, time
os.environ.setdefault('OMP_NUM_THREADS', '1')
from functools import partial
from pathlib import Path
import numpy as np, cv2
import kdnb.data as D, kdnb.synthetic as S

def frame(seed, i):
    "A 448x296 frame with a ~150 px face, and its landmarks (SBI raw order)."
    img, lms = S.synth_face(seed, 370, frame=i)
    img = cv2.copyMakeBorder(img[37:333], 0, 0, 39, 39, cv2.BORDER_REFLECT)
    return img, lms + np.array([39, -37], np.float32)

def write_set(root, n_ids=4, n_frames=4):
    "Write frames, landmarks and boxes as the SBI layout stores them; return FaceItems."
    items = []
    for v in range(n_ids):
        for i in range(n_frames):
            img, lms = frame(v, i)
            S._save(root, 'o', f'{v:03d}', i, img, lms)
            fn = root/'o/frames'/f'{v:03d}'/f'{i:03d}.png'
            items.append(D.FaceItem(fn, root/'o/landmarks'/f'{v:03d}'/f'{i:03d}.npy', root/'o/retina'/f'{v:03d}'/f'{i:03d}.npy'))
    return items

def run(items, size, n, seed):
    "Mean wall and CPU ms per pair over `n` pairs, and mean CPU ms per stage."
    rng, times = np.random.default_rng(seed), {}
    w0, c0 = time.perf_counter(), time.process_time()
    for k in range(n):
        t = time.process_time()
        img, lms, box = D.load_face(items[k % len(items)])
        times['read'] = times.get('read', 0.) + time.process_time() - t
        D.self_blend(img, lms, rng, box, size, True, times)
    return 1000*(time.perf_counter()-w0)/n, 1000*(time.process_time()-c0)/n, {k: 1000*v/n for k, v in times.items()}

def bench(items, size, runs, n):
    "Medians over `runs` runs of `n` pairs."
    res = [run(items, size, n, r) for r in range(runs)]
    wall, cpu = statistics.median(r[0] for r in res), statistics.median(r[1] for r in res)
    return wall, cpu, {k: statistics.median(r[2][k] for r in res) for k in res[0][2]}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=5); p.add_argument('--pairs', type=int, default=40)
    a = p.parse_args()
    cv2.setNumThreads(1)
    D._Timer.clock = staticmethod(time.process_time)    # per-process cost, robust to other jobs on the machine
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    print(f'machine: {cpu}, {os.cpu_count()} logical cores; python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}')
    print(f'input: 448x296 frames, faces ~150 px; {a.runs} runs x {a.pairs} pairs, median; one process, cv2 threads 1; CPU time of this process')
    with tempfile.TemporaryDirectory() as d:
        items = write_set(Path(d))
        img, lms, box = D.load_face(items[0]); D.self_blend(img, lms, np.random.default_rng(0), box)   # warm-up
        full = D.elastic_mask
        for label, fn in (('elastic at 1/2 size (default)', full), ('elastic at full size', partial(full, scale=1))):
            D.elastic_mask = fn
            for size in (380, 256):
                wall, cpu, st = bench(items, size, a.runs, a.pairs)
                print(f'\n{label}, {size} px: {cpu:.2f} ms CPU/pair = {1000/cpu:.0f} pairs/s per process '
                      f'(wall {wall:.2f} ms: {os.getloadavg()[0]:.1f} load on {os.cpu_count()} cores)')
                print('  CPU ms per stage: ' + ', '.join(f'{k} {v:.2f}' for k, v in st.items()))
        D.elastic_mask = full

if __name__ == '__main__': main()
