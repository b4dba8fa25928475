"""Files: label maps (indexed PNG), exported photos, OpenRaster projects and autosave. No Qt, no torch, except
page_files.py: the pages' File and Edit actions (Qt), imported from there, not from this package."""

from app.fileio.autosave import Autosave, Recovery
from app.fileio.labels import (
    MAX_SIDE,
    FileError,
    LabelImport,
    export_image,
    read_label_image,
    write_label_png,
)
from app.fileio.ora import OraLoad, load_ora, save_ora

__all__ = [
    "MAX_SIDE",
    "Autosave",
    "FileError",
    "LabelImport",
    "OraLoad",
    "Recovery",
    "export_image",
    "load_ora",
    "read_label_image",
    "save_ora",
    "write_label_png",
]
