"""Real executables for the tests: PE32 and PE32+ files built with mingw-w64.

Small C programs (imports from several DLLs, strings, a version resource
through windres) are compiled once per test session into a temporary
directory (``programs``); the tests skip with a reason when the cross
compilers are missing.  The tests here check the PE parser's layout of
those programs against pefile's reading of the same headers.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pefile
import pytest

from clamkit.executables import ExecutableLayout
from clamkit.executables.pe import import_hash_text, parse_pe

COMPILERS = {"pe64": "x86_64-w64-mingw32", "pe32": "i686-w64-mingw32"}

PROGRAMS = {
    "hello": r"""
#include <windows.h>
#include <stdio.h>
int main(void) {
    MessageBoxA(0, "clamkit says hello", "CLAMKIT_HELLO", 0);
    printf("%lu\n", GetTickCount());
    return 0;
}
""",
    "files": r"""
#include <windows.h>
#include <string.h>
static const char secret[] = "CLAMKIT_FILES_MARKER_0123456789";
int main(int argc, char **argv) {
    HANDLE h = CreateFileA(argc > 1 ? argv[1] : "x", GENERIC_READ, 0, 0, OPEN_EXISTING, 0, 0);
    char buffer[64];
    DWORD got = 0;
    if (h != INVALID_HANDLE_VALUE) { ReadFile(h, buffer, sizeof buffer, &got, 0); CloseHandle(h); }
    return (int)strlen(secret) + (int)got;
}
""",
    "registry": r"""
#include <windows.h>
int main(void) {
    HKEY key;
    if (RegOpenKeyExA(HKEY_CURRENT_USER, "Software\\Clamkit", 0, KEY_READ, &key) == 0)
        RegCloseKey(key);
    Sleep(1);
    return 0;
}
""",
}

VERSION_RESOURCE = """1 VERSIONINFO
FILEVERSION 1,2,3,4
PRODUCTVERSION 1,2,3,4
BEGIN
 BLOCK "StringFileInfo"
 BEGIN
  BLOCK "040904b0"
  BEGIN
   VALUE "CompanyName", "Clamkit Test Company"
   VALUE "FileDescription", "clamkit test program"
   VALUE "ProductName", "clamkit"
  END
 END
 BLOCK "VarFileInfo"
 BEGIN
  VALUE "Translation", 0x409, 1200
 END
END
"""

LIBRARIES = {"registry": ["-ladvapi32"]}


def compilers_or_skip() -> None:
    for prefix in COMPILERS.values():
        if shutil.which(f"{prefix}-gcc") is None or shutil.which(f"{prefix}-windres") is None:
            pytest.skip(f"{prefix}-gcc/windres not installed (apt-get install gcc-mingw-w64)")


def build_programs(directory: Path, *, stripped_too: bool = True) -> list[Path]:
    """Every program for both architectures, with a version resource, some stripped.

    A directory that already holds them (built earlier in the session) is reused.
    """
    compilers_or_skip()
    built_before = sorted(directory.glob("*.exe"))
    if built_before:
        return built_before
    directory.mkdir(parents=True, exist_ok=True)
    resource = directory / "version.rc"
    resource.write_text(VERSION_RESOURCE)
    built = []
    for arch, prefix in COMPILERS.items():
        resource_object = directory / f"version-{arch}.o"
        subprocess.run(
            [f"{prefix}-windres", str(resource), "-O", "coff", "-o", str(resource_object)],
            check=True,
        )
        for name, source in PROGRAMS.items():
            source_path = directory / f"{name}.c"
            source_path.write_text(source)
            variants = [("", [])] + ([("-stripped", ["-s"])] if stripped_too else [])
            for suffix, flags in variants:
                output = directory / f"{name}-{arch}{suffix}.exe"
                subprocess.run(
                    [
                        f"{prefix}-gcc",
                        "-O1",
                        *flags,
                        str(source_path),
                        str(resource_object),
                        "-o",
                        str(output),
                        *LIBRARIES.get(name, []),
                    ],
                    check=True,
                )
                built.append(output)
    return built


def programs_directory(factory: pytest.TempPathFactory) -> Path:
    """The session's shared build directory."""
    return factory.getbasetemp() / "mingw-programs"


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_programs(programs_directory(tmp_path_factory))


def test_layout_agrees_with_pefile(programs: list[Path]) -> None:
    for path in programs:
        data = path.read_bytes()
        layout = parse_pe(data)
        assert isinstance(layout, ExecutableLayout)
        pe = pefile.PE(data=data, fast_load=True)
        entry = pe.OPTIONAL_HEADER.AddressOfEntryPoint
        assert layout.entry_point == pe.get_offset_from_rva(entry)
        assert [s.name for s in layout.sections] == [s.Name.rstrip(b"\0") for s in pe.sections]
        assert [(s.raw_offset, s.raw_size) for s in layout.sections] == [
            (s.PointerToRawData, s.SizeOfRawData) for s in pe.sections
        ]
        assert not layout.malformed


def test_import_text_is_pefiles_imphash_input(programs: list[Path]) -> None:
    for path in programs:
        data = path.read_bytes()
        layout = parse_pe(data)
        assert isinstance(layout, ExecutableLayout)
        text = import_hash_text(data, layout)
        pe = pefile.PE(data=data)
        if pe.OPTIONAL_HEADER.Magic == 0x20B:
            assert text is None  # the reference hashes PE32 imports only
            continue
        assert text is not None
        assert hashlib.md5(text).hexdigest() == pe.get_imphash()
