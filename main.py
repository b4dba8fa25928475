"""I2I Studio: no arguments open the GUI; subcommands run headless (see `python main.py --help`)."""

import sys


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        from engine.cli import run  # the CLI never loads Qt

        return run(argv[1:])
    from app.system_check import (
        check_qt_libraries,  # before Qt loads: missing system libraries named, not an abort
    )

    if advice := check_qt_libraries(argv):
        print(advice, file=sys.stderr)
        return 2
    from app.app import run as run_gui  # the GUI process loads torch only on the engine's side

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
