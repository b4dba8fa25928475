"""The set-up check before Qt starts: missing system libraries of Qt's xcb plugin, named as packages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import main
from app import system_check
from app.system_check import advice, check_qt_libraries, missing_from_ldd, missing_libraries, wants_xcb

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f7b)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibQt6Gui.so.6 => /venv/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007f7a)
\tlibxcb-icccm.so.4 => not found
\tlibEGL.so.1 => not found
"""


def test_ldd_output_gives_each_missing_library_once():
    assert missing_from_ldd(LDD) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                     "libEGL.so.1"]
    assert missing_from_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_advice_names_the_packages_and_the_command():
    text = advice(missing_from_ldd(LDD))
    assert "sudo apt-get install libegl1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text
    assert text.startswith("error: ") and "libxcb-icccm.so.4" in text
    unknown = advice(["libweird.so.3"])
    assert "apt-get" not in unknown and "apt-file search" in unknown and "libweird.so.3" in unknown


@pytest.mark.parametrize(("environ", "argv", "platform", "expected"), [
    ({}, ["main.py"], "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, ["main.py"], "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, ["main.py"], "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, ["main.py"], "linux", False),
    ({"XDG_SESSION_TYPE": "wayland"}, ["main.py"], "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen"}, ["main.py", "-platform", "xcb"], "linux", True),
    ({}, ["main.py", "-platform", "vnc"], "linux", False),
    ({}, ["main.py"], "darwin", False),
    ({}, ["main.py"], "win32", False),
])
def test_only_the_xcb_platform_is_checked(environ, argv, platform, expected):
    assert wants_xcb(environ, argv, platform) is expected


def test_no_ldd_loads_the_known_libraries(tmp_path):
    missing = missing_libraries(tmp_path / "libqxcb.so", run=_no_ldd,
                                loadable=lambda name: name != "libxcb-keysyms.so.1")
    assert missing == ["libxcb-keysyms.so.1"]


def _no_ldd(command):
    raise FileNotFoundError("ldd")


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("ldd")), reason="needs gcc and ldd")
def test_a_real_plugin_with_a_missing_library_is_found_by_ldd(tmp_path):
    """A shared object linked against a library that is then removed: what ldd says of a Qt plugin whose system
    library is not installed."""
    (tmp_path / "stub.c").write_text("int stub(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int stub(void);\nint plugin(void) { return stub(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "libi2istub.so.1", "-Wl,-soname,libi2istub.so.1",
                    tmp_path / "stub.c"], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "libqxcb.so", tmp_path / "plugin.c",
                    f"-L{tmp_path}", "-l:libi2istub.so.1"], check=True)
    (tmp_path / "libi2istub.so.1").unlink()
    assert missing_libraries(tmp_path / "libqxcb.so") == ["libi2istub.so.1"]
    text = check_qt_libraries(["main.py"], {"QT_QPA_PLATFORM": "xcb"}, plugin=tmp_path / "libqxcb.so")
    assert "libi2istub.so.1" in text and "apt-file search" in text


def test_the_app_start_prints_the_packages_and_exits_2_before_qt(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(system_check, "xcb_plugin", lambda: Path("/fake/libqxcb.so"))
    monkeypatch.setattr(system_check, "missing_libraries", lambda plugin: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])

    def qt_started(argv):
        raise AssertionError("Qt started despite the missing libraries")

    import app.app

    monkeypatch.setattr(app.app, "run", qt_started)
    assert main.main(["main.py"]) == 2
    err = capsys.readouterr().err
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in err


def test_nothing_missing_starts_the_app(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(system_check, "xcb_plugin", lambda: Path("/fake/libqxcb.so"))
    monkeypatch.setattr(system_check, "missing_libraries", lambda plugin: [])
    import app.app

    monkeypatch.setattr(app.app, "run", lambda argv: 0)
    assert main.main(["main.py"]) == 0
