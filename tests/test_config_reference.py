"""clamd.conf parsing side by side with ClamAV 1.4.6's clamd and clamconf.

Each file of tests/test_config.py's cases is written to disk and given to
``clamd -c FILE --foreground``.  Files without a LocalSocket or TCPSocket make
clamd stop right after parsing ("Please define server type"), so a run costs
no database load.  A file clamd refuses must give exactly our ConfigError
text on its stderr (exit status 1); a file it accepts must give our parse
warnings, and ``clamconf -n`` must show the values we read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from daemons import start_reference_clamd
from test_config import ERROR_CASES, SKIPPED_CASES, VALUE_CASES

from clamkit.config import (
    BY_NAME,
    OPTIONS,
    Config,
    ConfigError,
    OptionKind,
    default_config,
    load_config,
    parse_config,
)
from clamkit.config.options import DEVELOPER
from clamkit.config.scanning import FIELD_OPTIONS, deprecated_alias_warnings, scan_options

CLAMD = Path("/usr/sbin/clamd")
REFUSED = "Can't open/parse the config file"
# clamconf shows the parser's default for MaxScanTime (0), but clamd leaves
# the engine's 120000 ms in place when the option is unset (its start-up log
# says "Global time limit set to 120000 milliseconds").
ENGINE_DEFAULTS = {"MaxScanTime"}


@pytest.fixture(scope="module")
def clamconf() -> str:
    if not CLAMD.exists():
        pytest.skip("reference clamd is not installed (apt-get install clamav-daemon)")
    path = shutil.which("clamconf")
    if path is None:
        pytest.skip("reference clamconf is not installed")
    return path


def clamd_stderr(path: Path) -> tuple[int, str]:
    # Run beside the config: a relative PidFile or LogFile in it (the
    # "PidFile abc" case) lands there, not in the checkout.
    done = subprocess.run(
        [str(CLAMD), "-c", str(path), "--foreground"],
        cwd=path.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr.decode(errors="surrogateescape")


def shown_by_clamconf(clamconf: str, directory: Path) -> dict[str, str]:
    """clamconf -n's clamd.conf section: option name -> value as displayed."""
    text = subprocess.run(
        [clamconf, "-n", "-c", str(directory)],
        capture_output=True,
        timeout=60,
        check=False,
    ).stdout.decode(errors="surrogateescape")
    section = text.split("Config file: clamd.conf\n", 1)[1].split("\n\n", 1)[0]
    shown = {}
    for line in section.split("\n")[1:]:
        deprecated = re.fullmatch(r"\*\*\* (\w+) is DEPRECATED \*\*\*", line)
        if deprecated:
            shown[deprecated[1]] = "DEPRECATED"
            continue
        name, _, value = line.partition(" ")
        shown[name] = value.removeprefix("= ")
    return shown


def displayed(option_name: str, value: object) -> str:
    """A value as clamconf displays it."""
    if isinstance(value, tuple):
        return ", ".join(f'"{item}"' for item in value)
    if value is False or value is None:
        return "disabled"
    if value is True:
        return '"yes"'
    if BY_NAME[option_name].kind is OptionKind.NUMBER and value in (0, -1):
        return "disabled"
    return f'"{value}"'


def check_against_reference(clamconf: str, directory: Path, text: bytes) -> None:
    path = directory / "clamd.conf"
    path.write_bytes(text)
    code, stderr = clamd_stderr(path)
    try:
        config = load_config(str(path))
    except ConfigError as error:
        assert (code, stderr) == (1, f"{error}\n")
        return
    assert REFUSED not in stderr
    assert stderr.splitlines()[: len(config.warnings)] == list(config.warnings)
    compare_values(config, shown_by_clamconf(clamconf, directory))


def compare_values(config: Config, shown: dict[str, str]) -> None:
    defaults = default_config()
    for name in config.explicit:
        option = BY_NAME[name]
        if option.kind is OptionKind.DEPRECATED:
            assert shown[name] == "DEPRECATED", name
        elif name in shown:
            assert shown[name] == displayed(name, config[name]), name
        elif option.group != DEVELOPER:
            assert config[name] == defaults[name], name
    assert set(shown) <= config.explicit


@pytest.mark.parametrize(("line", "name", "value"), VALUE_CASES)
def test_values(clamconf, tmp_path, line, name, value):
    check_against_reference(clamconf, tmp_path, f"DatabaseDirectory /db\n{line}\n".encode())


@pytest.mark.parametrize("text", SKIPPED_CASES)
def test_skipped_lines(clamconf, tmp_path, text):
    check_against_reference(clamconf, tmp_path, text.encode())


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_errors(clamconf, tmp_path, text, message):
    check_against_reference(clamconf, tmp_path, text.encode())


@pytest.mark.parametrize(
    "text",
    [
        b"DatabaseDirectory /db\n#" + b"a" * 1023 + b"\n",
        b"DatabaseDirectory /db\n#" + b"a" * 1024 + b"\n",
        b"DatabaseDirectory /db\n#" + b"a" * 1023 + b"LogTime yes\nFoo bar\n",
        b"LogFile /tmp/" + b"a" * 1100 + b"\n",
        b"ArchiveMaxFiles abc\nMaxFileSize 99999999999999999999\nFoo bar\n",
        b"ScanOnAccess yes\nMailFollowURLs whatever\nDetectBrokenExecutables no\n",
        b"MaxQueue 50\nMaxQueue 60\nExcludePath ^/a\nExcludePath ^/b\nTCPAddr ::1\nTCPAddr ::2\n",
        b"AlgorithmicDetection no\nBlockMax yes\nOLE2BlockMacros yes\n",
        b"LogTime yes\nLogTime no\nMaxThreads 0\nTCPSocket 0\nLogFileMaxSize 0\n",
        b"DatabaseDirectory /x\rLogTime yes\r",
        b"LogFile /tmp/\xff.log\n",
    ],
)
def test_more_files(clamconf, tmp_path, text):
    check_against_reference(clamconf, tmp_path, text)


def test_every_option_accepts_a_value_of_its_kind(clamconf, tmp_path):
    sample = {
        OptionKind.BOOL: "yes",
        OptionKind.NUMBER: "7",
        OptionKind.SIZE: "7M",
        # Paths that lead nowhere: the run stops at the unknown User "<tmp>/x"
        # before it opens or creates anything.
        OptionKind.STRING: f"{tmp_path}/x",
        OptionKind.REGEX: "^/x",
        OptionKind.DEPRECATED: "yes",
    }
    lines = [
        f"{option.name} {option.choices[-1] if option.choices else sample[option.kind]}"
        for option in OPTIONS
        if not option.since
    ]
    check_against_reference(clamconf, tmp_path, ("\n".join(lines) + "\n").encode())


@pytest.mark.parametrize(
    "option",
    [option for option in OPTIONS if not option.since],
    ids=lambda option: option.name,
)
def test_every_option_is_as_strict_as_clamd(clamconf, tmp_path, option):
    check_against_reference(clamconf, tmp_path, f"{option.name} abc\n".encode())


def test_options_of_clamd_1_5_are_unknown_to_1_4(clamconf, tmp_path):
    path = tmp_path / "clamd.conf"
    path.write_text("EnableStatsCommand no\n")
    assert "Unknown option EnableStatsCommand" in clamd_stderr(path)[1]
    assert load_config(str(path))["EnableStatsCommand"] is False


def test_table_matches_clamconfs_generated_file(clamconf):
    text = subprocess.run(
        [clamconf, "-g", "clamd.conf"], capture_output=True, timeout=60, check=True
    ).stdout.decode()
    documented = {
        name: default for default, name in re.findall(r"# Default: (.*)\n#([A-Za-z0-9]+)", text)
    }
    assert len(documented) > 120
    for name, default in documented.items():
        option = BY_NAME[name]
        if name in ENGINE_DEFAULTS:
            continue
        if default == "disabled":
            assert option.default in (None, (), False), name
        elif option.kind is OptionKind.BOOL:
            assert option.default is (default == "yes"), name
        elif option.kind in (OptionKind.NUMBER, OptionKind.SIZE):
            assert option.default == int(default), name
        else:
            assert option.default == default, name
    generated = set(documented)
    extra = {option.name for option in OPTIONS} - generated
    assert all(
        BY_NAME[name].kind is OptionKind.DEPRECATED
        or BY_NAME[name].group == DEVELOPER
        or BY_NAME[name].since
        for name in extra
    ), extra


@pytest.mark.parametrize(
    "shipped",
    [
        Path("/etc/clamav/clamd.conf"),
        Path("/usr/share/doc/clamav-daemon/examples/clamd.conf.sample"),
    ],
    ids=lambda path: path.name,
)
def test_shipped_configurations(clamconf, tmp_path, shipped):
    if not shipped.is_file():
        pytest.skip(f"{shipped} is not installed")
    # First values win: these keep clamd off the system's log and out of its
    # databases, so that it stops at the database load.
    keep_off = f"DatabaseDirectory {tmp_path}/none\nLogFile {tmp_path}/log\nUser root\n"
    check_against_reference(clamconf, tmp_path, keep_off.encode() + shipped.read_bytes())


def test_missing_file_and_directory(clamconf, tmp_path):
    missing = tmp_path / "nonexist.conf"
    code, stderr = clamd_stderr(missing)
    with pytest.raises(ConfigError) as caught:
        load_config(str(missing))
    assert (code, stderr) == (1, f"{caught.value}\n")
    # A directory opens, reads as nothing, and the run goes on past parsing.
    code, stderr = clamd_stderr(tmp_path)
    assert REFUSED not in stderr
    assert load_config(str(tmp_path)).explicit == frozenset()


# -- ScanOptions against the limits and switches clamd logs at start-up -------

LOGGED_LIMITS = {
    "Global time limit": "max_scantime_ms",
    "Global size limit": "max_scansize",
    "File size limit": "max_filesize",
    "Recursion level limit": "max_recursion",
    "Files limit": "max_files",
}
LOGGED_SWITCHES = {
    "Archive support": "scan_archive",
    "Portable Executable support": "scan_pe",
    "ELF support": "scan_elf",
    "Mail files support": "scan_mail",
    "OLE2 support": "scan_ole2",
    "PDF support": "scan_pdf",
    "SWF support": "scan_swf",
    "HTML support": "scan_html",
    "XMLDOCS support": "scan_xmldocs",
    "HWP3 support": "scan_hwp3",
    "OneNote support": "scan_onenote",
    "Heuristic alerts": "heuristic_alerts",
}


def logged_scan_settings(log: str) -> dict[str, object]:
    """ScanOptions' fields as the reference logs them; limits clamkit does not
    act on (they have no field) must be exactly the options marked so."""
    fields = {name: field for field, name in FIELD_OPTIONS}
    settings: dict[str, object] = {}
    for what, value in re.findall(r"Limits: (.+?) set to (\d+)", log):
        name = what.removesuffix(" limit")
        field = LOGGED_LIMITS.get(what) or fields.get(name)
        if field is None:
            assert not BY_NAME[name].acted_on, name
            continue
        settings[field] = int(value)
    for what in re.findall(r"Limits: (.+?) protection disabled", log):
        settings[LOGGED_LIMITS[what]] = 0
    for what, state in re.findall(r"^(.+?) (enabled|disabled)\.$", log, re.MULTILINE):
        if what in LOGGED_SWITCHES:
            settings[LOGGED_SWITCHES[what]] = state == "enabled"
    # Deprecated spellings in effect are logged instead of their switch.
    if 'deprecated option "AlgorithmicDetection" to disable' in log:
        settings["heuristic_alerts"] = False
    settings["alert_exceeds_max"] = (
        "enabled for scans that exceed set maximums" in log
        or 'deprecated option "BlockMax" to enable' in log
    )
    settings["heuristic_scan_precedence"] = "Heuristic: precedence enabled" in log
    return settings


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "extra",
    [
        "",
        "MaxFileSize 0\nMaxScanSize 0\nMaxRecursion 0\nMaxScanTime 0\nMaxFiles 0\n"
        "MaxEmbeddedPE 1\nMaxPartitions 0\nPCREMatchLimit 5\nPCREMaxFileSize 3G\n"
        "ScanPE no\nScanHTML no\nScanOneNote no\nHeuristicAlerts no\nAlertExceedsMax yes\n"
        "HeuristicScanPrecedence yes\n",
        "MaxFileSize 3G\nMaxRecursion 5\nMaxScanTime 1000\n"
        "AlgorithmicDetection no\nBlockMax yes\nArchiveBlockEncrypted yes\n",
    ],
    ids=["defaults", "edges", "deprecated"],
)
def test_scan_options_match_what_clamd_logs(clamconf, tmp_path, extra):
    config = parse_config(extra, "clamd.conf")
    daemon = start_reference_clamd(tmp_path, extra)
    try:
        log = daemon.log()
    finally:
        daemon.stop()
    options = scan_options(config)
    settings = logged_scan_settings(log)
    assert len(settings) == 25
    assert settings == {field: getattr(options, field) for field in settings}
    warnings = [line.removeprefix("WARNING: ") for line in log.splitlines()]
    expected = deprecated_alias_warnings(config)
    assert [line for line in warnings if line in expected] == expected
