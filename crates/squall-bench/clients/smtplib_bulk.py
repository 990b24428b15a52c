#!/usr/bin/env python3
"""Python's smtplib as a benchmark peer: COUNT messages of SIZE bytes over CONNECTIONS threads."""
import smtplib
import sys
import threading

host, port, count, size, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
LINE = b"The quick brown fox jumps over the lazy dog; squall sends mail in bulk.\r\n"


def message(i):
    m = b"From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench %d\r\n\r\n" % i
    while len(m) < size:
        m += LINE[: size - len(m)]
    return m


def worker(n):
    s = smtplib.SMTP(host, port)
    s.ehlo("bench.example")
    for i in range(n):
        s.sendmail("a@example.org", ["b@example.org"], message(i))
    s.quit()


threads = [threading.Thread(target=worker, args=(count // conns + (1 if c < count % conns else 0),)) for c in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
