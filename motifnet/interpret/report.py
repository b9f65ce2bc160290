"""``interpret_model``: every interpretation method on one trained model, figures + motif.json.

Methods that reconstruct the motif, each from the positive sequences only and
each giving a PWM (pseudocount 0.5), a consensus and an information-content logo:

* ``saliency``: in each sequence the width-K window (K = the conv filter width)
  with the largest summed gradient x input (clipped at 0); windows stacked.
* ``filter_activation``: Basset activation PWM of the best filter, the one with
  the highest total information content among filters with >= 10 sites.
* ``ism``: in-silico mutagenesis; each sequence's width-K window with the
  largest summed importance of its own bases (mean-centred ISM), stacked.
* ``attention`` (attention models): the follow-up's width-12 window centred on
  the argmax of the attention upsampled to sequence length.  The attention sees
  pooled positions (4 bases each after a 12-wide conv), so this window is
  coarse by construction; it is reported as it comes out.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from motifnet._atomic import write_text
from motifnet.errors import UserError
from motifnet import plots
from motifnet.interpret.attention import motif_enrichment, upsample_linear
from motifnet.interpret.filters import MIN_SITES, activation_pwms, best_filter, top_filters_by_variance
from motifnet.interpret.ism import aligned_windows, in_silico_mutagenesis
from motifnet.logos import save_logo
from motifnet.interpret.motifs import (best_window_starts, centred_starts, consensus, find_motif,
                                       information_content, match_motif, pwm_from_windows, relu_normalise,
                                       stack_windows)

PSEUDOCOUNT = 0.5
ATTENTION_WINDOW = 12
N_EXAMPLES = 3
N_LOGOS = 6


def _method_record(pwm, n_windows: int, description: str, logo: str, motif: str | None) -> dict:
    ic = information_content(pwm)
    rec = {
        "consensus": consensus(pwm),
        "pwm": {b: [round(float(v), 6) for v in pwm[i]] for i, b in enumerate("ACGT")},
        "information_content": [round(float(v), 4) for v in ic],
        "total_information_content": round(float(ic.sum()), 4),
        "n_windows": int(n_windows),
        "description": description,
        "logo": logo,
    }
    if motif:
        rec["match"] = match_motif(rec["consensus"], motif)
    return rec


def _json(obj) -> str:
    import json

    return json.dumps(obj, indent=2) + "\n"


class StderrProgress:
    """``progress(done, total)`` -> an "<label> done/total sequences" line on stderr.

    On a terminal the line is refreshed in place (at most 5 times a second);
    otherwise a new line is written at most every 10 s, and always at the end.
    """

    def __init__(self, label: str, stream=None):
        self.label, self.stream = label, stream or sys.stderr
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = 0.2 if self._tty else 10.0
        self._last = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self._last < self._interval:
            return
        self._last = now
        text = f"{self.label} {done}/{total} sequences"
        if self._tty:
            self.stream.write(f"\r{text}" + ("\n" if done >= total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _predictor(model):
    from motifnet.train import predict_logits

    # one forward call per ISM chunk (<= 8192 mutants): 2x faster than 512-row batches here,
    # because a large call crosses the kernels' threshold for using threads
    return lambda batch: predict_logits(model, np.ascontiguousarray(batch, dtype=model.dtype),
                                        batch_size=max(512, len(batch)))


def interpret_model(model, seqs: list[str], labels: np.ndarray, out_dir, motif: str | None = None,
                    max_sequences: int | None = None, log=None, ism_progress=None) -> dict:
    """Run every method on the positive sequences of ``seqs``; write PNGs and motif.json to ``out_dir``.

    ``max_sequences`` caps the number of positive sequences (the first ones)
    every method reads.  ``log(message)`` receives one line per step;
    ``ism_progress(done, total)`` reports ISM progress.  Returns motif.json's content.
    """
    from motifnet.data import one_hot
    from motifnet.train import saliency

    log = log or (lambda msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    pos_seqs = [s for s, y in zip(seqs, labels) if y == 1]
    if not pos_seqs:
        raise UserError("no positive (label 1) sequences to interpret")
    if max_sequences is not None:
        pos_seqs = pos_seqs[:max_sequences]
    x = np.ascontiguousarray(one_hot(pos_seqs), dtype=model.dtype)
    N, _, L = x.shape
    if L != model.seq_len:
        raise UserError(f"sequences have length {L} but the model reads length {model.seq_len}")
    conv = model.conv
    K = int(conv.kernel_size)
    motif = motif.upper() if motif else None
    starts = None
    if motif:
        starts = find_motif(pos_seqs, motif)
    mlen = len(motif) if motif else 0
    ex = list(range(min(N_EXAMPLES, N)))
    ex_starts = None if starts is None else starts[ex]
    ex_seqs = [pos_seqs[i] for i in ex]
    methods, files = {}, []

    def saved(name):
        files.append(name)
        return out / name

    # 1. filters: weights as heatmaps, the most variable filters as logos (ReLU, column-normalised)
    weights = np.asarray(conv.weight.data, dtype=np.float64)
    plots.filter_heatmaps(saved("filter_weights.png"), weights)
    top = top_filters_by_variance(weights, N_LOGOS)
    plots.logo_grid(saved("filter_weight_logos.png"), [relu_normalise(weights[f]) for f in top],
                    [f"filter {f} (weight var {weights[f].var():.3g})" for f in top],
                    f"top {len(top)} filters by weight variance (ReLU, columns normalised)")
    log(f"filters: {weights.shape[0]} filters of width {K}")

    # 2. activation PWMs (Basset) and the best filter
    acts = np.concatenate([model.conv_activations(x[i:i + 512]) for i in range(0, N, 512)])
    records = activation_pwms(acts, x, K, int(conv.stride), int(conv.padding), int(conv.dilation),
                              pseudocount=PSEUDOCOUNT, min_sites=MIN_SITES)
    with_pwm = sorted((r for r in records if r["pwm"] is not None), key=lambda r: -r["ic"])
    plots.logo_grid(saved("filter_activation_logos.png"), [r["pwm"] for r in with_pwm[:N_LOGOS]],
                    [f"filter {r['filter']}: {r['n_sites']} sites, {r['ic']:.1f} bits" for r in with_pwm[:N_LOGOS]],
                    f"activation PWMs, top {min(N_LOGOS, len(with_pwm))} filters by information "
                    f"(of {len(with_pwm)} with >= {MIN_SITES} sites)")
    best = best_filter(records)
    if best is not None:
        methods["filter_activation"] = _method_record(
            best["pwm"], best["n_sites"],
            f"activation PWM of filter {best['filter']}, the highest total information content among "
            f"{len(with_pwm)} filters with >= {MIN_SITES} sites (activation > mu + 0.5 (max - mu))",
            "motif_filter_activation.png", motif)
        methods["filter_activation"]["filter"] = best["filter"]
    log(f"filter activations: {len(with_pwm)} of {len(records)} filters have >= {MIN_SITES} sites"
        + (f"; best filter {best['filter']} ({best['ic']:.1f} bits) {best['consensus']}" if best else ""))

    # 3. saliency, three forms, and the saliency window
    sal = {mode: np.asarray(saliency(model, x, mode=mode), dtype=np.float64)
           for mode in ("sum", "max", "grad_x_input")}
    plots.saliency_grid(saved("saliency.png"), ex_seqs, {plots.SALIENCY_LABELS[m]: v[ex] for m, v in sal.items()},
                        ex_starts, mlen, suptitle="saliency of the first positive sequences")
    sal_starts = best_window_starts(sal["grad_x_input"], K)
    methods["saliency"] = _method_record(
        pwm_from_windows(stack_windows(x, sal_starts, K), PSEUDOCOUNT), N,
        f"per sequence, the width-{K} window with the largest summed gradient x input (clipped at 0)",
        "motif_saliency.png", motif)
    log(f"saliency: {methods['saliency']['consensus']}")

    # 4. attention (attention models only)
    attention_stats = None
    if hasattr(model, "attention_weights"):
        att = np.asarray(model.attention_weights(x), dtype=np.float64)
        up = upsample_linear(att, L)
        plots.attention_heatmap(saved("attention.png"), up[:200], None if starts is None else starts[:200], mlen,
                                title=f"attention of the first {min(N, 200)} positive sequences, "
                                      f"pooled length {att.shape[1]} upsampled to {L}")
        if motif:
            attention_stats = motif_enrichment(up, starts, mlen)
            plots.bar_chart(saved("attention_motif_vs_background.png"), ["motif positions", "background"],
                            [attention_stats["motif_mean"], attention_stats["background_mean"]],
                            "mean upsampled attention",
                            f"attention on the motif vs elsewhere ({attention_stats['n_sequences']} positive "
                            f"sequences)\nuniform attention would be 1/{att.shape[1]} = {1 / att.shape[1]:.4f} "
                            f"everywhere")
        att_starts = centred_starts(np.argmax(up, axis=1), ATTENTION_WINDOW, L)
        if motif:
            # how far the follow-up's window sits from the planted motif (it sees a 9-cell grid)
            shift = (att_starts - starts)[starts >= 0]
            if shift.size:
                attention_stats["window_start_minus_motif_start"] = {
                    "median": float(np.median(shift)), "min": int(shift.min()), "max": int(shift.max()),
                    "fraction_exactly_aligned": round(float(np.mean(shift == 0)), 4)}
        methods["attention"] = _method_record(
            pwm_from_windows(stack_windows(x, att_starts, ATTENTION_WINDOW), PSEUDOCOUNT), N,
            f"per sequence, the width-{ATTENTION_WINDOW} window centred on the argmax of the attention "
            f"upsampled from {att.shape[1]} pooled positions to {L}",
            "motif_attention.png", motif)
        log(f"attention: {methods['attention']['consensus']}"
            + (f"; motif/background attention {attention_stats['ratio']:.2f}" if attention_stats
               and attention_stats["ratio"] else ""))

    # 5. in-silico mutagenesis
    t0 = time.perf_counter()
    deltas = in_silico_mutagenesis(_predictor(model), x, progress=ism_progress)
    ism_seconds = time.perf_counter() - t0
    plots.ism_figure(saved("ism_examples.png"), ex_seqs, deltas[ex], ex_starts, mlen)
    _, ism_windows, ism_centred = aligned_windows(deltas, x, K)
    plots.centred_logo(saved("ism_logo.png"), ism_centred.mean(axis=0),
                       f"mean-centred ISM, mean over {N} sequences aligned on their max-effect window")
    methods["ism"] = _method_record(
        pwm_from_windows(ism_windows, PSEUDOCOUNT), N,
        f"per sequence, the width-{K} window with the largest summed mean-centred ISM score of its own "
        f"bases ({3 * L} substitutions per sequence)", "motif_ism.png", motif)
    log(f"ISM: {methods['ism']['consensus']} ({N * 3 * L} mutants, {ism_seconds:.1f} s)")

    # 6. one logo per method, and all together
    names = list(methods)
    pwms = [np.array([methods[m]["pwm"][b] for b in "ACGT"]) for m in names]
    for m, pwm in zip(names, pwms):
        save_logo(saved(methods[m]["logo"]), pwm, title=f"{m}: {methods[m]['consensus']}")
    plots.logo_grid(saved("motifs.png"), pwms, [f"{m}: {methods[m]['consensus']}" for m in names],
                    "reconstructed motifs" + (f" (known: {motif})" if motif else ""), max_cols=1)

    result = {
        "model": getattr(model, "name", type(model).__name__),
        "n_positive_sequences": N,
        "sequence_length": L,
        "known_motif": motif,
        "motif_found_in": None if starts is None else int((starts >= 0).sum()),
        "methods": methods,
        "filters": [{k: v for k, v in r.items() if k != "pwm"} for r in records],
        "attention_motif_vs_background": attention_stats,
        "figures": sorted(files + ["motif.json"]),
    }
    write_text(out / "motif.json", _json(result))
    return result
