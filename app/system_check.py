"""Before Qt starts: the system libraries Qt's X11 window-system plugin (xcb) needs, named as Debian/Ubuntu packages.

Without them Qt aborts with "could not load the Qt platform plugin xcb ... This application failed to start",
which names no library. We ask the dynamic linker (`ldd` on PySide6's libqxcb.so) which libraries it cannot find
and print the packages that hold them and the command that installs them. This module imports neither Qt nor
torch, so it runs before either is loaded.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# The libraries libqxcb.so and its Qt libraries load (ldd of PySide6 6.x), and the Debian/Ubuntu package of each.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libexpat.so.1": "libexpat1",
    "libpng16.so.16": "libpng16-16",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
}
# What the xcb plugin always needs, checked by loading them where there is no ldd.
XCB_NEEDS = tuple(name for name in PACKAGES if name.startswith(("libxcb", "libX", "libxkb", "libGL", "libEGL")))


def wants_xcb(environ: dict[str, str] | os._Environ[str], argv: Sequence[str], platform: str = sys.platform) -> bool:
    """Whether Qt will start its xcb plugin: on Linux, by QT_QPA_PLATFORM or -platform, else by default
    (Qt tries Wayland first in a Wayland session, so xcb is then only its fallback)."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    for i, arg in enumerate(argv):
        if arg in ("-platform", "--platform") and i + 1 < len(argv):
            chosen = argv[i + 1]
        elif arg.startswith("-platform="):
            chosen = arg.split("=", 1)[1]
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    return environ.get("XDG_SESSION_TYPE", "") != "wayland"


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found without importing PySide6 (which would load Qt)."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_from_ldd(output: str) -> list[str]:
    """The libraries an `ldd` output reports as "not found", each once, in order."""
    missing: list[str] = []
    for line in output.splitlines():
        name, arrow, where = line.strip().partition("=>")
        if arrow and where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def missing_libraries(plugin: Path, *, run: Callable[[list[str]], str] | None = None,
                      loadable: Callable[[str], bool] | None = None) -> list[str]:
    """The shared libraries `plugin` needs that the system lacks: by ldd, or where ldd is missing, by loading the
    ones the xcb plugin is known to need."""
    if run is None and shutil.which("ldd"):
        run = _ldd
    if run is not None:
        try:
            return missing_from_ldd(run(["ldd", str(plugin)]))
        except (OSError, subprocess.SubprocessError):
            pass
    loadable = loadable or _loadable
    return [name for name in XCB_NEEDS if not loadable(name)]


def _ldd(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False).stdout


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def advice(missing: Sequence[str]) -> str:
    """What to print: the missing libraries, the packages that hold them and the command that installs them."""
    packages = sorted({PACKAGES[name] for name in missing if name in PACKAGES})
    unknown = [name for name in missing if name not in PACKAGES]
    lines = ["error: the Qt window-system plugin (xcb) cannot start: these system libraries are missing: "
             + ", ".join(missing)]
    if packages:
        lines += ["Install them (Debian/Ubuntu) and start again:", f"    sudo apt-get install {' '.join(packages)}"]
    if unknown:
        lines.append(f"Find the package of {', '.join(unknown)} with `apt-file search NAME` (or your system's "
                     "package search).")
    lines.append("Without a display, QT_QPA_PLATFORM=offscreen runs the app headless (tests, screenshots).")
    return "\n".join(lines)


def check_qt_libraries(argv: Sequence[str], environ: dict[str, str] | os._Environ[str] | None = None, *,
                       plugin: Path | None = None,
                       find_missing: Callable[[Path], list[str]] | None = None) -> str:
    """'' when Qt can start its window system as far as libraries go, else the advice to print."""
    environ = os.environ if environ is None else environ
    if not wants_xcb(environ, argv):
        return ""
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return ""  # a PySide6 without the plugin: Qt's own message is all there is to say
    missing = (find_missing or missing_libraries)(plugin)
    return advice(missing) if missing else ""
