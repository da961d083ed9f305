"""SBI pairs per second per process, cold (first epoch: every frame decoded) and warm (decoded crops cached).

Inputs mimic the reference measurement: 448x296 frames with ~150 px faces (81 landmarks, detector box),
read from PNG/NPY files like a training run. One process, one thread (OpenCV, OpenMP and torch).
Each run makes a fresh `FaceCache`, makes one pair per item (cold), then one more per item (warm); sizes and
runs are interleaved and the medians printed, in CPU time of this process (robust on a shared machine).
Run from the repository root: `python bench/sbi_throughput.py [--runs 7] [--ids 8] [--frames 4]`.
"""
import argparse, os, platform, statistics, tempfile, time
for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ.setdefault(v, '1')
from pathlib import Path
import numpy as np, cv2, torch
import kdnb.data as D, kdnb.sbi as B, kdnb.synthetic as S

def frame(seed, i):
    "A 448x296 frame with a ~150 px face, and its landmarks (SBI raw order)."
    img, lms = S.synth_face(seed, 370, frame=i)
    img = cv2.copyMakeBorder(img[37:333], 0, 0, 39, 39, cv2.BORDER_REFLECT)
    return img, lms + np.array([39, -37], np.float32)

def write_set(root, n_ids=8, n_frames=4):
    "Write frames, landmarks and boxes as the SBI layout stores them; return FaceItems."
    items = []
    for v in range(n_ids):
        for i in range(n_frames):
            img, lms = frame(v, i)
            S._save(root, 'o', f'{v:03d}', i, img, lms)
            fn = root/'o/frames'/f'{v:03d}'/f'{i:03d}.png'
            items.append(D.FaceItem(fn, root/'o/landmarks'/f'{v:03d}'/f'{i:03d}.npy', root/'o/retina'/f'{v:03d}'/f'{i:03d}.npy'))
    return items

def epoch(items, cache, size, rng, times):
    "CPU and wall ms per pair over one pass of `items`; CPU seconds per stage are added to `times`."
    w0, c0 = time.perf_counter(), time.process_time()
    for o in items:
        t = time.process_time()
        img, lms, box = cache(o)
        times['read'] = times.get('read', 0.) + time.process_time() - t
        B.self_blend(img, lms, rng, box, size, True, times)
    return 1000*(time.process_time()-c0)/len(items), 1000*(time.perf_counter()-w0)/len(items)

def read_parts(items, n=5):
    "Median CPU ms per call of the pieces of a cold read."
    o = items[0]
    parts = dict(decode_png=lambda: D.read_image(o.path), landmarks_npy=lambda: D.read_landmarks(o.lms_path, 0, (296, 448)),
                 box_npy=lambda: D.read_box(o.box_path))
    res = {}
    for k, f in parts.items():
        ts = []
        for _ in range(n):
            t = time.process_time()
            for _ in range(50): f()
            ts.append(20*(time.process_time()-t))
        res[k] = statistics.median(ts)
    return res

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=7); p.add_argument('--ids', type=int, default=8); p.add_argument('--frames', type=int, default=4)
    a = p.parse_args()
    cv2.setNumThreads(1); torch.set_num_threads(1)
    B._Timer.clock = staticmethod(time.process_time)
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    print(f'machine: {cpu}, {os.cpu_count()} logical cores; python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}')
    print(f'input: {a.ids*a.frames} frames 448x296 (PNG) with ~150 px faces, landmarks and boxes (NPY); {a.runs} runs, median; '
          'one process, one thread; CPU ms of this process')
    with tempfile.TemporaryDirectory() as d:
        items = write_set(Path(d), a.ids, a.frames)
        epoch(items[:4], D.FaceCache(), 380, np.random.default_rng(0), {})       # warm-up: imports, page cache
        load0, res = os.getloadavg()[0], {}
        for r in range(a.runs):
            for size in (380, 256):
                cache, rng = D.FaceCache(), np.random.default_rng(r)
                for kind in ('cold', 'warm'):
                    times = {}
                    cpu_ms, wall_ms = epoch(items, cache, size, rng, times)
                    res.setdefault((size, kind), []).append((cpu_ms, wall_ms, {k: 1000*v/len(items) for k, v in times.items()}))
        load1 = os.getloadavg()[0]
        print(f'load average {load0:.1f} at the start, {load1:.1f} at the end, on {os.cpu_count()} logical cores\n')
        print('size  cache  CPU ms/pair  pairs/s  wall ms/pair | CPU ms per stage')
        for (size, kind), v in res.items():
            med = lambda f: statistics.median(f(o) for o in v)
            cpu_ms, wall_ms = med(lambda o: o[0]), med(lambda o: o[1])
            st = ', '.join(f'{k} {med(lambda o: o[2][k]):.2f}' for k in v[0][2])
            print(f'{size:4d}  {kind:5s}  {cpu_ms:11.2f}  {1000/cpu_ms:7.0f}  {wall_ms:12.2f} | {st}')
        print('\ncold read, CPU ms per call: ' + ', '.join(f'{k} {v:.2f}' for k, v in read_parts(items).items()))

if __name__ == '__main__': main()
