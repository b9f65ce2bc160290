"""Motifs as matrices: PWMs, motif files (MEME, JASPAR), matching against a database
(Tomtom-style), and motif discovery from attribution maps."""

from motifnet.motif.database import CITATION, load_database, load_default_database  # noqa: F401
from motifnet.motif.io import read_motifs, write_meme  # noqa: F401
from motifnet.motif.pwm import Motif  # noqa: F401
from motifnet.motif.tomtom import Match, compare, plot_alignment, write_matches_tsv  # noqa: F401
