"""The feature store's Parquet layout: exact round trips, the old layout still reads, deterministic bytes."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from conftest import SymmetricNet
from eqlab.data.store import to_float
from eqlab.features.extract import extract_features, tap_outputs
from eqlab.features.store import META_KEY, PartitionWriter, partition, read_block, write_table
from eqlab.groups import get_transform


def awkward_floats(shape, seed=0):
    """Random float32 plus the values a lossy path would break: ±0, ±inf, NaN, subnormals, extremes."""
    v = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4028235e38, 1.1754944e-38],
                       dtype=np.float32)
    v.reshape(-1)[: special.size] = special
    return v


@pytest.mark.parametrize("batches", [[5], [2, 3], [1, 1, 3]])
def test_partition_writer_round_trip_is_bit_identical(tmp_path, batches):
    values = awkward_floats((sum(batches), 3, 4, 2))
    ids, labels = np.arange(100, 100 + len(values)), np.arange(len(values)) % 3
    path = partition(tmp_path, "conv1", "rot90")
    with PartitionWriter(path, "conv1", "rot90", values.shape[1:], {"run": "demo"}) as w:
        start = 0
        for n in batches:
            w.write(values[start : start + n], ids[start : start + n], labels[start : start + n])
            start += n
    assert pq.ParquetFile(path).metadata.num_row_groups == len(batches)  # one row group per batch
    block = read_block(tmp_path, "conv1", "rot90")
    assert block.values.dtype == np.float32 and block.values.shape == values.shape
    assert block.values.tobytes() == values.tobytes()  # bit-identical, NaN payload and -0 included
    assert block.values.flags.writeable and block.values.flags.c_contiguous
    assert block.sample_ids.tolist() == ids.tolist() and block.labels.tolist() == labels.tolist()
    assert block.meta["shape"] == [3, 4, 2] and block.meta["run"] == "demo" and block.meta["layer"] == "conv1"


def test_non_contiguous_and_float64_inputs_are_stored_as_float32(tmp_path):
    base = awkward_floats((4, 2, 3, 3))
    strided = base.transpose(0, 1, 3, 2)  # not C-contiguous
    write_table(partition(tmp_path, "a", "identity"), strided, np.arange(4), np.zeros(4), "a", "identity", {})
    assert read_block(tmp_path, "a", "identity").values.tobytes() == np.ascontiguousarray(strided).tobytes()
    x64 = np.random.default_rng(1).standard_normal((3, 2, 2, 2))
    write_table(partition(tmp_path, "b", "identity"), x64, np.arange(3), np.zeros(3), "b", "identity", {})
    np.testing.assert_array_equal(read_block(tmp_path, "b", "identity").values, x64.astype(np.float32))


def test_writer_rejects_a_batch_of_another_shape(tmp_path):
    with PartitionWriter(partition(tmp_path, "a", "g"), "a", "g", (2, 3, 3), {}) as w:
        with pytest.raises(ValueError, match=r"must have shape \[2, 3, 3\]"):
            w.write(np.zeros((4, 2, 3, 2), np.float32), np.arange(4), np.zeros(4))
        with pytest.raises(ValueError, match="3 sample ids"):
            w.write(np.zeros((4, 2, 3, 3), np.float32), np.arange(3), np.zeros(4))


def write_old_layout(path, values, ids, labels, layer, transform, meta):
    """A partition as eqlab wrote it before the fixed_size_binary layout (such files sit in DVC caches)."""
    n = len(values)
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(n, -1)
    table = pa.table({
        "sample_id": pa.array(ids.astype(np.int64)), "label": pa.array(labels.astype(np.int64)),
        "transform": pa.array([transform] * n, type=pa.string()), "layer": pa.array([layer] * n, type=pa.string()),
        "values": pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), type=pa.float32()), flat.shape[1]),
    })
    full = dict(meta, layer=layer, transform=transform, shape=list(values.shape[1:]))
    table = table.replace_schema_metadata({META_KEY: json.dumps(full, sort_keys=True).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=1, write_statistics=False,
                   use_dictionary=["transform", "layer"], column_encoding={"values.list.element": "BYTE_STREAM_SPLIT"})


def test_old_fixed_size_list_layout_still_reads(tmp_path):
    values = awkward_floats((6, 4, 3, 3), seed=2)
    ids, labels = np.arange(6) * 7, np.arange(6) % 2
    write_old_layout(partition(tmp_path / "old", "conv2", "rot45"), values, ids, labels, "conv2", "rot45", {"run": "r"})
    write_table(partition(tmp_path / "new", "conv2", "rot45"), values, ids, labels, "conv2", "rot45", {"run": "r"})
    assert pa.types.is_fixed_size_list(pq.read_schema(partition(tmp_path / "old", "conv2", "rot45")).field("values").type)
    old, new = read_block(tmp_path / "old", "conv2", "rot45"), read_block(tmp_path / "new", "conv2", "rot45")
    assert old.values.tobytes() == new.values.tobytes() == values.tobytes()
    assert old.meta == new.meta and old.sample_ids.tolist() == new.sample_ids.tolist() == ids.tolist()


def test_unknown_values_type_is_a_clear_error(tmp_path):
    path = partition(tmp_path, "a", "g")
    path.parent.mkdir(parents=True)
    table = pa.table({"sample_id": [0], "label": [0], "values": pa.array([[1.0]], type=pa.list_(pa.float64()))})
    pq.write_table(table.replace_schema_metadata({META_KEY: json.dumps({"shape": [1]}).encode()}), path)
    with pytest.raises(ValueError, match="readable: fixed_size_binary"):
        read_block(tmp_path, "a", "g")


def test_extraction_is_byte_identical_across_runs_and_exact(tmp_path):
    net = SymmetricNet().eval()
    images = (np.random.default_rng(0).random((7, 1, 8, 8)) * 255).astype(np.uint8)
    labels, ids = np.arange(7) % 3, np.arange(20, 27)
    ts = [get_transform(n) for n in ("identity", "rot90", "rot45")]
    for name in ("a", "b"):
        extract_features(net, images, labels, ids, ts, tmp_path / name, {"run": "demo"}, progress=False, batch_size=3)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 1 + 2 * 3  # manifest + 2 taps × 3 transforms
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    path = partition(tmp_path / "a", "conv2", "rot45")
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # batches of 3, 3, 1
    block = read_block(tmp_path / "a", "conv2", "rot45")
    expected = tap_outputs(net, get_transform("rot45").apply(to_float(torch.from_numpy(images))), batch_size=3)[1]
    assert block.values.tobytes() == expected.tobytes() and block.sample_ids.tolist() == ids.tolist()
    assert block.labels.tolist() == labels.tolist()


def test_a_failed_write_on_the_writer_thread_leaves_the_old_output(tmp_path, monkeypatch):
    net = SymmetricNet().eval()
    images = (np.random.default_rng(0).random((5, 1, 8, 8)) * 255).astype(np.uint8)
    ts = [get_transform("identity"), get_transform("rot90")]
    extract_features(net, images, np.zeros(5), np.arange(5), ts, tmp_path / "f", {"run": "old"}, progress=False)
    before = {p: p.read_bytes() for p in (tmp_path / "f").rglob("*") if p.is_file()}
    real_write = PartitionWriter.write

    def fail(self, values, sample_ids, labels):
        if self.transform == "rot90":
            raise OSError("disk full")
        real_write(self, values, sample_ids, labels)

    monkeypatch.setattr(PartitionWriter, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        extract_features(net, images, np.zeros(5), np.arange(5), ts, tmp_path / "f", {"run": "new"}, progress=False,
                         batch_size=2)
    assert {p: p.read_bytes() for p in (tmp_path / "f").rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no temporary left behind
