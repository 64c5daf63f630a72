"""Studies: many runs as one experiment. Seed groups (``mmib train --seeds`` / ``mmib repeat``),
grid sweeps (``mmib sweep``), the paper's experiments as sweep presets (``mmib paper``) and
comparisons of runs with paired tests (``mmib compare``)."""

from .comparisons import Result, compare, load_result
from .seeds import GroupExistsError, parse_seeds, run_seeds
from .stats import aggregate, paired_test
from .sweep import run_sweep

__all__ = ["GroupExistsError", "Result", "aggregate", "compare", "load_result", "paired_test", "parse_seeds",
           "run_seeds", "run_sweep"]
