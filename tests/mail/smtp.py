"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a free port, recording what it receives.

    from smtp import SmtpCatcher

    with SmtpCatcher() as smtp:
        smtp.configure(app)            # SMTP_HOST/PORT/SECURITY of the app point here
        deliver_outbox()
        [msg] = smtp.messages          # email.message.EmailMessage objects (policy.default)
        msg["Subject"], msg.get_body(("plain",)).get_content()

    smtp.refuse_next(2, code=451)      # the next two messages are refused at DATA
    smtp.refuse_recipient("x@example.org", code=550)
    smtp.on_data = callback            # called with each envelope while the client waits
    SmtpCatcher(port=p)                # a given port (e.g. one that was down before)
    SmtpCatcher(users={"u": "pw"})     # AUTH PLAIN/LOGIN over plain text, these accounts only

Tests in other folders import it through ``sys.path`` (tests/conftest.py adds tests/mail).
"""
from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

REPLIES = {451: "451 4.3.0 Try again later", 550: "550 5.7.1 Message rejected",
           452: "452 4.2.2 Mailbox full", 554: "554 5.6.0 Transaction failed"}
RCPT_REPLIES = {450: "450 4.2.1 Mailbox busy", 451: "451 4.3.0 Try again later",
                550: "550 5.1.1 No such user here", 553: "553 5.1.3 Bad recipient address"}


class _FreePortController(Controller):
    """A Controller that may listen on port 0: the port the kernel chose is read back."""

    def _trigger_server(self):
        if not self.port:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Handler:
    def __init__(self, catcher: "SmtpCatcher"):
        self.catcher = catcher

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.catcher._recipient_refusal(address)
        if code is not None:
            return RCPT_REPLIES.get(code, f"{code} Recipient refused")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return self.catcher._receive(envelope)


class SmtpCatcher:
    """A context manager running an SMTP server that records every message it accepts."""

    def __init__(self, port: int = 0, *, users: dict[str, str] | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.users = users
        #: Accepted messages, in order, parsed with the modern e-mail API.
        self.messages: list[EmailMessage] = []
        #: (MAIL FROM, [RCPT TO ...]) of each accepted message.
        self.envelopes: list[tuple[str, list[str]]] = []
        #: The bytes of each accepted message, as received.
        self.raw: list[bytes] = []
        #: Every DATA command answered, accepted or not.
        self.attempts = 0
        #: Successful logins (user names).
        self.logins: list[str] = []
        self._lock = threading.Lock()
        self._refuse_next: list[int] = []
        self._refused_recipients: dict[str, int] = {}
        self._controller: Controller | None = None
        #: Called (in the server's thread) with each envelope at DATA, before it is answered.
        self.on_data = None

    # --- control ------------------------------------------------------------------------------
    def refuse_next(self, count: int, code: int = 451) -> None:
        """Refuse the next ``count`` messages at DATA with ``code`` (451 temporary, 550 permanent)."""
        with self._lock:
            self._refuse_next.extend([code] * count)

    def refuse_recipient(self, address: str, code: int = 550) -> None:
        """Refuse ``address`` at RCPT TO (until :meth:`accept_recipient`)."""
        with self._lock:
            self._refused_recipients[address.lower()] = code

    def accept_recipient(self, address: str) -> None:
        with self._lock:
            self._refused_recipients.pop(address.lower(), None)

    def configure(self, app, **extra) -> None:
        """Point ``app``'s SMTP settings at this server (plain SMTP, no login unless given)."""
        app.config.update({"SMTP_HOST": self.host, "SMTP_PORT": self.port, "SMTP_SECURITY": "none",
                           "SMTP_USER": None, "SMTP_PASSWORD": None, **extra})

    def by_message_id(self) -> dict[str, int]:
        """How many times each Message-ID arrived (duplicates show as counts above 1)."""
        counts: dict[str, int] = {}
        for msg in list(self.messages):
            counts[msg["Message-ID"]] = counts.get(msg["Message-ID"], 0) + 1
        return counts

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "SmtpCatcher":
        kwargs = {}
        if self.users is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = _FreePortController(_Handler(self), hostname=self.host, port=self.port,
                                               ready_timeout=10, **kwargs)
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpCatcher":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- called from the server's thread --------------------------------------------------------
    def _recipient_refusal(self, address: str) -> int | None:
        with self._lock:
            return self._refused_recipients.get(address.lower())

    def _receive(self, envelope) -> str:
        if self.on_data is not None:
            self.on_data(envelope)
        with self._lock:
            self.attempts += 1
            if self._refuse_next:
                code = self._refuse_next.pop(0)
                return REPLIES.get(code, f"{code} Refused")
            # Parsed as a mail client reads it: line ends as "\n", as in the strings that were queued.
            content = envelope.content.replace(b"\r\n", b"\n")
            msg = email.message_from_bytes(content, policy=email.policy.default)
            self.messages.append(msg)
            self.raw.append(envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 OK: queued"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            if self.users.get(login) == auth_data.password.decode("utf-8", "replace"):
                with self._lock:
                    self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)
