"""The clamd.conf table, parser and ScanOptions mapping, without the reference.

Every expectation here was first observed on clamd 1.4.6
(tests/test_config_reference.py replays the same files through it).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clamkit.config import (
    BY_NAME,
    OPTIONS,
    SIZE_UNLIMITED,
    ConfigError,
    OptionKind,
    default_config,
    load_config,
    parse_config,
    unacted_warnings,
)
from clamkit.config.options import GROUPS
from clamkit.config.scanning import (
    LARGEST_SCANNABLE_FILE,
    deprecated_alias_warnings,
    scan_options,
)
from clamkit.engine.options import DEFAULT_OPTIONS, ScanOptions

PATH = "/etc/clamd.conf"
TAIL = f"ERROR: Can't open/parse the config file {PATH}"


def parse(text: str):
    return parse_config(text, PATH)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


# -- the table ---------------------------------------------------------------


def test_names_are_unique_and_indexed():
    assert len(BY_NAME) == len(OPTIONS)
    assert all(BY_NAME[option.name] is option for option in OPTIONS)


def test_table_covers_clamd_1_4_and_the_1_5_command_switches():
    assert len(OPTIONS) >= 130
    for name in (
        "EnableShutdownCommand",
        "EnableReloadCommand",
        "EnableStatsCommand",
        "EnableVersionCommand",
    ):
        option = BY_NAME[name]
        assert (option.kind, option.default, option.since, option.acted_on) == (
            OptionKind.BOOL,
            True,
            "1.5",
            True,
        )


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_defaults_have_their_kinds_type(option):
    assert option.help and option.group in GROUPS
    default = option.default
    if option.repeatable:
        assert default == ()
    elif option.kind is OptionKind.BOOL:
        assert isinstance(default, bool)
    elif option.kind is OptionKind.SIZE:
        assert isinstance(default, int) and default > 0
    elif option.kind is OptionKind.NUMBER:
        assert default is None or (isinstance(default, int) and not isinstance(default, bool))
    elif option.kind is OptionKind.CHOICE:
        assert default in option.choices
    elif option.kind is OptionKind.DEPRECATED:
        assert default is None and not option.acted_on
    else:
        assert default is None or isinstance(default, str)
    if option.alias_of:
        assert BY_NAME[option.alias_of].kind is option.kind


def test_acted_on_matches_what_the_daemon_and_engine_implement():
    acted = {option.name for option in OPTIONS if option.acted_on}
    for name in (
        "LocalSocket",
        "TCPSocket",
        "TCPAddr",
        "StreamMaxLength",
        "MaxThreads",
        "ExcludePath",
        "FollowFileSymlinks",
        "VirusEvent",
        "LogFile",
        "DetectPUA",
        "AllowAllMatchScan",
        "MaxScanTime",
        "ScanPE",
        "AlertEncryptedDoc",
        "HeuristicScanPrecedence",
    ):
        assert name in acted, name
    for name in (
        "StreamMinPort",
        "StreamMaxPort",
        "ExitOnOOM",
        "ExcludePUA",
        "IncludePUA",
        "Bytecode",
        "PhishingSignatures",
        "OnAccessPrevention",
        "StructuredDataDetection",
        "DisableCertCheck",
        "ForceToDisk",
        "LeaveTemporaryFiles",
        "PreludeEnable",
    ):
        assert name not in acted, name


def test_every_scan_option_field_is_set_from_the_configuration():
    # Defaults agree with the engine's own, and each field moves with its option.
    assert scan_options(default_config()) == DEFAULT_OPTIONS
    changed = parse(
        "MaxScanSize 1K\nMaxFileSize 2K\nMaxRecursion 3\nMaxFiles 4\nMaxScanTime 5\n"
        "MaxEmbeddedPE 6K\nMaxHTMLNormalize 7K\nMaxHTMLNoTags 8K\nMaxScriptNormalize 9K\n"
        "MaxZipTypeRcg 10K\nMaxPartitions 11\nMaxIconsPE 12\nMaxRecHWP3 13\n"
        "PCREMatchLimit 14\nPCRERecMatchLimit 15\nPCREMaxFileSize 16K\n"
        "ScanArchive no\nScanPE no\nScanELF no\nScanOLE2 no\nScanPDF no\nScanSWF no\n"
        "ScanXMLDOCS no\nScanHWP3 no\nScanOneNote no\nScanHTML no\nScanMail no\n"
        "HeuristicAlerts no\nHeuristicScanPrecedence yes\nAlertExceedsMax yes\n"
        "AlertEncrypted yes\nAlertBrokenExecutables yes\nAlertBrokenMedia yes\n"
        "AlertOLE2Macros yes\nAlertPartitionIntersection yes\n"
    )
    options = scan_options(changed, allmatch=True)
    for field in dataclasses.fields(ScanOptions):
        if field.name != "should_stop":
            assert getattr(options, field.name) != field.default, field.name


def test_scan_limits_as_clamd_sets_them():
    options = scan_options(parse("MaxFileSize 0\nMaxScanSize 0\nMaxRecursion 0\nMaxScanTime 0\n"))
    assert options.max_filesize == LARGEST_SCANNABLE_FILE
    assert options.max_scansize == SIZE_UNLIMITED
    assert options.max_recursion == DEFAULT_OPTIONS.max_recursion
    assert options.max_scantime_ms == 0
    assert scan_options(parse("MaxFileSize 3G\n")).max_filesize == LARGEST_SCANNABLE_FILE


def test_narrow_encryption_alerts_stay_narrow():
    options = scan_options(parse("AlertEncryptedDoc yes\n"))
    assert (options.alert_encrypted, options.alert_encrypted_archive) == (False, False)
    assert options.alert_encrypted_doc


def test_deprecated_spellings_take_effect_only_against_their_default():
    config = parse("AlgorithmicDetection no\nBlockMax yes\nArchiveBlockEncrypted yes\n")
    options = scan_options(config)
    assert not options.heuristic_alerts
    assert options.alert_exceeds_max
    assert options.alert_encrypted_archive and options.alert_encrypted_doc
    assert [line.split('"')[1] for line in deprecated_alias_warnings(config)] == [
        "ArchiveBlockEncrypted",
        "BlockMax",
        "AlgorithmicDetection",
    ]
    # Set to their defaults, they change nothing, even against the new name.
    config = parse(
        "AlgorithmicDetection yes\nHeuristicAlerts no\nBlockMax no\nAlertExceedsMax yes\n"
    )
    options = scan_options(config)
    assert not options.heuristic_alerts and options.alert_exceeds_max
    assert deprecated_alias_warnings(config) == []
    silent = parse("OLE2BlockMacros yes\nPartitionIntersection yes\n")
    assert scan_options(silent).alert_ole2_macros
    assert scan_options(silent).alert_partition_intersection
    assert deprecated_alias_warnings(silent) == []


# -- values ------------------------------------------------------------------


VALUE_CASES = [
    ("LogTime yes", "LogTime", True),
    ("LogTime YES", "LogTime", True),
    ("LogTime True", "LogTime", True),
    ("LogTime 1", "LogTime", True),
    ("FixStaleSocket No", "FixStaleSocket", False),
    ("FixStaleSocket FALSE", "FixStaleSocket", False),
    ("FixStaleSocket 0", "FixStaleSocket", False),
    ('LogTime "yes"', "LogTime", True),
    ("MaxThreads 007", "MaxThreads", 7),
    ("MaxThreads    7", "MaxThreads", 7),
    ("MaxThreads\t7\t ", "MaxThreads", 7),
    # clamd keeps numbers in a C int: they wrap (and saturate first).
    ("MaxThreads 4294967301", "MaxThreads", 5),
    ("MaxThreads 2147483648", "MaxThreads", -(2**31)),
    ("MaxThreads 99999999999999999999", "MaxThreads", -1),
    ("MaxFileSize 2k", "MaxFileSize", 2048),
    ("MaxFileSize 3m", "MaxFileSize", 3 * 1024**2),
    ("MaxFileSize 1G", "MaxFileSize", 1024**3),
    ("MaxFileSize 2g", "MaxFileSize", 2 * 1024**3),
    ("MaxFileSize 5000M", "MaxFileSize", 5000 * 1024**2),
    ("MaxFileSize 007k", "MaxFileSize", 7168),
    ("MaxFileSize 0", "MaxFileSize", SIZE_UNLIMITED),
    ("MaxFileSize 0M", "MaxFileSize", SIZE_UNLIMITED),
    ("MaxFileSize 9223372036854775807", "MaxFileSize", SIZE_UNLIMITED),
    ("MaxFileSize 9007199254740991K", "MaxFileSize", 9223372036854774784),
    ("StreamMaxLength 5G", "StreamMaxLength", 5 * 1024**3),
    ("LogFile /tmp/x.log   ", "LogFile", "/tmp/x.log"),
    ("LogFile /tmp/a b c", "LogFile", "/tmp/a b c"),
    ('LogFile "/tmp/x y.log"', "LogFile", "/tmp/x y.log"),
    ('LogFile "/tmp/a" b', "LogFile", "/tmp/a"),
    ('LogFile "a"b', "LogFile", "a"),
    ('LogFile x"y"', "LogFile", 'x"y"'),
    ("LogFile '/tmp/a b'", "LogFile", "'/tmp/a b'"),
    ("LogFile /tmp/x#y.log # c", "LogFile", "/tmp/x#y.log # c"),
    ("LogFile  \t /tmp/x  \t", "LogFile", "/tmp/x"),
    ("LogFile /tmp/x.log\r", "LogFile", "/tmp/x.log\r"),
    ("LogTime yes\0junk", "LogTime", True),
    ("  LogTime yes", "LogTime", True),
    ("\tLogTime\tyes", "LogTime", True),
    ("BytecodeSecurity trustsigned", "BytecodeSecurity", "trustsigned"),
    ("BytecodeMode ForceInterpreter", "BytecodeMode", "ForceInterpreter"),
    ("ExcludePath ([a", "ExcludePath", ("([a",)),
    ("LogFacility LOG_FOO", "LogFacility", "LOG_FOO"),
    ("OnAccessExcludeUID 5", "OnAccessExcludeUID", (5,)),
]


@pytest.mark.parametrize(("line", "name", "value"), VALUE_CASES)
def test_values(line, name, value):
    config = parse(f"DatabaseDirectory /db\n{line}\n")
    assert config[name] == value
    assert config.explicit == {"DatabaseDirectory", name}
    assert config["DatabaseDirectory"] == "/db"


def test_defaults_and_typed_access():
    config = default_config()
    assert config.explicit == frozenset()
    assert config.flag("FixStaleSocket") is True
    assert config.number("MaxScanTime") == 120_000
    assert config.number("StreamMaxLength") == 100 * 1024**2
    assert config.text("LocalSocket") is None
    assert config.text("DatabaseDirectory") == "/var/lib/clamav"
    assert config.every("ExcludePath") == ()
    with pytest.raises(KeyError):
        config["logtime"]


def test_repeatable_options_collect_and_others_keep_the_first_value():
    config = parse(
        "ExcludePath ^/a\nExcludePath ^/b\nTCPAddr 127.0.0.1\nTCPAddr ::1\n"
        "MaxQueue 50\nMaxQueue 60\nLogTime yes\nLogTime no\nLogFile /a\nLogFile /b\n"
    )
    assert config["ExcludePath"] == ("^/a", "^/b")
    assert config["TCPAddr"] == ("127.0.0.1", "::1")
    assert (config["MaxQueue"], config["LogTime"], config["LogFile"]) == (50, True, "/a")


def test_replace_overrides_and_marks_explicit():
    config = parse("DatabaseDirectory /db\n").replace(DatabaseDirectory="/other", Foreground=True)
    assert config["DatabaseDirectory"] == "/other" and config["Foreground"] is True
    assert config.explicit == {"DatabaseDirectory", "Foreground"}
    with pytest.raises(KeyError):
        config.replace(NoSuchOption=1)


SKIPPED_CASES = [
    "",
    "\n\n",
    "# comment\n#LogTime yes\n",
    "   # comment\n",
    "   \n\t\n",
    "#Example\n",
    "a\n",
    "\ta\n",
    " a\n",
]


@pytest.mark.parametrize("text", SKIPPED_CASES)
def test_lines_that_are_skipped(text):
    assert parse(text).explicit == frozenset()


def test_comment_longer_than_clamds_line_buffer_spills_into_a_new_line():
    # 1023 bytes fit in one read; the rest is read as line 3.
    assert parse("DatabaseDirectory /db\n#" + "a" * 1023 + "\n").explicit == {"DatabaseDirectory"}
    assert error_of("DatabaseDirectory /db\n#" + "a" * 1024 + "\n").startswith(
        f"ERROR: Missing argument for option at {PATH}:3\n"
    )
    spilled = "DatabaseDirectory /db\n#" + "a" * 1023 + "LogTime yes\n"
    assert error_of(spilled).startswith(
        f"ERROR: Parse error at {PATH}:3: Unknown option aLogTime\n"
    )


def test_crlf_lines_keep_the_carriage_return():
    assert parse("LogFile /tmp/x.log\r\n")["LogFile"] == "/tmp/x.log\r"
    assert error_of("LogTime yes\r\n") == (
        f"ERROR: Incorrect argument format for option LogTime\n{TAIL}"
    )


def test_a_lone_carriage_return_does_not_end_a_line():
    assert parse("DatabaseDirectory /x\rLogTime yes\r")["DatabaseDirectory"] == (
        "/x\rLogTime yes\r"
    )


# -- errors ------------------------------------------------------------------


ERROR_CASES = [
    ("Foo bar\n", f"Parse error at {PATH}:1: Unknown option Foo"),
    ("LogTime yes\nlogtime yes\n", f"Parse error at {PATH}:2: Unknown option logtime"),
    ('"LogTime" yes\n', f'Parse error at {PATH}:1: Unknown option "LogTime"'),
    ("\x0cLogTime yes\n", f"Parse error at {PATH}:1: Unknown option \x0cLogTime"),
    (
        "DatabaseMirror db.local.clamav.net\n",
        f"Parse error at {PATH}:1: Unknown option DatabaseMirror",
    ),
    ("StatsEnabled yes\n", f"Parse error at {PATH}:1: Unknown option StatsEnabled"),
    ("LogTime maybe\n", "Incorrect argument format for option LogTime"),
    ("LogTime on\n", "Incorrect argument format for option LogTime"),
    ("LogTime 2\n", "Incorrect argument format for option LogTime"),
    ("LogTime yes;\n", "Incorrect argument format for option LogTime"),
    ("LogTime yes # comment\n", "Incorrect argument format for option LogTime"),
    ("LogTime = yes\n", "Incorrect argument format for option LogTime"),
    ("LogTime yes\x0c\n", "Incorrect argument format for option LogTime"),
    ("MaxThreads abc\n", "Incorrect argument format for option MaxThreads"),
    ("MaxThreads -5\n", "Incorrect argument format for option MaxThreads"),
    ("MaxThreads +5\n", "Incorrect argument format for option MaxThreads"),
    ("MaxThreads 0x10\n", "Incorrect argument format for option MaxThreads"),
    ("MaxThreads 10k\n", "Incorrect argument format for option MaxThreads"),
    ("MaxThreads 7 8\n", "Incorrect argument format for option MaxThreads"),
    ("MaxThreads 5\nMaxThreads abc\n", "Incorrect argument format for option MaxThreads"),
    ("MaxScanTime 2M\n", "Incorrect argument format for option MaxScanTime"),
    ("TCPSocket abc\n", "Incorrect argument format for option TCPSocket"),
    ("MaxFileSize 10X\n", "Incorrect argument format for option MaxFileSize"),
    ("MaxFileSize -1\n", "Incorrect argument format for option MaxFileSize"),
    ("MaxFileSize 5KB\n", "Incorrect argument format for option MaxFileSize"),
    ("MaxFileSize 1.5M\n", "Incorrect argument format for option MaxFileSize"),
    ("MaxFileSize 10 M\n", "Incorrect argument format for option MaxFileSize"),
    ("MaxFileSize M\n", "Incorrect argument format for option MaxFileSize"),
    ("BytecodeSecurity Foo\n", "Incorrect argument format for option BytecodeSecurity"),
    ("Example\n", f"Please edit the example config file {PATH}"),
    ("LogTime yes\n Example\n", f"Please edit the example config file {PATH}"),
    ("Examples yes\n", f"Please edit the example config file {PATH}"),
    ("ExampleX\r\n", f"Please edit the example config file {PATH}"),
    ("MaxThreads\n", f"Missing argument for option at {PATH}:1"),
    ("LogTime   \n", f"Missing argument for option at {PATH}:1"),
    ("LogTime=yes\n", f"Missing argument for option at {PATH}:1"),
    ("LogTime\x0byes\n", f"Missing argument for option at {PATH}:1"),
    ("ab\n", f"Missing argument for option at {PATH}:1"),
    ("a \n", f"Missing argument for option at {PATH}:1"),
    ("ExcludePath ^/a\nExcludePath\n", f"Missing argument for option at {PATH}:2"),
    ("Foo\n", f"Missing argument for option at {PATH}:1"),
    ("ScanOnAccess\n", f"Missing argument for option at {PATH}:1"),
    ('LogFile "/tmp/a b\n', f"Missing closing parenthesis in option LogFile at {PATH}:1"),
    ('Foo "\n', f"Missing closing parenthesis in option Foo at {PATH}:1"),
    ('LogFile ""\n', f"Empty argument for option LogFile at {PATH}:1"),
    ('LogFile ""x\n', f"Empty argument for option LogFile at {PATH}:1"),
]


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_errors(text, message):
    assert error_of(text) == f"ERROR: {message}\n{TAIL}"


def test_warnings_while_parsing_come_before_a_later_error():
    text = "ArchiveMaxFiles abc\nMaxFileSize 99999999999999999999\nFoo bar\n"
    assert error_of(text).splitlines() == [
        f"WARNING: Ignoring deprecated option ArchiveMaxFiles at {PATH}:1",
        "WARNING: Numerical value for option MaxFileSize too high, "
        "resetting to 9223372036854775807",
        f"ERROR: Parse error at {PATH}:3: Unknown option Foo",
        TAIL,
    ]


def test_deprecated_options_warn_and_keep_no_value():
    config = parse("ScanOnAccess yes\nMailFollowURLs whatever\n")
    assert config.warnings == (
        f"WARNING: Ignoring deprecated option ScanOnAccess at {PATH}:1",
        f"WARNING: Ignoring deprecated option MailFollowURLs at {PATH}:2",
    )
    assert config["ScanOnAccess"] is None
    assert unacted_warnings(config) == []


def test_unacted_warnings_name_each_explicit_unimplemented_option_once():
    config = parse("Bytecode no\nStreamMinPort 1100\nLogTime yes\nExcludePUA A\nExcludePUA B\n")
    warnings = unacted_warnings(config)
    assert len(warnings) == 3
    for name in ("Bytecode", "StreamMinPort", "ExcludePUA"):
        assert sum(name in line for line in warnings) == 1
    assert unacted_warnings(parse("LogTime yes\n")) == []


# -- files -------------------------------------------------------------------


def test_load_config_reads_bytes_that_are_not_utf8(tmp_path: Path):
    path = tmp_path / "clamd.conf"
    path.write_bytes(b"LogFile /tmp/\xff.log\n")
    assert os.fsencode(load_config(str(path)).text("LogFile") or "") == b"/tmp/\xff.log"


def test_a_missing_file_cannot_be_parsed(tmp_path: Path):
    missing = str(tmp_path / "nonexist.conf")
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"ERROR: Can't open/parse the config file {missing}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_cannot_be_parsed(tmp_path: Path):
    path = tmp_path / "clamd.conf"
    path.write_text("LogTime yes\n")
    path.chmod(0)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert str(caught.value) == f"ERROR: Can't open/parse the config file {path}"


def test_a_directory_reads_as_an_empty_file(tmp_path: Path):
    config = load_config(str(tmp_path))
    assert config.explicit == frozenset() and config.path == str(tmp_path)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([option.name for option in OPTIONS] + ["Example", "#", '"', " ", "\t"]),
            st.text(alphabet=' \t\r\n"#0123456789kKmMgGyesnoYES\0\x0c-+', max_size=8),
            st.binary(max_size=6).map(lambda raw: raw.decode("latin-1")),
        ),
        max_size=40,
    )
)
def test_any_text_parses_or_fails_with_a_config_error(words):
    try:
        config = parse("".join(words))
    except ConfigError as error:
        assert str(error).endswith(TAIL)
    else:
        assert config.explicit <= set(BY_NAME)
