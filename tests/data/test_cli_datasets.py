"""``snnsec datasets`` and ``snnsec train`` on the dataset readers, run in-process."""

from __future__ import annotations

import json

import pytest

from snnsec.cli.main import main
from snnsec.data import DATASETS
from tests.data.formats import write_cifar10_binary


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--dataset", "cifar10"], "cifar-10-batches-bin/data_batch_1.bin"),
        (["--dataset", "cifar100-coarse"], "cifar-100-binary/train.bin"),
        (["--dataset", "cifar10-dvs"], "CIFAR10DVS/CIFAR10DVS.zip"),
        ([], "CIFAR10DVS/airplane/*.aedat4"),  # no --dataset: looks for every dataset in D
    ],
)
def test_check_on_empty_folder_exits_2_with_one_line(tmp_path, capsys, argv, expected):
    rc, out, err = run(capsys, "datasets", "check", *argv, "--data-dir", str(tmp_path), "--json")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("snnsec: error: ")
    assert str(tmp_path / expected) in err


def test_check_cifar10_reports_samples_classes_and_shape(tmp_path, capsys):
    write_cifar10_binary(tmp_path, per_batch=3, n_test=2)
    rc, out, _ = run(capsys, "datasets", "check", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--json")
    result = json.loads(out)
    assert rc == 0
    assert result["samples"] == {"train": 15, "test": 2}
    assert result["classes"] == 10 and result["sample_shape"] == [3, 32, 32]
    assert result["release"] == "binary"


def test_check_finds_datasets_without_a_name(tmp_path, capsys):
    write_cifar10_binary(tmp_path, per_batch=1, n_test=1)
    rc, out, _ = run(capsys, "datasets", "check", "--data-dir", str(tmp_path), "--json")
    assert rc == 0 and [r["dataset"] for r in json.loads(out)["checked"]] == ["cifar10"]


def test_check_cifar10dvs_reports_frame_shape(dvs_dir, tmp_path, capsys):
    root, _ = dvs_dir
    rc, out, _ = run(capsys, "datasets", "check", "--dataset", "cifar10-dvs", "--data-dir", str(root),
                     "--cache-dir", str(tmp_path), "--json")
    result = json.loads(out)
    assert rc == 0
    assert result["samples"] == {"train": 900, "test": 100}
    assert result["classes"] == 10 and result["sample_shape"] == [10, 2, 48, 48]
    rc, out, _ = run(capsys, "datasets", "check", "--dataset", "cifar10-dvs", "--data-dir", str(root),
                     "--cache-dir", str(tmp_path), "--T", "6", "--json")
    assert json.loads(out)["sample_shape"] == [6, 2, 48, 48]


def test_check_malformed_recording_names_the_file(dvs_dir, tmp_path, capsys):
    root, _ = dvs_dir
    # First in path order, so it is the first sample of whichever split holds it; check reads those.
    extra = root / "CIFAR10DVS" / "airplane" / "0000_broken.aedat4"
    extra.write_bytes(b"#!AER-DAT4.0\r\n\x00")
    try:
        rc, _, err = run(capsys, "datasets", "check", "--dataset", "cifar10-dvs", "--data-dir", str(root),
                         "--cache-dir", str(tmp_path))
    finally:
        extra.unlink()
    assert rc == 2 and err.count("\n") == 1
    assert f"cannot read {extra} as AEDAT4 events" in err


def test_list_shows_every_registered_dataset(capsys):
    rc, out, _ = run(capsys, "datasets", "list", "--json")
    rows = json.loads(out)["datasets"]
    assert rc == 0 and sorted(r["name"] for r in rows) == sorted(DATASETS)
    dvs = next(r for r in rows if r["name"] == "cifar10-dvs")
    assert dvs["sample_shape"] == [10, 2, 48, 48] and "CIFAR10DVS.zip" in dvs["layout"]
    rc, out, _ = run(capsys, "datasets", "list")
    assert rc == 0 and "cifar100-coarse" in out and "50000/10000" in out


@pytest.mark.slow  # about 10-30 s on 2 cores: a real epoch over 900 recordings
def test_train_on_event_frames_bins_with_the_models_T(dvs_dir, tmp_path, capsys):
    root, _ = dvs_dir
    out_model = tmp_path / "m.pt"
    rc, out, err = run(capsys, "train", "--arch", "vggdvs", "--dataset", "cifar10-dvs", "--data-dir", str(root),
                       "--T", "2", "--width", "0.0625", "--epochs", "1", "--batch-size", "300",
                       "--out", str(out_model), "--json", "--quiet")
    assert rc == 0, err
    assert json.loads(out)["T"] == 2
    import snnsec

    model = snnsec.load_model(out_model)
    assert model.T == 2 and list(model.meta.input_shape) == [2, 2, 48, 48]
    assert model.encoder.name == "frames"


def test_train_on_cifar10_records_normalisation(tmp_path, capsys):
    write_cifar10_binary(tmp_path, per_batch=4, n_test=4)
    out_model = tmp_path / "c.pt"
    rc, out, err = run(capsys, "train", "--arch", "vgg5", "--dataset", "cifar10", "--data-dir", str(tmp_path),
                       "--width", "0.25", "--epochs", "1", "--augment", "--out", str(out_model), "--json", "--quiet")
    assert rc == 0, err
    import snnsec

    model = snnsec.load_model(out_model)
    assert model.T == 4 and list(model.meta.input_shape) == [3, 32, 32] and model.encoder.name == "direct"
    assert model.meta.normalization["std"] == pytest.approx([0.2470, 0.2435, 0.2616])


def test_augment_is_refused_where_there_is_none(tmp_path, capsys):
    rc, _, err = run(capsys, "train", "--dataset", "mnist5k", "--augment", "--out", str(tmp_path / "m.pt"))
    assert rc == 2 and err.count("\n") == 1 and "--augment is available for cifar10" in err
    assert not (tmp_path / "m.pt").exists()
