"""Install neurosim.

``kernels/`` and ``paradigms/`` are generic names used by other PyPI packages, so they are
installed only as sub-packages ``neurosim.kernels`` and ``neurosim.paradigms``.
"""
from setuptools import find_packages, setup

core_packages = find_packages(include=["neurosim", "neurosim.*"])

setup(
    name="neurosim",
    version="0.1.0",
    description="Fast spiking reservoir simulation (Izhikevich) with plastic readouts on CPU and GPU",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",   # tomllib
    packages=core_packages + ["neurosim.kernels", "neurosim.paradigms"],
    package_dir={"neurosim.kernels": "kernels", "neurosim.paradigms": "paradigms"},
    install_requires=["numpy>=1.24", "numba>=0.59", "h5py>=3.8", "scipy>=1.10", "tqdm>=4.60"],
    extras_require={
        "plot": ["matplotlib>=3.7"],
        # dask[distributed]: CI (".[test,bench]") runs the sweep tests
        "test": ["pytest>=7", "matplotlib>=3.7", "dask[distributed]>=2024.1",
                 # the readers the io tests check the exports against (libsonata, pynwb's
                 # validator, elephant); wheels for Python 3.11 with numpy 2.3
                 "pandas>=1.5", "xarray>=2023.1", "neo>=0.13", "elephant>=1.1", "pynwb>=2.8",
                 "libsonata>=0.1.20",
                 # numba-cuda with the CUDA 12 compiler wheels (NVVM): the GPU kernel is
                 # compiled to PTX for sm_90 in CI, where there is no GPU
                 "numba-cuda[cu12]>=0.20"],
        # Brian2 2.9 uses ndarray.ptp, removed in numpy 2.4.
        "bench": ["brian2>=2.7", "numpy<2.4", "matplotlib>=3.7", "nest-simulator>=3.8"],
        # everything a machine with only an NVIDIA driver needs: CuPy, numba-cuda and its
        # CUDA 12 toolkit wheels (NVVM, NVRTC)
        "gpu": ["cupy-cuda12x>=13", "numba-cuda[cu12]>=0.20"],
        # neurosim export --format nwb (pynwb), run.to_neo() (neo; elephant to analyse it),
        # pandas views; the SONATA export needs only h5py
        "io": ["pandas>=1.5", "xarray>=2023.1", "neo>=0.13", "elephant>=1.1", "pynwb>=2.8"],
        # neurosim sweep: Dask distributed (LocalCluster, --scheduler); --cluster slurm etc.
        # also needs dask-jobqueue. Kept out of install_requires: single runs do not need it.
        "sweep": ["dask[distributed]>=2024.1"],
        "sweep-hpc": ["dask[distributed]>=2024.1", "dask-jobqueue>=0.8"],
    },
    entry_points={"console_scripts": ["neurosim=neurosim.cli:main"]},
)
