"""A run directory's checkpoint.bin and config.toml as the binary writes them, read the way the binary reads
them, for the Python tools (tools/gpt_checkpoint.py).

checkpoint.bin (include/ringmaster/checkpoint.hpp, src/checkpoint.cpp): the magic b"RMCKPT1\\n", the payload's
length (8 bytes, little endian) and its zlib CRC-32 (4 bytes, little endian), then the payload, one CBOR map.
read_checkpoint checks the file as the binary's read_checkpoint does, in the same order and with the same
messages: a regular file, its header, a length that matches the file's size and is at most what a checkpoint of
this run can hold (payload_limit, checked from the header before the payload is read), the CRC. Then
walk_cbor walks the payload's item heads, iteratively, under the limits the binary's reader applies too, and
only then does cbor2 decode it (cbor2 recurses, and allocates what a length announces).

check_model_shape compares the network's shape a checkpoint records (model_shape) with config.toml's: a
checkpoint of another shape with as many parameters would load into the wrong network, and the binary's
config hash (docs/method.md §8) is not re-implemented here.
"""
from __future__ import annotations

import os
import struct
import tomllib
import zlib

from file_policy import FileError, open_regular, read_open, read_regular

MAGIC = b"RMCKPT1\n"
HEADER = len(MAGIC) + 8 + 4  # magic, payload length, CRC-32

# The payload's limits, the same in the binary's reader (src/checkpoint.cpp): what they allow is exactly what
# the writer makes — nlohmann's to_cbor plus the byte strings write_checkpoint appends — so every honest
# checkpoint passes and a hostile one is refused before anything is decoded or allocated.
MAX_DEPTH = 32  # arrays and maps nested in each other, the outermost map counted as 1 (a checkpoint uses 4)
# Major type 7 values the writer makes: false, true, null (20-22) and float16 (nlohmann writes NaN and the
# infinities so), float32 and float64 (25-27). Undefined, other simple values and break are never written.
SIMPLE_WRITTEN = (20, 21, 22, 25, 26, 27)

CONFIG_LIMIT = 1 << 20  # config.toml: the binary's bound on a config file (src/config.cpp)


class RunFileError(Exception):
    """A checkpoint or config.toml that cannot be used; the message names the file and what is wrong."""


def payload_limit(params: int, workers: int) -> int:
    """The largest payload a checkpoint of a run with `params` parameters and `workers` workers can have:
    checkpoint_payload_limit (src/checkpoint.cpp) — x, m and the method's sum as float32, per worker 6
    counters and 2 times of at most 9 bytes, the rest a few hundred bytes; doubled, plus 1 MiB."""
    return 2 * (3 * 4 * params + (8 * 9 + 16) * max(workers, 0)) + (1 << 20)


def walk_cbor(payload: bytes) -> None:
    """Raises ValueError ("what, at byte N") unless the payload is one CBOR item within the limits: nesting at
    most MAX_DEPTH; no byte or text length and no array or map count larger than the bytes left after its
    head; no negative integer below −2^63; no indefinite length, no tag, no simple value the writer never makes (SIMPLE_WRITTEN); map keys are
    text; nothing after the item. Iterative (a stack of counts), so no payload can exhaust the Python stack."""
    end = len(payload)
    pos = 0
    # per open array or map: [items still to read (a map's keys and values both), whether it is a map, items
    # read]; the first entry stands for the payload, which holds one item
    stack = [[1, False, 0]]
    while stack:
        top = stack[-1]
        if top[0] == 0:
            stack.pop()
            continue
        top[0] -= 1
        is_key = top[1] and top[2] % 2 == 0
        top[2] += 1
        at = pos
        if pos >= end:
            raise ValueError(f"the payload ends inside an item, at byte {at}")
        major, info = payload[pos] >> 5, payload[pos] & 0x1F
        if info < 24:
            argument, pos = info, pos + 1
        elif info < 28:
            size = 1 << (info - 24)
            if pos + 1 + size > end:
                raise ValueError(f"the payload ends inside an item's head, at byte {at}")
            argument, pos = int.from_bytes(payload[pos + 1:pos + 1 + size], "big"), pos + 1 + size
        elif info == 31:
            raise ValueError(f"an indefinite-length item (the writer makes none), at byte {at}")
        else:
            raise ValueError(f"a reserved item head 0x{payload[at]:02x}, at byte {at}")
        if is_key and major != 3:
            raise ValueError(f"a map key that is not text, at byte {at}")
        if major in (2, 3, 4, 5) and argument > end - pos:
            what = ("a length of", "bytes") if major in (2, 3) else ("a count of", "items")
            raise ValueError(f"{what[0]} {argument} {what[1]} with {end - pos} bytes left, at byte {at}")
        if major == 1 and argument >= 1 << 63:
            # −1 − argument below −2^63: the binary's reader (nlohmann) would wrap it into another value
            raise ValueError(f"a negative integer below -2^63, at byte {at}")
        if major in (2, 3):
            pos += argument
        elif major in (4, 5):
            if len(stack) > MAX_DEPTH:  # len(stack) − 1 arrays and maps are open around this one
                raise ValueError(f"arrays and maps nested more than {MAX_DEPTH} deep, at byte {at}")
            stack.append([argument * (2 if major == 5 else 1), major == 5, 0])
        elif major == 6:
            raise ValueError(f"a tag (the writer makes none), at byte {at}")
        elif major == 7 and info not in SIMPLE_WRITTEN:
            raise ValueError(f"a simple value the writer never makes (0x{payload[at]:02x}), at byte {at}")
    if pos != end:
        raise ValueError(f"{end - pos} bytes after the payload's item, at byte {pos}")


def read_checkpoint(path: str | os.PathLike, max_payload: int) -> dict:
    """The checkpoint's payload as a dict (module docstring). Raises RunFileError naming the file."""
    import cbor2  # here: the tools that read a run's other files (tools/runs.py) do not need python3-cbor2

    def fail(what: str) -> RunFileError:
        return RunFileError(f"checkpoint {path}: {what}")

    try:
        with open_regular(path) as (fd, size):
            header = read_open(fd, path, HEADER)
            if size < HEADER or len(header) < HEADER or header[:len(MAGIC)] != MAGIC:
                raise fail("not a Ringmaster checkpoint (bad magic or shorter than its header)")
            length, crc = struct.unpack_from("<QI", header, len(MAGIC))
            if length != size - HEADER:
                raise fail(f"truncated or padded: header says {length} payload bytes, file has {size - HEADER}")
            if length > max_payload:
                raise fail(f"payload of {length} bytes is larger than this run's checkpoint can be (at most "
                           f"{max_payload})")
            payload = read_open(fd, path, length)
    except FileError as e:
        raise fail(e.reason + (" (no checkpoint to load)" if e.missing else "")) from None
    if len(payload) != length:
        raise fail("truncated while being read")
    if zlib.crc32(payload) != crc:
        raise fail("checksum mismatch: the file is corrupted")
    try:
        walk_cbor(payload)
        checkpoint = cbor2.loads(payload)
    except (ValueError, cbor2.CBORDecodeError) as e:
        raise fail(f"malformed content: {e}") from None
    if not isinstance(checkpoint, dict):
        raise fail("malformed content: the payload is not a map")
    return checkpoint


def read_config(path: str | os.PathLike) -> tuple[str, dict]:
    """config.toml's text and its TOML, under the binary's bound on a config file. Raises RunFileError."""
    try:
        text = read_regular(path, CONFIG_LIMIT).decode("utf-8")
    except FileError as e:
        raise RunFileError(str(e) + (" (not a run directory?)" if e.missing else "")) from None
    except UnicodeDecodeError as e:
        raise RunFileError(f"{path}: not UTF-8 text (byte {e.start})") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RunFileError(f"{path}: {e}") from None
    except RecursionError:
        raise RunFileError(f"{path}: arrays or tables nested too deeply") from None


def check_model_shape(checkpoint: dict, shape: dict, checkpoint_file, config_file) -> None:
    """Raises RunFileError unless the checkpoint records the network `shape` (name -> integer) that config.toml
    gives: its model_shape, written by the binary from the objective registry's row (src/objective.cpp), so
    that a checkpoint of another network with as many parameters is refused without re-implementing the
    binary's config hash. A checkpoint of hash rule 1 records none: the binary refuses it too."""
    if checkpoint.get("hash_rule") != 2 or not isinstance(checkpoint.get("model_shape"), dict):
        raise RunFileError(f"checkpoint {checkpoint_file}: written by an older ringmaster (hash rule "
                           f"{checkpoint.get('hash_rule', 1)!r}, no model shape); sample it with the build that wrote it")
    if checkpoint["model_shape"] != shape:
        raise RunFileError(f"checkpoint {checkpoint_file}: written by a different configuration than {config_file}")
