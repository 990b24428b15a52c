#!/usr/bin/env python3
"""aiosmtplib as a benchmark peer: COUNT messages of SIZE bytes over CONNECTIONS tasks."""
import asyncio
import sys

import aiosmtplib

host, port, count, size, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
LINE = b"The quick brown fox jumps over the lazy dog; squall sends mail in bulk.\r\n"


def message(i):
    m = b"From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench %d\r\n\r\n" % i
    while len(m) < size:
        m += LINE[: size - len(m)]
    return m


async def worker(n):
    smtp = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, use_tls=False)
    await smtp.connect()
    for i in range(n):
        await smtp.sendmail("a@example.org", ["b@example.org"], message(i))
    await smtp.quit()


async def main():
    await asyncio.gather(*(worker(count // conns + (1 if c < count % conns else 0)) for c in range(conns)))


asyncio.run(main())
