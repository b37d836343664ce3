"""Fuzz targets: one function of bytes per parser, and the seeds each starts from.

Strategy: a target may raise only the parser's own error type (the protocol
none at all, a container ``ContainerError``, a signature line
``SignatureError``); anything else escapes and is a crash.  The atheris
entry points (``fuzz_*.py``) and the CI test call these same functions, so a
crash found by a long run is reproduced by ``python tests/fuzz/fuzz_X.py
crash-file`` and becomes a regression seed in ``tests/fuzz/regressions/``.
"""

from __future__ import annotations

import contextlib
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

TESTFILES = Path("/usr/share/clamav-testfiles")
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
# Containers decompress at most this much per member while fuzzing: enough
# to reach every code path, small enough for thousands of runs a second.
MEMBER_BUDGET = 1 << 20
STREAM_MAX = 4096
# Crashes reported to the lead and not fixed yet (reproducers in crashes/):
# case -> (the module or package the exception escapes from, the exception's type).
OPEN_CRASHES: dict[str, tuple[tuple[str, str], ...]] = {}
# The harnesses' own option (not libFuzzer's): go on past the open crashes,
# so that a long run looks for new ones.
PAST_OPEN_CRASHES = "--past-open-crashes"


def is_open_crash(error: BaseException) -> bool:
    """Whether ``error`` is one of OPEN_CRASHES: its type, raised from its module."""
    frames = []
    trace = error.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame.f_code.co_filename)
        trace = trace.tb_next
    ours = [name for name in frames if "clamkit/" in name]
    kind = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
    return bool(ours) and any(
        owner in ours[-1] and kind == error_type
        for crashes in OPEN_CRASHES.values()
        for owner, error_type in crashes
    )


def past_open_crashes(run: Callable[[bytes], None]) -> Callable[[bytes], None]:
    def guarded(data: bytes) -> None:
        try:
            run(data)
        except Exception as error:
            if not is_open_crash(error):
                raise

    return guarded


def protocol(data: bytes) -> None:
    """Bytes split into reads at 0xFE markers, descriptors faked on reads after 0xFD."""
    from clamkit.protocol.framing import CLOSED, NEED_DATA, ServerConnection

    connection = ServerConnection(unix_socket=True, stream_max_length=STREAM_MAX)
    handed_out = []
    fake_fd = 10_000
    for read in [*data.split(b"\xfe"), b""]:
        fds = []
        if read.startswith(b"\xfd"):
            fds, fake_fd = [fake_fd], fake_fd + 1
        connection.receive_data(read, fds)
        while (event := connection.next_event()) not in (NEED_DATA, CLOSED):
            handed_out.append(getattr(event, "fd", None))
        if event is CLOSED:
            break
    while connection.next_event() is not CLOSED:
        pass
    claimed = [fd for fd in handed_out if fd is not None]
    # Every fake descriptor comes back once: in a request or as unclaimed.
    returned = sorted(claimed + list(connection.take_unclaimed_fds()))
    if returned != list(range(10_000, fake_fd)):
        raise AssertionError(f"descriptors lost or duplicated: {returned}")


def _container_target(name: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from clamkit.containers.base import ContainerError
        from tests.containers_support import TestExtraction

        fmt = _formats()[name]
        extraction = TestExtraction(budget=MEMBER_BUDGET)
        try:
            for _ in fmt.members(data, extraction):
                pass
        except ContainerError:
            pass

    return run


def _formats() -> dict:
    from clamkit.containers import FORMATS

    return {fmt.name: fmt for fmt, _ in FORMATS}


def _line_target(parse: Callable[[str], object]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from clamkit.signatures.model import SignatureError

        with contextlib.suppress(SignatureError):
            parse(data.decode("utf-8", "surrogateescape"))

    return run


def _signature_parsers() -> dict[str, Callable[[str], object]]:
    from clamkit.signatures import (
        bytecompare,
        expression,
        extended,
        hashes,
        ignore,
        legacy,
        logical,
        offsets,
        pattern,
        pcre,
        sectionhashes,
    )

    return {
        "hdb": hashes.parse_hash_line,
        "mdb": sectionhashes.parse_section_hash_line,
        "ndb": extended.parse_ndb_line,
        "db": legacy.parse_db_line,
        "ldb": logical.parse_ldb_line,
        "ign2": ignore.parse_ignore_line,
        "pattern": pattern.parse_pattern,
        "offset": offsets.parse_offset,
        "bytecompare": bytecompare.parse_byte_compare,
        "pcre": lambda text: pcre.parse_pcre_subsignature(text, 0),
        "expression": lambda text: expression.parse_expression(text, 8),
    }


def yara(data: bytes) -> None:
    from clamkit.signatures.model import SignatureError
    from clamkit.signatures.yara import parse_yara_rules

    with contextlib.suppress(SignatureError):
        parse_yara_rules(data)


def container_names() -> list[str]:
    return sorted(_formats())


def signature_names() -> list[str]:
    return sorted([*_signature_parsers(), "yar"])


def target(kind: str, name: str = "") -> Callable[[bytes], None]:
    """The target for ``kind`` (protocol, container, signature) and format ``name``."""
    if kind == "protocol":
        return protocol
    if kind == "container":
        if name not in _formats():
            raise SystemExit(f"unknown container format {name!r}; one of {container_names()}")
        return _container_target(name)
    if name == "yar":
        return yara
    parsers = _signature_parsers()
    if name not in parsers:
        raise SystemExit(f"unknown signature format {name!r}; one of {signature_names()}")
    return _line_target(parsers[name])


def _instream(data: bytes) -> bytes:
    return b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + struct.pack(">I", 0)


_PROTOCOL_SEEDS = [
    b"zPING\0",
    b"nIDSESSION\n\xfenPING\n\xfenVERSION\n\xfenEND\n",
    b"zIDSESSION\0zPING\0zEND\0",
    b"zFILDES\0\xfe\xfdx",
    b"\xfdzPING\0",
    _instream(b"hello world"),
    b"PING\nVERSION",
    b"zINSTREAM\0\x00\x00\x20\x00abc",
]

_SIGNATURE_SEEDS = {
    "hdb": ["44d88612fea8a8f36de82e1278abb02f:68:Eicar", "a" * 64 + ":*:Name:73"],
    "mdb": ["4096:44d88612fea8a8f36de82e1278abb02f:Section"],
    "ndb": ["Eicar:0:0:58354f21", "Name:1:EP+10,20:41??42{2-4}(43|44)*45", "N:0:*:aa[1-2]bb"],
    "db": ["Eicar=58354f21", "Name=4142??43*44"],
    "ldb": [
        "Sig;Engine:51-255,Target:1;(0&1)|2>1;41424344;45464748::i;0/abc/i",
        "Sig;Target:0;0&1;4142;0(>>2#ib2#=0)",
    ],
    "ign2": ["Eicar-Test-Signature", "daily.ndb:1234:Name"],
    "pattern": ["41??42{2-4}(43|44)*45[1-3]46", "!(41|42)4344", "B0434445"],
    "offset": ["EP+10,20", "S1+4", "EOF-100", "SE2", "VI", "*"],
    "bytecompare": ["0(>>2#ib2#=0)", "1(<<4#he4#>16,<32)"],
    "pcre": ["0/ab+c/i", "EOF-10:0&1/x{2,5}/smre"],
    "expression": ["(0&1)|2>1,2", "0=3&(1|2)", "((0|1)&2)=0"],
    "yar": ['rule r { strings: $a = "abc" nocase $b = { 41 ?? 42 } condition: any of them }'],
}


def seeds(kind: str, name: str = "") -> Iterator[bytes]:
    """Starting inputs: known-good ones, test-corpus files, and past crashes."""
    if kind == "protocol":
        yield from _PROTOCOL_SEEDS
    elif kind == "signature":
        for text in _SIGNATURE_SEEDS.get(name, []):
            yield text.encode()
    elif kind == "container" and TESTFILES.is_dir():
        yield from _corpus_files(name)
    directory = REGRESSIONS / (f"{kind}-{name}" if name else kind)
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            yield path.read_bytes()


def _corpus_files(name: str) -> Iterator[bytes]:
    from clamkit.engine.filetypes import detect_file_type

    fmt = _formats()[name]
    for path in sorted(TESTFILES.iterdir()):
        data = path.read_bytes()
        if len(data) <= 1 << 20 and fmt.recognise(detect_file_type(data), data):
            yield data


def _names(kind: str) -> list[str]:
    return container_names() if kind == "container" else signature_names()


def combined(kind: str) -> Callable[[bytes], None]:
    """Every format of ``kind`` in one target: the first byte picks the format."""
    runs = [target(kind, name) for name in _names(kind)]

    def run(data: bytes) -> None:
        if data:
            runs[data[0] % len(runs)](data[1:])

    return run


def combined_seeds(kind: str) -> Iterator[bytes]:
    for index, name in enumerate(_names(kind)):
        for seed in seeds(kind, name):
            yield bytes([index]) + seed


def main(kind: str) -> None:
    """``fuzz_<kind>.py [NAME|all] [libFuzzer options] [corpus dirs or crash files]``."""
    import tempfile

    import atheris

    args = sys.argv[1:]
    tolerate = PAST_OPEN_CRASHES in args
    args = [arg for arg in args if arg != PAST_OPEN_CRASHES]
    name = ""
    if kind != "protocol":
        name = args.pop(0) if args and not args[0].startswith("-") else "all"
    with atheris.instrument_imports(include=["clamkit"]):
        import clamkit.containers
        import clamkit.protocol.framing
        import clamkit.signatures.logical
        import clamkit.signatures.yara  # noqa: F401
    if name == "all":
        run, starting = combined(kind), list(combined_seeds(kind))
    else:
        run, starting = target(kind, name), list(seeds(kind, name))
    if not any(not arg.startswith("-") for arg in args):
        corpus = Path(tempfile.mkdtemp(prefix=f"clamkit-fuzz-{kind}-"))
        for number, seed in enumerate(starting):
            (corpus / f"seed-{number}").write_bytes(seed)
        args.append(str(corpus))
    if tolerate:
        run = past_open_crashes(run)
    atheris.Setup([sys.argv[0], *args], run)
    atheris.Fuzz()
