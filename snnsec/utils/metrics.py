"""The attack metrics every report shares (one definition, used by evaluate, deploy and the demo)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def attack_success_rate(clean_correct: Any, adv_correct: Any) -> float:
    """ASR as the paper defines it: among the samples classified correctly when clean, the share
    misclassified after the attack. Inputs are per-sample booleans (numpy or torch); NaN when no
    sample was correct to begin with."""
    clean = np.asarray(clean_correct, dtype=bool)
    adv = np.asarray(adv_correct, dtype=bool)
    n = int(clean.sum())
    return float((clean & ~adv).sum()) / n if n else math.nan
