#!/usr/bin/env python3
"""Send one message to mailsink with Python's standard smtplib.

Run by server/clients_test.go as an independent SMTP client. It prints one
JSON object on stdout: {"ok": true, "refused": {...}} after a delivery, or
{"ok": false, "code": 530, "error": "..."} when the server refused, and
exits 0 in both cases; any other failure is a traceback and exit 1.
"""
import argparse
import json
import smtplib
import ssl
import sys


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cafile", help="PEM certificate to trust; verification is always on with TLS")
    p.add_argument("--auth", choices=["", "login", "PLAIN", "LOGIN", "LOGIN-IR"], default="",
                   help="login: smtplib's own choice; PLAIN/LOGIN: that mechanism; LOGIN-IR: LOGIN with initial response")
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--helo", default="smtplib.test")
    p.add_argument("--smtputf8", action="store_true", help="MAIL FROM with SMTPUTF8")
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--message", required=True, help="file holding the message, sent as is")
    a = p.parse_args()

    with open(a.message, "rb") as f:
        msg = f.read()

    ctx = None
    if a.tls != "none":
        # Verification on: trust only the sink's certificate, check the name.
        ctx = ssl.create_default_context(cafile=a.cafile)
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname

    timeout = 20
    if a.tls == "implicit":
        s = smtplib.SMTP_SSL(a.host, a.port, local_hostname=a.helo, context=ctx, timeout=timeout)
    else:
        s = smtplib.SMTP(a.host, a.port, local_hostname=a.helo, timeout=timeout)
    out = {}
    try:
        s.ehlo()
        if a.tls == "starttls":
            s.starttls(context=ctx)
            s.ehlo()
        if a.tls != "none":
            out["tls_version"] = s.sock.version()
        if a.auth == "login":
            s.login(a.user, a.password)
        elif a.auth == "PLAIN":
            s.auth("PLAIN", lambda challenge=None: "\0%s\0%s" % (a.user, a.password))
        elif a.auth in ("LOGIN", "LOGIN-IR"):
            s.user, s.password = a.user, a.password
            s.auth("LOGIN", s.auth_login, initial_response_ok=(a.auth == "LOGIN-IR"))
        opts = ["SMTPUTF8"] if a.smtputf8 else []
        refused = s.sendmail(a.sender, a.to, msg, mail_options=opts)
        out.update(ok=True, refused={k: [v[0], v[1].decode("utf-8", "replace")] for k, v in refused.items()})
        s.quit()
    except smtplib.SMTPResponseException as e:
        msg = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        out.update(ok=False, code=e.smtp_code, error=msg)
    except smtplib.SMTPRecipientsRefused as e:
        out.update(ok=False, code=min(v[0] for v in e.recipients.values()), error=str(e))
    finally:
        s.close()
    json.dump(out, sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
