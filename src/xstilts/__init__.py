"""xstilts: English intermediate-task training (STILTs) and zero-shot cross-lingual transfer on XTREME.

Public entry points: :mod:`xstilts.tasks` (the registry), :mod:`xstilts.data` (readers),
:mod:`xstilts.formats` (featurize/decode per format), :mod:`xstilts.metrics` (official-equal scorers),
:func:`load_results` (a run folder's results as a DataFrame).
"""

__version__ = "0.1.0"


def load_results(out_dir_or_file, where=None, latest: bool = True):
    """The results of a run folder as a pandas DataFrame (see :func:`xstilts.pipeline.results.load_results`)."""
    from xstilts.pipeline.results import load_results as load

    return load(out_dir_or_file, where=where, latest=latest)
