"""Delay and reorder packets from an NFQUEUE: ``netem delay`` for kernels without ``sch_netem``.

Run inside a node's network namespace (as root of its user namespace)::

    python harness/backends/nfqueue_delay.py QUEUE DELAY_MS JITTER_MS REORDER SEED

with an iptables rule sending the packets to shape to ``--queue-num QUEUE
--queue-bypass`` (so that, when this process is not there, packets pass
unharmed). Each packet is held for ``DELAY_MS`` plus a uniform jitter in
``[-JITTER_MS, +JITTER_MS]``, then accepted; a fraction ``REORDER`` of packets is
accepted at once, ahead of the delayed ones (netem's ``reorder``). It speaks
the nfnetlink_queue protocol directly over a netlink socket (standard library
only): bind the queue for AF_INET, ask for metadata only, and answer each
packet id with an ``NF_ACCEPT`` verdict when its time comes. Verdicts may be
given in any order, which is what lets held packets be overtaken.

Prints ``ready`` once bound; ends on SIGTERM (the packets it holds are released).
"""

from __future__ import annotations

import heapq
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 4, 5
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_FAIL_OPEN = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_ACCEPT = 1


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _msg(msg_type: int, queue: int, attrs: bytes, *, seq: int, ack: bool = False) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    flags = NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def _check_ack(sock: socket.socket) -> None:
    data = sock.recv(65536)
    length, kind = struct.unpack_from("=IH", data)
    if kind == NLMSG_ERROR:
        (err,) = struct.unpack_from("=i", data, 16)
        if err != 0:
            raise OSError(-err, "nfnetlink_queue configuration refused")


def bind(queue: int) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    cmd = struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, socket.htons(socket.AF_INET))
    sock.send(_msg(NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_CMD, cmd), seq=1, ack=True))
    _check_ack(sock)
    params = struct.pack("!IB", 0, NFQNL_COPY_META)
    flags = struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)
    sock.send(_msg(NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_PARAMS, params), seq=2, ack=True))
    _check_ack(sock)
    sock.send(_msg(NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_FLAGS, flags) + _attr(NFQA_CFG_MASK, flags),
                   seq=3, ack=True))
    _check_ack(sock)
    sock.setblocking(False)
    return sock


def packet_ids(data: bytes) -> list[int]:
    """The packet ids of every NFQNL_MSG_PACKET in one netlink read."""
    ids, off = [], 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20  # nlmsghdr + nfgenmsg
            while a + 4 <= off + length:
                alen, akind = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if akind & 0x7FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, a + 4)[0])
                a += (alen + 3) & ~3
        off += (length + 3) & ~3
    return ids


def verdict(sock: socket.socket, queue: int, packet_id: int) -> None:
    hdr = struct.pack("!II", NF_ACCEPT, packet_id)
    try:
        sock.send(_msg(NFQNL_MSG_VERDICT, queue, _attr(NFQA_VERDICT_HDR, hdr), seq=0))
    except BlockingIOError:
        select.select([], [sock], [], 0.1)
        sock.send(_msg(NFQNL_MSG_VERDICT, queue, _attr(NFQA_VERDICT_HDR, hdr), seq=0))


def main(argv: list[str]) -> int:
    queue, delay_ms, jitter_ms, reorder, seed = (int(argv[1]), float(argv[2]), float(argv[3]),
                                                  float(argv[4]), int(argv[5]))
    rng = random.Random(seed)
    sock = bind(queue)
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    held: list[tuple[float, int]] = []
    while not stop:
        now = time.monotonic()
        while held and held[0][0] <= now:
            verdict(sock, queue, heapq.heappop(held)[1])
        wait = max(0.0, held[0][0] - now) if held else 0.5
        r, _, _ = select.select([sock], [], [], wait)
        if sock in r:
            try:
                data = sock.recv(1 << 16)
            except BlockingIOError:
                continue
            now = time.monotonic()
            for pid in packet_ids(data):
                if reorder and rng.random() < reorder:
                    verdict(sock, queue, pid)
                else:
                    hold = max(0.0, delay_ms + rng.uniform(-jitter_ms, jitter_ms)) / 1000.0
                    heapq.heappush(held, (now + hold, pid))
    for _, pid in held:
        verdict(sock, queue, pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
