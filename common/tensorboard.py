"""TensorBoard event files without TensorFlow or tensorboard: a training run of either backend
writes its scalars where `tensorboard --logdir RUNS` shows runs side by side.

The format is TensorBoard's own: TFRecord framing (length, masked CRC-32C of the length, the
record, masked CRC-32C of the record) around `Event` protocol buffers, each scalar a
`Summary.Value` with `simple_value` (tensorflow/core/util/event.proto). The few fields used are
encoded here by hand, so the Chainer twin's runs need neither TF nor a protobuf package.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path

from common.errors import WriteError


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord frames its records."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """`data` framed as one TFRecord."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", _masked(crc32c(length))) + data
            + struct.pack("<I", _masked(crc32c(data))))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int = 0, scalars: Mapping[str, float] | None = None,
          file_version: str | None = None) -> bytes:
    """An `Event` (wall_time = 1, step = 2, file_version = 3, summary = 5) holding `scalars`
    as `Summary.Value`s (tag = 1, simple_value = 2)."""
    out = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
    if file_version is not None:
        out += _field(3, file_version.encode())
    if scalars:
        values = b"".join(
            _field(1, _field(1, tag.encode()) + b"\x15" + struct.pack("<f", float(value)))
            for tag, value in scalars.items())
        out += _field(5, values)
    return out


class EventWriter:
    """Appends scalar events to a new `events.out.tfevents.*` file in `logdir`; each write is
    flushed, so a run killed at any point leaves every whole step readable."""

    def __init__(self, logdir: str | os.PathLike) -> None:
        folder = Path(logdir)
        self.path = folder / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # A resumed run starts a file of its own: TensorBoard reads them all, in order.
            suffix = 0
            while self.path.exists():
                suffix += 1
                self.path = self.path.with_name(f"{self.path.name.split('.v')[0]}.v{suffix}")
            self._handle = open(self.path, "ab")
        except OSError as error:
            raise WriteError.from_os_error(self.path, error) from None
        self._write(event(time.time(), file_version="brain.Event:2"))

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        self._write(event(time.time(), step, values))

    def _write(self, data: bytes) -> None:
        try:
            self._handle.write(record(data))
            self._handle.flush()
        except OSError as error:
            raise WriteError.from_os_error(self.path, error) from None

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
