#!/usr/bin/python3
"""One LSTM training epoch in PyTorch (CPU, float32, one thread): the reference for
bench/lstm_bench.cpp (BM_LstmEpoch). bench/lstm_epoch.sh runs both.

Same shapes as BM_LstmEpoch: 20000 sequences, sequence length 30, 29 features, hidden size 32,
1 layer, batch size 1000 (20 mini-batches). Model: nn.LSTM(batch_first=True) + nn.Linear on the
last step's hidden state; MSE loss; Adam (lr 1e-3); clip_grad_norm_(1.0). An epoch = random
permutation, then per mini-batch: index the batch, forward, backward, clip, Adam step (no
validation). Data: N(0,1) features and targets.

Prints one JSON object: {"epoch_ms": [...], "median_ms": ..., "torch": ..., "blas": ...}.

--infer: instead, one-sequence inference (what bench/lstm_bench.cpp's BM_LstmPredictOne times):
model(x) under torch.no_grad() on one (1, 30, 29) sequence, x[t][f] = sin(0.1 * (29 t + f)) +
0.01 f; --blocks blocks of --calls calls after a warm-up; prints {"infer_us": [per-call µs of
each block], "median_us": ..., ...}.
"""
import argparse
import json
import math
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

N, L, F, H, LAYERS, BATCH = 20000, 30, 29, 32, 1, 1000


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(F, H, LAYERS, batch_first=True)
        self.head = torch.nn.Linear(H, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


def loaded_blas():
    """The BLAS/LAPACK shared objects mapped into this process (what torch's matmuls use)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if any(k in base for k in ("blas", "mkl", "blis")):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs")
    ap.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    ap.add_argument("--infer", action="store_true", help="time one-sequence inference instead")
    ap.add_argument("--blocks", type=int, default=5, help="--infer: timed blocks")
    ap.add_argument("--calls", type=int, default=500, help="--infer: calls per block")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.infer:
        infer(args)
        return
    X = torch.randn(N, L, F)
    y = torch.randn(N, 1)
    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def epoch():
        perm = torch.randperm(N)
        for i in range(0, N, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

    for _ in range(args.warmup):
        epoch()
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        epoch()
        times.append((time.perf_counter() - t0) * 1000.0)
    print(json.dumps({
        "epoch_ms": [round(t, 2) for t in times],
        "median_ms": round(statistics.median(times), 2),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": loaded_blas(),
    }))


def infer(args):
    model = Model().eval()
    x = torch.tensor([[[math.sin(0.1 * (t * F + f)) + 0.01 * f for f in range(F)] for t in range(L)]],
                     dtype=torch.float32)
    with torch.no_grad():
        for _ in range(max(100, args.calls // 5)):
            model(x)
        per_call = []
        for _ in range(args.blocks):
            t0 = time.perf_counter()
            for _ in range(args.calls):
                y = model(x)
            per_call.append((time.perf_counter() - t0) * 1e6 / args.calls)
    print(json.dumps({
        "infer_us": [round(t, 2) for t in per_call],
        "median_us": round(statistics.median(per_call), 2),
        "prediction": float(y[0, 0]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": loaded_blas(),
    }))


if __name__ == "__main__":
    main()
