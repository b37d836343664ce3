"""The daemon's listening sockets: systemd's, LocalSocket's and TCPSocket's.

Strategy: ``open_listeners`` returns every socket the daemon accepts on,
bound, listening with ``MaxConnectionQueueLength`` and non-blocking, and
logs what the reference logs about each.  As in the reference, sockets
passed by systemd (``LISTEN_PID``/``LISTEN_FDS``) replace the configured
ones entirely.  Otherwise TCP comes first (each ``TCPAddr``, every address
it resolves to; none given means every interface, which we also warn
about), then the Unix socket.

The Unix socket never exists with permissions other than the configured
ones: it is bound under a umask that leaves it unusable, given its group
and mode, and only then listens.  An existing path is replaced only when it
is a socket nobody answers on (``FixStaleSocket``); unlike the reference,
which also deletes a regular file standing there, we refuse anything that
is not a socket.  ``close_listeners`` removes only socket files we created
and that are still ours (same inode).
"""

from __future__ import annotations

import errno
import grp
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from clamkit.config.parser import Config
    from clamkit.daemon.log import DaemonLog

# systemd passes its sockets from this descriptor on (sd_listen_fds(3)).
SYSTEMD_FIRST_FD = 3
_SYSTEMD_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")
_FROM_SYSTEMD = "SOCK_STREAM socket received from systemd."
# Mode of a Unix socket when LocalSocketMode is not set: anyone may connect.
DEFAULT_SOCKET_MODE = "666"
# Mode of a socket directory we create.
SOCKET_DIRECTORY_MODE = 0o755
# How long a connection attempt may take to tell a live socket from a stale one.
STALE_PROBE_SECONDS = 1.0
# The longest path a Unix socket address holds (sun_path, with its NUL).
_MAX_SOCKET_PATH = 107

NO_SERVER_TYPE = "Please define server type (local and/or TCP)."
NOT_LISTENING = "Not listening on any interfaces"
ALL_INTERFACES_WARNING = (
    "TCP: TCPAddr is not set: listening on every interface of this host; "
    "set TCPAddr to restrict who can reach the daemon"
)


class ListenerError(Exception):
    """The daemon cannot listen; ``str`` is the reference's message (not yet logged)."""


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening socket.  ``owned_path`` is the socket file we created
    (removed at exit); ``file_id`` (device, inode) tells it is still ours."""

    sock: socket.socket
    kind: Literal["unix", "tcp"]
    address: str
    owned_path: Path | None = None
    file_id: tuple[int, int] | None = None


def systemd_fds() -> list[int]:
    """The descriptors systemd passed to this very process (none if not meant for us)."""
    try:
        if int(os.environ.get("LISTEN_PID", "")) != os.getpid():
            return []
        count = int(os.environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    return list(range(SYSTEMD_FIRST_FD, SYSTEMD_FIRST_FD + max(count, 0)))


def missing_server_type(config: Config) -> str | None:
    """The reference's refusal when there is nothing to listen on."""
    if systemd_fds() or config.text("LocalSocket") or _tcp_port(config):
        return None
    return NO_SERVER_TYPE


def _tcp_port(config: Config) -> int | None:
    """TCPSocket, or None when unset (or 0, which the reference takes for unset)."""
    port = config["TCPSocket"]
    return port if isinstance(port, int) and port else None


def open_listeners(config: Config, log: DaemonLog) -> list[Listener]:
    """Every socket the daemon accepts on; ``ListenerError`` when it cannot listen.

    Errors that do not stop the daemon (one TCPAddr that cannot be bound
    while others can) are logged here; the one raised is left to the caller.
    """
    if (refusal := missing_server_type(config)) is not None:
        raise ListenerError(refusal)
    backlog = config.number("MaxConnectionQueueLength")
    listeners: list[Listener] = []
    try:
        if fds := systemd_fds():
            # systemd chose their queue length (ListenBacklog=) when it listened.
            listeners += _adopt_systemd(fds, log)
        else:
            if port := _tcp_port(config):
                listeners += _open_tcp(port, config.every("TCPAddr"), backlog, log)
            if path := config.text("LocalSocket"):
                listeners.append(_open_unix(path, config, backlog, log))
    except BaseException:
        close_listeners(listeners)
        raise
    if not listeners:
        raise ListenerError(NOT_LISTENING)
    return listeners


def close_listeners(listeners: Sequence[Listener], log: DaemonLog | None = None) -> None:
    """Close every listener and remove the socket files we created
    (logging ``Socket file removed.`` as the reference does, given a log)."""
    for listener in listeners:
        listener.sock.close()
        if listener.owned_path is None:
            continue
        try:
            info = os.lstat(listener.owned_path)
            if (info.st_dev, info.st_ino) != listener.file_id:
                continue
            os.unlink(listener.owned_path)
        except OSError:
            continue
        if log is not None:
            log.info("Socket file removed.")


# ---------------------------------------------------------------------------
# systemd socket activation


def _adopt_systemd(fds: Sequence[int], log: DaemonLog) -> list[Listener]:
    for name in _SYSTEMD_VARIABLES:
        # Not for the scanner processes we start: they would adopt the fds too.
        os.environ.pop(name, None)
    adopted = []
    for fd in fds:
        try:
            sock = socket.socket(fileno=fd)
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            log.warning(f"Ignoring descriptor {fd} from systemd: not a socket")
            continue
        if sock.type != socket.SOCK_STREAM or not listening:
            log.warning(f"Ignoring descriptor {fd} from systemd: not a listening stream socket")
            sock.close()
            continue
        os.set_inheritable(fd, False)
        sock.setblocking(False)
        kind: Literal["unix", "tcp"] = "unix" if sock.family == socket.AF_UNIX else "tcp"
        adopted.append(Listener(sock, kind, _address_text(sock), None))
    tcp_families = sorted({each.sock.family.name for each in adopted if each.kind == "tcp"})
    for family in tcp_families:
        log.info(f"TCP: Received {family} SOCK_STREAM socket from systemd.", terminal=False)
    if not tcp_families:
        log.info(f"TCP: No tcp AF_INET/AF_INET6 {_FROM_SYSTEMD}", terminal=False)
    if any(each.kind == "unix" for each in adopted):
        log.info("LOCAL: Received AF_UNIX SOCK_STREAM socket from systemd.", terminal=False)
    else:
        log.info(f"LOCAL: No local AF_UNIX {_FROM_SYSTEMD}", terminal=False)
    return adopted


# ---------------------------------------------------------------------------
# TCP


def _open_tcp(port: int, addresses: Sequence[str], backlog: int, log: DaemonLog) -> list[Listener]:
    if not addresses:
        log.warning(ALL_INTERFACES_WARNING)
    opened = []
    for address in addresses or [None]:
        shown = f"[{address or ''}]:{port}"
        try:
            candidates = socket.getaddrinfo(
                address, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
            )
        except socket.gaierror as error:
            raise ListenerError(f"TCP: getaddrinfo failed: {error.strerror}") from None
        seen = set()
        for family, kind, proto, _name, sockaddr in candidates:
            if sockaddr in seen:
                continue
            seen.add(sockaddr)
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    # So that :: and 0.0.0.0 can both be bound, as the reference does.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(sockaddr)
                sock.listen(backlog)
            except OSError as error:
                sock.close()
                log.error(f"TCP: Cannot bind to {shown}: {error.strerror}")
                continue
            sock.setblocking(False)
            log.info(f"TCP: Bound to {shown}", terminal=False)
            log.info(f"TCP: Setting connection queue length to {backlog}", terminal=False)
            opened.append(Listener(sock, "tcp", _address_text(sock), None))
    return opened


def _address_text(sock: socket.socket) -> str:
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return name.decode(errors="replace") if isinstance(name, bytes) else name
    host, port = name[0], name[1]
    return f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"


# ---------------------------------------------------------------------------
# Unix


def _open_unix(path: str, config: Config, backlog: int, log: DaemonLog) -> Listener:
    mode_text = config.text("LocalSocketMode") or DEFAULT_SOCKET_MODE
    mode = _socket_mode(mode_text)
    group = config.text("LocalSocketGroup")
    gid = _group_id(group) if group else None
    _clear_path(path, fix_stale=config.flag("FixStaleSocket"), log=log)
    _ensure_directory(path, log)
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise ListenerError(
            f"LOCAL: Socket file {path} could not be bound: {os.strerror(errno.ENAMETOOLONG)}"
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound with no permission at all, so nobody connects before mode and
    # group are what the configuration says.
    previous_umask = os.umask(0o777)
    try:
        sock.bind(path)
    except OSError as error:
        sock.close()
        raise ListenerError(
            f"LOCAL: Socket file {path} could not be bound: {error.strerror}"
        ) from None
    finally:
        os.umask(previous_umask)
    info = os.lstat(path)
    listener = Listener(
        sock, "unix", path, Path(path).absolute(), file_id=(info.st_dev, info.st_ino)
    )
    try:
        _set_access(listener, mode, mode_text, gid, group)
        sock.listen(backlog)
    except BaseException:
        close_listeners([listener])
        raise
    sock.setblocking(False)
    log.info(f"LOCAL: Unix socket file {path}", terminal=False)
    log.info(f"LOCAL: Setting connection queue length to {backlog}", terminal=False)
    return listener


def _socket_mode(text: str) -> int:
    """LocalSocketMode: octal permission bits, as chmod(1) takes them."""
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if mode < 0 or not (text.isascii() and text.isdigit()):
        raise ListenerError(f"Invalid LocalSocketMode {text}")
    # Higher digits are accepted and dropped, as by the reference.
    return mode & 0o7777


def _group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ListenerError(f"Unknown group {name}") from None


def _clear_path(path: str, *, fix_stale: bool, log: DaemonLog) -> None:
    """Make room for the socket: remove a stale one, refuse anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError:
        # Unreadable parent and the like: let bind report it.
        return
    if stat.S_ISSOCK(info.st_mode) and _answers(path):
        raise ListenerError(f"LOCAL: Socket file {path} is in use by another process.")
    if not fix_stale or not stat.S_ISSOCK(info.st_mode):
        raise ListenerError(
            f"LOCAL: Socket file {path} exists. Either remove it, or configure a different one."
        )
    log.info(f"LOCAL: Removing stale socket file {path}", terminal=False)
    try:
        os.unlink(path)
    except OSError as error:
        raise ListenerError(
            f"LOCAL: Socket file {path} could not be removed: {error.strerror}"
        ) from None


def _answers(path: str) -> bool:
    """Whether a process accepts connections on the socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(STALE_PROBE_SECONDS)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            # Busy (a full queue) or not ours to try: treat as alive, never delete it.
            return True
    return True


def _ensure_directory(path: str, log: DaemonLog) -> None:
    """Create the socket's directory if it is missing (one level, as the reference)."""
    directory = os.path.dirname(path)
    if not directory or os.path.isdir(directory):
        return
    log.info(f"Localserver: Creating socket directory: {directory}")
    try:
        os.mkdir(directory, SOCKET_DIRECTORY_MODE)
    except OSError as error:
        log.error(f"LOCAL: Could not create socket directory: {directory}: {error.strerror}")
        log.error("LOCAL: Ensure parent directory exists.")


def _set_access(
    listener: Listener, mode: int, mode_text: str, gid: int | None, group: str | None
) -> None:
    """Give the socket file its group and mode.

    The file is reached through a descriptor opened on the very inode we
    bound (``O_PATH``, not following links), never by name again: whoever
    can write to the socket's directory must not be able to swap in a link
    between bind and chmod and have root chmod another file.
    """
    path = listener.address
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise ListenerError(f"LOCAL: Socket file {path} vanished: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != listener.file_id:
            raise ListenerError(f"LOCAL: Socket file {path} was replaced while being set up")
        node = f"/proc/self/fd/{fd}"
        if gid is not None:
            try:
                os.chown(node, -1, gid)
            except OSError as error:
                raise ListenerError(
                    f"Cannot set socket group for {path} to {group}: {error.strerror}"
                ) from None
        try:
            os.chmod(node, mode)
        except OSError:
            raise ListenerError(f"Cannot set socket permission for {path} to {mode_text}") from None
    finally:
        os.close(fd)
