"""The torch counterpart of a whole ``motifnet train`` process (benchmark reference only).

    python -m benchmarks.train_torch --sequences S --labels L [--model cnn|attention]
        [--epochs 50] [--batch-size 32] [--lr 1e-3] [--seed 0] [--test-size 0.25]
        --out DIR [--quiet]

Does what ``motifnet train`` does, with torch: read the primer's two text files,
one-hot encode, split, train with the same loop (``torch_models.fit_torch``),
evaluate (accuracy, confusion matrix, AUROC), and write DIR/model.pt,
DIR/metrics.json and the same three PNGs.  It does not import motifnet, so its
wall time and peak RSS are torch's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def one_hot(lines: list[str]):
    import numpy as np

    table = np.full(256, 4, dtype=np.int64)
    for i, ch in enumerate("ACGT"):
        table[ord(ch)] = table[ord(ch.lower())] = i
    codes = table[np.frombuffer("".join(lines).encode("ascii"), dtype=np.uint8)].reshape(len(lines), -1)
    eye = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])  # N -> zeros
    return np.ascontiguousarray(eye[codes].transpose(0, 2, 1))


def auroc(scores, labels) -> float:
    import numpy as np

    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(s.size)
    bounds = np.flatnonzero(np.diff(s)) + 1
    starts, ends = np.concatenate(([0], bounds)), np.concatenate((bounds, [s.size]))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_torch")
    p.add_argument("--sequences", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--model", choices=["cnn", "attention"], default="cnn")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-size", type=float, default=0.25)
    p.add_argument("--out", required=True)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    t0 = time.perf_counter()

    import numpy as np
    import torch

    from benchmarks.torch_models import TORCH_MODELS, fit_torch, predict_logits_torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    with open(args.sequences) as fh:
        seqs = [line.strip() for line in fh if line.strip()]
    with open(args.labels) as fh:
        labels = np.array([int(line) for line in fh if line.strip()], dtype=np.int8)
    x = one_hot(seqs)
    perm = np.random.default_rng(args.seed).permutation(len(seqs))
    n_test = int(round(args.test_size * len(seqs)))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    xtr, ytr = np.ascontiguousarray(x[train_idx]), labels[train_idx].astype(np.float32)
    xte, yte = np.ascontiguousarray(x[test_idx]), labels[test_idx].astype(np.float32)

    torch.manual_seed(args.seed)
    model = TORCH_MODELS[args.model](seq_len=x.shape[2])
    history = fit_torch(model, xtr, ytr, xte, yte, epochs=args.epochs, batch_size=args.batch_size,
                        lr=args.lr, seed=args.seed)
    if not args.quiet:
        for row in history:
            print(f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  train {row['train_accuracy']:.3f}  "
                  f"test {row['valid_accuracy']:.3f}  {row['seconds']:.2f} s")
    logits = predict_logits_torch(model, torch.from_numpy(xte)).numpy()
    pred, truth = logits > 0, yte == 1
    cm = [[int(np.sum(~pred & ~truth)), int(np.sum(pred & ~truth))], [int(np.sum(~pred & truth)), int(np.sum(pred & truth))]]

    os.makedirs(args.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    metrics = {"model": args.model, "test_accuracy": float(np.mean(pred == truth)), "confusion_matrix": cm,
               "auroc": auroc(logits.astype(np.float64), yte), "history": history,
               "seconds": time.perf_counter() - t0}
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump(metrics, fh, indent=2)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    for name, keys in (("loss", ["loss"]), ("accuracy", ["train_accuracy", "valid_accuracy"])):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for key in keys:
            ax.plot(epochs, [r[key] for r in history], label=key)
        ax.set_xlabel("epoch")
        ax.legend()
        fig.savefig(os.path.join(args.out, f"{name}.png"), dpi=120)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(3.5, 3.5))
    ax.imshow(cm, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(cm[i][j]), ha="center", va="center")
    fig.savefig(os.path.join(args.out, "confusion_matrix.png"), dpi=120)
    plt.close(fig)
    if not args.quiet:
        print(f"test accuracy {metrics['test_accuracy']:.3f}, AUROC {metrics['auroc']:.3f}, wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
