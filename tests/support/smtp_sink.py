"""A real SMTP server on loopback for the tests (aiosmtpd).

Prints `LISTENING <port>` once ready, then one JSON line per accepted message:
envelope sender and recipients, headers, subject and the text and HTML parts.
A recipient whose local part is `tempfail` gets a 451 reply, `reject` a 550.
With SINK_USER and SINK_PASSWORD set, clients must log in (AUTH PLAIN/LOGIN,
allowed without TLS: it never leaves loopback).
"""

import asyncio
import email
import email.policy
import json
import logging
import os
import socket
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "tempfail":
            return "451 4.3.0 Mailbox busy, try again later"
        if local == "reject":
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "from": str(message["From"] or ""),
            "to": str(message["To"] or ""),
            "cc": str(message["Cc"] or ""),
            "bcc": str(message["Bcc"] or ""),
            "replyTo": str(message["Reply-To"] or ""),
            "subject": str(message["Subject"] or ""),
            "messageId": str(message["Message-ID"] or ""),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        print(json.dumps(record), flush=True)
        return "250 Message accepted"


class Login:
    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main():
    # AUTH without TLS is intended here (loopback only); keep stderr for real problems.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else free_port()
    user, password = os.environ.get("SINK_USER"), os.environ.get("SINK_PASSWORD")
    auth = {}
    if user and password:
        auth = {"authenticator": Login(user, password), "auth_required": True, "auth_require_tls": False}
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, **auth)
    controller.start()
    print(f"LISTENING {port}", flush=True)
    # Runs until the test kills it.
    await asyncio.Event().wait()


asyncio.run(main())
