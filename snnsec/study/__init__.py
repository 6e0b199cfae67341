"""Studies: the paper's experiments (ε, TE and λ sweeps, white and black box, the quantised-ANN
baseline, spike shuffle) as one resumable grid over the craft/evaluate machinery; see
docs/reproduce.md and ``snnsec reproduce``."""

from snnsec.study.engine import Cell, ModelKey, StudyResult, cells_of, run_study, write_study
from snnsec.study.spec import PRESETS, StudySpec, preset

__all__ = ["PRESETS", "Cell", "ModelKey", "StudyResult", "StudySpec", "cells_of", "preset", "run_study", "write_study"]
