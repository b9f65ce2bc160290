"""Naive float64 references: the definition of every kernel, one loop per sum.

These are the specification the fast kernels are checked against (together
with torch).  They are written for clarity, not speed: every output element is
computed straight from the formula in the kernel's docstring, with plain
Python loops over NumPy arrays, in float64.
"""

from __future__ import annotations

import math

import numpy as np


# ----------------------------------------------------------------------------- conv1d
def conv1d_out_len(L, K, stride=1, padding=0, dilation=1):
    return (L + 2 * padding - dilation * (K - 1) - 1) // stride + 1


def conv1d_forward(x, w, bias, stride=1, padding=0, dilation=1):
    # x: (B, C_in, L)  w: (C_out, C_in, K)  bias: (C_out,) or None  y: (B, C_out, L_out)
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = conv1d_out_len(L, K, stride, padding, dilation)
    y = np.zeros((B, C_out, L_out))
    for b in range(B):
        for o in range(C_out):
            for t in range(L_out):
                acc = 0.0 if bias is None else float(bias[o])
                for c in range(C_in):
                    for k in range(K):
                        i = t * stride + k * dilation - padding
                        if 0 <= i < L:
                            acc += float(w[o, c, k]) * float(x[b, c, i])
                y[b, o, t] = acc
    return y


def conv1d_backward(dy, x, w, stride=1, padding=0, dilation=1):
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = dy.shape[2]
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(C_out)
    for b in range(B):
        for o in range(C_out):
            for t in range(L_out):
                g = float(dy[b, o, t])
                db[o] += g
                for c in range(C_in):
                    for k in range(K):
                        i = t * stride + k * dilation - padding
                        if 0 <= i < L:
                            dw[o, c, k] += g * float(x[b, c, i])
                            dx[b, c, i] += g * float(w[o, c, k])
    return dx, dw, db


# -------------------------------------------------------------------------- maxpool1d
def maxpool1d_out_len(L, K, stride=None, padding=0, dilation=1):
    stride = K if stride is None else stride
    return (L + 2 * padding - dilation * (K - 1) - 1) // stride + 1


def maxpool1d_forward(x, kernel_size, stride=None, padding=0, dilation=1):
    """Returns (y, argmax); argmax indexes the unpadded input, first maximum wins, NaN wins."""
    stride = kernel_size if stride is None else stride
    B, C, L = x.shape
    L_out = maxpool1d_out_len(L, kernel_size, stride, padding, dilation)
    y = np.zeros((B, C, L_out))
    argmax = np.zeros((B, C, L_out), dtype=np.int64)
    for b in range(B):
        for c in range(C):
            for t in range(L_out):
                best, best_i = -math.inf, -1
                for k in range(kernel_size):
                    i = t * stride + k * dilation - padding
                    if 0 <= i < L:
                        v = float(x[b, c, i])
                        if best_i < 0 or v > best or math.isnan(v):
                            best, best_i = v, i
                            if math.isnan(v):
                                break
                y[b, c, t] = best
                argmax[b, c, t] = best_i
    return y, argmax


def maxpool1d_backward(dy, argmax, L_in):
    B, C, L_out = dy.shape
    dx = np.zeros((B, C, L_in))
    for b in range(B):
        for c in range(C):
            for t in range(L_out):
                dx[b, c, argmax[b, c, t]] += float(dy[b, c, t])
    return dx


# ----------------------------------------------------------------------------- linear
def linear_forward(x, w, bias):
    # x: (..., in)  w: (out, in)  bias: (out,) or None  y: (..., out)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    y = np.zeros((x2.shape[0], w.shape[0]))
    for n in range(x2.shape[0]):
        for o in range(w.shape[0]):
            acc = 0.0 if bias is None else float(bias[o])
            for i in range(w.shape[1]):
                acc += float(w[o, i]) * float(x2[n, i])
            y[n, o] = acc
    return y.reshape(lead + (w.shape[0],))


def linear_backward(dy, x, w):
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    dx = np.zeros(x2.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(w.shape[0])
    for n in range(x2.shape[0]):
        for o in range(w.shape[0]):
            g = float(dy2[n, o])
            db[o] += g
            for i in range(w.shape[1]):
                dw[o, i] += g * float(x2[n, i])
                dx[n, i] += g * float(w[o, i])
    return dx.reshape(x.shape), dw, db


# ------------------------------------------------------------------------------- relu
def relu_forward(x):
    y = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        y[idx] = x[idx] if x[idx] > 0 else 0.0
    return y


def relu_backward(dy, y):
    # torch's threshold_backward: the gradient passes where the output is > 0
    dx = np.zeros(dy.shape)
    for idx in np.ndindex(dy.shape):
        dx[idx] = dy[idx] if y[idx] > 0 else 0.0
    return dx


# -------------------------------------------------------------------- bce_with_logits
def _softplus(z):
    # log(1 + exp(z)) without overflow
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def bce_with_logits_forward(logits, targets, pos_weight=None, reduction="mean"):
    """l = (1 - y) x + (1 + (pw - 1) y) softplus(-x), torch's formula."""
    x = logits.astype(np.float64)
    t = targets.astype(np.float64)
    pw = np.ones(x.shape) if pos_weight is None else np.broadcast_to(np.asarray(pos_weight, np.float64), x.shape)
    loss = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        weight = 1.0 + (pw[idx] - 1.0) * t[idx]
        loss[idx] = (1.0 - t[idx]) * x[idx] + weight * _softplus(-x[idx])
    if reduction == "mean":
        return float(loss.sum() / loss.size)
    if reduction == "sum":
        return float(loss.sum())
    return loss


def bce_with_logits_backward(logits, targets, pos_weight=None, reduction="mean", d_loss=1.0):
    """dl/dx = (1 + (pw - 1) y) sigmoid(x) - pw y, times the reduction's factor."""
    x = logits.astype(np.float64)
    t = targets.astype(np.float64)
    pw = np.ones(x.shape) if pos_weight is None else np.broadcast_to(np.asarray(pos_weight, np.float64), x.shape)
    d_loss = np.broadcast_to(np.asarray(d_loss, np.float64), x.shape) if reduction == "none" else d_loss
    dx = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        sig = 1.0 / (1.0 + math.exp(-x[idx])) if x[idx] >= 0 else math.exp(x[idx]) / (1.0 + math.exp(x[idx]))
        g = (1.0 + (pw[idx] - 1.0) * t[idx]) * sig - pw[idx] * t[idx]
        if reduction == "mean":
            g *= d_loss / x.size
        elif reduction == "sum":
            g *= d_loss
        else:
            g *= d_loss[idx]
        dx[idx] = g
    return dx


# -------------------------------------------------------------------------- attention
def attention_forward(q, k, W, bias, v):
    """Additive attention.  q: (B, H)  k: (B, H, L)  W: (H, 2H)  bias: (H,)  v: (H,).

    energy[b,l,:] = tanh(W [q_b ; k_b[:, l]] + bias);  score[b,l] = v . energy[b,l,:]
    weights[b,:] = softmax(score[b,:]);  context[b,:] = sum_l weights[b,l] k_b[:, l]
    """
    B, H, L = k.shape
    context = np.zeros((B, H))
    weights = np.zeros((B, L))
    for b in range(B):
        scores = np.zeros(L)
        for l in range(L):
            for j in range(H):
                acc = float(bias[j])
                for i in range(H):
                    acc += float(W[j, i]) * float(q[b, i]) + float(W[j, H + i]) * float(k[b, i, l])
                scores[l] += float(v[j]) * math.tanh(acc)
        m = scores.max()
        e = np.array([math.exp(s - m) for s in scores])
        weights[b] = e / e.sum()
        for h in range(H):
            context[b, h] = sum(weights[b, l] * float(k[b, h, l]) for l in range(L))
    return context, weights


def attention_backward(d_context, q, k, W, bias, v):
    B, H, L = k.shape
    dq = np.zeros(q.shape)
    dk = np.zeros(k.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(bias.shape)
    dv = np.zeros(v.shape)
    for b in range(B):
        energy = np.zeros((L, H))
        for l in range(L):
            for j in range(H):
                acc = float(bias[j])
                for i in range(H):
                    acc += float(W[j, i]) * float(q[b, i]) + float(W[j, H + i]) * float(k[b, i, l])
                energy[l, j] = math.tanh(acc)
        scores = energy @ v
        e = np.exp(scores - scores.max())
        a = e / e.sum()
        # context = sum_l a_l k_l  ->  dk (value path) and da
        da = np.zeros(L)
        for l in range(L):
            for h in range(H):
                dk[b, h, l] += a[l] * float(d_context[b, h])
                da[l] += float(d_context[b, h]) * float(k[b, h, l])
        # softmax: ds_l = a_l (da_l - sum_m a_m da_m)
        ds = a * (da - (a * da).sum())
        for l in range(L):
            for j in range(H):
                dv[j] += ds[l] * energy[l, j]
                dpre = ds[l] * float(v[j]) * (1.0 - energy[l, j] ** 2)
                db[j] += dpre
                for i in range(H):
                    dW[j, i] += dpre * float(q[b, i])
                    dW[j, H + i] += dpre * float(k[b, i, l])
                    dq[b, i] += dpre * float(W[j, i])
                    dk[b, i, l] += dpre * float(W[j, H + i])
    return dq, dk, dW, db, dv


# ------------------------------------------------------------------------------- adam
def adam_step(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One torch.optim.Adam step (amsgrad=False), in float64, in place; ``step`` counts from 1."""
    beta1, beta2 = betas
    for idx in np.ndindex(param.shape):
        g = float(grad[idx]) + weight_decay * float(param[idx])
        exp_avg[idx] = beta1 * exp_avg[idx] + (1.0 - beta1) * g
        exp_avg_sq[idx] = beta2 * exp_avg_sq[idx] + (1.0 - beta2) * g * g
        bias_correction1 = 1.0 - beta1**step
        bias_correction2 = 1.0 - beta2**step
        denom = math.sqrt(exp_avg_sq[idx]) / math.sqrt(bias_correction2) + eps
        param[idx] -= lr / bias_correction1 * exp_avg[idx] / denom
