"""Imports flow one way: cli -> (demo, training, evaluation) -> (attacks, backends, export, ...)
-> (models, data) -> (neurons, encoders, utils). See docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import snnsec

ROOT = Path(snnsec.__file__).parent

LAYERS: dict[str, int] = {
    # 0: primitives
    "errors": 0, "utils": 0, "neurons": 0, "encoders": 0, "_lava_compat": 0, "_lava_conv": 0, "_lava_pth": 0,
    # 1: what a model and a dataset are
    "models": 1, "data": 1,
    # 2: what is done to a model: attack it, export it, run it elsewhere
    "attacks": 2, "backends": 2, "export": 2, "emulator": 2, "interop": 2,
    # 3: workflows built from those
    "training": 3, "evaluation": 3, "demo": 3, "study": 3,
    # 4: the command line
    "cli": 4, "__main__": 4,
}


def layer_of(module: str) -> int | None:
    """Layer of a dotted ``snnsec.<part>...`` name; ``None`` for the package root itself."""
    parts = module.split(".")
    if parts[0] != "snnsec" or len(parts) < 2 or parts[1] == "__init__":
        return None
    if parts[1] not in LAYERS:
        raise AssertionError(f"snnsec.{parts[1]} has no layer: add it to LAYERS and docs/architecture.md")
    return LAYERS[parts[1]]


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every ``snnsec`` module ``path`` imports, at any depth of the file (lazy imports too)."""
    module = "snnsec." + ".".join(path.relative_to(root).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.split(".")[0] == "snnsec"]


def upward_imports(root: Path) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        own = layer_of("snnsec." + ".".join(path.relative_to(root).with_suffix("").parts))
        if own is None:
            continue
        for line, name in imports_of(path, root):
            target = layer_of(name)
            if target is not None and target > own:
                bad.append(f"{path.relative_to(root.parent)}:{line} imports {name} (layer {target} > {own})")
    return bad


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert upward_imports(ROOT) == []


def test_the_check_fires_on_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "snnsec"
    (pkg / "models").mkdir(parents=True)
    (pkg / "models" / "x.py").write_text("def f():\n    from snnsec.cli.main import main\n")
    (pkg / "neurons").mkdir()
    (pkg / "neurons" / "y.py").write_text("from ..attacks import GRADIENTS\n")
    bad = upward_imports(pkg)
    assert len(bad) == 2 and "snnsec.cli.main" in bad[0] and "snnsec.attacks" in bad[1]


@pytest.mark.parametrize("name,layer", [("snnsec.neurons.base", 0), ("snnsec.attacks.attack", 2), ("snnsec", None)])
def test_layer_of(name: str, layer: int | None) -> None:
    assert layer_of(name) == layer
