"""Which copy of a simulator's state and readout is current: the host's or a device's.

On the ``cuda`` backend the state and readout records stay on the device between chunks
(GeNN's rule: data stays where it is computed, every copy is explicit and counted in
``gpu.TransferCounter``). This base class of :class:`~neurosim.simulator.Simulator` keeps
the bookkeeping; ``neurosim.gpu.CudaChunkRunner`` holds the mechanism (``attach``,
``push_*``, ``pull_*``, ``run_resident``).

Rules. After a device chunk the host records are *stale*. The :attr:`state` and
:attr:`readout` accessors pull a stale record in place (existing references see the new
values) on first access and mark it possibly edited (*dirty*), so it is pushed before the
next chunk; the setters pull first, then mark dirty. :meth:`pull` brings both back for
reading only. A reference to a host array kept *across* a chunk (``W = sim.readout.W``)
sees the device's values only after the next access through the accessors, and an edit
through it is honoured only if the record is accessed, or :meth:`mark_modified` called,
before the next chunk. A backend change, or another simulator attaching to the same runner,
pulls the old device copies first, so no newer value is lost.
"""
from __future__ import annotations

from .kernels.records import Readout, State


class HostDeviceRecords:
    """Host/device bookkeeping of ``_state`` and ``_readout`` (see the module docstring).

    Subclasses call :meth:`_init_residency` before setting ``_state`` and ``_readout``, and
    call :meth:`_to_device` (with the runner) or :meth:`_to_host` before each chunk; they
    provide ``params`` (the record that identifies the network on a runner).
    """

    def _init_residency(self) -> None:
        # the runner whose device copies are newer than the host's ("stale"), and the host
        # records possibly edited since they were last pushed ("dirty")
        self._holder, self._stale, self._dirty = None, set(), {"state", "readout"}

    @property
    def state(self) -> State:
        """The neuron/synapse/feature state (host record; pulled from the device if stale,
        then treated as edited: pushed before the next chunk)."""
        self._pull("state")
        self._dirty.add("state")
        return self._state

    @state.setter
    def state(self, value: State) -> None:
        self._pull("state")      # arrays shared with the old record are current
        self._state = value
        self._dirty.add("state")

    @property
    def readout(self) -> Readout:
        """The readout record (host; pulled from the device if stale, then treated as
        edited: pushed before the next chunk)."""
        self._pull("readout")
        self._dirty.add("readout")
        return self._readout

    @readout.setter
    def readout(self, value: Readout) -> None:
        self._pull("readout")    # e.g. ``r._replace(...)`` of a record held across chunks
        self._readout = value
        self._dirty.add("readout")

    def _pull(self, name: str) -> None:
        if name in self._stale:
            runner = self._holder
            if name == "state":
                runner.pull_state(self._state)
            else:
                runner.pull_readout(self._readout)
            self._stale.discard(name)

    def pull(self) -> None:
        """Bring the host copies of state and readout up to date (device -> host, only
        where the device's are newer), for reading: they are not marked edited."""
        self._pull("state")
        self._pull("readout")

    def mark_modified(self, *names: str) -> None:
        """Declare host records (``"state"``, ``"readout"``; both by default) edited through
        references kept from earlier: they are pushed before the next chunk. Pulls them
        first, so that no device value is lost."""
        for name in names or ("state", "readout"):
            self._pull(name)
            self._dirty.add(name)

    def _evicted(self) -> None:
        """The runner is about to drop our device copies: bring them home first."""
        self.pull()
        self._holder, self._dirty = None, {"state", "readout"}

    def _to_device(self, runner) -> None:
        """Make ``runner``'s device copies current before a chunk (push what is dirty)."""
        if self._holder is not None and self._holder is not runner:
            self.pull()                        # the backend changed: the old device's data
            self._holder, self._dirty = None, {"state", "readout"}
        if not runner.holds(self.params):
            runner.attach(self.params, self._state, self._readout, on_evict=self._evicted)
        else:
            if "state" in self._dirty:
                runner.push_state(self._state)
            if "readout" in self._dirty:
                runner.push_readout(self._readout)
        self._holder, self._dirty = runner, set()
        self._stale = {"state", "readout"}     # from the launch on, the device's are newer

    def _to_host(self) -> None:
        """Before a chunk on a CPU backend: the host records must be current."""
        if self._holder is not None:
            self.pull()
            self._holder, self._dirty = None, {"state", "readout"}
