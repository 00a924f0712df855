#!/usr/bin/env python3
"""A real SMTP server on loopback for Fenghuo's e-mail tests.

It parses what it receives with Python's own email package, so the checks
do not depend on the Rust code that built the message.

Install (Python >= 3.8; CI uses 3.11):

    python3 -m pip install aiosmtpd==1.4.6

Usage:
    smtp_sink.py --port 0 --out DIR [--fail-rcpt ADDR:CODE ...]
                 [--tempfail-first N] [--starttls CERT KEY] [--auth USER:PASS]
                 [--count-only] [--exit-on-stdin-eof]

Once listening it prints "PORT <n>" on standard output (flushed). Each
accepted message is written to DIR/<seq>.json (seq from 1, zero-padded):

    seq, mail_from, rcpt_tos, subject (decoded), from, to, message_id,
    reference (X-Fenghuo-Reference), text and html (decoded parts, CRLF
    turned into LF), content_types (every part, in order), parts (content
    type, charset, transfer encoding of each leaf part), raw_subject_header
    (as sent, folding removed), tls (whether the session had STARTTLS)

--fail-rcpt bad@x.test:550   rejects that recipient with 550 (or any code)
--tempfail-first N           answers 451 at the end of DATA to the first N
                             messages (they are not written)
--starttls CERT KEY          offers STARTTLS with that certificate
--auth USER:PASS             requires AUTH (PLAIN or LOGIN) with these
                             credentials, allowed without TLS
--count-only                 writes nothing (benchmarks); prints
                             "COUNT <n>" on SIGTERM or SIGINT, then exits
--exit-on-stdin-eof          exits when standard input closes, so a test
                             process that dies cannot leave the sink behind
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_args(argv):
    p = argparse.ArgumentParser(description="SMTP sink for Fenghuo tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--out", help="directory for <seq>.json files")
    p.add_argument("--fail-rcpt", action="append", default=[], metavar="ADDR:CODE")
    p.add_argument("--tempfail-first", type=int, default=0, metavar="N")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--count-only", action="store_true")
    p.add_argument("--exit-on-stdin-eof", action="store_true")
    args = p.parse_args(argv)
    if not args.count_only and not args.out:
        p.error("--out is required unless --count-only")
    fail = {}
    for item in args.fail_rcpt:
        addr, sep, code = item.rpartition(":")
        if not sep or not addr or not code.isdigit() or len(code) != 3:
            p.error(f"--fail-rcpt wants ADDR:CODE, got {item!r}")
        fail[addr.lower()] = int(code)
    args.fail = fail
    return args


def header(msg, name):
    value = msg[name]
    return None if value is None else str(value)


def part_text(msg, subtype):
    part = msg.get_body(preferencelist=(subtype,))
    # SMTP carries CRLF; tests compare against Rust strings written with \n.
    return None if part is None else part.get_content().replace("\r\n", "\n")


def describe(data, mail_from, rcpt_tos, seq, tls):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    # compat32 leaves header values exactly as they were sent.
    raw = email.message_from_bytes(data, policy=email.policy.compat32)
    raw_subject = raw["Subject"]
    if raw_subject is not None:
        raw_subject = "".join(str(raw_subject).replace("\r\n", "\n").split("\n"))
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    return {
        "seq": seq,
        "mail_from": mail_from,
        "rcpt_tos": rcpt_tos,
        "subject": header(msg, "Subject"),
        "from": header(msg, "From"),
        "to": header(msg, "To"),
        "message_id": header(msg, "Message-ID"),
        "reference": header(msg, "X-Fenghuo-Reference"),
        "text": part_text(msg, "plain"),
        "html": part_text(msg, "html"),
        "content_types": [p.get_content_type() for p in msg.walk()],
        "parts": [
            {
                "content_type": p.get_content_type(),
                "charset": p.get_content_charset(),
                "transfer_encoding": p.get("Content-Transfer-Encoding"),
            }
            for p in leaves
        ],
        "raw_subject_header": raw_subject,
        "tls": tls,
    }


class Handler:
    def __init__(self, args):
        self.args = args
        self.tempfail_left = args.tempfail_first
        self.seq = 0
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.args.fail.get(address.lower())
        if code is not None:
            kind = "temporarily unavailable" if code < 500 else "unavailable"
            return f"{code} {code // 100}.1.1 <{address}>: mailbox {kind}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail_left > 0:
            self.tempfail_left -= 1
            return "451 4.3.0 Try again later"
        self.count += 1
        if self.args.count_only:
            return "250 2.0.0 OK"
        self.seq += 1
        try:
            record = describe(
                envelope.original_content or envelope.content,
                envelope.mail_from,
                list(envelope.rcpt_tos),
                self.seq,
                session.ssl is not None,
            )
        except Exception as e:  # a message we cannot parse is the test's finding
            record = {"seq": self.seq, "parse_error": repr(e)}
        name = os.path.join(self.args.out, f"{self.seq:06d}.json")
        # Written aside and renamed, so a reader never sees half a file.
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
        os.replace(name + ".tmp", name)
        return f"250 2.0.0 OK queued as {self.seq:06d}"


async def main(args):
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    handler = Handler(args)
    tls_context = None
    if args.starttls:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(*args.starttls)
    authenticator = None
    if args.auth:
        # AUTH without TLS is the point here; aiosmtpd warns about it.
        warnings.filterwarnings("ignore", message="Requiring AUTH")
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            # handled=False: aiosmtpd then answers 535 itself.
            return AuthResult(success=ok, handled=False)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="sink.test",
            enable_SMTPUTF8=True,
            tls_context=tls_context,
            authenticator=authenticator,
            # Loopback tests: AUTH over plain SMTP is allowed.
            auth_require_tls=False,
            auth_required=authenticator is not None,
        ),
        host=args.host,
        port=args.port,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)

    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    if args.exit_on_stdin_eof:

        def watch():
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=watch, daemon=True).start()
    await done.wait()
    server.close()
    if args.count_only:
        print(f"COUNT {handler.count}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(parse_args(sys.argv[1:])))
