"""Motifs as matrices: PWMs, motif files (MEME, JASPAR), matching against a database
(Tomtom-style), and motif discovery from attribution maps."""
