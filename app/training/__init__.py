"""Training from the GUI: the setup dialog, detached trainer processes and run monitors.

The trainer always runs in its own process (`python -m trainers <method>`); the GUI only writes
its config, starts it detached and reads the files it writes, so closing the app never stops it.
"""
