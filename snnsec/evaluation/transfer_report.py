"""Transfer reports: does an attack crafted in PyTorch still fool the network on the backend?

Renders the dict of :func:`snnsec.backends.replay.compare_backends` as a text table, Markdown and
a bar chart (ASR in PyTorch next to ASR on the backend, per attack). The ``demo_*`` functions
render the demo's report: that dict for ``loihi2-emu`` on every digit, the same for lava-sim on
the first K digits (``report["lava"]``) and whether the two agreed there (``report["cross_check"]``).
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


def _markdown_table(report: dict[str, Any]) -> list[str]:
    rows = transfer_rows(report)
    md = [
        f"Clean accuracy on {report['n']} samples: PyTorch {_pct(report['torch_clean_accuracy'])}, "
        f"{report['backend']} {_pct(report['clean_accuracy'])}; the two agree on {_pct(report['agreement'])} "
        "of the clean samples.",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "|".join(" --- " for _ in rows[0]) + "|",
    ]
    return md + ["| " + " | ".join(row) + " |" for row in rows[1:]]


def _asr_note(backends: str) -> str:
    return ("ASR (attack success rate) is the share of clean-correct samples that the adversarial input "
            "misclassifies, each platform judged on its own clean-correct samples. *transfer* is ASR on "
            f"{backends} divided by ASR in PyTorch on the same samples; *agreement* is the share of adversarial "
            "inputs both platforms label the same.")


def markdown(report: dict[str, Any], title: str, preamble: str = "") -> str:
    md = [f"# {title}", ""]
    if preamble:
        md += [preamble, ""]
    md += _markdown_table(report)
    md += ["", _asr_note(report["backend"])]
    return "\n".join(md) + "\n"


def cross_check_line(cross: dict[str, Any]) -> str:
    """One line: did loihi2-emu agree with lava-sim on the cross-checked samples?"""
    what = f"{cross['samples']} samples (the first {cross['per_set']} of {', '.join(cross['sets'])})"
    reused = " (result reused)" if cross.get("reused") else ""
    if cross["precision"] != "fixed":
        return (f"loihi2-emu vs lava-sim (floating point) on {what}: {cross['predictions_equal']} of "
                f"{cross['samples']} predictions equal; float Lava is not the emulator's arithmetic, so "
                f"spikes are not compared{reused}")
    if cross["agree"]:
        same = "every layer's spikes, every readout v" if cross.get("spikes_compared") else "every readout v"
        return (f"loihi2-emu = lava-sim (fixed point) on {what}: {same} and all {cross['samples']} predictions "
                f"identical{reused}")
    d = cross["first_difference"]
    where = (f"first difference: {d['set']} sample {d['sample']}, layer {d['layer']}, "
             f"{'step ' + str(d['step']) if d['step'] is not None else 'readout v'} ({d['what']})" if d else
             f"first differing prediction: {cross['first_prediction_difference']}")
    return (f"LOIHI2-EMU DIFFERS FROM LAVA-SIM (fixed point) on {what}: {cross['predictions_differ']} of "
            f"{cross['samples']} predictions differ; {where}{reused}")


def demo_text(report: dict[str, Any]) -> str:
    """The demo's terminal tables: the emulator on every digit, lava-sim on the first K, the check."""
    parts = [f"loihi2-emu (Loihi 2 fixed point, batched emulator) on {report['n']} digits\n" + text_table(report)]
    if "lava" in report:
        lava = report["lava"]
        arith = "fixed point" if report["cross_check"]["precision"] == "fixed" else "floating point"
        parts.append(f"lava-sim ({arith}, Lava's CPU simulator) on the first {lava['n']} digits\n" + text_table(lava))
        parts.append(cross_check_line(report["cross_check"]))
    return "\n\n".join(parts)


def demo_markdown(report: dict[str, Any], title: str, preamble: str = "") -> str:
    """The demo's ``report.md``: both tables and the cross-check."""
    md = [f"# {title}", ""]
    if preamble:
        md += [preamble, ""]
    md += [f"## loihi2-emu on {report['n']} digits", ""] + _markdown_table(report)
    if "lava" in report:
        md += ["", f"## lava-sim on the first {report['lava']['n']} digits", ""] + _markdown_table(report["lava"])
        cross = report["cross_check"]
        md += ["", "## Cross-check", "", cross_check_line(cross) + "."]
    md += ["", _asr_note("the backend")]
    timings = report.get("timings_s")
    if timings:
        md += ["", "Seconds per stage: " + ", ".join(f"{k} {v:g}" for k, v in timings.items()) + "."]
    return "\n".join(md) + "\n"


def _asr(report: dict[str, Any], key: str) -> list[float]:
    return [100 * (r[key] or 0.0) if r[key] == r[key] else 0.0 for r in report["attacks"].values()]


def plot(report: dict[str, Any], path: str | os.PathLike[str], title: str) -> None:
    """Grouped bars: ASR in PyTorch and on the backend for each attack (PNG, written atomically)."""
    _bars(list(report["attacks"]), [("PyTorch", _asr(report, "asr_torch")),
                                    (report["backend"], _asr(report, "asr_backend"))], path, title)


def demo_plot(report: dict[str, Any], path: str | os.PathLike[str], title: str) -> None:
    """The demo's bars per attack: PyTorch and loihi2-emu on every digit, then PyTorch and
    lava-sim on the first K (when the cross-check ran)."""
    series = [(f"PyTorch (n={report['n']})", _asr(report, "asr_torch")),
              (f"{report['backend']} (n={report['n']})", _asr(report, "asr_backend"))]
    if "lava" in report:
        lava = report["lava"]
        series += [(f"PyTorch (first {lava['n']})", _asr(lava, "asr_torch")),
                   (f"{lava['backend']} (first {lava['n']})", _asr(lava, "asr_backend"))]
    _bars(list(report["attacks"]), series, path, title)


COLORS = ("#4c72b0", "#dd8452", "#8da0cb", "#c44e52")


def _bars(names: list[str], series: list[tuple[str, list[float]]], path: str | os.PathLike[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=((0.8 + 0.4 * len(series)) * len(names) + 2.5, 3.6), dpi=120)
    xs = range(len(names))
    for j, (label, values) in enumerate(series):
        offset = (j - (len(series) - 1) / 2) * width
        ax.bar([i + offset for i in xs], values, width=width, label=label, color=COLORS[j % len(COLORS)])
        for i, v in enumerate(values):
            ax.text(i + offset, v + 1, f"{v:.0f}", ha="center", fontsize=7)
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("attack success rate (%)")
    ax.set_ylim(0, 125)  # room for the legend above 100 %
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
