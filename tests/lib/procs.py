"""procs: the processes of this machine as /proc shows them (children of
a server, a session's processes, their memory), for the tests' checks."""

import os
import re


def _live():
    """(pid, fields after the command name) of every live process."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        # the fields follow the parenthesised command name: state ppid
        # pgrp session ...
        fields = stat[stat.rfind(')') + 2:].split()
        if len(fields) > 3 and fields[0] not in ('Z', 'X'):
            yield int(entry), fields


def children_of(ppid):
    """PIDs of the live processes whose parent is ppid."""
    return [pid for pid, fields in _live() if fields[1] == str(ppid)]


def session_pids(sid):
    """PIDs of the live processes of session sid."""
    return [pid for pid, fields in _live() if fields[3] == str(sid)]


def status_kib(pid, key='VmRSS'):
    """A size line of /proc/PID/status (VmRSS, VmSize, ...) in KiB, or
    None if the process is gone."""
    try:
        with open(f'/proc/{pid}/status') as f:
            m = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def server_children(h):
    """PIDs (a set) of the live children of server h's main process."""
    return set(children_of(h.pid))


def children_kib(ppid, key='VmRSS'):
    """{pid: a size line of its /proc/PID/status in KiB} of the live
    children of ppid (one gone meanwhile is left out)."""
    out = {}
    for pid in children_of(ppid):
        kib = status_kib(pid, key)
        if kib is not None:
            out[pid] = kib
    return out
