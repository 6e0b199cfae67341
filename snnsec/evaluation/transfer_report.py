"""Transfer reports: does an attack crafted in PyTorch still fool the network on the backend?

Renders the dict of :func:`snnsec.backends.replay.compare_backends` as a text table, Markdown and
a bar chart (ASR in PyTorch next to ASR on the backend, per attack).
"""

from __future__ import annotations

import math
import os
from typing import Any

from snnsec.utils.io import atomic_write


def _pct(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f} %"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def transfer_rows(report: dict[str, Any]) -> list[list[str]]:
    """Header plus one row per attack: ASR torch, ASR backend, transfer ratio, agreement."""
    rows = [["attack", "eps", "ASR torch", f"ASR {report['backend']}", "transfer", "agreement"]]
    for name, r in report["attacks"].items():
        rows.append([name, str(r.get("eps", "")), _pct(r["asr_torch"]), _pct(r["asr_backend"]),
                     _ratio(r["transfer_ratio"]), _pct(r["adv_agreement"])])
    return rows


def text_table(report: dict[str, Any]) -> str:
    rows = transfer_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = (f"clean accuracy: torch {_pct(report['torch_clean_accuracy'])}, {report['backend']} "
            f"{_pct(report['clean_accuracy'])}; agreement {_pct(report['agreement'])} on n = {report['n']}")
    return head + "\n" + "\n".join(lines)


def markdown(report: dict[str, Any], title: str, preamble: str = "") -> str:
    rows = transfer_rows(report)
    md = [f"# {title}", ""]
    if preamble:
        md += [preamble, ""]
    md += [
        f"Clean accuracy on {report['n']} samples: PyTorch {_pct(report['torch_clean_accuracy'])}, "
        f"{report['backend']} {_pct(report['clean_accuracy'])}; the two agree on {_pct(report['agreement'])} "
        "of the clean samples.",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "|".join(" --- " for _ in rows[0]) + "|",
    ]
    md += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    md += [
        "",
        "ASR (attack success rate) is the share of clean-correct samples that the adversarial input "
        "misclassifies, each platform judged on its own clean-correct samples. *transfer* is ASR on "
        f"{report['backend']} divided by ASR in PyTorch; *agreement* is the share of adversarial "
        "inputs both platforms label the same.",
    ]
    return "\n".join(md) + "\n"


def plot(report: dict[str, Any], path: str | os.PathLike[str], title: str) -> None:
    """Grouped bars: ASR in PyTorch and on the backend for each attack (PNG, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["attacks"])
    torch_asr = [100 * (report["attacks"][n]["asr_torch"] or 0.0) for n in names]
    backend_asr = [100 * (report["attacks"][n]["asr_backend"] or 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2.5, 3.6), dpi=120)
    xs = range(len(names))
    ax.bar([i - 0.2 for i in xs], torch_asr, width=0.4, label="PyTorch", color="#4c72b0")
    ax.bar([i + 0.2 for i in xs], backend_asr, width=0.4, label=report["backend"], color="#dd8452")
    for i, (a, b) in enumerate(zip(torch_asr, backend_asr)):
        ax.text(i - 0.2, a + 1, f"{a:.0f}", ha="center", fontsize=8)
        ax.text(i + 0.2, b + 1, f"{b:.0f}", ha="center", fontsize=8)
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("attack success rate (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
