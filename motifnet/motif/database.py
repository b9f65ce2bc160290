"""The motif database a learned motif is named against: JASPAR 2024 CORE, shipped, or the user's file.

The default database, ``JASPAR2024_CORE.meme`` beside this module, is the 2,346
matrices of the JASPAR 2024 CORE collection (all taxa; the latest version of
each matrix ID) as letter-probability matrices in MEME minimal motif format,
``MOTIF MA0139.2 CTCF`` and so on, probabilities = counts / column total with
no pseudocount.  It was converted from the JASPAR 2024 SQLite database shipped
in the ``pyjaspar`` wheel (PyPI, MIT licence); see ``README.md`` in this folder.

Licence and citation: JASPAR states that its data "can be used with no
restrictions (open source)"; cite

    Rauluseviciute I, Riudavets-Puig R, Blanc-Mathieu R, et al. JASPAR 2024: 20th
    anniversary of the open-access database of transcription factor binding
    profiles. Nucleic Acids Research 52(D1):D174-D182 (2024).
    doi:10.1093/nar/gkad1059

Nothing is downloaded: the file is package data (``pyproject.toml`` ships
``motifnet/motif/*.meme``), so naming a motif needs no extra step.
"""

from __future__ import annotations

import functools
from pathlib import Path

from motifnet.errors import UserError
from motifnet.motif.io import read_motifs
from motifnet.motif.pwm import Motif

DEFAULT_DATABASE_PATH = Path(__file__).with_name("JASPAR2024_CORE.meme")
DEFAULT_DATABASE_NAME = "JASPAR 2024 CORE"
DEFAULT_DATABASE_SIZE = 2346  # matrices in the shipped file
JASPAR_MATRIX_URL = "https://jaspar.elixir.no/matrix/{id}/"
CITATION = ("Rauluseviciute I, Riudavets-Puig R, Blanc-Mathieu R, et al. JASPAR 2024: 20th anniversary of "
            "the open-access database of transcription factor binding profiles. Nucleic Acids Research "
            "52(D1):D174-D182 (2024). doi:10.1093/nar/gkad1059")


@functools.lru_cache(maxsize=1)
def load_default_database() -> tuple[Motif, ...]:
    """The shipped JASPAR 2024 CORE motifs (2,346), read once per process and cached.

    Each motif's ``url`` is its JASPAR page and its ``source`` is
    ``"JASPAR 2024 CORE"``.  Motifs are immutable (read-only matrices), so the
    cached tuple can be shared.  Cite JASPAR 2024 (``CITATION``) when reporting
    matches against it.
    """
    if not DEFAULT_DATABASE_PATH.is_file():
        # Only a broken installation gets here; say what is missing, in one line.
        raise UserError(f"{DEFAULT_DATABASE_PATH}: the shipped motif database is missing; reinstall "
                        f"motifnet, or give your own database with --motif-db FILE")
    return tuple(Motif(m.id, m.name, m.pwm, m.nsites, m.url or JASPAR_MATRIX_URL.format(id=m.id),
                       DEFAULT_DATABASE_NAME) for m in read_motifs(DEFAULT_DATABASE_PATH))


def load_database(path=None) -> tuple[Motif, ...]:
    """The motifs of a user's database file (``--motif-db FILE``), MEME or JASPAR, told by content.

    ``path`` None gives the default database.

    Raises
    ------
    UserError
        One line naming the file and line when it cannot be read as MEME or
        JASPAR motifs (see ``motifnet.motif.io``).
    """
    if path is None:
        return load_default_database()
    return tuple(read_motifs(path))
