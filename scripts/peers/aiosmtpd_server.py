#!/usr/bin/env python3
"""aiosmtpd as a test peer for squall: a real SMTP server written by others, run our way.

Every accepted message is saved in --maildir as <id>.eml (the content exactly as received, with
dot-stuffing undone) and <id>.json (the envelope), the JSON written last by atomic rename.

Recipients named reject*@... are refused with 550 5.1.1, tempfail*@... with 451 4.3.0, so tests
can check partial delivery. --no-ehlo makes EHLO "not recognized" (for HELO fallback).
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

COUNTER = itertools.count(1)


class Handler:
    def __init__(self, maildir, implicit_tls):
        self.maildir = maildir
        self.implicit_tls = implicit_tls

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local.startswith("tempfail"):
            return f"451 4.3.0 <{address}>: Temporary lookup failure"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        msg_id = f"{int(time.time())}-{os.getpid()}-{next(COUNTER):06d}"
        content = envelope.original_content or b""
        eml = os.path.join(self.maildir, msg_id + ".eml")
        with open(eml + ".tmp", "wb") as f:
            f.write(content)
        os.rename(eml + ".tmp", eml)
        meta = {
            "id": msg_id,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "helo": session.host_name,
            "tls": self.implicit_tls or session.ssl is not None,
            "auth_user": session.auth_data if session.authenticated else None,
            "size": len(content),
            "eml": eml,
        }
        path = os.path.join(self.maildir, msg_id + ".json")
        with open(path + ".tmp", "w") as f:
            json.dump(meta, f)
        os.rename(path + ".tmp", path)
        return f"250 2.0.0 Ok: queued as {msg_id}"


class NoEhloSMTP(SMTP):
    async def smtp_EHLO(self, hostname):
        await self.push("502 5.5.2 Error: command not recognized")


def authenticator(users):
    def check(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode()
            if users.get(user) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    return check


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--size", type=int, default=10485760)
    p.add_argument("--no-ehlo", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--user", action="append", default=[], help="USER:PASSWORD; AUTH is then required")
    p.add_argument("--auth-plaintext", action="store_true", help="offer AUTH before TLS")
    args = p.parse_args()
    os.makedirs(args.maildir, exist_ok=True)

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    users = dict(u.split(":", 1) for u in args.user)
    cls = NoEhloSMTP if args.no_ehlo else SMTP
    handler = Handler(args.maildir, args.tls == "implicit")

    def factory():
        kwargs = dict(
            hostname="aiosmtpd.test",
            data_size_limit=args.size,
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        if args.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=False)
        if users:
            # aiosmtpd counts only STARTTLS as TLS; with implicit TLS every session is encrypted.
            kwargs.update(
                authenticator=authenticator(users),
                auth_required=True,
                auth_require_tls=not (args.auth_plaintext or args.tls == "implicit"),
            )
        return cls(handler, **kwargs)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    ssl_ctx = context if args.tls == "implicit" else None
    server = loop.run_until_complete(loop.create_server(factory, args.host, args.port, ssl=ssl_ctx))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print(f"listening on {args.host}:{args.port}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
