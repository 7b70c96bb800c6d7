"""Compiled simulation kernels (a leaf: imports numpy / numba / cupy only).

Numba's disk cache keys each compiled function on its own source file. The CPU kernel
(``cpu.py``) inlines the equations and the noise of ``equations.py`` and ``rng.py``, so an
edit there would leave ``cpu.py``'s cached code stale. Below, every function defined in this
package is cached under a stamp of *all* the package's sources: any edit recompiles.
"""
import hashlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))

#: qualified name of a compiled kernel -> further source files its cache stamp covers
EXTRA_SOURCES: dict[str, tuple] = {}


def sources_stamp(extra=()) -> bytes:
    """SHA-256 over the contents of every ``.py`` file of this package (sorted by name),
    then of the files ``extra``."""
    digest = hashlib.sha256()
    paths = [os.path.join(_HERE, n) for n in sorted(os.listdir(_HERE)) if n.endswith(".py")]
    for path in paths + list(extra):
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.digest()


def _install_cache_locators():
    try:
        from numba.core import caching
        bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                 caching.UserWideCacheLocator)
        impl = caching.CacheImpl
    except AttributeError:      # another numba layout: keep its default behaviour
        return

    def package_locator(base):
        class PackageLocator(base):
            @classmethod
            def from_function(cls, py_func, py_file):
                if os.path.dirname(os.path.abspath(py_file)) != _HERE:
                    return None
                locator = super().from_function(py_func, py_file)
                if locator is not None:
                    locator.extra_sources = EXTRA_SOURCES.get(py_func.__qualname__, ())
                return locator

            def get_source_stamp(self):
                return sources_stamp(getattr(self, "extra_sources", ()))
        PackageLocator.__name__ = f"Kernels{base.__name__}"
        return PackageLocator

    if not any(getattr(c, "__module__", "") == __name__ for c in impl._locator_classes):
        impl._locator_classes = [package_locator(b) for b in bases] + list(impl._locator_classes)


_install_cache_locators()
