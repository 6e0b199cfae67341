"""cifar10-sample / cifar100-sample: the 20 real CIFAR PNGs in foolbox's wheel, read offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from snnsec.cli.main import main
from snnsec.data import DATASETS, get_dataset
from snnsec.data.cifar_sample import foolbox_data_dir, load_samples
from snnsec.errors import InputError
from snnsec.models import build_model, save_model

# Labels of the first 20 images of the official CIFAR-10 / CIFAR-100 (fine) test splits.
FIRST_TEST_LABELS = {
    "cifar10-sample": [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6],
    "cifar100-sample": [49, 33, 72, 51, 71, 92, 15, 14, 23, 0, 71, 75, 81, 69, 40, 43, 92, 97, 70, 53],
}


@pytest.mark.parametrize("name", ["cifar10-sample", "cifar100-sample"])
def test_samples_are_20_real_images_with_their_labels(name: str) -> None:
    ds = get_dataset(name)  # no data dir
    test = ds.split("test")
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = [int(test[i][1]) for i in range(len(test))]
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32
    assert y == FIRST_TEST_LABELS[name]
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    # real photographs: many distinct colours, not constant or synthetic
    assert all(len(torch.unique(img)) > 100 for img in x)
    # pixel for pixel what Pillow decodes from the first file, channels first
    first = sorted(foolbox_data_dir().glob(f"{name.split('-')[0]}_00_*.png"))[0]
    rgb = np.asarray(Image.open(first).convert("RGB"))
    np.testing.assert_array_equal((x[0] * 255).round().to(torch.uint8).numpy(), rgb.transpose(2, 0, 1))


def test_train_split_is_refused_in_one_line() -> None:
    with pytest.raises(InputError, match="holds only 20 test images"):
        get_dataset("cifar10-sample").split("train")


def test_missing_or_broken_files_are_named(tmp_path) -> None:
    with pytest.raises(InputError, match=r"missing index 00"):
        load_samples(tmp_path, "cifar10", 10)
    for i in range(20):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / f"cifar10_{i:02d}_1.png")
    (tmp_path / "cifar10_07_1.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"cifar10_07_1\.png: not a readable PNG"):
        load_samples(tmp_path, "cifar10", 10)


def test_registered_with_the_datasets() -> None:
    assert {"cifar10-sample", "cifar100-sample"} <= set(DATASETS)
    assert not DATASETS["cifar10-sample"].needs_data_dir


def test_craft_rga_pgd_runs_on_the_real_images_without_data_dir(tmp_path, capsys) -> None:
    torch.manual_seed(0)
    model = build_model("vgg11", num_classes=10, input_shape=(3, 32, 32), T=2, width=0.0625, dataset="cifar10",
                        normalization={"mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010]})
    path = save_model(model.eval(), tmp_path / "vgg11.pt")
    out = tmp_path / "adv.pt"
    rc = main(["craft", "--model", str(path), "--attack", "rga-pgd", "--dataset", "cifar10-sample",
               "--steps", "2", "--out", str(out), "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and out.is_file()
    assert result["n"] == 20 and result["eps"] == "8/255"
    assert 0 < result["max_linf"] <= 8 / 255 + 1e-7


@pytest.mark.lava
def test_deploy_to_lava_sim_runs_on_the_real_images_without_data_dir(tmp_path, capsys) -> None:
    torch.manual_seed(0)
    model = build_model("vgg11", num_classes=10, input_shape=(3, 32, 32), T=2, width=0.0625, dataset="cifar10")
    path = save_model(model.eval(), tmp_path / "vgg11.pt")
    rc = main(["deploy", "--model", str(path), "--backend", "lava-sim", "--dataset", "cifar10-sample", "--n", "2",
               "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["n"] == 2, result
