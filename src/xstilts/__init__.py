"""xstilts: English intermediate-task training (STILTs) and zero-shot cross-lingual transfer on XTREME.

Public entry points: :mod:`xstilts.tasks` (the registry), :mod:`xstilts.data` (readers),
:mod:`xstilts.formats` (featurize/decode per format), :mod:`xstilts.metrics` (official-equal scorers).
"""

__version__ = "0.1.0"
