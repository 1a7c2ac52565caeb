"""The video worker: decodes untrusted video in a process that holds no key material.

Started by ``video_sandbox`` (``main([_, CPU_SECONDS, MEMORY_BYTES])``, without loading the web
app) with a clean environment, no inherited descriptors but its pipes, and nothing secret in its
arguments. It reads and writes media only as byte ranges over the pipe (``video_wire``); the
job that started it decrypts and encrypts. Before it reads a single byte of video it confines
itself, so one FFmpeg memory bug cannot reach any family's key:

- CPU time and address space are capped (``setrlimit``); no core dumps (they would hold
  plaintext video) and no files may be written.
- It cannot be traced or have its memory read by other processes of the same user
  (``PR_SET_DUMPABLE`` 0).
- Where unprivileged user namespaces are allowed it moves into a new, empty network namespace.
- A seccomp filter (x86-64 Linux) then refuses, for the rest of its life: opening any file
  (so not the key files nor ``/proc/<parent>/mem``), sockets, running programs, tracing or
  reading other processes, changing the file system, new namespaces, leaving its process
  group (so the job's kill reaches anything it forks), io_uring and bpf. Where
  the filter cannot be installed (another architecture or kernel), the other limits still
  apply and ``confinement()`` says what is missing.

The job enforces the wall-time limit by killing this process.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import hashlib
import importlib
import io
import os
import pkgutil
import platform
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import IO, Any

import av

from vigparent import video
from vigparent.video_wire import (
    DATA,
    FAILED,
    JOB,
    MAX_READ,
    OUTPUT,
    READ,
    READ_ARGS,
    RESULT,
    SIZE,
    SIZE_ANSWER,
    SIZE_ARGS,
    SOURCE,
    WRITE,
    WRITE_ARGS,
    VideoRejected,
    WireError,
    decode_json,
    encode_json,
    read_frame,
    write_frame,
)

# Reads ahead from the source in blocks this large: PyAV asks for 32 KiB at a time, and each
# request is a round trip over the pipe.
_READ_AHEAD = 256 * 1024
_MAX_JOB = 64 * 1024

_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
# Every CLONE_NEW* flag: threads are fine, new namespaces are not.
_CLONE_NAMESPACES = 0x7E020000

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_X86_64_CLONE, _X86_64_CLONE3 = 56, 435
# x86-64 syscall numbers refused with EPERM once the worker is confined.
_X86_64_DENIED = {
    "open": 2, "openat": 257, "openat2": 437, "creat": 85, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "uselib": 134,
    "socket": 41, "socketpair": 53,
    "execve": 59, "execveat": 322,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_open": 434,
    "pidfd_getfd": 438, "kill": 62,
    "link": 86, "linkat": 265, "unlink": 87, "unlinkat": 263, "rename": 82, "renameat": 264,
    "renameat2": 316, "mkdir": 83, "mkdirat": 258, "rmdir": 84, "symlink": 88,
    "symlinkat": 266, "chmod": 90, "fchmodat": 268, "fchmodat2": 452, "chown": 92,
    "lchown": 94, "fchownat": 260, "truncate": 76, "mknod": 133, "mknodat": 259,
    "mount": 165, "umount2": 166, "move_mount": 429, "open_tree": 428, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "pivot_root": 155,
    "chroot": 161, "unshare": 272, "setns": 308, "setsid": 112, "setpgid": 109,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "fanotify_init": 300,
    "keyctl": 250, "add_key": 248, "request_key": 249,
}  # fmt: skip

# Classic BPF, as seccomp runs it.
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_SECCOMP_RET_KILL_PROCESS = 0x80000000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_ALLOW = 0x7FFF0000
_NR_OFFSET, _ARCH_OFFSET, _ARG0_OFFSET = 0, 4, 16


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_confinement: dict[str, bool] = {}


def confinement() -> dict[str, bool]:
    """Which confinements this process put in place (for the probe and the operator)."""
    return dict(_confinement)


def _load_pyav() -> None:
    """Import every PyAV module now: once confined, the worker can open no file to import.

    (PyAV imports some of its modules lazily, e.g. the subtitle stream type when a file
    declares one, and a malicious file decides which.)
    """
    for module in pkgutil.walk_packages(av.__path__, "av."):
        if module.name not in ("av.__main__", "av.datasets"):
            importlib.import_module(module.name)


def confine(cpu_seconds: int, memory_bytes: int) -> None:
    """Limit and lock down this process; call before reading any untrusted byte."""
    _load_pyav()
    for limit, value in (
        (resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5)),  # SIGXCPU, then SIGKILL
        (resource.RLIMIT_AS, (memory_bytes, memory_bytes)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_FSIZE, (0, 0)),
    ):
        resource.setrlimit(limit, value)
    libc = ctypes.CDLL(None, use_errno=True)
    _confinement["not_dumpable"] = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    # A user namespace makes the network namespace possible without privileges; the process
    # stays single-threaded until here, as unshare(CLONE_NEWUSER) requires.
    _confinement["no_network_namespace"] = libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0
    _confinement["seccomp"] = _install_seccomp(libc)


def _install_seccomp(libc: ctypes.CDLL) -> bool:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return False
    program = _x86_64_filter()
    filters = (_SockFilter * len(program))(*program)
    prog = _SockFprog(len(program), filters)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


def _x86_64_filter() -> list[_SockFilter]:
    """Allow everything but the listed syscalls, x32 calls and namespace-making clones."""
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    denied = sorted(_X86_64_DENIED.values())
    # Layout: header (4), x32 check (1), clone3 (1), clone (1), one jeq per denied call,
    # allow, clone-flags check (2), allow, deny, ENOSYS.
    body = [
        ("ld", _ARCH_OFFSET),
        ("jeq", _AUDIT_ARCH_X86_64, 1, 0),
        ("ret", _SECCOMP_RET_KILL_PROCESS),
        ("ld", _NR_OFFSET),
        ("jge", _X32_SYSCALL_BIT, "deny", 0),
        ("jeq", _X86_64_CLONE3, "enosys", 0),
        ("jeq", _X86_64_CLONE, "clone", 0),
        *(("jeq", nr, "deny", 0) for nr in denied),
        ("ret", _SECCOMP_RET_ALLOW),
        ("label", "clone"),
        ("ld", _ARG0_OFFSET),
        ("jset", _CLONE_NAMESPACES, "deny", 0),
        ("ret", _SECCOMP_RET_ALLOW),
        ("label", "deny"),
        ("ret", deny),
        ("label", "enosys"),
        # glibc falls back from clone3 to clone, whose flags the filter can see.
        ("ret", _SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    labels: dict[str, int] = {}
    at = 0
    for item in body:
        if item[0] == "label":
            labels[str(item[1])] = at
        else:
            at += 1
    codes = {"ld": _BPF_LD_W_ABS, "jeq": _BPF_JEQ_K, "jge": _BPF_JGE_K, "jset": _BPF_JSET_K}
    program: list[_SockFilter] = []
    for item in body:
        op = str(item[0])
        if op == "label":
            continue
        here = len(program)
        if op == "ret":
            program.append(_SockFilter(_BPF_RET_K, 0, 0, int(item[1])))
        elif op == "ld":
            program.append(_SockFilter(codes["ld"], 0, 0, int(item[1])))
        else:
            jt, jf = (labels[j] - here - 1 if isinstance(j, str) else int(j) for j in item[2:4])
            program.append(_SockFilter(codes[op], jt, jf, int(item[1])))
    return program


class _Link:
    """The worker's end of the pipe: asks for byte ranges, sends written bytes."""

    def __init__(self, inp: IO[bytes], out: IO[bytes]) -> None:
        self._in, self._out = inp, out

    def read(self, handle: int, offset: int, size: int) -> bytes:
        write_frame(self._out, READ, READ_ARGS.pack(handle, offset, min(size, MAX_READ)))
        return self._answer()

    def size(self, handle: int) -> int:
        write_frame(self._out, SIZE, SIZE_ARGS.pack(handle))
        answer = self._answer()
        if len(answer) != SIZE_ANSWER.size:
            raise WireError("bad size answer")
        return int(SIZE_ANSWER.unpack(answer)[0])

    def write(self, handle: int, offset: int, data: memoryview) -> None:
        for at in range(0, len(data), MAX_READ):
            piece = data[at : at + MAX_READ]
            write_frame(self._out, WRITE, WRITE_ARGS.pack(handle, offset + at) + piece)

    def finish(self, kind: int, value: Any) -> None:
        write_frame(self._out, kind, encode_json(value))

    def _answer(self) -> bytes:
        kind, payload = read_frame(self._in, MAX_READ)
        if kind != DATA:
            raise WireError(f"expected data, got frame kind {kind}")
        return payload


class RemoteFile(io.RawIOBase):
    """A seekable file object whose bytes live in the job process, reached over the pipe."""

    def __init__(self, link: _Link, handle: int, *, writable: bool) -> None:
        super().__init__()
        self._link = link
        self._handle = handle
        self._writable = writable
        self._pos = 0
        # Read-ahead only where nothing is written, so the cache can never be stale.
        self._cache_at, self._cache = 0, b""

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        with memoryview(b) as view:
            out = view.cast("B")
            want = len(out)
            if self._writable:
                data = self._link.read(self._handle, self._pos, want)
            else:
                start = self._pos - self._cache_at
                if not 0 <= start < len(self._cache) or start + want > len(self._cache):
                    block = self._link.read(self._handle, self._pos, max(want, _READ_AHEAD))
                    self._cache_at, self._cache, start = self._pos, block, 0
                data = self._cache[start : start + want]
            out[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def write(self, b: Any) -> int:
        if not self._writable:
            raise io.UnsupportedOperation("not writable")
        with memoryview(b) as view:
            data = view.cast("B")
            self._link.write(self._handle, self._pos, data)
            n = len(data)
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._link.size(self._handle) + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos


def _info(value: video.VideoInfo) -> dict[str, Any]:
    return asdict(value)


# --- operations ----------------------------------------------------------------------------

_Op = Callable[[dict[str, Any], RemoteFile, RemoteFile], Any]


def _inspect(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    return _info(
        video.inspect(
            src, min_seconds=float(args["min_seconds"]), max_seconds=float(args["max_seconds"])
        )
    )


def _transcode(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    return _info(video.transcode_to_mp4(src, dst, max_height=int(args["max_height"])))


def _cut(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    return _info(
        video.cut_clip(
            src,
            dst,
            start=float(args["start"]),
            end=float(args["end"]),
            max_height=int(args["max_height"]),
        )
    )


def _poster(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    at = args["at_seconds"]
    video.poster_jpeg(
        src, dst, at_seconds=None if at is None else float(at), max_width=int(args["max_width"])
    )
    return None


def _frame_rate(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    return video.frame_rate(src)


# Drills: ways for the tests to make a worker misbehave as a malicious video might, and to
# look inside it. They are harmless here: the worker holds nothing worth protecting.


def _drill_crash(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    os.abort()


def _drill_hang(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    while True:
        if args.get("busy"):
            continue  # burns CPU: the CPU limit ends it
        time.sleep(60)  # burns nothing: only the wall-time limit ends it


def _drill_hog(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def _drill_probe(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    """What this process holds and may do, as seen from inside it."""
    attempts: dict[str, str] = {}
    for path in args["paths"]:
        try:
            with open(path, "rb") as f:
                f.read(1)
            attempts[path] = "opened"
        except OSError as exc:
            attempts[path] = errno.errorcode.get(exc.errno or 0, "error")
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        attempts["socket"] = "opened"
    except OSError as exc:
        attempts["socket"] = errno.errorcode.get(exc.errno or 0, "error")
    try:
        os.setsid()
        attempts["setsid"] = "done"
    except OSError as exc:
        attempts["setsid"] = errno.errorcode.get(exc.errno or 0, "error")
    open_fds = []
    for fd in range(256):
        try:
            os.fstat(fd)
        except OSError:
            continue
        open_fds.append(fd)
    # Every bytes and str object reachable from any container in this interpreter (strings
    # themselves are not tracked by gc, so look inside what is), hashed, so the job can look
    # for its keys without sending them here.
    digests = set()
    tracked = gc.get_objects()
    for obj in [r for o in tracked for r in gc.get_referents(o)] + tracked:
        if isinstance(obj, str):
            obj = obj.encode("utf-8", "surrogatepass")
        if isinstance(obj, bytes | bytearray) and 16 <= len(obj) <= 4096:
            digests.add(hashlib.sha256(obj).hexdigest()[:16])
            digests.add(hashlib.sha256(obj.strip()).hexdigest()[:16])
    return {
        "environ": dict(os.environ),
        "argv": sys.argv,
        "attempts": attempts,
        "open_fds": open_fds,
        "digests": sorted(digests),
        "confinement": confinement(),
        "limits": {
            "cpu": resource.getrlimit(resource.RLIMIT_CPU)[1],
            "as": resource.getrlimit(resource.RLIMIT_AS)[1],
            "core": resource.getrlimit(resource.RLIMIT_CORE)[1],
        },
        "pid": os.getpid(),
        "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("vigparent", "flask")),
        "source": src.read(16).hex() if args.get("read_source") else None,
    }


def _drill_claim(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    raise VideoRejected(str(args["reason"]))


def _drill_write(args: dict[str, Any], src: RemoteFile, dst: RemoteFile) -> Any:
    target = RemoteFile(src._link, int(args["handle"]), writable=True)
    target.seek(int(args["offset"]))
    target.write(b"scribble")
    target.seek(0, io.SEEK_END)  # waits for an answer, so the job has seen the write
    return None


OPS: dict[str, _Op] = {
    "inspect": _inspect,
    "transcode": _transcode,
    "cut": _cut,
    "poster": _poster,
    "frame-rate": _frame_rate,
    "drill-crash": _drill_crash,
    "drill-hang": _drill_hang,
    "drill-hog": _drill_hog,
    "drill-probe": _drill_probe,
    "drill-write": _drill_write,
    "drill-claim": _drill_claim,
}


def _is_memory_error(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError):  # av.error.MemoryError (ENOMEM) is one too
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def main(argv: list[str]) -> int:
    cpu_seconds, memory_bytes = int(argv[1]), int(argv[2])
    # Our own copies of the pipe; fds 0 and 1 then point at stderr (the parent's /dev/null),
    # so nothing FFmpeg or Python prints can corrupt the protocol.
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 0)
    os.dup2(2, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the job went away: just end
    confine(cpu_seconds, memory_bytes)
    link = _Link(inp, out)
    kind, payload = read_frame(inp, _MAX_JOB)
    if kind != JOB:
        raise WireError("expected a job")
    job = decode_json(payload)
    op = OPS[job["op"]]
    src = RemoteFile(link, SOURCE, writable=False)
    dst = RemoteFile(link, OUTPUT, writable=True)
    try:
        result = op(job["args"], src, dst)
    except VideoRejected as refused:
        link.finish(FAILED, {"rejected": refused.reason})
    except ValueError as exc:
        link.finish(FAILED, {"error": "ValueError", "message": str(exc)[:300]})
    except BaseException as exc:  # noqa: BLE001 - the job must hear why, in a word
        kind_of = "memory" if _is_memory_error(exc) else type(exc).__name__
        link.finish(FAILED, {"error": kind_of[:64]})
    else:
        link.finish(RESULT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
