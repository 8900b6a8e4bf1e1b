"""Read process-tree CPU time and memory, and machine facts, straight from /proc."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat the benchmark uses (times in seconds)."""

    pid: int
    ppid: int
    comm: str
    utime: float
    stime: float
    cutime: float
    cstime: float
    starttime: int

    @property
    def own_cpu(self) -> float:
        return self.utime + self.stime

    @property
    def reaped_children_cpu(self) -> float:
        return self.cutime + self.cstime


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/<pid>/stat; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    # comm sits in parentheses and may itself contain spaces or ')'.
    lpar, rpar = raw.index("("), raw.rindex(")")
    comm = raw[lpar + 1 : rpar]
    rest = raw[rpar + 2 :].split()
    # rest[0] is field 3 (state); utime is field 14, so rest[11].
    return ProcStat(
        pid=pid,
        ppid=int(rest[1]),
        comm=comm,
        utime=int(rest[11]) / CLK_TCK,
        stime=int(rest[12]) / CLK_TCK,
        cutime=int(rest[13]) / CLK_TCK,
        cstime=int(rest[14]) / CLK_TCK,
        starttime=int(rest[19]),
    )


def all_stats() -> dict[int, ProcStat]:
    """Stat of every live process."""
    out: dict[int, ProcStat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st is not None:
                out[st.pid] = st
    return out


def tree(root: int, stats: dict[int, ProcStat] | None = None) -> list[ProcStat]:
    """The root process and all its live descendants."""
    stats = stats if stats is not None else all_stats()
    children: dict[int, list[int]] = {}
    for st in stats.values():
        children.setdefault(st.ppid, []).append(st.pid)
    out: list[ProcStat] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out.append(stats[pid])
            todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root: int) -> float:
    """CPU (user+system) of a process tree, including children it has already reaped."""
    return sum(st.own_cpu + st.reaped_children_cpu for st in tree(root))


def comm_cpu_seconds(names: set[str]) -> float:
    """CPU of every process whose comm is in `names` (e.g. all postgres backends)."""
    return sum(st.own_cpu + st.reaped_children_cpu for st in all_stats().values() if st.comm in names)


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (shared pages split among sharers; 0 if unknown)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """(sum of RSS, sum of PSS, process count) over a process tree."""
    procs = tree(root)
    return (
        sum(rss_bytes(p.pid) for p in procs),
        sum(pss_bytes(p.pid) for p in procs),
        len(procs),
    )


def loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(x) for x in fh.read().split()[:3]]


def machine_info() -> dict[str, object]:
    """nproc, CPU model, RAM, kernel and Python: recorded with every result."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": loadavg(),
    }


def machine_busy_seconds() -> float:
    """CPU seconds spent busy (not idle or iowait) by the whole machine since boot, all CPUs."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    # guest time is already included in user/nice
    return (sum(fields[:8]) - idle) / CLK_TCK


def busy_fraction(window: float = 1.0) -> float:
    """Share of all CPUs busy over `window` seconds (0..1)."""
    b0, t0 = machine_busy_seconds(), time.monotonic()
    time.sleep(window)
    b1, t1 = machine_busy_seconds(), time.monotonic()
    return (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1))
