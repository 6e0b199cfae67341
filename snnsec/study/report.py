"""A study's tables (laid out like the paper's Tables 1-2) and figures (like its Figs. 6-8).

Everything here reads the study's JSON data (:func:`snnsec.study.engine.run_study`), so the
tables and plots can be redrawn from ``study.json`` alone. ASR is in percent of the clean-correct
samples; where a cell was evaluated with several encoder draws, ``±`` and the error bars are the
standard deviation over the draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ENCODER_LABEL = {"direct": "direct", "poisson": "Poisson", "frames": "event frames"}


def _pct(stats: dict[str, Any] | float | None, spread: bool = True) -> str:
    if isinstance(stats, dict):
        mean, std = stats.get("mean"), stats.get("std")
    else:
        mean, std = stats, None
    if mean is None:
        return "n/a"
    text = f"{100 * mean:.2f}"
    if spread and std:
        text += f" ± {100 * std:.2f}"
    return text


def _cells(data: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [c for c in data["cells"] if all(c.get(k) == v for k, v in match.items())]


def _one(data: dict[str, Any], **match: Any) -> dict[str, Any] | None:
    found = _cells(data, **match)
    return found[0] if found else None


def _gradients(data: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for a in data["study"]["attacks"]:
        g = a.split("-", 1)[0]
        if g not in seen:
            seen.append(g)
    return seen


def _optimizers(data: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for a in data["study"]["attacks"]:
        o = a.split("-", 1)[1]
        if o not in seen:
            seen.append(o)
    return seen


def _draws_note(data: dict[str, Any]) -> str:
    s = data["study"]
    return (f"n = {s['n']} test samples per cell; Poisson cells: mean ± std over {s['draws']} encoder draws"
            if "poisson" in s["encoders"] else f"n = {s['n']} test samples per cell")


def markdown_tables(data: dict[str, Any]) -> str:
    s = data["study"]
    eps = data["main_eps"]
    lines = [f"# Study `{s['name']}`: {s['arch']} on {s['dataset']}", ""]
    lines += [f"ASR in % of the clean-correct samples; {_draws_note(data)}. Main ε = {eps}.", ""]
    lines += ["## Models", "", "| model | kind | λ | input | T | seed | test accuracy |", "|---|---|---|---|---|---|---|"]
    for label, m in data["models"].items():
        acc = "n/a" if m["test_accuracy"] is None else f"{100 * m['test_accuracy']:.2f}"
        kind = "quantised ANN (QCFS)" if m["kind"] == "ann" else "SNN"
        lines.append(f"| {label} | {kind} | {m['leak']:g} | {ENCODER_LABEL.get(m['encoder'], m['encoder'])} | "
                     f"{m['T']} | {m['seed']} | {acc} |")
    if data["shuffle"]:
        lines += ["", "## Table 1: spike shuffle (rate coding, paper §4.1)", "",
                  f"Accuracy in % on the first {data['shuffle'][0]['n']} test samples, with each neuron's spikes "
                  f"permuted over time (mean of {data['shuffle'][0]['runs']} shuffles).", "",
                  "| input | T | clean accuracy | shuffled accuracy | difference |", "|---|---|---|---|---|"]
        for r in data["shuffle"]:
            lines.append(f"| {ENCODER_LABEL.get(r['encoder'], r['encoder'])} | {r['T']} | {_pct(r['clean_accuracy'])} | "
                         f"{_pct(r['shuffled_accuracy'])} | {100 * r['difference']:+.2f} |")
    grads = _gradients(data)
    te_best = [k for k in s["te"] if k > 1]
    lines += ["", f"## Table 2: white- and black-box ASR at ε = {eps} (λ = 1)", ""]
    head = ["input", "attack"] + [f"white {g.upper()}" for g in grads]
    if te_best:
        head += [f"white {g.upper()}+TE" for g in grads if g == "rga"]
    if s["black_box"]:
        head += [f"black {g.upper()}" for g in grads] + [f"transfer {g.upper()}" for g in grads]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for enc in s["encoders"]:
        for opt in _optimizers(data):
            row = [ENCODER_LABEL.get(enc, enc), opt.upper()]
            target = f"snn-l1-{enc}-s{s['seed']}"
            for g in grads:
                c = _one(data, target=target, attack=f"{g}-{opt}", eps=eps, te=1, box="white")
                row.append(_pct(c["asr"]) if c else "—")
            if te_best:
                for g in grads:
                    if g != "rga":
                        continue
                    tes = [c for c in _cells(data, target=target, attack=f"{g}-{opt}", eps=eps, box="white") if c["te"] > 1]
                    best = max(tes, key=lambda c: c["asr"]["mean"] or 0.0, default=None)
                    row.append(f"{_pct(best['asr'])} (TE {best['te']}×)" if best else "—")
            if s["black_box"]:
                blacks = [_one(data, target=target, attack=f"{g}-{opt}", eps=eps, te=1, box="black") for g in grads]
                row += [_pct(c["asr"]) if c else "—" for c in blacks]
                row += [_pct(c.get("transfer_rate"), False) if c else "—" for c in blacks]
            lines.append("| " + " | ".join(row) + " |")
    if s["black_box"]:
        lines += ["", "Black box: crafted on a substitute of the same architecture, T and λ trained with seed "
                  f"{s['substitute_seed']}, evaluated on the target (seed {s['seed']}). Transfer: of the examples "
                  "that fool the substitute (on samples both classify correctly), the % that also fool the target."]
    for box in ("white", "black") if s["black_box"] else ("white",):
        lines += _sweep_table(data, f"Fig. 6: ASR against ε ({box} box, λ = 1, {ENCODER_LABEL.get(s['encoders'][0], '')} input)",
                              "ε", s["eps"], lambda c, v, box=box: c["eps"] == v and c["te"] == 1 and c["leak"] == 1.0
                              and c["encoder"] == s["encoders"][0] and c["box"] == box and c["kind"] == "snn",
                              s["attacks"] if box == "white" else [a for a in s["attacks"] if a.endswith("-fgsm")])
    fgsm = [a for a in s["attacks"] if a.endswith("-fgsm")]
    for enc in s["encoders"]:
        lines += _sweep_table(data, f"Fig. 7: ASR against the time-extension factor ({ENCODER_LABEL.get(enc, enc)} input, "
                              f"ε = {eps})", "TE", s["te"],
                              lambda c, v, enc=enc: c["te"] == v and c["eps"] == eps and c["encoder"] == enc
                              and c["leak"] == 1.0 and c["box"] == "white" and c["kind"] == "snn", fgsm)
    lines += _sweep_table(data, f"Fig. 8: ASR against λ (FGSM, ε = {eps}, white box)", "λ", s["leaks"],
                          lambda c, v: c["leak"] == float(v) and c["eps"] == eps and c["te"] == 1
                          and c["encoder"] == s["encoders"][0] and c["box"] == "white" and c["kind"] == "snn", fgsm)
    ann = _cells(data, kind="ann")
    if ann:
        lines += ["", f"Quantised-ANN baseline (QCFS, {s['ann_levels']} levels, same architecture): FGSM ASR "
                  f"{_pct(ann[0]['asr'])} %, clean accuracy {_pct(ann[0]['clean_accuracy'])} % on the same n."]
    return "\n".join(lines) + "\n"


def _sweep_table(data: dict[str, Any], title: str, name: str, values: list[Any], pick: Any,
                 attacks: list[str]) -> list[str]:
    if not values or not attacks:
        return []
    lines = ["", f"## {title}", "", f"| {name} | " + " | ".join(attacks) + " |", "|---|" + "---|" * len(attacks)]
    for v in values:
        row = [str(v)]
        for a in attacks:
            found = [c for c in data["cells"] if c["attack"] == a and pick(c, v)]
            row.append(_pct(found[0]["asr"]) if found else "—")
        lines.append("| " + " | ".join(row) + " |")
    return lines


# -- figures ----------------------------------------------------------------------------------------
STYLE = {"stbp": ("tab:blue", "o"), "rga": ("tab:red", "s")}
LINE = {"fgsm": "-", "pgd": "--"}


def _style(attack: str) -> dict[str, Any]:
    g, _, o = attack.partition("-")
    color, marker = STYLE.get(g, ("tab:gray", "^"))
    return {"color": color, "marker": marker, "linestyle": LINE.get(o, ":"), "label": f"{g.upper()}-{o.upper()}"}


def _series(data: dict[str, Any], attack: str, xs: list[Any], pick: Any) -> tuple[list[float], list[float], list[float]]:
    x, y, e = [], [], []
    for i, v in enumerate(xs):
        found = [c for c in data["cells"] if c["attack"] == attack and pick(c, v)]
        if found and found[0]["asr"]["mean"] is not None:
            x.append(i if isinstance(v, str) else v)
            y.append(100 * found[0]["asr"]["mean"])
            e.append(100 * (found[0]["asr"]["std"] or 0.0))
    return x, y, e


def _figure(width: float = 5.2, height: float = 3.6, cols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, cols, figsize=(width * cols, height), squeeze=False, sharey=True)
    return fig, axes[0]


def _finish(fig: Any, path: Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    from snnsec.utils.io import atomic_write

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # no version stamp: same bytes on rerun
    plt.close(fig)
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return path


def _subtitle(data: dict[str, Any], extra: str = "") -> str:
    s = data["study"]
    return f"{s['arch']} on {s['dataset']}, n = {s['n']}{extra}"


def plot_eps(data: dict[str, Any], path: Path) -> Path | None:
    s = data["study"]
    if not s["eps"]:
        return None
    enc = s["encoders"][0]
    boxes = ["white", "black"] if s["black_box"] else ["white"]
    fig, axes = _figure(4.6, 3.6, cols=len(boxes))
    for ax, box in zip(axes, boxes):
        pick = (lambda c, v, box=box: c["eps"] == v and c["te"] == 1 and c["leak"] == 1.0 and c["encoder"] == enc
                and c["box"] == box and c["kind"] == "snn")
        for a in s["attacks"] if box == "white" else [a for a in s["attacks"] if a.endswith("-fgsm")]:
            x, y, _ = _series(data, a, s["eps"], pick)
            if x:
                ax.plot(x, y, **_style(a))
        ax.set_xticks(range(len(s["eps"])), s["eps"])
        ax.set_xlabel("ε (L∞ budget on inputs in [0, 1])")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("white box" if box == "white" else f"black box (substitute: seed {s['substitute_seed']})", fontsize=9)
    axes[0].set_ylabel("attack success rate (%)")
    fig.suptitle(f"ASR against ε (Fig. 6)\n{_subtitle(data, f', λ = 1, {ENCODER_LABEL.get(enc, enc)} input')}",
                 fontsize=10)
    return _finish(fig, path)


def plot_te(data: dict[str, Any], path: Path) -> Path | None:
    s = data["study"]
    fgsm = [a for a in s["attacks"] if a.endswith("-fgsm")]
    if not s["te"] or not fgsm:
        return None
    eps = data["main_eps"]
    fig, axes = _figure(4.4, 3.6, cols=len(s["encoders"]))
    for ax, enc in zip(axes, s["encoders"]):
        pick = (lambda c, v, enc=enc: c["te"] == v and c["eps"] == eps and c["encoder"] == enc and c["leak"] == 1.0
                and c["box"] == "white" and c["kind"] == "snn")
        for i, a in enumerate(fgsm):
            x, y, e = _series(data, a, s["te"], pick)
            if any(e):  # nudged sideways so that overlapping error bars stay apart
                x = [v + 0.04 * (i - (len(fgsm) - 1) / 2) for v in x]
                ax.errorbar(x, y, yerr=e, capsize=3, **_style(a))
            else:
                ax.plot(x, y, **_style(a))
        ax.set_xticks(s["te"], [f"{k}×" for k in s["te"]])
        ax.set_xlabel("time extension K (craft with K·T steps, evaluate at T)")
        note = f", mean ± std of {s['draws']} draws" if enc == "poisson" else ""
        ax.set_title(f"{ENCODER_LABEL.get(enc, enc)} input{note}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 105)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("attack success rate (%)")
    fig.suptitle(f"ASR against TE (Fig. 7)\n{_subtitle(data, f', ε = {eps}, white box')}", fontsize=10)
    return _finish(fig, path)


def plot_leak(data: dict[str, Any], path: Path) -> Path | None:
    s = data["study"]
    fgsm = [a for a in s["attacks"] if a.endswith("-fgsm")]
    if not s["leaks"] or not fgsm:
        return None
    eps = data["main_eps"]
    enc = s["encoders"][0]
    fig, (ax,) = _figure()
    pick = (lambda c, v: c["leak"] == float(v) and c["eps"] == eps and c["te"] == 1 and c["encoder"] == enc
            and c["box"] == "white" and c["kind"] == "snn")
    for a in fgsm:
        x, y, _ = _series(data, a, s["leaks"], pick)
        ax.plot(x, y, **_style(a))
    ann = _cells(data, kind="ann")
    if ann and ann[0]["asr"]["mean"] is not None:
        ax.axhline(100 * ann[0]["asr"]["mean"], color="black", linestyle=":",
                   label=f"quantised ANN, FGSM ({s['ann_levels']} levels)")
    ax.set_xticks([float(v) for v in s["leaks"]])
    ax.set_xlabel("membrane leak λ (1 = IF)")
    ax.set_ylabel("attack success rate (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"ASR against λ (Fig. 8)\n{_subtitle(data, f', ε = {eps}, white box')}", fontsize=10)
    return _finish(fig, path)


def plot_box(data: dict[str, Any], path: Path) -> Path | None:
    """White box, black box and transfer side by side (Table 2's columns as bars)."""
    s = data["study"]
    if not s["black_box"]:
        return None
    eps = data["main_eps"]
    fig, axes = _figure(4.6, 3.6, cols=len(s["encoders"]))
    for ax, enc in zip(axes, s["encoders"]):
        target = f"snn-l1-{enc}-s{s['seed']}"
        names, white, black, transfer = [], [], [], []
        for a in s["attacks"]:
            w = _one(data, target=target, attack=a, eps=eps, te=1, box="white")
            b = _one(data, target=target, attack=a, eps=eps, te=1, box="black")
            if not w or not b:
                continue
            names.append(_style(a)["label"])
            white.append(100 * (w["asr"]["mean"] or 0.0))
            black.append(100 * (b["asr"]["mean"] or 0.0))
            transfer.append(100 * (b.get("transfer_rate") or 0.0))
        xs = range(len(names))
        ax.bar([x - 0.27 for x in xs], white, 0.27, label="white box", color="tab:red")
        ax.bar(list(xs), black, 0.27, label="black box", color="tab:blue")
        ax.bar([x + 0.27 for x in xs], transfer, 0.27, label="transfer rate", color="tab:gray")
        ax.set_xticks(list(xs), names, fontsize=8)
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3, axis="y")
        ax.set_title(f"{ENCODER_LABEL.get(enc, enc)} input", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("% (ASR, or share of transfers)")
    fig.suptitle(f"White box, black box and transfer (Table 2)\n{_subtitle(data, f', ε = {eps}')}", fontsize=10)
    return _finish(fig, path)


def plot_all(data: dict[str, Any], out: Path) -> dict[str, Path]:
    made = {}
    for name, fn in (("fig6_eps", plot_eps), ("fig7_te", plot_te), ("fig8_leak", plot_leak), ("table2_box", plot_box)):
        path = fn(data, out / f"{name.replace('_', '-')}.png")
        if path is not None:
            made[name] = path
    return made
