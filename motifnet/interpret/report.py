"""``interpret_model``: what a trained model learned, led by the motifs it found and their names.

The report (``report.md``, ``report.json``, ``motifs.meme``, ``matches.tsv`` and PNGs)
leads with the motifs, then the per-method figures:

1. **Attributions**: DeepLIFT with exact rules (``motifnet.attribution.deeplift``:
   contributions sum to f(x) - f(reference) to rounding; references are dinucleotide
   shuffles) on the positive sequences, and on the negatives as the discovery's null.
2. **Motifs discovered** from the attributions (``motifnet.motif.discovery``: seqlets on
   both strands, clustered, aligned, width found), each with its support (seqlets) and
   its best matches in a motif database (``motifnet.motif.tomtom``: Tomtom's p-, E- and
   q-values; JASPAR 2024 CORE by default).
3. **The per-method reconstructions** of the tutorials (each a PWM from the positive
   sequences, pseudocount 0.5, width K = the filters' width), matched against the
   database too:
   * ``saliency``: each sequence's width-K window with the largest gradient x input;
   * ``filter_activation``: the Basset activation PWM of the most informative filter
     (both strands for deepbind: a site on the reverse strand contributes its reverse
     complement);
   * ``ism``: each sequence's width-K window with the largest summed importance of its
     own bases under in-silico mutagenesis (``motifnet.ism.fast_ism``);
   * ``attention`` (attention models): the follow-up's width-12 window centred on the
     attention's maximum.  It sees pooled positions (4 bases each after a 12-wide conv),
     so it is coarse by construction and is reported as it comes out.
   For deepbind, whose sites lie on either strand, the windows are put on one strand
   first (``orient_windows``).

Every method reads the positive sequences only (the negatives serve DeepLIFT's null).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from motifnet import plots
from motifnet._atomic import write_text
from motifnet.errors import UserError
from motifnet.interpret.attention import motif_enrichment, upsample_linear
from motifnet.interpret.filters import MIN_SITES, activation_pwms, best_filter, top_filters_by_variance
from motifnet.interpret.ism import aligned_windows
from motifnet.interpret.motifs import (best_window_starts, centred_starts, find_motif, gather_columns,
                                       match_motif, stack_windows)
from motifnet.logos import save_logo
from motifnet.motif.pwm import Motif, consensus, information_content, pwm_from_windows, relu_normalise

PSEUDOCOUNT = 0.5
ATTENTION_WINDOW = 12
N_EXAMPLES = 3
N_LOGOS = 6
TOP_MATCHES = 5
TRIM_BITS = 0.3          # flanks below this many bits are trimmed before matching and writing
REPORTED_MOTIFS = 5      # discovered motifs drawn and matched (all are written to motifs.meme)
EXAMPLE_WIDTH = 60       # bases of each example sequence drawn in the per-position figures


# --------------------------------------------------------------------------- helpers
def _json(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"


def _pwm_dict(pwm) -> dict:
    return {b: [round(float(v), 6) for v in pwm[i]] for i, b in enumerate("ACGT")}


def _rc_windows(w: np.ndarray) -> np.ndarray:
    """Reverse complements of one-hot windows (n, 4, W): positions reversed, A<->T and C<->G."""
    return np.ascontiguousarray(w[:, ::-1, ::-1])


def orient_windows(windows: np.ndarray, rounds: int = 5) -> np.ndarray:
    """Put one-hot windows (n, 4, W) taken from both strands on one strand.

    Start from the forward windows' PWM; then, in turn, flip every window whose reverse
    complement is more likely under the current PWM, and rebuild the PWM, until no window
    changes (at most ``rounds`` times).  Deterministic; the PWM's orientation is the
    majority's.
    """
    w = np.array(windows, dtype=np.float64)
    flipped = np.zeros(len(w), dtype=bool)
    for _ in range(rounds):
        log_pwm = np.log(pwm_from_windows(w, PSEUDOCOUNT))
        fwd = np.einsum("ncw,cw->n", w, log_pwm)
        rev = np.einsum("ncw,cw->n", _rc_windows(w), log_pwm)
        flip = rev > fwd
        if not flip.any():
            break
        w[flip] = _rc_windows(w[flip])
        flipped ^= flip
    return w


def strand_activation_pwms(acts: np.ndarray, onehot: np.ndarray, K: int, fraction: float = 0.5,
                           min_sites: int = MIN_SITES) -> list[dict]:
    """Basset activation PWMs of a both-strand model's filters.

    ``acts`` (N, 2F, L - K + 1): channels [0, F) the forward strand's responses at window
    starts u, [F, 2F) the reverse strand's (kernels/revcomp.py).  A filter's sites are the
    (sequence, u, strand) whose response exceeds mu + fraction (max - mu) over both strands;
    a forward site contributes the window [u, u + K), a reverse site its reverse complement.
    """
    N, F2, n_pos = acts.shape
    F = F2 // 2
    offsets = np.arange(K)
    out = []
    for f in range(F):
        both = np.concatenate([acts[:, f], acts[:, F + f]], axis=1).astype(np.float64)
        mu, top = both.mean(), both.max()
        rec = {"filter": f, "n_sites": 0, "pwm": None, "consensus": None, "ic": None}
        if top > mu:
            n_idx, j = np.nonzero(both > mu + fraction * (top - mu))
            reverse, u = j >= n_pos, j % n_pos
            rec["n_sites"] = int(n_idx.size)
            if n_idx.size >= min_sites:
                windows = gather_columns(onehot, n_idx, u[:, None] + offsets[None, :])
                windows[reverse] = _rc_windows(windows[reverse])
                pwm = pwm_from_windows(windows, PSEUDOCOUNT)
                rec.update(pwm=pwm, consensus=consensus(pwm), ic=float(information_content(pwm).sum()))
        out.append(rec)
    return out


def _known_match(found: str, motif: str | None, both_strands: bool) -> dict | None:
    if not motif:
        return None
    match = match_motif(found, motif)
    if both_strands:
        rc = found[::-1].translate(str.maketrans("ACGT", "TGCA"))
        other = match_motif(rc, motif)
        if other["matches"] > match["matches"]:
            match = other | {"strand": "-"}
        else:
            match["strand"] = "+"
    return match


def _best_matches(motif: Motif, database, top: int) -> list[dict]:
    from motifnet.motif.tomtom import compare

    return [{"target_id": m.target_id, "target_name": m.target_name, "p_value": m.p_value, "e_value": m.e_value,
             "q_value": m.q_value, "offset": m.offset, "orientation": m.orientation, "overlap": m.overlap,
             "target_consensus": m.target_consensus} for m in compare(motif, database)[:top]]


def _match_text(matches) -> str:
    if not matches:
        return "no match"
    m = matches[0]
    return f"{m['target_id']} {m['target_name']} (p {m['p_value']:.2g}, E {m['e_value']:.2g}, q {m['q_value']:.2g})"


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


# --------------------------------------------------------------------------- the report
class _Report:
    """The files of one interpretation: their paths, and the figures (skipped with ``figures=False``)."""

    def __init__(self, out: Path, figures: bool = True):
        self.out, self.files, self.figures = out, [], figures

    def path(self, name: str) -> Path:
        self.files.append(name)
        return self.out / name

    def draw(self, plot, name: str, *args, **kwargs) -> None:
        """``plot(path of name, *args, **kwargs)``: one figure."""
        if self.figures:
            plot(self.path(name), *args, **kwargs)


def background_count(n_positive: int, n_negative: int) -> int:
    """How many negatives DeepLIFT runs on for the motif discovery's background (the first ones)."""
    return min(n_negative, max(n_positive, 200))


class _Interpretation:
    """One interpretation's shared state; each method of the report is one method here."""

    def __init__(self, model, codes, lengths, report, motif, database, log):
        from motifnet.data import decode, one_hot_codes

        self.model, self.report, self.database, self.log = model, report, database, log
        self.codes, self.lengths = np.ascontiguousarray(codes), np.asarray(lengths, dtype=np.int64)
        self.N, self.L = self.codes.shape
        if self.N == 0:
            raise UserError("no positive (label 1) sequences to interpret")
        self.both_strands = model.name == "deepbind"
        self.K = int(model.conv.kernel_size)
        self.seqs = decode(self.codes, self.lengths)
        self.x = np.ascontiguousarray(one_hot_codes(self.codes), dtype=model.dtype)
        self.motif = motif.upper() if motif else None
        self.starts = find_motif(self.seqs, self.motif) if self.motif else None
        if self.motif and self.both_strands:  # a site may be on either strand
            rc_motif = self.motif[::-1].translate(str.maketrans("ACGT", "TGCA"))
            self.starts = np.where(self.starts >= 0, self.starts, find_motif(self.seqs, rc_motif))
        self.mlen = len(self.motif) if self.motif else 0
        self.methods, self.all_motifs = {}, []  # reconstructions by name; every motif for motifs.meme
        self.examples(np.zeros((self.N, self.L)))

    # ---- the example figures: at most EXAMPLE_WIDTH bases of the first sequences
    def examples(self, contrib):
        """Choose each example's window: centred on its 12 bases of largest total |contribution|."""
        self.ex = list(range(min(N_EXAMPLES, self.N)))
        self.width = min(EXAMPLE_WIDTH, int(self.lengths[self.ex].min()))
        self.ex_lo = np.zeros(len(self.ex), dtype=np.int64)
        for j, i in enumerate(self.ex):
            n = int(self.lengths[i])
            if n > self.width:
                core = int(np.argmax(np.convolve(np.abs(contrib[i, :n]), np.ones(12), mode="valid")))
                self.ex_lo[j] = int(np.clip(core + 6 - self.width // 2, 0, n - self.width))
        self.ex_seqs = [self.seqs[i][lo:lo + self.width] for i, lo in zip(self.ex, self.ex_lo)]
        self.ex_starts = None if self.starts is None else np.array(
            [s - lo if lo <= s <= lo + self.width - self.mlen else -1 for s, lo in zip(self.starts[self.ex], self.ex_lo)])

    def crop(self, a):
        """Rows ``ex`` of (N, ..., L) ``a``, cut to the examples' windows."""
        return np.stack([a[i, ..., lo:lo + self.width] for i, lo in zip(self.ex, self.ex_lo)])

    # ---- a reconstruction of one method
    def method(self, name, pwm, n_windows, description):
        m = Motif(f"motifnet-{name}", consensus(pwm), pwm, n_windows, source=f"motifnet {name}")
        trimmed = m.trimmed(TRIM_BITS) or m
        self.all_motifs.append(trimmed)
        ic = information_content(pwm)
        rec = {"consensus": consensus(pwm), "pwm": _pwm_dict(pwm), "information_content": [round(float(v), 4) for v in ic],
               "total_information_content": round(float(ic.sum()), 4), "n_windows": int(n_windows),
               "description": description, "logo": f"motif_{name}.png",
               "best_match": (_best_matches(trimmed, self.database, 1) or [None])[0]}
        if self.motif:
            rec["match"] = _known_match(rec["consensus"], self.motif, self.both_strands)
        self.methods[name] = rec
        self.report.draw(save_logo, f"motif_{name}.png", pwm, title=f"{name}: {consensus(pwm)}")
        return rec

    def windows_pwm(self, scores, width, orient):
        """The PWM of each sequence's width-``width`` window of largest summed ``scores``."""
        inside = np.where(np.arange(self.L)[None, :] < self.lengths[:, None], scores, 0.0)
        starts = np.minimum(best_window_starts(inside, width), np.maximum(self.lengths - width, 0))
        w = stack_windows(self.x, starts, width)
        return pwm_from_windows(orient_windows(w) if orient else w, PSEUDOCOUNT)

    # ---- 1. DeepLIFT, exact rules
    def deeplift(self, neg_codes, neg_lengths, references, n_references, seed):
        from motifnet.attribution import deeplift

        t0 = time.perf_counter()
        attr = deeplift(self.model, self.codes, self.lengths, references=references, n_references=n_references,
                        seed=seed)
        background = None
        if neg_codes is not None and len(neg_codes):
            n_bg = background_count(self.N, len(neg_codes))
            battr = deeplift(self.model, neg_codes[:n_bg], neg_lengths[:n_bg], references=references,
                             n_references=n_references, seed=seed + 1)
            background = (np.ascontiguousarray(neg_codes[:n_bg]), np.asarray(neg_lengths[:n_bg]), battr.hypothetical)
        delta = np.abs(attr.delta)
        scale = np.maximum(np.abs(attr.f_x - attr.f_ref), 1.0)
        stats = {"references": str(references), "n_references": n_references, "max_abs_delta": float(delta.max()),
                 "median_abs_delta": float(np.median(delta)), "max_relative_delta": float((delta / scale).max()),
                 "seconds": round(time.perf_counter() - t0, 2)}
        self.log(f"DeepLIFT (exact rules, {n_references} {references} references): convergence max |sum - (f(x) - "
                 f"f(ref))| = {delta.max():.2e} over {self.N} sequences")
        contrib = attr.contributions.sum(axis=1)  # (N, L): the contribution of the base present
        self.examples(contrib)
        self.report.draw(plots.saliency_grid, "deeplift.png", self.ex_seqs, {"DeepLIFT\ncontribution": self.crop(contrib)},
                         self.ex_starts, self.mlen,
                         suptitle="DeepLIFT contributions (exact rules) of the first positive sequences"
                         + ("" if self.width == self.L else f", {self.width} bases around their largest contributions"))
        return attr, background, stats

    # ---- 2. motif discovery from the attributions, and the motifs' names
    def discover(self, attr, background, seed):
        from motifnet.motif.discovery import discover_motifs
        from motifnet.motif.tomtom import compare, plot_alignment

        found = discover_motifs(self.codes, self.lengths, attr.hypothetical, background=background, seed=seed)
        discovered = []
        for i, dm in enumerate(found.motifs):
            m = Motif(f"motifnet-{i + 1}", dm.consensus, dm.pwm, dm.n_seqlets, source="motifnet discovery")
            trimmed = m.trimmed(TRIM_BITS) or m
            rec = {"id": m.id, "consensus": trimmed.consensus, "width": trimmed.width, "n_seqlets": int(dm.n_seqlets),
                   "strands": {"+": sum(s[3] == "+" for s in dm.seqlets), "-": sum(s[3] == "-" for s in dm.seqlets)},
                   "pwm": _pwm_dict(trimmed.pwm),
                   "total_information_content": round(float(information_content(trimmed.pwm).sum()), 3)}
            self.all_motifs.append(trimmed)
            if i < REPORTED_MOTIFS:
                rec["matches"] = _best_matches(trimmed, self.database, TOP_MATCHES)
                rec["known_motif_match"] = _known_match(trimmed.consensus, self.motif, True)
                self.report.draw(save_logo, f"{m.id}.png", trimmed.pwm,
                                 title=f"{m.id}: {trimmed.consensus} ({dm.n_seqlets} seqlets)")
                self.report.draw(plots.centred_logo, f"{m.id}_contribution.png", dm.contribution,
                                 f"{m.id}: mean DeepLIFT contribution per base", ylabel="contribution")
                if rec["matches"]:
                    self.report.draw(plot_alignment, f"{m.id}_match.png", trimmed, compare(trimmed, self.database)[0])
            discovered.append(rec)
            self.log(f"motif {m.id}: {trimmed.consensus} ({dm.n_seqlets} seqlets)"
                     + (f"; best match {_match_text(rec.get('matches'))}" if i < REPORTED_MOTIFS else ""))
        if not found.motifs:
            self.log(found.reason or "no motif found")
        return {"motifs": discovered, "reason": found.reason, "n_seqlets": int(found.n_seqlets)}, found

    # ---- 3a. filters: weights, the most variable as logos; 3b. activation PWMs (Basset) and the best filter
    def filters(self):
        weights = np.asarray(self.model.conv.weight.data, dtype=np.float64)
        self.report.draw(plots.filter_heatmaps, "filter_weights.png", weights)
        top = top_filters_by_variance(weights, N_LOGOS)
        self.report.draw(plots.logo_grid, "filter_weight_logos.png", [relu_normalise(weights[f]) for f in top],
                         [f"filter {f} (weight var {weights[f].var():.3g})" for f in top],
                         f"top {len(top)} filters by weight variance (ReLU, columns normalised)")
        from motifnet.train import EVAL_BATCH_SIZE as B

        # evaluation's batches: calls that small stay serial, whose kernels training already
        # compiled (batches of 512 chose the parallel forward: 3.6 s to compile on a first run)
        codes, lengths, K = self.codes, self.lengths, self.K
        if self.both_strands:
            acts = np.concatenate([self.model.strand_activations(codes[i:i + B], lengths[i:i + B])
                                   for i in range(0, self.N, B)])
            records = strand_activation_pwms(acts, self.x, K)
        else:
            acts = np.concatenate([self.model.conv_activations(codes[i:i + B]) for i in range(0, self.N, B)])
            conv = self.model.conv
            records = activation_pwms(acts, self.x, K, int(conv.stride), int(conv.padding), int(conv.dilation),
                                      pseudocount=PSEUDOCOUNT, min_sites=MIN_SITES)
        with_pwm = sorted((r for r in records if r["pwm"] is not None), key=lambda r: -r["ic"])
        self.report.draw(plots.logo_grid, "filter_activation_logos.png", [r["pwm"] for r in with_pwm[:N_LOGOS]],
                         [f"filter {r['filter']}: {r['n_sites']} sites, {r['ic']:.1f} bits" for r in with_pwm[:N_LOGOS]],
                         f"activation PWMs, top {min(N_LOGOS, len(with_pwm))} filters by information "
                         f"(of {len(with_pwm)} with >= {MIN_SITES} sites)")
        best = best_filter(records)
        if best is not None:
            self.method("filter_activation", best["pwm"], best["n_sites"],
                        f"activation PWM of filter {best['filter']}, the highest total information content among "
                        f"{len(with_pwm)} filters with >= {MIN_SITES} sites (activation > mu + 0.5 (max - mu))"
                        + (", both strands" if self.both_strands else ""))["filter"] = best["filter"]
        self.log(f"filters: {len(with_pwm)} of {len(records)} have >= {MIN_SITES} sites"
                 + (f"; best filter {best['filter']}: {best['consensus']}" if best else ""))
        return [{k: v for k, v in r.items() if k != "pwm"} for r in records]

    # ---- 3c. saliency, three forms; the saliency motif from gradient x input
    def saliency(self):
        from motifnet.attribution import model_in_dtype
        from motifnet.train import saliency_maps

        # one input gradient for the three forms, in the float64 copy of the model that
        # DeepLIFT uses: the same kernels, so a first run compiles no float32 dense
        # convolution for it (12.9 s of parallel compiles measured here)
        sal = saliency_maps(model_in_dtype(self.model, np.float64), self.codes, lengths=self.lengths)
        self.report.draw(plots.saliency_grid, "saliency.png", self.ex_seqs,
                         {plots.SALIENCY_LABELS[m]: self.crop(v) for m, v in sal.items()}, self.ex_starts, self.mlen,
                         suptitle="saliency of the first positive sequences")
        self.method("saliency", self.windows_pwm(sal["grad_x_input"], self.K, self.both_strands), self.N,
                    f"per sequence, the width-{self.K} window with the largest summed gradient x input (clipped at 0)"
                    + ("; windows put on one strand" if self.both_strands else ""))

    # ---- 3d. attention (attention models only): the follow-up's window at the attention's maximum
    def attention(self):
        if self.model.name != "attention":
            return None
        N, L, starts, mlen = self.N, self.L, self.starts, self.mlen
        att = np.asarray(self.model.attention_weights(self.codes), dtype=np.float64)
        up = upsample_linear(att, L)
        self.report.draw(plots.attention_heatmap, "attention.png", up[:200], None if starts is None else starts[:200],
                         mlen, title=f"attention of the first {min(N, 200)} positive sequences, "
                                     f"pooled length {att.shape[1]} upsampled to {L}")
        stats = None
        if self.motif:
            stats = motif_enrichment(up, starts, mlen)
            self.report.draw(plots.bar_chart, "attention_motif_vs_background.png", ["motif positions", "background"],
                             [stats["motif_mean"], stats["background_mean"]], "mean upsampled attention",
                             f"attention on the motif vs elsewhere ({stats['n_sequences']} positive sequences)\n"
                             f"uniform attention would be 1/{att.shape[1]} = {1 / att.shape[1]:.4f} everywhere")
        att_starts = centred_starts(np.argmax(up, axis=1), ATTENTION_WINDOW, L)
        if self.motif:
            shift = (att_starts - starts)[starts >= 0]  # the follow-up's window vs the planted motif
            if shift.size:
                stats["window_start_minus_motif_start"] = {
                    "median": float(np.median(shift)), "min": int(shift.min()), "max": int(shift.max()),
                    "fraction_exactly_aligned": round(float(np.mean(shift == 0)), 4)}
        self.method("attention", pwm_from_windows(stack_windows(self.x, att_starts, ATTENTION_WINDOW), PSEUDOCOUNT), N,
                    f"per sequence, the width-{ATTENTION_WINDOW} window centred on the argmax of the attention "
                    f"upsampled from {att.shape[1]} pooled positions to {L}")
        return stats

    # ---- 3e. in-silico mutagenesis, recomputing only what each substitution changes
    def ism(self):
        from motifnet.ism import fast_ism

        t0 = time.perf_counter()
        deltas = fast_ism(self.model, self.codes, self.lengths)
        seconds = time.perf_counter() - t0
        self.report.draw(plots.ism_figure, "ism_examples.png", self.ex_seqs, self.crop(deltas), self.ex_starts,
                         self.mlen)
        _, windows, centred = aligned_windows(deltas, self.x, self.K)
        if self.both_strands:
            windows = orient_windows(windows)
        self.report.draw(plots.centred_logo, "ism_logo.png", centred.mean(axis=0),
                         f"mean-centred ISM, mean over {self.N} sequences aligned on their max-effect window")
        n = int(3 * self.lengths.sum())
        self.method("ism", pwm_from_windows(windows, PSEUDOCOUNT), self.N,
                    f"per sequence, the width-{self.K} window with the largest summed mean-centred ISM score of its "
                    f"own bases ({n} substitutions in {seconds:.1f} s)")
        self.log(f"ISM: {self.methods['ism']['consensus']} ({n} substitutions, {seconds:.1f} s)")


def interpret_model(model, pos_codes, pos_lengths, out_dir, *, neg_codes=None, neg_lengths=None,
                    motif: str | None = None, database=None, database_name: str = "JASPAR 2024 CORE",
                    references="shuffle", n_references: int = 10, seed: int = 0, log=None,
                    figures: bool = True) -> dict:
    """Every method on the positive sequences; write the report into ``out_dir``; return report.json's content.

    Parameters
    ----------
    model : a motifnet model
    pos_codes, pos_lengths : the positive sequences, base codes (N, L) int8 and lengths (N,)
    neg_codes, neg_lengths : negatives (optional): DeepLIFT on them is the motif discovery's null
    motif : a known motif (A/C/G/T), shaded in the figures and compared with each reconstruction
    database : motifs to name the learnt ones against (default: the shipped JASPAR 2024 CORE)
    references, n_references, seed : DeepLIFT's references (``motifnet.attribution.deeplift``)
    log : callable receiving one line per step
    figures : False skips drawing the PNGs (everything else is computed and written)
    """
    from motifnet.motif.database import CITATION, load_default_database
    from motifnet.motif.io import write_meme
    from motifnet.motif.tomtom import compare, write_matches_tsv

    out = Path(out_dir)
    report = _Report(out, figures)
    database = load_default_database() if database is None else database
    run = _Interpretation(model, pos_codes, pos_lengths, report, motif, database, log or (lambda msg: None))
    result = {"model": model.name, "n_positive_sequences": int(run.N),
              "lengths": {"min": int(run.lengths.min()), "max": int(run.lengths.max())}, "known_motif": run.motif,
              "motif_found_in": None if run.starts is None else int((run.starts >= 0).sum()),
              "database": database_name,
              "database_citation": CITATION if database_name.startswith("JASPAR 2024") else None}
    attr, background, result["deeplift"] = run.deeplift(neg_codes, neg_lengths, references, n_references, seed)
    result["discovery"], found = run.discover(attr, background, seed)
    result["filters"] = run.filters()
    run.saliency()
    result["attention_motif_vs_background"] = run.attention()
    run.ism()

    names = list(run.methods)  # all reconstructions together, the motif file and the match table
    report.draw(plots.logo_grid, "motifs.png", [np.array([run.methods[m]["pwm"][b] for b in "ACGT"]) for m in names],
                [f"{m}: {run.methods[m]['consensus']}" for m in names],
                "reconstructed motifs" + (f" (known: {run.motif})" if run.motif else ""), max_cols=1)
    write_meme(report.path("motifs.meme"), run.all_motifs)
    reported = run.all_motifs[:min(len(found.motifs), REPORTED_MOTIFS)]
    write_matches_tsv(report.path("matches.tsv"), [hit for m in reported for hit in compare(m, database)[:TOP_MATCHES]])
    result["methods"] = run.methods
    result["figures"] = sorted(report.files + ["report.json", "report.md"])
    write_text(out / "report.json", _json(result))
    write_text(out / "report.md", _markdown(result))
    return result


def _markdown(r: dict) -> str:
    """report.md: the motifs found first, then the per-method results and the figures."""
    lines = [f"# What the {r['model']} model learned", "",
             f"{r['n_positive_sequences']} positive sequences ({r['lengths']['min']}-{r['lengths']['max']} bp)"
             + (f"; known motif {r['known_motif']} found in {r['motif_found_in']}" if r["known_motif"] else "")
             + f"; motifs named against {r['database']}.", "", "## Motifs found", ""]
    motifs = r["discovery"]["motifs"]
    if not motifs:
        lines += [r["discovery"]["reason"] or "No motif found.", ""]
    else:
        lines += ["| motif | consensus | width | seqlets (+/-) | best match | p | E | q |",
                  "|---|---|---|---|---|---|---|---|"]
        for m in motifs:
            best = (m.get("matches") or [None])[0]
            match = "" if best is None else f"{best['target_id']} {best['target_name']}"
            nums = ["", "", ""] if best is None else [f"{best[k]:.2g}" for k in ("p_value", "e_value", "q_value")]
            lines.append(f"| {m['id']} | `{m['consensus']}` | {m['width']} | {m['n_seqlets']} "
                         f"({m['strands']['+']}/{m['strands']['-']}) | {match} | " + " | ".join(nums) + " |")
        lines.append("")
        for m in motifs[:REPORTED_MOTIFS]:
            lines += [f"### {m['id']}: `{m['consensus']}`", "", f"![{m['id']}]({m['id']}.png)",
                      f"![{m['id']} contribution]({m['id']}_contribution.png)"]
            if m.get("matches"):
                lines += [f"![{m['id']} and its best match]({m['id']}_match.png)", "",
                          "| target | name | p | E | q | orientation | offset |", "|---|---|---|---|---|---|---|"]
                lines += [f"| {t['target_id']} | {t['target_name']} | {t['p_value']:.2g} | {t['e_value']:.2g} | "
                          f"{t['q_value']:.2g} | {t['orientation']} | {t['offset']} |" for t in m["matches"]]
            lines.append("")
    d = r["deeplift"]
    lines += ["## Attributions", "", f"DeepLIFT with exact rules ({d['n_references']} {d['references']} references): "
              f"the contributions of each sequence sum to f(x) - f(reference) within {d['max_abs_delta']:.1e} "
              f"(largest over the sequences; median {d['median_abs_delta']:.1e}).", "", "![DeepLIFT](deeplift.png)", "",
              "## Reconstructions of the tutorials' methods", "",
              "| method | consensus | bits | best database match | known motif |", "|---|---|---|---|---|"]
    for name, m in r["methods"].items():
        best = m["best_match"]
        known = m.get("match")
        lines.append(f"| {name} | `{m['consensus']}` | {m['total_information_content']:.1f} | "
                     + ("" if best is None else f"{best['target_id']} {best['target_name']} (p {best['p_value']:.2g})")
                     + " | " + ("" if not known else f"{known['matches']}/{known['motif_length']}") + " |")
    lines += ["", "![reconstructed motifs](motifs.png)", "", "## Figures", ""]
    lines += [f"- [{f}]({f})" for f in r["figures"] if f.endswith(".png")]
    if r.get("database_citation"):
        lines += ["", f"Motif database: {r['database_citation']}"]
    return "\n".join(lines) + "\n"
