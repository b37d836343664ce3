"""Every clamd.conf option, once: name, kind, default, help and whether clamkit acts on it.

Strategy: ``OPTIONS`` is the single source the parser (accepted names,
conversion, repeatability), the defaults (``default_config``), the start-up
warnings (``unacted_warnings``) and the man page (``render_manpage``) are
built from, so none of them can drift from the others.  Defaults are what
ClamAV 1.4.6's clamd really uses, checked with ``clamconf -g clamd.conf`` and
clamd's own start-up log where the two disagree (MaxScanTime: the parser
default is 0, but the engine's 120000 ms applies when the option is unset).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB


class OptionKind(enum.Enum):
    """How an option's argument is read (see clamkit.config.parser for the rules)."""

    BOOL = "BOOL"  # yes/no/true/false/1/0, any case
    NUMBER = "NUMBER"  # decimal digits only, kept as clamd does: a C int
    SIZE = "SIZE"  # decimal digits with an optional K, M or G (any case); bytes
    STRING = "STRING"  # the rest of the line, or a double-quoted word
    REGEX = "REGEX"  # a STRING the daemon compiles as a POSIX extended regex
    CHOICE = "CHOICE"  # a STRING that must be one of ``choices``, any case
    DEPRECATED = "DEPRECATED"  # accepted with a warning, its argument unread


@dataclass(frozen=True, slots=True)
class Option:
    """One clamd.conf option.

    ``acted_on`` is False for options clamkit parses but does not implement;
    the daemon warns when a configuration sets one.  ``alias_of`` names the
    option a deprecated-but-honoured spelling stands for.
    """

    name: str
    kind: OptionKind
    default: object
    help: str
    repeatable: bool = False
    acted_on: bool = True
    since: str = ""
    group: str = ""
    choices: tuple[str, ...] = ()
    alias_of: str = ""


# Groups, in man page order.
LOGGING = "Logging"
DAEMON = "Daemon"
SOCKETS = "Sockets and connections"
WALKING = "Directory scanning"
DETECTION = "Detection"
FORMATS = "File formats"
LIMITS = "Limits"
BYTECODE = "Bytecode"
ON_ACCESS = "On-access scanning"
DEPRECATED = "Deprecated"
DEVELOPER = "Developer"
GROUPS = (
    LOGGING,
    DAEMON,
    SOCKETS,
    WALKING,
    DETECTION,
    FORMATS,
    LIMITS,
    BYTECODE,
    ON_ACCESS,
    DEPRECATED,
    DEVELOPER,
)

_B, _N, _S, _T = OptionKind.BOOL, OptionKind.NUMBER, OptionKind.SIZE, OptionKind.STRING


def _o(
    group: str,
    name: str,
    kind: OptionKind,
    default: object,
    help: str,
    *,
    repeatable: bool = False,
    acted_on: bool = True,
    since: str = "",
    choices: tuple[str, ...] = (),
    alias_of: str = "",
) -> Option:
    return Option(name, kind, default, help, repeatable, acted_on, since, group, choices, alias_of)


def _ignored(
    group: str,
    name: str,
    kind: OptionKind,
    default: object,
    help: str,
    *,
    repeatable: bool = False,
    choices: tuple[str, ...] = (),
    alias_of: str = "",
) -> Option:
    return _o(
        group,
        name,
        kind,
        default,
        help,
        repeatable=repeatable,
        acted_on=False,
        choices=choices,
        alias_of=alias_of,
    )


def _deprecated(name: str, help: str) -> Option:
    return _ignored(DEPRECATED, name, OptionKind.DEPRECATED, None, help)


OPTIONS: tuple[Option, ...] = (
    # Logging
    _o(LOGGING, "LogFile", _T, None, "Append log messages to this file (a full path)."),
    _o(
        LOGGING,
        "LogFileUnlock",
        _B,
        False,
        "Do not take an exclusive lock on the log file, so several daemons may share it.",
    ),
    _o(
        LOGGING,
        "LogFileMaxSize",
        _S,
        1 * MiB,
        "Rotate the log file when it reaches this size (with or without LogRotate, as clamd "
        "1.4 does); 0 means no cap.",
    ),
    _o(LOGGING, "LogTime", _B, False, "Prefix each log message with the local time."),
    _o(LOGGING, "LogClean", _B, False, "Log files found clean as well as infected ones."),
    _o(LOGGING, "LogSyslog", _B, False, "Also send log messages to the system logger."),
    _o(LOGGING, "LogFacility", _T, "LOG_LOCAL6", "Syslog facility to log under, e.g. LOG_MAIL."),
    _o(LOGGING, "LogVerbose", _B, False, "Log more detail about start-up and each request."),
    _o(
        LOGGING, "LogRotate", _B, False, "Rename the log file aside when it reaches LogFileMaxSize."
    ),
    _o(
        LOGGING,
        "ExtendedDetectionInfo",
        _B,
        False,
        "Add the file's size and hash to each detection in the log.",
    ),
    _ignored(LOGGING, "PreludeEnable", _B, False, "Report detections to a Prelude manager."),
    _ignored(LOGGING, "PreludeAnalyzerName", _T, None, "Analyzer name shown to Prelude."),
    # Daemon
    _o(DAEMON, "PidFile", _T, None, "Write the daemon's process id to this file."),
    _o(
        DAEMON,
        "TemporaryDirectory",
        _T,
        None,
        "Directory for scan scratch files; the TMPDIR environment variable or /tmp otherwise.",
    ),
    _o(
        DAEMON,
        "DatabaseDirectory",
        _T,
        "/var/lib/clamav",
        "Where the signature databases are read from.",
    ),
    _o(
        DAEMON,
        "OfficialDatabaseOnly",
        _B,
        False,
        "Load only the signature files ClamAV publishes, skipping third-party ones.",
    ),
    _ignored(
        DAEMON,
        "FailIfCvdOlderThan",
        _N,
        None,
        "Refuse to start when the signature database is older than this many days.",
    ),
    _o(DAEMON, "User", _T, None, "Switch to this user after start-up (requires starting as root)."),
    _o(DAEMON, "Foreground", _B, False, "Stay in the foreground instead of detaching."),
    _o(DAEMON, "Debug", _B, False, "Print the scanning library's debug messages."),
    _ignored(DAEMON, "LeaveTemporaryFiles", _B, False, "Keep the scratch files a scan creates."),
    _ignored(
        DAEMON,
        "GenerateMetadataJson",
        _B,
        False,
        "Record what the scanner found inside each file as JSON metadata.",
    ),
    _o(
        DAEMON,
        "SelfCheck",
        _N,
        600,
        "Every this many seconds, check whether the databases changed and reload them; 0 disables.",
    ),
    _o(
        DAEMON,
        "ConcurrentDatabaseReload",
        _B,
        True,
        "Keep scanning with the old databases while new ones load (needs memory for both).",
    ),
    _o(
        DAEMON,
        "DisableCache",
        _B,
        False,
        "Do not remember the hashes of files found clean. The cache is shared by all "
        "scanner processes and emptied by every reload.",
    ),
    _o(DAEMON, "CacheSize", _N, 65536, "How many clean-file hashes the cache keeps."),
    _o(
        DAEMON,
        "VirusEvent",
        _T,
        None,
        "Command to run on each detection; %v becomes the signature name, and the "
        "environment carries CLAM_VIRUSEVENT_FILENAME and CLAM_VIRUSEVENT_VIRUSNAME.",
    ),
    _o(
        DAEMON,
        "ExitOnOOM",
        _B,
        False,
        "Stop the daemon when a scan runs out of memory.",
        acted_on=False,
    ),
    _o(DAEMON, "AllowAllMatchScan", _B, True, "Accept the ALLMATCHSCAN command."),
    _o(DAEMON, "EnableShutdownCommand", _B, True, "Accept the SHUTDOWN command.", since="1.5"),
    _o(DAEMON, "EnableReloadCommand", _B, True, "Accept the RELOAD command.", since="1.5"),
    _o(DAEMON, "EnableStatsCommand", _B, True, "Accept the STATS command.", since="1.5"),
    _o(
        DAEMON,
        "EnableVersionCommand",
        _B,
        True,
        "Accept the VERSION and VERSIONCOMMANDS commands.",
        since="1.5",
    ),
    # Sockets and connections
    _o(SOCKETS, "LocalSocket", _T, None, "Listen on a Unix socket at this path."),
    _o(SOCKETS, "LocalSocketGroup", _T, None, "Group that owns the Unix socket."),
    _o(
        SOCKETS, "LocalSocketMode", _T, None, "Permissions of the Unix socket, in octal (e.g. 660)."
    ),
    _o(
        SOCKETS,
        "FixStaleSocket",
        _B,
        True,
        "Remove a Unix socket left behind by a daemon that died.",
    ),
    _o(SOCKETS, "TCPSocket", _N, None, "Listen on this TCP port."),
    _o(
        SOCKETS,
        "TCPAddr",
        _T,
        (),
        "Address to bind the TCP port to; may be given several times; all addresses when unset.",
        repeatable=True,
    ),
    _o(SOCKETS, "MaxConnectionQueueLength", _N, 200, "Backlog of connections not yet accepted."),
    _o(
        SOCKETS,
        "StreamMaxLength",
        _S,
        100 * MiB,
        "Largest INSTREAM upload accepted; larger ones are refused.",
    ),
    _ignored(SOCKETS, "StreamMinPort", _N, 1024, "Lowest port the old STREAM command would use."),
    _ignored(SOCKETS, "StreamMaxPort", _N, 2048, "Highest port the old STREAM command would use."),
    _o(SOCKETS, "MaxThreads", _N, 10, "How many scans may run at once."),
    _o(
        SOCKETS,
        "ReadTimeout",
        _N,
        120,
        "Seconds to wait for more data from a client in the middle of a request.",
    ),
    _o(
        SOCKETS,
        "CommandReadTimeout",
        _N,
        30,
        "Seconds a new connection has to send its first command.",
    ),
    _o(SOCKETS, "SendBufTimeout", _N, 500, "Milliseconds to wait for a client to take a reply."),
    _o(SOCKETS, "MaxQueue", _N, 100, "Most requests that may wait for a free scanner."),
    _o(
        SOCKETS,
        "IdleTimeout",
        _N,
        30,
        "Seconds a scanner process waits for work before it ends; another is started "
        "when a scan needs it.",
    ),
    # Directory scanning
    _o(
        WALKING,
        "ExcludePath",
        OptionKind.REGEX,
        (),
        "Skip paths that match this regular expression; may be given several times.",
        repeatable=True,
    ),
    _o(WALKING, "MaxDirectoryRecursion", _N, 15, "How deep directory scans descend."),
    _o(
        WALKING, "FollowDirectorySymlinks", _B, False, "Descend into symbolic links to directories."
    ),
    _o(WALKING, "FollowFileSymlinks", _B, False, "Scan the files symbolic links point to."),
    _o(WALKING, "CrossFilesystems", _B, True, "Descend into directories on other file systems."),
    # Detection
    _o(
        DETECTION, "DetectPUA", _B, False, "Load the signatures for possibly unwanted applications."
    ),
    _ignored(
        DETECTION,
        "ExcludePUA",
        _T,
        (),
        "Leave out this PUA category; may be given several times.",
        repeatable=True,
    ),
    _ignored(
        DETECTION,
        "IncludePUA",
        _T,
        (),
        "Load only this PUA category; may be given several times.",
        repeatable=True,
    ),
    _o(DETECTION, "HeuristicAlerts", _B, True, "Report the scanner's heuristic findings."),
    _o(
        DETECTION,
        "HeuristicScanPrecedence",
        _B,
        False,
        "Stop a scan at its first heuristic finding instead of looking for a signature match.",
    ),
    _o(
        DETECTION,
        "AlertExceedsMax",
        _B,
        False,
        "Report files a size, count or time limit cut short.",
    ),
    _o(
        DETECTION,
        "AlertBrokenExecutables",
        _B,
        False,
        "Report executables whose headers are malformed.",
    ),
    _o(
        DETECTION,
        "AlertBrokenMedia",
        _B,
        False,
        "Report images whose structure is malformed; clamkit does not parse images.",
        acted_on=False,
    ),
    _o(DETECTION, "AlertEncrypted", _B, False, "Report encrypted archives and documents."),
    _o(DETECTION, "AlertEncryptedArchive", _B, False, "Report encrypted archives."),
    _o(DETECTION, "AlertEncryptedDoc", _B, False, "Report encrypted documents."),
    _o(
        DETECTION, "AlertOLE2Macros", _B, False, "Report every Office document carrying VBA macros."
    ),
    _o(
        DETECTION,
        "AlertPartitionIntersection",
        _B,
        False,
        "Report disk images whose partitions overlap.",
    ),
    _ignored(
        DETECTION,
        "AlertPhishingSSLMismatch",
        _B,
        False,
        "Report links whose TLS target differs from the text.",
    ),
    _ignored(
        DETECTION, "AlertPhishingCloak", _B, False, "Report links whose address is disguised."
    ),
    _ignored(DETECTION, "PhishingSignatures", _B, True, "Use the phishing signatures in mail."),
    _ignored(DETECTION, "PhishingScanURLs", _B, True, "Check mail links against the URL lists."),
    _ignored(
        DETECTION,
        "StructuredDataDetection",
        _B,
        False,
        "Look for credit card and social security numbers.",
    ),
    _ignored(
        DETECTION, "StructuredMinCreditCardCount", _N, 3, "Card numbers needed before reporting."
    ),
    _ignored(
        DETECTION,
        "StructuredCCOnly",
        _B,
        False,
        "Look for credit card numbers only, not debit cards.",
    ),
    _ignored(
        DETECTION,
        "StructuredMinSSNCount",
        _N,
        3,
        "Social security numbers needed before reporting.",
    ),
    _ignored(
        DETECTION, "StructuredSSNFormatNormal", _B, True, "Look for numbers written xxx-yy-zzzz."
    ),
    _ignored(
        DETECTION, "StructuredSSNFormatStripped", _B, False, "Look for numbers written xxxyyzzzz."
    ),
    _ignored(
        DETECTION,
        "DisableCertCheck",
        _B,
        False,
        "Do not verify Authenticode signatures of executables.",
    ),
    # File formats
    _o(FORMATS, "ScanPE", _B, True, "Look inside Windows executables (and unpack packed ones)."),
    _o(FORMATS, "ScanELF", _B, True, "Look inside ELF executables."),
    _o(FORMATS, "ScanMail", _B, True, "Look inside mail messages and their attachments."),
    _ignored(
        FORMATS,
        "ScanPartialMessages",
        _B,
        False,
        "Reassemble mail split into message/partial parts.",
    ),
    _o(FORMATS, "ScanHTML", _B, True, "Normalise HTML and scripts before matching."),
    _o(FORMATS, "ScanOLE2", _B, True, "Look inside Office (OLE2) documents and their macros."),
    _o(FORMATS, "ScanPDF", _B, True, "Look inside PDF documents."),
    _o(FORMATS, "ScanSWF", _B, True, "Look inside Flash files."),
    _o(FORMATS, "ScanXMLDOCS", _B, True, "Look inside XML-based Office documents."),
    _o(FORMATS, "ScanHWP3", _B, True, "Look inside Hangul Word Processor 3 documents."),
    _o(FORMATS, "ScanOneNote", _B, True, "Look inside OneNote notebooks."),
    _o(FORMATS, "ScanArchive", _B, True, "Look inside archives and compressed files."),
    _ignored(FORMATS, "ScanImage", _B, True, "Parse images (graphics files)."),
    _ignored(FORMATS, "ScanImageFuzzyHash", _B, True, "Match images by their fuzzy hash."),
    _ignored(
        FORMATS,
        "ForceToDisk",
        _B,
        False,
        "Write in-memory layers to scratch files before scanning them.",
    ),
    # Limits
    _o(
        LIMITS,
        "MaxScanTime",
        _N,
        120_000,
        "Milliseconds one scan may take; 0 means no limit.",
    ),
    _o(
        LIMITS,
        "MaxScanSize",
        _S,
        400 * MiB,
        "Bytes one scan may read, all layers together; 0: no limit.",
    ),
    _o(
        LIMITS,
        "MaxFileSize",
        _S,
        100 * MiB,
        "Larger files (and layers) are not scanned; 0: no limit.",
    ),
    _o(
        LIMITS,
        "MaxRecursion",
        _N,
        17,
        "How deeply nested layers (archives in archives) are scanned.",
    ),
    _o(LIMITS, "MaxFiles", _N, 10_000, "How many layers one scan may open; 0: no limit."),
    _o(LIMITS, "MaxEmbeddedPE", _S, 40 * MiB, "Largest file searched for embedded executables."),
    _o(LIMITS, "MaxHTMLNormalize", _S, 40 * MiB, "Largest HTML file that is normalised."),
    _o(LIMITS, "MaxHTMLNoTags", _S, 8 * MiB, "Largest tag-stripped HTML view that is scanned."),
    _o(LIMITS, "MaxScriptNormalize", _S, 20 * MiB, "Largest script that is normalised."),
    _o(
        LIMITS,
        "MaxZipTypeRcg",
        _S,
        1 * MiB,
        "Largest zip member whose type is recognised.",
        acted_on=False,
    ),
    _o(LIMITS, "MaxPartitions", _N, 50, "How many partitions of a disk image are scanned."),
    _o(
        LIMITS,
        "MaxIconsPE",
        _N,
        100,
        "How many icons of an executable are compared.",
        acted_on=False,
    ),
    _o(
        LIMITS,
        "MaxRecHWP3",
        _N,
        16,
        "How deeply HWP3 document records are followed.",
        acted_on=False,
    ),
    _o(
        LIMITS,
        "PCREMatchLimit",
        _N,
        100_000,
        "Calls one regular expression match may make.",
        acted_on=False,
    ),
    _o(
        LIMITS,
        "PCRERecMatchLimit",
        _N,
        2_000,
        "Recursion depth one regular expression match may reach.",
        acted_on=False,
    ),
    _o(
        LIMITS,
        "PCREMaxFileSize",
        _S,
        100 * MiB,
        "Larger files (and layers) are not matched against PCRE subsignatures; 0: no limit.",
    ),
    # Bytecode
    _ignored(BYTECODE, "Bytecode", _B, True, "Run bytecode signatures."),
    _ignored(
        BYTECODE,
        "BytecodeSecurity",
        OptionKind.CHOICE,
        "TrustSigned",
        "Which bytecode may run without restriction: TrustSigned or Paranoid.",
        choices=("TrustSigned", "Paranoid"),
    ),
    _ignored(
        BYTECODE, "BytecodeTimeout", _N, 10_000, "Milliseconds one bytecode function may run."
    ),
    _ignored(BYTECODE, "BytecodeUnsigned", _B, False, "Also load bytecode that is not signed."),
    _ignored(
        BYTECODE,
        "BytecodeMode",
        OptionKind.CHOICE,
        "Auto",
        "How bytecode runs: Auto, ForceJIT, ForceInterpreter or Test.",
        choices=("Auto", "ForceJIT", "ForceInterpreter", "Test"),
    ),
    # On-access scanning (clamonacc's options; clamd only parses them)
    *(
        _ignored(ON_ACCESS, name, kind, default, help, repeatable=repeatable)
        for name, kind, default, help, repeatable in (
            ("OnAccessMountPath", _T, (), "Watch a whole mount point.", True),
            ("OnAccessIncludePath", _T, (), "Watch this directory tree.", True),
            ("OnAccessExcludePath", _T, (), "Do not watch this directory tree.", True),
            ("OnAccessExcludeRootUID", _B, False, "Ignore accesses by root.", False),
            ("OnAccessExcludeUID", _N, (), "Ignore accesses by this user id.", True),
            ("OnAccessExcludeUname", _T, (), "Ignore accesses by this user name.", True),
            ("OnAccessMaxFileSize", _S, 5 * MiB, "Larger files are not scanned on access.", False),
            ("OnAccessDisableDDD", _B, False, "Turn off dynamic directory discovery.", False),
            ("OnAccessPrevention", _B, False, "Block access to infected files.", False),
            (
                "OnAccessExtraScanning",
                _B,
                False,
                "Scan files again after some inotify events.",
                False,
            ),
            ("OnAccessCurlTimeout", _N, 5000, "Milliseconds to wait for clamd.", False),
            ("OnAccessMaxThreads", _N, 5, "Scanning threads of the on-access client.", False),
            ("OnAccessRetryAttempts", _N, 0, "Times a failed scan is retried.", False),
            ("OnAccessDenyOnError", _B, False, "Block access when a scan fails.", False),
        )
    ),
    # Deprecated spellings clamd still honours: they take effect only when set
    # to the opposite of their default, as in clamd.
    _o(
        DEPRECATED,
        "AlgorithmicDetection",
        _B,
        True,
        "Old name of HeuristicAlerts.",
        alias_of="HeuristicAlerts",
    ),
    _o(
        DEPRECATED,
        "BlockMax",
        _B,
        False,
        "Old name of AlertExceedsMax.",
        alias_of="AlertExceedsMax",
    ),
    _ignored(
        DEPRECATED,
        "PhishingAlwaysBlockSSLMismatch",
        _B,
        False,
        "Old name of AlertPhishingSSLMismatch.",
        alias_of="AlertPhishingSSLMismatch",
    ),
    _ignored(
        DEPRECATED,
        "PhishingAlwaysBlockCloak",
        _B,
        False,
        "Old name of AlertPhishingCloak.",
        alias_of="AlertPhishingCloak",
    ),
    _o(
        DEPRECATED,
        "PartitionIntersection",
        _B,
        False,
        "Old name of AlertPartitionIntersection.",
        alias_of="AlertPartitionIntersection",
    ),
    _o(
        DEPRECATED,
        "OLE2BlockMacros",
        _B,
        False,
        "Old name of AlertOLE2Macros.",
        alias_of="AlertOLE2Macros",
    ),
    _o(
        DEPRECATED,
        "ArchiveBlockEncrypted",
        _B,
        False,
        "Old name of AlertEncrypted.",
        alias_of="AlertEncrypted",
    ),
    # Options of older releases that clamd accepts and ignores with a warning.
    *(
        _deprecated(name, "No longer has any effect.")
        for name in (
            "AllowSupplementaryGroups",
            "ArchiveBlockMax",
            "ArchiveLimitMemoryUsage",
            "ArchiveMaxCompressionRatio",
            "ArchiveMaxFiles",
            "ArchiveMaxRecursion",
            "ArchiveMaxScanSize",
            "DetectBrokenExecutables",
            "MailFollowURLs",
            "MailMaxRecursion",
            "ScanOnAccess",
        )
    ),
    # Undocumented switches for ClamAV's developers.
    _ignored(DEVELOPER, "DevACOnly", _B, False, "Use only the Aho-Corasick matcher."),
    _ignored(DEVELOPER, "DevACDepth", _N, None, "Trie depth of the Aho-Corasick matcher."),
    _ignored(DEVELOPER, "DevLiblog", _B, False, "Send the scanning library's messages to the log."),
    _ignored(DEVELOPER, "DevPerformance", _B, False, "Log timing statistics."),
)

BY_NAME: Mapping[str, Option] = {option.name: option for option in OPTIONS}
