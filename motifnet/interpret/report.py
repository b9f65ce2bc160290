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
from motifnet.motif.pwm import (Motif, consensus, information_content, pwm_from_windows, relu_normalise,
                                reverse_complement_pwm)

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
    from motifnet.attribution import deeplift
    from motifnet.data import decode, one_hot_codes
    from motifnet.ism import fast_ism
    from motifnet.motif.database import CITATION, load_default_database
    from motifnet.motif.discovery import discover_motifs
    from motifnet.motif.io import write_meme
    from motifnet.motif.tomtom import plot_alignment, write_matches_tsv
    from motifnet.train import saliency

    log = log or (lambda msg: None)
    out = Path(out_dir)
    report = _Report(out, figures)
    database = load_default_database() if database is None else database
    codes, lengths = np.ascontiguousarray(pos_codes), np.asarray(pos_lengths, dtype=np.int64)
    N, L = codes.shape
    if N == 0:
        raise UserError("no positive (label 1) sequences to interpret")
    both_strands = model.name == "deepbind"
    K = int(model.conv.kernel_size)
    seqs = decode(codes, lengths)
    x = np.ascontiguousarray(one_hot_codes(codes), dtype=model.dtype)
    motif = motif.upper() if motif else None
    starts = find_motif(seqs, motif) if motif else None
    if motif and both_strands:  # a site may be on either strand
        rc_motif = motif[::-1].translate(str.maketrans("ACGT", "TGCA"))
        rc_starts = find_motif(seqs, rc_motif)
        starts = np.where(starts >= 0, starts, rc_starts)
    mlen = len(motif) if motif else 0
    ex = list(range(min(N_EXAMPLES, N)))
    result = {"model": model.name, "n_positive_sequences": int(N), "lengths": {
        "min": int(lengths.min()), "max": int(lengths.max())}, "known_motif": motif,
        "motif_found_in": None if starts is None else int((starts >= 0).sum()), "database": database_name,
        "database_citation": CITATION if database_name.startswith("JASPAR 2024") else None}
    all_motifs = []  # (Motif, source) written to motifs.meme

    # 1. DeepLIFT, exact rules
    t0 = time.perf_counter()
    attr = deeplift(model, codes, lengths, references=references, n_references=n_references, seed=seed)
    background = None
    if neg_codes is not None and len(neg_codes):
        n_bg = min(len(neg_codes), max(N, 200))
        battr = deeplift(model, neg_codes[:n_bg], neg_lengths[:n_bg], references=references,
                         n_references=n_references, seed=seed + 1)
        background = (np.ascontiguousarray(neg_codes[:n_bg]), np.asarray(neg_lengths[:n_bg]), battr.hypothetical)
    delta = np.abs(attr.delta)
    scale = np.maximum(np.abs(attr.f_x - attr.f_ref), 1.0)
    result["deeplift"] = {"references": str(references), "n_references": n_references,
                          "max_abs_delta": float(delta.max()), "median_abs_delta": float(np.median(delta)),
                          "max_relative_delta": float((delta / scale).max()),
                          "seconds": round(time.perf_counter() - t0, 2)}
    log(f"DeepLIFT (exact rules, {n_references} {references} references): convergence max |sum - (f(x) - "
        f"f(ref))| = {delta.max():.2e} over {N} sequences")
    contrib = attr.contributions.sum(axis=1)  # (N, L): the contribution of the base present
    # the example figures show at most EXAMPLE_WIDTH bases of each example, around its largest contributions
    ex_lo = np.zeros(len(ex), dtype=np.int64)
    width = min(EXAMPLE_WIDTH, int(lengths[ex].min()))
    for j, i in enumerate(ex):
        if lengths[i] > width:  # centred on the 12 bases of largest total contribution
            core = int(np.argmax(np.convolve(np.abs(contrib[i, :lengths[i]]), np.ones(12), mode="valid")))
            ex_lo[j] = int(np.clip(core + 6 - width // 2, 0, lengths[i] - width))
    ex_seqs = [seqs[i][lo:lo + width] for i, lo in zip(ex, ex_lo)]
    ex_starts = None if starts is None else np.array([s - lo if lo <= s <= lo + width - mlen else -1
                                                      for s, lo in zip(starts[ex], ex_lo)])

    def crop(a):
        """Rows ``ex`` of (N, ..., L) ``a``, cut to the examples' windows."""
        return np.stack([a[i, ..., lo:lo + width] for i, lo in zip(ex, ex_lo)])

    report.draw(plots.saliency_grid, "deeplift.png", ex_seqs, {"DeepLIFT\ncontribution": crop(contrib)}, ex_starts,
                        mlen, suptitle="DeepLIFT contributions (exact rules) of the first positive sequences"
                        + ("" if width == L else f", {width} bases around their largest contributions"))

    # 2. motif discovery from the attributions, and the motifs' names
    found = discover_motifs(codes, lengths, attr.hypothetical, background=background, seed=seed)
    discovered = []
    for i, dm in enumerate(found.motifs):
        m = Motif(f"motifnet-{i + 1}", dm.consensus, dm.pwm, dm.n_seqlets, source="motifnet discovery")
        trimmed = m.trimmed(TRIM_BITS) or m
        rec = {"id": m.id, "consensus": trimmed.consensus, "width": trimmed.width, "n_seqlets": int(dm.n_seqlets),
               "strands": {"+": sum(s[3] == "+" for s in dm.seqlets), "-": sum(s[3] == "-" for s in dm.seqlets)},
               "pwm": _pwm_dict(trimmed.pwm), "total_information_content": round(float(
                   information_content(trimmed.pwm).sum()), 3)}
        all_motifs.append(trimmed)
        if i < REPORTED_MOTIFS:
            rec["matches"] = _best_matches(trimmed, database, TOP_MATCHES)
            rec["known_motif_match"] = _known_match(trimmed.consensus, motif, True)
            report.draw(save_logo, f"{m.id}.png", trimmed.pwm,
                      title=f"{m.id}: {trimmed.consensus} ({dm.n_seqlets} seqlets)")
            report.draw(plots.centred_logo, f"{m.id}_contribution.png", dm.contribution,
                               f"{m.id}: mean DeepLIFT contribution per base", ylabel="contribution")
            if rec["matches"]:
                from motifnet.motif.tomtom import compare

                best = compare(trimmed, database)[0]
                report.draw(plot_alignment, f"{m.id}_match.png", trimmed, best)
        discovered.append(rec)
        log(f"motif {m.id}: {trimmed.consensus} ({dm.n_seqlets} seqlets)"
            + (f"; best match {_match_text(rec.get('matches'))}" if i < REPORTED_MOTIFS else ""))
    result["discovery"] = {"motifs": discovered, "reason": found.reason, "n_seqlets": int(found.n_seqlets)}
    if not found.motifs:
        log(found.reason or "no motif found")

    # 3. the tutorials' methods, each a reconstruction of width K
    methods = {}

    def method(name, pwm, n_windows, description):
        m = Motif(f"motifnet-{name}", consensus(pwm), pwm, n_windows, source=f"motifnet {name}")
        trimmed = m.trimmed(TRIM_BITS) or m
        all_motifs.append(trimmed)
        ic = information_content(pwm)
        methods[name] = {"consensus": consensus(pwm), "pwm": _pwm_dict(pwm),
                         "information_content": [round(float(v), 4) for v in ic],
                         "total_information_content": round(float(ic.sum()), 4), "n_windows": int(n_windows),
                         "description": description, "logo": f"motif_{name}.png",
                         "best_match": (_best_matches(trimmed, database, 1) or [None])[0]}
        if motif:
            methods[name]["match"] = _known_match(methods[name]["consensus"], motif, both_strands)
        report.draw(save_logo, f"motif_{name}.png", pwm, title=f"{name}: {consensus(pwm)}")

    # 3a. filters: weights as heatmaps, the most variable filters as logos (ReLU, column-normalised)
    weights = np.asarray(model.conv.weight.data, dtype=np.float64)
    report.draw(plots.filter_heatmaps, "filter_weights.png", weights)
    top = top_filters_by_variance(weights, N_LOGOS)
    report.draw(plots.logo_grid, "filter_weight_logos.png", [relu_normalise(weights[f]) for f in top],
                    [f"filter {f} (weight var {weights[f].var():.3g})" for f in top],
                    f"top {len(top)} filters by weight variance (ReLU, columns normalised)")
    # 3b. activation PWMs (Basset) and the best filter
    if both_strands:
        acts = np.concatenate([model.strand_activations(codes[i:i + 512], lengths[i:i + 512])
                               for i in range(0, N, 512)])
        records = strand_activation_pwms(acts, x, K)
    else:
        acts = np.concatenate([model.conv_activations(codes[i:i + 512]) for i in range(0, N, 512)])
        conv = model.conv
        records = activation_pwms(acts, x, K, int(conv.stride), int(conv.padding), int(conv.dilation),
                                  pseudocount=PSEUDOCOUNT, min_sites=MIN_SITES)
    with_pwm = sorted((r for r in records if r["pwm"] is not None), key=lambda r: -r["ic"])
    report.draw(plots.logo_grid, "filter_activation_logos.png", [r["pwm"] for r in with_pwm[:N_LOGOS]],
                    [f"filter {r['filter']}: {r['n_sites']} sites, {r['ic']:.1f} bits" for r in with_pwm[:N_LOGOS]],
                    f"activation PWMs, top {min(N_LOGOS, len(with_pwm))} filters by information "
                    f"(of {len(with_pwm)} with >= {MIN_SITES} sites)")
    best = best_filter(records)
    if best is not None:
        method("filter_activation", best["pwm"], best["n_sites"],
               f"activation PWM of filter {best['filter']}, the highest total information content among "
               f"{len(with_pwm)} filters with >= {MIN_SITES} sites (activation > mu + 0.5 (max - mu))"
               + (", both strands" if both_strands else ""))
        methods["filter_activation"]["filter"] = best["filter"]
    log(f"filters: {len(with_pwm)} of {len(records)} have >= {MIN_SITES} sites"
        + (f"; best filter {best['filter']}: {best['consensus']}" if best else ""))

    def windows_pwm(scores, width, orient):
        starts_ = best_window_starts(np.where(np.arange(L)[None, :] < lengths[:, None], scores, 0.0), width)
        starts_ = np.minimum(starts_, np.maximum(lengths - width, 0))
        w = stack_windows(x, starts_, width)
        return pwm_from_windows(orient_windows(w) if orient else w, PSEUDOCOUNT)

    # 3c. saliency, three forms, and the saliency window
    sal = {mode: np.asarray(saliency(model, x, mode=mode, lengths=lengths), dtype=np.float64)
           for mode in ("sum", "max", "grad_x_input")}
    report.draw(plots.saliency_grid, "saliency.png", ex_seqs,
                        {plots.SALIENCY_LABELS[m]: crop(v) for m, v in sal.items()}, ex_starts, mlen,
                        suptitle="saliency of the first positive sequences")
    method("saliency", windows_pwm(sal["grad_x_input"], K, both_strands), N,
           f"per sequence, the width-{K} window with the largest summed gradient x input (clipped at 0)"
           + ("; windows put on one strand" if both_strands else ""))

    # 3d. attention (attention models only)
    attention_stats = None
    if model.name == "attention":
        att = np.asarray(model.attention_weights(codes), dtype=np.float64)
        up = upsample_linear(att, L)
        report.draw(plots.attention_heatmap, "attention.png", up[:200], None if starts is None else starts[:200],
                                mlen, title=f"attention of the first {min(N, 200)} positive sequences, "
                                            f"pooled length {att.shape[1]} upsampled to {L}")
        if motif:
            attention_stats = motif_enrichment(up, starts, mlen)
            report.draw(plots.bar_chart, "attention_motif_vs_background.png", ["motif positions", "background"],
                            [attention_stats["motif_mean"], attention_stats["background_mean"]],
                            "mean upsampled attention",
                            f"attention on the motif vs elsewhere ({attention_stats['n_sequences']} positive "
                            f"sequences)\nuniform attention would be 1/{att.shape[1]} = {1 / att.shape[1]:.4f} "
                            f"everywhere")
        att_starts = centred_starts(np.argmax(up, axis=1), ATTENTION_WINDOW, L)
        if motif:
            shift = (att_starts - starts)[starts >= 0]  # the follow-up's window vs the planted motif
            if shift.size:
                attention_stats["window_start_minus_motif_start"] = {
                    "median": float(np.median(shift)), "min": int(shift.min()), "max": int(shift.max()),
                    "fraction_exactly_aligned": round(float(np.mean(shift == 0)), 4)}
        method("attention", pwm_from_windows(stack_windows(x, att_starts, ATTENTION_WINDOW), PSEUDOCOUNT), N,
               f"per sequence, the width-{ATTENTION_WINDOW} window centred on the argmax of the attention "
               f"upsampled from {att.shape[1]} pooled positions to {L}")
    result["attention_motif_vs_background"] = attention_stats

    # 3e. in-silico mutagenesis, recomputing only what each substitution changes
    t0 = time.perf_counter()
    deltas = fast_ism(model, codes, lengths)
    ism_seconds = time.perf_counter() - t0
    report.draw(plots.ism_figure, "ism_examples.png", ex_seqs, crop(deltas), ex_starts, mlen)
    ism_starts, ism_windows, ism_centred = aligned_windows(deltas, x, K)
    if both_strands:
        ism_windows = orient_windows(ism_windows)
    report.draw(plots.centred_logo, "ism_logo.png", ism_centred.mean(axis=0),
                       f"mean-centred ISM, mean over {N} sequences aligned on their max-effect window")
    method("ism", pwm_from_windows(ism_windows, PSEUDOCOUNT), N,
           f"per sequence, the width-{K} window with the largest summed mean-centred ISM score of its own bases "
           f"({int(3 * lengths.sum())} substitutions in {ism_seconds:.1f} s)")
    log(f"ISM: {methods['ism']['consensus']} ({int(3 * lengths.sum())} substitutions, {ism_seconds:.1f} s)")

    # 4. all reconstructions together, the motif file and the match table
    names = list(methods)
    report.draw(plots.logo_grid, "motifs.png", [np.array([methods[m]["pwm"][b] for b in "ACGT"]) for m in names],
                    [f"{m}: {methods[m]['consensus']}" for m in names],
                    "reconstructed motifs" + (f" (known: {motif})" if motif else ""), max_cols=1)
    write_meme(report.path("motifs.meme"), all_motifs)
    from motifnet.motif.tomtom import compare

    reported = [m for m in all_motifs[:min(len(found.motifs), REPORTED_MOTIFS)]]
    write_matches_tsv(report.path("matches.tsv"), [hit for m in reported for hit in compare(m, database)[:TOP_MATCHES]])
    result["methods"] = methods
    result["filters"] = [{k: v for k, v in r.items() if k != "pwm"} for r in records]
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
