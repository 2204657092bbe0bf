"""Chengdu-Chongqing equipment cluster warehouse: build, check and publish."""

import os

# OpenBLAS (NumPy/SciPy) starts one busy-waiting thread per core for every matrix routine;
# on a shared 2-core machine under load a 800 x 800 Cholesky then takes seconds instead of
# 0.06 s (benchmarks/bench_fit.py). The panel fit's matrices are small: one thread, unless
# the caller chose otherwise. Read when NumPy first loads, so set before anything imports it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
