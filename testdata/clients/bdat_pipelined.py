#!/usr/bin/env python3
"""Send one message with BDAT (RFC 3030 CHUNKING), pipelined, over a raw socket.

smtplib has no BDAT, so this speaks the protocol itself: after the greeting
it writes EHLO, MAIL, RCPT, every BDAT chunk (the last one with LAST) and
QUIT in a single send, then reads replies until the server closes. It
prints one JSON object: {"replies": ["220 ...", "250-...", ...]}, every
reply line in the order received. The message is cut into chunks of the
given sizes; what is left after them is the LAST chunk.
"""
import argparse
import json
import socket
import sys


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--message", required=True)
    p.add_argument("--chunk", type=int, action="append", default=[], help="size of a non-last chunk")
    a = p.parse_args()

    with open(a.message, "rb") as f:
        msg = f.read()
    if sum(a.chunk) > len(msg):
        sys.exit("chunks are longer than the message")

    out = bytearray(b"EHLO bdat.test\r\n")
    out += b"MAIL FROM:<%s> BODY=BINARYMIME\r\n" % a.sender.encode()
    for rcpt in a.to:
        out += b"RCPT TO:<%s>\r\n" % rcpt.encode()
    pos = 0
    for n in a.chunk:
        out += b"BDAT %d\r\n" % n + msg[pos:pos + n]
        pos += n
    out += b"BDAT %d LAST\r\n" % (len(msg) - pos) + msg[pos:]
    out += b"QUIT\r\n"

    replies = []
    with socket.create_connection((a.host, a.port), timeout=20) as s:
        f = s.makefile("rb")
        replies.append(f.readline().decode("utf-8", "replace").rstrip("\r\n"))  # greeting
        s.sendall(bytes(out))
        for line in f:  # until the server closes after QUIT
            replies.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(replies) > 200:
                break
    json.dump({"replies": replies}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
