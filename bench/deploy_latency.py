"""Batch-1 CPU latency of the full-size teacher and students in every deployed format, timed interleaved.

Usage: python bench/deploy_latency.py [--threads N (default 1)] [--n-runs N] [--models tf_efficientnet_b4,mobilevitv2_200,...]

Random weights (latency does not depend on them); int8 files are calibrated on random pixels, which is fine for
speed and never for accuracy (kdnb_export --quantize int8 --data calibrates on real crops and measures the AUC).
Prints a markdown table: min / median / max ms per format (kdnb.compare.interleaved, the timer kdnb_compare and kdnb_sweep use:
eager, ONNX Runtime and ExecuTorch in the same rounds, the same thread count) and the ratio to the teacher (the first model)
in the same format, the ratio the latency budget bounds.
"""
import argparse, os, tempfile
import numpy as np
import pandas as pd, torch
from kdnb.models import create_model
from kdnb.compare import DEPLOYED, LABELS, profile_models, spread, set_threads, hardware, md_table

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', default='tf_efficientnet_b4,mobilevitv2_200,mobilevitv2_150,mobilevitv2_100')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--n-runs', type=int, default=10)
    a = p.parse_args()
    set_threads(a.threads); torch.manual_seed(0)
    models = {arch: create_model(arch).eval() for arch in a.models.split(',')}
    sizes, load0 = {k: m.image_size for k, m in models.items()}, os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:   # kdnb_compare's profiler: each file exported, checked, reloaded, timed interleaved
        ts = profile_models(models, {'cpu': None} | DEPLOYED, d, a.n_runs, a.threads)[0].attrs['rounds']
    teacher = a.models.split(',')[0]
    df = pd.DataFrame([{'model': f'{arch}@{sizes[arch]}', 'format': LABELS[k], **dict(zip(('min ms', 'median ms', 'max ms'), spread(v))),
                        'x teacher (same format)': float(np.median(v / ts[teacher, k]))} for (arch, k), v in ts.items()]).set_index('model')
    print(md_table(df, '{:.3g}'))
    print(f'\n{hardware(a.threads, (load0, os.getloadavg()[0]))}; batch 1, {a.n_runs} interleaved rounds '
          '(ratio: median of the per-round ratios to the teacher in the same format)')

if __name__ == '__main__': main()
