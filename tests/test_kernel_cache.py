"""The CPU kernel's disk cache is keyed on every kernel source, not only on cpu.py."""
import shutil

from neurosim import kernels
from neurosim.kernels import cpu


def test_cpu_kernel_cache_uses_the_package_stamp():
    locator = cpu._chunk_serial._cache._impl.locator
    assert type(locator).__module__ == kernels.__name__
    assert locator.get_source_stamp() == kernels.sources_stamp()


def test_stamp_changes_when_any_kernel_file_changes(tmp_path, monkeypatch):
    for f in ("cpu.py", "rng.py", "equations.py"):
        shutil.copy(f"{kernels._HERE}/{f}", tmp_path / f)
    monkeypatch.setattr(kernels, "_HERE", str(tmp_path))
    before = kernels.sources_stamp()
    assert kernels.sources_stamp() == before          # deterministic
    (tmp_path / "rng.py").write_text((tmp_path / "rng.py").read_text() + "\n# edited\n")
    assert kernels.sources_stamp() != before           # an edit outside cpu.py counts


def test_serial_and_parallel_kernels_keep_separate_cache_entries():
    """Compiled from one function object, the parallel kernel loaded the serial kernel's
    cached code (numba files a function under its name and line, not its jit options), and
    ran on one thread."""
    serial = cpu._chunk_serial._cache._impl.filename_base
    parallel = cpu._chunk_parallel._cache._impl.filename_base
    assert serial != parallel
    assert cpu._chunk_parallel.targetoptions.get("parallel")
    assert not cpu._chunk_serial.targetoptions.get("parallel")
