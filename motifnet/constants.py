"""Names and numbers several modules share, in one place.

The alphabet's order (A, C, G, T) is the one-hot channel order everywhere: in the
codes (A 0, C 1, G 2, T 3), in every PWM's rows, in the filters' channels; the
complement of channel c is 3 - c (A-T, C-G).
"""

ALPHABET = "ACGT"
ALPHABET_SIZE = 4
PRIMER_MOTIF = "CGACCGAACTCC"  # the motif the primer plants in its simulated data

# the architectures (motifnet.models.MODELS), in the order --help lists them
MODEL_NAMES = ("deepbind", "cnn", "attention")
TUTORIAL_MODELS = ("cnn", "attention")

# the primer's demo data set (motifnet train without data options)
DEMO_N, DEMO_LENGTH = 2000, 50

# the primer's data files, for python -m motifnet.reproduce (not shipped: no licence)
PRIMER_DATA_URL = "https://raw.githubusercontent.com/abidlabs/deep-learning-genomics-primer/master"
