"""motifnet: transcription-factor binding sites with hand-written neural-network kernels.

Every layer is a pair of forward/backward loops JIT-compiled with Numba (the
``kernels`` package); this package composes them into layers, models, training,
interpretation and a command line.  No deep-learning framework is used.
"""

__version__ = "0.1.0"
