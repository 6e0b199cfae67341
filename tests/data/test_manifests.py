"""Every registered dataset has a manifest in datasets/, and it agrees with the code."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from snnsec.data import DATASETS

MANIFESTS = Path(__file__).resolve().parents[2] / "datasets"
REQUIRED = ("name", "title", "kind", "classes", "samples", "sample_shape", "homepage", "license", "citation", "layout")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_manifest_exists_parses_and_matches_the_reader(name):
    path = MANIFESTS / f"{name}.toml"
    assert path.is_file(), f"dataset {name!r} has no manifest {path}"
    manifest = tomllib.loads(path.read_text())
    missing = [key for key in REQUIRED if not manifest.get(key)]
    assert not missing, f"{path}: missing {missing}"
    cls = DATASETS[name]
    assert manifest["name"] == name and manifest["kind"] == cls.kind
    assert manifest["classes"] == len(cls.classes)
    assert manifest["sample_shape"] == list(cls(Path("D") if cls.needs_data_dir else None).sample_shape())
    if getattr(cls, "sizes", None):
        assert manifest["samples"] == cls.sizes
    assert manifest["source"], f"{path}: no [[source]]"
    for source in manifest["source"]:
        assert source.get("url") and source.get("format"), f"{path}: a source lacks url or format"
        checksum = source.get("md5") or source.get("sha256")
        assert checksum, f"{path}: a source lacks a checksum (write 'not recorded' if none is known)"
        if "md5" in source and not source["md5"].startswith("not "):
            assert len(source["md5"]) == 32 and int(source["md5"], 16) >= 0


def test_no_data_in_the_manifest_folder():
    assert {p.suffix for p in MANIFESTS.iterdir()} <= {".toml", ".md"}
