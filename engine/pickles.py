"""What a pickle holds, read from its opcodes without running any: why engine.checkpoints refused a file.

A checkpoint that torch will not load with weights_only=True is described to the user: code it would run, Python
objects that are not tensors, or no tensors at all.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

MAX_PICKLE_SCAN = 64 << 20  # bytes of a refused pickle read to say what it holds

# What a pickle may refer to that builds plain data (arrays, containers, paths, dates), by exact name: a module
# also holds functions that act (numpy.save, pathlib.Path.touch), and those are code.
_NUMPY = ("numpy.core.multiarray", "numpy._core.multiarray")
_DATA_GLOBALS = {
    *(f"{m}.{n}" for m in _NUMPY for n in ("_reconstruct", "scalar")), "numpy.ndarray", "numpy.dtype",
    *(f"numpy.{t}" for t in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                            "float16", "float32", "float64", "complex64", "complex128", "str_", "bytes_")),
    "_codecs.encode", "copyreg._reconstructor", "collections.OrderedDict", "collections.Counter",
    "collections.deque", "argparse.Namespace", "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath",
    "pathlib.PurePosixPath", "pathlib.PureWindowsPath", "datetime.datetime", "datetime.date", "datetime.time",
    "datetime.timedelta", "datetime.timezone", "decimal.Decimal", "fractions.Fraction", "uuid.UUID",
    *(f"builtins.{t}" for t in ("set", "frozenset", "bytearray", "bytes", "complex", "slice", "range", "object",
                               "dict", "list", "tuple", "int", "float", "str", "bool")),
}
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a pre-1.6 torch.save stream
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}


def explain_pickle(f: BinaryIO, is_zip: bool) -> str:
    """What a pickle that torch would not load holds, read from its opcodes without running any."""
    try:
        f.seek(0)
        if is_zip:
            with zipfile.ZipFile(f) as archive:
                member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                if member is None:
                    return "a zip archive without data.pkl, not a PyTorch checkpoint"
                with archive.open(member) as pkl:
                    data = pkl.read(MAX_PICKLE_SCAN)
        else:
            data = f.read(MAX_PICKLE_SCAN)
        names, torch_format = _pickle_globals(data)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, RecursionError, MemoryError, NotImplementedError):
        return "the file is truncated or corrupt"
    return _describe_pickle(names, plain=not torch_format and not is_zip)


def explain_old_pickle(f: BinaryIO) -> str | None:
    """What a file that parses as a whole pickle of protocol 0 or 1 holds; None if it does not parse."""
    try:
        f.seek(0)
        names, _ = _pickle_globals(f.read(MAX_PICKLE_SCAN))
    except (ValueError, EOFError, OSError, RecursionError, MemoryError, NotImplementedError):
        return None
    return _describe_pickle(names, plain=True)


def _describe_pickle(names: list[str], *, plain: bool) -> str:
    foreign = [n for n in names if not n.startswith("torch.") and n != "collections.OrderedDict"]
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    code = [n for n in foreign if not _is_data_global(n)]
    if code:
        more = f" and {len(code) - 3} more" if len(code) > 3 else ""
        return f"it would run code when loaded ({', '.join(code[:3])}{more}): refused for safety"
    if foreign:
        return f"it holds Python objects ({shown}) that are not tensors: refused for safety"
    if plain and names:  # tensors pickled by pickle.dump: torch.load cannot read them
        return "it is a plain Python pickle (pickle.dump), not a file written by torch.save"
    if plain:
        return "it is a plain Python pickle that holds no tensors, not a PyTorch checkpoint"
    return "it holds objects that PyTorch will not load safely: refused for safety"


def _is_data_global(name: str) -> bool:
    return name in _DATA_GLOBALS or name.startswith("numpy.dtypes.")


def _pickle_globals(data: bytes) -> tuple[list[str], bool]:
    """(the globals 'module.name' the pickle(s) refer to, whether it is a pre-1.6 torch.save stream). Raises
    ValueError on a truncated or malformed stream."""
    stream = io.BytesIO(data)  # never a file: a lying length must not make read() allocate it
    names: list[str] = []
    first = True
    torch_format = False
    for _ in range(5):  # torch's legacy format: magic, protocol, sys info, the object, storage keys
        if stream.tell() >= len(data):
            break
        ops = list(_ops(stream))
        if first:
            torch_format = any(op.name in ("LONG1", "LONG4", "LONG") and arg == _TORCH_MAGIC for op, arg in ops)
            first = False
        names += _globals_of(ops)
        if not torch_format:
            break
    renamed = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # protocol <= 2 writes Python 2's names
    names = [renamed.get(n.split(".")[0], n.split(".")[0]) + n[len(n.split(".")[0]):] for n in names]
    return list(dict.fromkeys(names)), torch_format


def _ops(stream: io.BytesIO) -> Iterator[tuple[Any, Any]]:
    for op, arg, _ in pickletools.genops(stream):
        yield op, arg


def _globals_of(ops: list[tuple[Any, Any]]) -> list[str]:
    names: list[str] = []
    recent: list[Any] = []  # the values of string pushes and memo gets, for STACK_GLOBAL
    memo: dict[Any, Any] = {}
    last: Any = None
    for op, arg in ops:
        value = None
        if op.name in _STRING_OPS:
            value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
            recent.append(value)
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            value = memo.get(arg)
            recent.append(value)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = last
            value = last
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = last
            value = last
        elif op.name in ("GLOBAL", "INST"):
            names.append(str(arg).replace(" ", ".", 1))
        elif op.name == "STACK_GLOBAL":
            module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
            names.append(f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str) else "(unnamed)")
        last = value
    return names


# --- a restricted reader: plain dicts of names and numbers, built without unpickling -----------------------------

_PLAIN_STRINGS = _STRING_OPS | {"SHORT_BINBYTES", "BINBYTES"}
_PLAIN_INTS = {"BININT", "BININT1", "BININT2", "LONG1", "INT", "LONG"}
_STRUCTURE_OPS = {"PROTO", "FRAME", "STOP", "MARK", "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "MEMOIZE", "PUT",
                  "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}
_CODE_OPS = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD", "EXT1", "EXT2",
             "EXT4", "PERSID", "BINPERSID"}
MAX_PLAIN_PICKLE = 16 << 20  # a class-name dictionary of thousands of entries is a few hundred kB


def read_plain_dict(data: bytes) -> dict[str, int]:
    """A pickle of one dict {str: int} (e.g. an ImageFolder's class_to_idx), read by following its opcodes on a
    stack of our own: only strings, whole numbers and dict-building opcodes are accepted; anything else (code to run,
    other objects) is refused by name without running it. Raises ValueError with a one-line reason."""
    if len(data) > MAX_PLAIN_PICKLE:
        raise ValueError(f"over {MAX_PLAIN_PICKLE >> 20} MB, not a dictionary of class names")
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    try:
        ops = list(_ops(io.BytesIO(data)))
    except (ValueError, EOFError, RecursionError, NotImplementedError):
        raise ValueError("not a pickle, or a truncated one") from None
    for op, arg in ops:
        name = op.name
        try:
            if name in _CODE_OPS:
                what = f" ({_globals_of(ops)[0]})" if _globals_of(ops) else ""
                raise ValueError(f"it would run code or build Python objects when loaded{what}: refused for safety, "
                                 "nothing was run")
            if name in _PLAIN_STRINGS:
                stack.append(arg.decode("utf-8", errors="replace") if isinstance(arg, bytes) else str(arg))
            elif name in _PLAIN_INTS:
                if isinstance(arg, bool) or not isinstance(arg, int):  # protocol 0 writes True/False as INT
                    raise ValueError("it holds a value that is not a whole number")
                stack.append(arg)
            elif name not in _STRUCTURE_OPS:
                raise ValueError(f"it holds something other than names and numbers (pickle opcode {name}): "
                                 "refused, nothing was run")
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "DICT":
                at = marks.pop()
                items = stack[at:]
                del stack[at:]
                stack.append(_pairs({}, items))
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                _pairs(stack[-1], [key, value])
            elif name == "SETITEMS":
                at = marks.pop()
                items = stack[at:]
                del stack[at:]
                _pairs(stack[-1], items)
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name == "STOP":
                break
        except (IndexError, KeyError, TypeError, AttributeError):
            raise ValueError("a malformed pickle") from None
    if len(stack) != 1 or not isinstance(stack[0], dict):
        raise ValueError("it does not hold one dictionary of names and numbers")
    return stack[0]


def _pairs(target: dict[str, int], items: list[Any]) -> dict[str, int]:
    if len(items) % 2 or not isinstance(target, dict):
        raise ValueError("a malformed pickle")
    pairs = list(zip(items[::2], items[1::2]))
    if any(not isinstance(key, str) or not isinstance(value, int) for key, value in pairs):
        raise ValueError("its dictionary is not of names to numbers")
    target.update(pairs)
    return target
