"""``neurosim export FILE --format sonata|nwb``: one entry point for the file exports."""
from __future__ import annotations

FORMATS = ("sonata", "nwb")


def export(path, fmt: str, run_id=None, out=None) -> dict:
    """Export run ``run_id`` (default: the latest) of results file ``path`` as ``fmt``.

    Returns ``{what: path}`` of the files written (``spikes``, ``nodes``, ``node_types``
    for SONATA; ``nwb`` for NWB).
    """
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r} is not supported; choose one of: {', '.join(FORMATS)}")
    if fmt == "sonata":
        from .sonata import export_sonata
        return export_sonata(path, out, run_id)
    from .nwb import export_nwb
    return {"nwb": export_nwb(path, out, run_id)}
