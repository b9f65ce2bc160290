"""Interpretation: what a trained model learned, and the motif reconstructed several ways.

Modules: ``motifs`` (PWM, information content, consensus, windows, matching),
``filters`` (weight logos, Basset activation PWMs), ``attention`` (torch-exact
linear upsampling, motif enrichment), ``ism`` (in-silico mutagenesis),
``plots`` (the figures; logos are drawn by ``motifnet.logos``) and ``report``
(``interpret_model``: every method on one model, used by ``motifnet interpret``).
"""
