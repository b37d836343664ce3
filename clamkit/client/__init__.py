"""The client side of the clamd protocol: ``protocol`` frames requests and reads
replies without I/O; ``connection`` finds the daemon, holds one-command
conversations and drives pipelined IDSESSIONs."""

from clamkit.client.connection import (
    Address,
    ConnectError,
    address_from_config,
    connect,
    converse,
    descriptor_upload,
    pipeline,
    stream_upload,
)
from clamkit.client.protocol import ReplyReader, Session, instream_chunk, request

__all__ = [
    "Address",
    "ConnectError",
    "ReplyReader",
    "Session",
    "address_from_config",
    "connect",
    "converse",
    "descriptor_upload",
    "instream_chunk",
    "pipeline",
    "request",
    "stream_upload",
]
