"""Unreadable, foreign, truncated or too-new files raise ResultsError with a clear message."""
import h5py
import numpy as np
import pytest

from neurosim.results import ResultsError, ResultsWriter, describe, load
from neurosim.results.schema import FORMAT_VERSION

ATTRS = dict(seed=1, backend="numpy", dtype="float64", dt_ms=1.0)


def good_file(path):
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "izhikevich2003", ATTRS, {"n": 3})
        for k in range(20):
            run.append_spikes("p", np.arange(k * 100, (k + 1) * 100, dtype=float), np.arange(100) % 7)
            run.append_series("z", np.random.default_rng(k).normal(size=(100, 4)))
            run.flush()
        run.finish(1.0, 2000.0)
    return path


def check_raises(path, *fragments):
    for call in (load, describe):
        with pytest.raises(ResultsError) as info:
            call(path)
        message = str(info.value)
        assert str(path) in message
        for fragment in fragments:
            assert fragment in message, message
        # our own message, not an h5py traceback chained underneath
        assert info.value.__cause__ is None


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.h5"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    check_raises(path, "not an HDF5 file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    check_raises(path, "not an HDF5 file")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, keep):
    path = good_file(tmp_path / "r.h5")
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    check_raises(path, "truncated or corrupted")


def test_foreign_hdf5_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(3))
    check_raises(path, "without a 'format' attribute", "not a neurosim results file")
    with h5py.File(path, "a") as f:
        f.attrs["format"] = "sonata"
    check_raises(path, "'sonata'", "neurosim-results")


def test_newer_format_version(tmp_path):
    path = good_file(tmp_path / "r.h5")
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    check_raises(path, f"format_version {FORMAT_VERSION + 1} is newer", "upgrade neurosim")


def test_writer_refuses_to_append_to_foreign_files(tmp_path):
    path = tmp_path / "noise.h5"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ResultsError, match="not an HDF5 file"):
        ResultsWriter(path, "a")
    ResultsWriter(path, "w").close()  # "w" replaces it
    assert load(path).runs == {}


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file"):
        load(tmp_path / "absent.h5")


def _damage_first_chunk(path, dataset, fill=None):
    """Overwrite bytes in the middle of the first stored chunk of ``dataset`` on disk."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        n = 8 if fill is None else info.size - info.size // 2
        fh.write(bytes(n) if fill == 0 else b"\xa5" * n)


@pytest.mark.parametrize("fill", [None, 0])   # flipped bytes; the chunk's tail zero-filled
def test_a_damaged_chunk_is_found_by_verify_and_named_on_read(tmp_path, fill, capsys):
    from neurosim.cli import main
    from neurosim.results import damaged_datasets
    path = good_file(tmp_path / "d.h5")
    assert damaged_datasets(path) == []
    assert main(["inspect", str(path), "--verify"]) == 0
    assert "checksums match" in capsys.readouterr().out
    _damage_first_chunk(path, "runs/r/series/z", fill)
    assert damaged_datasets(path) == [("r", "series/z", "checksum or decompression failed")]
    assert main(["inspect", str(path), "--verify"]) == 1
    assert "DAMAGED: run 'r' dataset 'series/z' (checksum or decompression failed)" \
        in capsys.readouterr().out
    run = load(path)["r"]
    with pytest.raises(ResultsError, match=r"run 'r', 'series/z' cannot be read back"):
        run.series("z")
    assert run.spikes().t.size == 2000          # the undamaged datasets still read
