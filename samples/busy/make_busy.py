#!/usr/bin/env python3
"""Generate the busy multi-threaded gsktrace sample (gskssl.33554467.trc).

Deterministic: fixed seed, no clock, no network.  Run from anywhere:

    python3 samples/busy/make_busy.py

It writes gskssl.33554467.trc next to this script.  The helpers at the top
(TraceWriter, Thread, the TLS/LDAP byte builders and the connection scripts)
are plain Python so the other hand-made samples can reuse them.

The layout written is the formatted `gsktrace` text of formats.md section 1:
    MM/DD/YYYY-HH:MM:SS Thd-N LEVEL function(): text
followed, for ASCII/EBCDIC dump records, by lines such as
    00000000: 16030100 4a010000 01460303 5f1e2c3a  *....J....F.._.,:*
All addresses, names and ids are made up.
"""
import datetime
import os
import random

# ---------------------------------------------------------------- hex dumps

def _printable_ascii(b):
    return chr(b) if 0x20 <= b < 0x7f else "."


def _printable_ebcdic(b):
    # cp037 matches IBM-1047 for letters, digits, blank and the punctuation
    # used in these samples ('/', '=', ',', '.', '-', ':').
    ch = bytes([b]).decode("cp037")
    return ch if (ch.isascii() and ch.isprintable()) else "."


def dump_lines(data, charset="ascii", indent="    "):
    conv = _printable_ebcdic if charset == "ebcdic" else _printable_ascii
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        groups = " ".join(chunk[i:i + 4].hex() for i in range(0, len(chunk), 4))
        chars = "".join(conv(b) for b in chunk)
        out.append(f"{indent}{off:08x}: {groups.ljust(35)}  *{chars}*")
    return out


def ebcdic(text):
    return text.encode("cp037")


# ---------------------------------------------------------------- trace model

def exit_text(rc):
    return f"<--- Exit status 0x{rc:08x} ({rc})"


class TraceWriter:
    """Collects records from several threads and renders them in time order."""

    def __init__(self, base, rng, dumps=True):
        self.base = base          # datetime of offset 0.0
        self.rng = rng
        self.dumps = dumps        # False: GSK_TRACE without the 0x10/0x20 dump bits
        self.records = []         # (t, seq, text-lines)
        self.seq = 0
        self.threads = {}

    def thread(self, n, t=0.0):
        if n not in self.threads:
            self.threads[n] = Thread(self, n, t)
        return self.threads[n]

    def add(self, t, lines):
        self.records.append((t, self.seq, lines))
        self.seq += 1

    def stamp(self, t):
        return (self.base + datetime.timedelta(seconds=t)).strftime("%m/%d/%Y-%H:%M:%S")

    def render(self):
        out = []
        for t, _, lines in sorted(self.records, key=lambda r: (r[0], r[1])):
            out.append(f"{self.stamp(t)} {lines[0]}")
            out.extend(lines[1:])
        for n, th in self.threads.items():
            assert not th.stack, f"Thd-{n} left open: {th.stack}"
        return "\n".join(out) + "\n"


class Thread:
    def __init__(self, tw, n, t):
        self.tw, self.n, self.t, self.stack = tw, n, t, []

    # time ------------------------------------------------------------
    def step(self, lo=0.0004, hi=0.004):
        self.t += self.tw.rng.uniform(lo, hi)

    def wait(self, seconds):
        self.t += seconds

    def at_least(self, t):
        self.t = max(self.t, t)

    # records ---------------------------------------------------------
    def _rec(self, level, func, text, extra=()):
        self.step()
        self.tw.add(self.t, [f"Thd-{self.n} {level} {func}(): {text}", *extra])

    def enter(self, func, text):
        self._rec("ENTRY", func, "---> " + text)
        self.stack.append(func)

    def exit(self, rc=0):
        func = self.stack.pop()
        self._rec("EXIT", func, exit_text(rc))

    def info(self, text, func=None):
        self._rec("INFO", func or self.stack[-1], text)

    def error(self, text, func=None):
        self._rec("ERROR", func or self.stack[-1], text)

    def dump(self, func, text, data, charset="ascii"):
        if not self.tw.dumps:
            return
        level = "EBCDIC" if charset == "ebcdic" else "ASCII"
        self._rec(level, func, text, dump_lines(data, charset))


# ---------------------------------------------------------------- TLS bytes

def u8(n): return n.to_bytes(1, "big")
def u16(n): return n.to_bytes(2, "big")
def u24(n): return n.to_bytes(3, "big")


def ext(code, body):
    return u16(code) + u16(len(body)) + body


def record(ctype, body, ver=0x0303):
    return u8(ctype) + u16(ver) + u16(len(body)) + body


def client_hello(rng, ciphers, tls13=False, sigalgs=None):
    sigalgs = sigalgs or [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601]
    rnd = bytes(rng.getrandbits(8) for _ in range(32))
    sid = bytes(rng.getrandbits(8) for _ in range(32)) if tls13 else b""
    cs = b"".join(u16(c) for c in ciphers)
    exts = ext(0x000b, b"\x03\x00\x01\x02")
    groups = b"".join(u16(g) for g in (0x0017, 0x0018, 0x0019, 0x001d))
    exts += ext(0x000a, u16(len(groups)) + groups)
    exts += ext(0x0016, b"") + ext(0x0017, b"")
    sa = b"".join(u16(s) for s in sigalgs)
    exts += ext(0x000d, u16(len(sa)) + sa)
    if tls13:
        exts += ext(0x002b, b"\x04\x03\x04\x03\x03")
        exts += ext(0x002d, b"\x01\x01")
        point = b"\x04" + bytes(rng.getrandbits(8) for _ in range(64))
        ks = u16(0x0017) + u16(len(point)) + point
        exts += ext(0x0033, u16(len(ks)) + ks)
    body = (u16(0x0303) + rnd + u8(len(sid)) + sid + u16(len(cs)) + cs + b"\x01\x00"
            + u16(len(exts)) + exts)
    return record(0x16, b"\x01" + u24(len(body)) + body, ver=0x0301)


def server_hello(rng, cipher, tls13=False, sid=b""):
    rnd = bytes(rng.getrandbits(8) for _ in range(32))
    if tls13:
        sid = sid or bytes(rng.getrandbits(8) for _ in range(32))
        point = b"\x04" + bytes(rng.getrandbits(8) for _ in range(64))
        exts = ext(0x002b, u16(0x0304)) + ext(0x0033, u16(0x0017) + u16(len(point)) + point)
    else:
        sid = sid or bytes(rng.getrandbits(8) for _ in range(32))
        exts = ext(0xff01, b"\x00") + ext(0x000b, b"\x01\x00") + ext(0x0017, b"")
    body = u16(0x0303) + rnd + u8(len(sid)) + sid + u16(cipher) + b"\x00" + u16(len(exts)) + exts
    return record(0x16, b"\x02" + u24(len(body)) + body)


def alert_record(code, level=2):
    return record(0x15, bytes([level, code]))


# ---------------------------------------------------------------- LDAP BER

def ber(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = b"\x81" + bytes([n])
    else:
        ln = b"\x82" + u16(n)
    return bytes([tag]) + ln + body


def ber_int(v): return ber(0x02, bytes([v]))
def ber_enum(v): return ber(0x0a, bytes([v]))
def ber_str(s): return ber(0x04, s.encode())


def ldap_msg(msgid, op):
    return ber(0x30, ber_int(msgid) + op)


def ldap_bind_external(msgid):
    return ldap_msg(msgid, ber(0x60, ber_int(3) + ber_str("") + ber(0xa3, ber_str("EXTERNAL"))))


def ldap_bind_simple(msgid, dn, pw):
    return ldap_msg(msgid, ber(0x60, ber_int(3) + ber_str(dn) + ber(0x80, pw.encode())))


def ldap_result(msgid, optag, rc=0):
    return ldap_msg(msgid, ber(optag, ber_enum(rc) + ber_str("") + ber_str("")))


def ldap_search(msgid, base, attr, filt_attr="objectclass"):
    op = (ber_str(base) + ber_enum(2) + ber_enum(0) + ber_int(0) + ber_int(0)
          + ber(0x01, b"\x00") + ber(0x87, filt_attr.encode()) + ber(0x30, ber_str(attr)))
    return ldap_msg(msgid, ber(0x63, op))


def ldap_entry(msgid, dn, attr, values):
    vals = b"".join(ber_str(v) for v in values)
    op = ber_str(dn) + ber(0x30, ber(0x30, ber_str(attr) + ber(0x31, vals)))
    return ldap_msg(msgid, ber(0x64, op))


def ldap_unbind(msgid):
    return ldap_msg(msgid, b"\x42\x00")


# ---------------------------------------------------------------- scripts

ENV_VARS_BASE = [
    "GSK_TRACE=0xff",
    "GSK_TRACE_FILE=/tmp/gskssl.%.trc",
]

CMS_TO_RC = {0x03353041: 431, 0x0335306F: 8, 0x03353026: 8}


def environment_init(th, env_handle, env_vars, keyring="START1/MQRING", label="ZZZZ",
                     server_dn="CN=ZZZZ,OU=SSS,O=SERVER", extra_info=()):
    th.enter("gsk_environment_open", "Handle 0x00000000")
    th.info("System SSL version 2.4, FIPS mode off")
    for v in env_vars:
        th.info(f"Environment variable {v}", "read_environment_variables")
    th.info(f"Environment handle {env_handle} allocated")
    th.exit(0)
    th.enter("gsk_attribute_set_buffer", f"Handle {env_handle}")
    th.dump("gsk_attribute_set_buffer", f"GSK_KEYRING_FILE (length {len(keyring)})",
            ebcdic(keyring), "ebcdic")
    th.exit(0)
    th.enter("gsk_attribute_set_enum", f"Handle {env_handle}")
    th.info("GSK_SESSION_TYPE set to GSK_SERVER_SESSION_WITH_CL_AUTH")
    th.exit(0)
    th.enter("gsk_environment_init", f"Handle {env_handle}")
    th.info(f"Opening SAF key ring {keyring}")
    th.wait(0.05)
    th.info(f"Default certificate label {label}: {server_dn}")
    for line in extra_info:
        th.info(line)
    th.exit(0)


def socket_open(th, env_handle, c):
    th.enter("gsk_secure_socket_open", f"Handle {env_handle}")
    th.info(f"Connection handle {c['handle']} allocated")
    th.exit(0)
    th.info(f"GSK_FD set to {c['sock']}", "gsk_attribute_set_numeric_value")


def cipher_info(th, cipher):
    if cipher < 0x1000:
        th.info(f"SSL V3 cipher 0x{cipher:04X} selected")
    else:
        th.info(f"Negotiated cipher 0x{cipher:04X}")


def send_alert(th, c, code, tls13):
    peer = f"{c['ip']}[{c['port']}]"
    if tls13:
        th.enter("send_tls13_alert", f"Handle {c['handle']}")
        th.dump("send_tls13_alert", "Alert data (length 2)", bytes([2, code]))
        th.error(f"Sent TLS 1.3 alert {code} to {peer}")
    else:
        th.enter("send_v3_alert", f"Handle {c['handle']}")
        th.dump("gsk_write_v3_record", f"Sending 7 bytes to {peer}", alert_record(code))
        th.error(f"Sent TLS 1.2 alert {code} to {peer}")
    th.exit(0)


def check_revoked(th, c):
    """Returns a CMS status code (0 = fine)."""
    dn, issuer, crl = c["dn"], c["issuer"], c.get("crl", "none")
    if crl == "none":
        return 0
    th.enter("check_revoked", f"Subject {dn}")
    th.info(f"Checking revoked status {dn}")
    if crl == "cached":
        th.info(f"Using cached CRL for {issuer}")
    else:
        th.info(f"Searching LDAP server 127.0.0.1[389] for CRL issued by {issuer}")
        th.wait(th.tw.rng.uniform(0.08, 0.4))
        if crl == "missing":
            th.error("CRL cannot be located")
            th.info("GSK_CRL_SECURITY_LEVEL is MEDIUM: revocation status not checked")
            th.exit(0)
            return 0
        th.info(f"CRL retrieved from LDAP server 127.0.0.1[389], 2 entries")
        th.enter("check_crl_issuer_extensions", f"Issuer {issuer}")
        if crl == "nocrlsign":
            th.error("crlSign bit is not set in KeyUsage")
            th.exit(0x03353026)
            th.error("Unable to verify CRL issuer extensions: Error 0x03353026")
            th.exit(0x03353026)
            return 0x03353026
        th.exit(0)
    if c.get("revoked"):
        th.info(f"Serial number {c.get('serial', '0A')} found in CRL, reason keyCompromise")
        th.error("RFC 2459 Revoked certificate check failed: Error 0x03353041")
        th.exit(0x03353041)
        return 0x03353041
    th.info("Certificate is not revoked")
    th.exit(0)
    return 0


def validate_peer(th, c):
    """cms_validate_certificate_mode_int and below. Returns (cms_code, ssl_rc)."""
    dn, issuer = c["dn"], c["issuer"]
    th.enter("cms_validate_certificate_mode_int", f"Validating {dn}")
    th.info(f"Using issuer {issuer}", "get_issuer_certificate")
    th.enter("validate_certificate_mode", f"Subject {dn}")
    th.info("Validation mode GSK_CERT_VALIDATION_MODE_ANY")
    th.enter("validate_certificate_basics", f"Subject {dn}")
    th.enter("check_cert_extensions_3280_and_later", f"Subject {dn}")
    if c.get("noaki"):
        th.error("authorityKeyIdentifier extension is missing")
        th.exit(0x0335306F)
        th.error("Unable to verify certificate extensions: Error 0x0335306f")
        th.exit(0x0335306F)
        code = 0x0335306F
    else:
        th.exit(0)
        if c.get("expired"):
            th.error(f"Certificate validity period ended {c['expired']}: {dn}")
            th.exit(401)
            th.error("Unable to validate certificate: certificate is expired", "validate_certificate_mode")
            th.exit(401)
            th.error("Unable to validate certificate: certificate is expired",
                     "cms_validate_certificate_mode_int")
            th.exit(401)
            return None, 401
        th.info(f"Signature of {dn} verified with {issuer}")
        th.exit(0)
        code = check_revoked(th, c)
    if code:
        th.error(f"Unable to validate certificate: Error 0x{code:08x}")
        th.exit(code)
        th.error(f"Unable to validate certificate: Error 0x{code:08x}")
        th.exit(code)
        return code, CMS_TO_RC[code]
    th.info(f"Issuer {issuer} is a trusted certificate authority")
    th.exit(0)
    th.info("Certificate validated")
    th.exit(0)
    return 0, 0


def handshake(th, c):
    """gsk_secure_socket_init for a server session. Returns the SSL return code."""
    H, peer = c["handle"], f"{c['ip']}[{c['port']}]"
    tls13 = c.get("proto") == "1.3"
    rng = th.tw.rng
    th.enter("gsk_secure_socket_init", f"Handle {H}")
    th.info(f"Peer address {peer}")
    th.info(f"TCP_NODELAY set for socket {c['sock']}")

    # ClientHello -----------------------------------------------------
    th.enter("read_v3_client_hello", f"Handle {H}")
    ch = client_hello(rng, c["offered"], tls13=tls13)
    th.info("Calling read routine for 5 bytes", "gsk_read_v3_record")
    th.info(f"Calling read routine for {len(ch) - 5} bytes", "gsk_read_v3_record")
    th.dump("gsk_read_v3_record", f"Received {len(ch)} bytes from {peer}", ch)
    th.info(f"Client hello version 0x0303, {len(c['offered'])} cipher suites offered")
    cipher = c.get("cipher")
    if cipher is None:
        th.info("TLS 1.3 protocol selected" if tls13 else "TLS 1.2 protocol selected")
        th.error(f"No cipher in common with {peer}")
        send_alert(th, c, 40, False)
        th.exit(402)
        return fail(th, c, 402)
    th.info("TLS 1.3 protocol selected" if tls13 else "TLS 1.2 protocol selected")
    cipher_info(th, cipher)
    if tls13 or cipher >= 0xC000:
        th.info("Selected key share group secp256r1" if tls13 else "Selected elliptic curve secp256r1")
    th.exit(0)

    # server flight ---------------------------------------------------
    pre = "send_tls13_" if tls13 else "send_v3_"
    th.enter(pre + "server_hello", f"Handle {H}")
    sh = server_hello(rng, cipher, tls13=tls13)
    th.dump("gsk_write_v3_record", f"Sending {len(sh)} bytes to {peer}", sh)
    th.exit(0)
    th.info(f"Sending certificate {c['server_dn']}", pre + "certificate")
    if not tls13 and cipher >= 0xC000:
        th.info("Sending ECDHE parameters, curve secp256r1", "send_v3_server_key_exchange")
    th.info(f"Requesting client certificate, {c.get('ca_count', 4)} certificate authorities",
            pre + "certificate_request")
    if tls13:
        th.info("Signature algorithm 0x0804", "send_tls13_certificate_verify")
    th.wait(rng.uniform(0.02, 0.15))   # round trip to the client

    # client certificate ----------------------------------------------
    rc_name = "read_tls13_certificate" if tls13 else "read_v3_certificate"
    th.enter(rc_name, f"Handle {H}")
    th.info(f"Received certificate {c['dn']}")
    code, rc = validate_peer(th, c)
    if rc:
        if code:
            th.error(f"Unable to validate peer certificate: Error 0x{code:08x}")
        else:
            th.error("Unable to validate peer certificate: certificate is expired")
        alert = {401: 45, 431: 44, 8: 42}[rc]
        if tls13:
            th.exit(rc)
            send_alert(th, c, alert, True)
        else:
            send_alert(th, c, alert, False)
            th.exit(rc)
        return fail(th, c, rc)
    if c.get("keytype") == 13 and cipher < 0xC000 and not tls13:
        th.error(f"Client certificate key type 13 not allowed for SSL V3 cipher 0x{cipher:04X}")
        send_alert(th, c, 80, False)
        th.exit(434)
        return fail(th, c, 434)
    th.exit(0)

    # rest of the handshake -------------------------------------------
    if tls13:
        th.info(f"Signature algorithm 0x{c.get('sigalg', 0x0403):04X}", "read_tls13_certificate_verify")
        th.info("Client finished message verified", "read_tls13_finished")
    else:
        th.info(f"Signature algorithm 0x{c.get('sigalg', 0x0403):04X}", "read_v3_certificate_verify")
        th.info("Client finished message verified", "read_v3_finished")
        th.info("Sending change cipher spec and finished", "send_v3_finished")
    th.info(f"SSL V3 server handshake completed with {peer}")
    th.info(f"TCP_NODELAY restored for socket {c['sock']}")
    th.exit(0)
    return 0


def fail(th, c, rc):
    th.error(f"SSL V3 server handshake failed with {c['ip']}[{c['port']}]")
    th.info(f"TCP_NODELAY restored for socket {c['sock']}")
    th.exit(rc)
    return rc


def overhead(c):
    return 22 if c.get("proto") == "1.3" else 29


def sock_read(th, c, data, rc=0):
    th.enter("gsk_secure_socket_read", f"Handle {c['handle']}, Size 16384")
    if rc == 420:
        th.info("Calling read routine for 5 bytes", "gsk_read_v3_record")
        th.error(f"Socket closed by {c['ip']}[{c['port']}]", "gsk_read_v3_record")
        th.exit(420)
        return
    th.info(f"Received {len(data) + overhead(c)} bytes from {c['ip']}[{c['port']}]", "gsk_read_v3_record")
    th.dump("gsk_secure_socket_read", f"Application data (length {len(data)})", data)
    th.exit(0)


def sock_write(th, c, data):
    th.enter("gsk_secure_socket_write", f"Handle {c['handle']}, Size {len(data)}")
    th.dump("gsk_secure_socket_write", f"Application data (length {len(data)})", data)
    th.info(f"Sending {len(data) + overhead(c)} bytes to {c['ip']}[{c['port']}]", "gsk_write_v3_record")
    th.exit(0)


def sock_close(th, c):
    th.enter("gsk_secure_socket_close", f"Handle {c['handle']}")
    th.info(f"Connection handle {c['handle']} released")
    th.exit(0)


def ldap_session(th, c, searches, think=(0.01, 0.3), abort=False):
    rng = th.tw.rng
    th.wait(rng.uniform(0.005, 0.05))
    sock_read(th, c, ldap_bind_external(1))
    th.wait(rng.uniform(0.005, 0.03))
    sock_write(th, c, ldap_result(1, 0x61))
    msgid = 2
    for base, attr, values in searches:
        th.wait(rng.uniform(*think))
        sock_read(th, c, ldap_search(msgid, base, attr))
        th.wait(rng.uniform(0.005, 0.05))
        data = b"".join(ldap_entry(msgid, base, attr, [v]) for v in values) + ldap_result(msgid, 0x65)
        sock_write(th, c, data)
        msgid += 1
    th.wait(rng.uniform(*think))
    if abort:
        sock_read(th, c, b"", rc=420)
    else:
        sock_read(th, c, ldap_unbind(msgid))


# ---------------------------------------------------------------- busy trace

BUSY_ENV = ENV_VARS_BASE + [
    "GSK_PROTOCOL_TLSV1_1=off",
    "GSK_PROTOCOL_TLSV1_2=on",
    "GSK_PROTOCOL_TLSV1_3=on",
    "GSK_V3_CIPHER_SPECS_EXPANDED=C030C02F0035130213011303",
    "GSK_SERVER_TLS_KEY_SHARES=00300029002500240023",
    "GSK_TLS_SIG_ALG_PAIRS=0601050104010301080608050804050304030603",
    "GSK_LDAP_SERVER=127.0.0.1",
    "GSK_LDAP_PORT=389",
    "GSK_LDAP_USER=cn=ldapid,o=Your Company",
    "GSK_LDAP_PASSWORD=********",
]

SSCA256 = "CN=SSCA256,OU=CA,O=SSS,C=GB"
SSCARSA = "CN=SSCARSA1024,OU=CA,O=SSS,C=GB"
SERVER_DN = "CN=ZZZZ,OU=SSS,O=SERVER"
OFFER12 = [0xC02C, 0xC030, 0xC02B, 0xC02F, 0x009F, 0x009E, 0xC024, 0xC028, 0x0035, 0x002F]
OFFER13 = [0x1302, 0x1303, 0x1301] + OFFER12
OFFER_OLD = [0x009D, 0x009C, 0x003D, 0x003C]          # RSA-GCM/CBC only: nothing in common
OFFER_0035 = [0x0035]

# (client ip, client dn, issuer, protocol, offered, cipher, extra)
CLIENTS = {
    "ubuntu-ec":   ("10.1.0.2", "CN=secp256,O=cpwebuser,C=GB", SSCA256, "1.2", OFFER12, 0xC030, {"keytype": 13}),
    "ubuntu-rsa":  ("10.1.0.2", "CN=rsaca256,O=cpwebuser,C=GB", SSCARSA, "1.2", OFFER12, 0xC030, {"sigalg": 0x0401}),
    "revoked":     ("10.1.0.2", "CN=ecec,O=cpwebuser,C=GB", SSCA256, "1.2", OFFER12, 0xC030, {"keytype": 13, "revoked": True, "serial": "0A"}),
    "zos13":       ("10.1.0.3", "CN=secp521r,O=cpwebuser,C=GB", SSCA256, "1.3", OFFER13, 0x1302, {"sigalg": 0x0403}),
    "noaki":       ("10.1.0.3", "CN=noaki,O=cpwebuser,C=GB", SSCARSA, "1.3", OFFER13, 0x1302, {"noaki": True}),
    "expired":     ("10.1.0.3", "CN=oldclient,O=cpwebuser,C=GB", SSCARSA, "1.2", OFFER12, 0xC030, {"expired": "2022/03/31 23:59:59"}),
    "java":        ("10.1.0.7", "CN=javaapp,O=cpwebuser,C=GB", SSCARSA, "1.2", OFFER12, 0xC02F, {"sigalg": 0x0401}),
    "oldjava":     ("10.1.0.7", "CN=javaapp,O=cpwebuser,C=GB", SSCARSA, "1.2", OFFER_OLD, None, {}),
    "ec-0035":     ("10.1.0.7", "CN=ecec7,O=cpwebuser,C=GB", SSCA256, "1.2", OFFER_0035, 0x0035, {"keytype": 13}),
}

# arrival offset (s), client profile, number of searches, abort without unbind
ARRIVALS = [
    (2.10, "ubuntu-rsa", 1, False), (2.16, "zos13", 1, False), (2.25, "java", 1, False),
    (9.80, "ubuntu-ec", 0, False), (9.86, "revoked", 0, False), (9.95, "java", 1, True),
    (10.02, "zos13", 0, False), (24.50, "oldjava", 0, False), (24.58, "ubuntu-rsa", 0, False),
    (38.20, "noaki", 0, False), (38.27, "ubuntu-ec", 1, False), (61.00, "ec-0035", 0, False),
    (61.09, "zos13", 1, False), (74.70, "expired", 0, False), (74.76, "java", 1, False),
    (98.40, "revoked", 0, False), (112.40, "ubuntu-rsa", 0, False),
]

SEARCHES = [
    ("o=Your Company", "aclEntry", ["access-id:CN=IBMUSER,O=YOUR COMPANY:normal:rwsc"]),
    ("cn=ibmuser, o=Your Company", "objectclass", ["top", "person"]),
    ("CN=SSCA256,OU=CA,O=SSS,C=GB", "cn", ["SSCA256"]),
    ("o=Your Company", "o", ["Your Company"]),
]


def make_busy(path):
    rng = random.Random(33554467)
    tw = TraceWriter(datetime.datetime(2022, 4, 12, 14, 29, 57), rng)
    env_handle = "0x2A4F1018"
    t1 = tw.thread(1, 0.2)
    environment_init(t1, env_handle, BUSY_ENV, server_dn=SERVER_DN,
                     extra_info=["CRL checking enabled, LDAP server 127.0.0.1[389]"])
    for n in range(2, 7):
        tw.thread(n, t1.t)

    ports = {"10.1.0.2": 42514, "10.1.0.3": 1037, "10.1.0.7": 51022}
    free_at = {n: tw.threads[n].t for n in range(1, 7)}
    used = {n: 0 for n in range(1, 7)}
    crl_loaded = set()
    sock = 14
    handle = 0x2A53C018
    outcomes = []
    for i, (arrive, prof, nsearch, abort) in enumerate(ARRIVALS):
        ip, dn, issuer, proto, offered, cipher, extra = CLIENTS[prof]
        # an idle worker thread picks the connection up (least used first, like a
        # round-robin pool); if all are busy, the first one to finish does
        idle = [k for k in sorted(free_at) if free_at[k] <= arrive]
        if idle:
            fewest = min(used[k] for k in idle)
            n = rng.choice([k for k in idle if used[k] == fewest])
        else:
            n = min(free_at, key=lambda k: (free_at[k], k))
        used[n] += 1
        th = tw.threads[n]
        th.at_least(arrive + rng.uniform(0.0, 0.05))
        ports[ip] += rng.randint(2, 9) if ip != "10.1.0.3" else rng.randint(1, 3)
        c = dict(ip=ip, port=ports[ip], dn=dn, issuer=issuer, proto=proto, offered=offered,
                 cipher=cipher, sock=sock, handle=f"0x{handle:08X}", server_dn=SERVER_DN, **extra)
        sock += 1
        handle += 0x1000 * rng.randint(1, 5)
        c["crl"] = "cached" if issuer in crl_loaded else "fetch"
        crl_loaded.add(issuer)
        socket_open(th, env_handle, c)
        rc = handshake(th, c)
        if rc == 0:
            picks = [SEARCHES[(i + k) % len(SEARCHES)] for k in range(nsearch)]
            ldap_session(th, c, picks, think=(0.05, 1.5) if nsearch > 2 else (0.01, 0.4), abort=abort)
        sock_close(th, c)
        free_at[n] = th.t + rng.uniform(0.01, 0.2)
        outcomes.append((n, ip, c["port"], prof, rc))
    text = tw.render()
    with open(path, "w", newline="\n") as f:
        f.write(text)
    return outcomes, text.count("\n")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    outcomes, lines = make_busy(os.path.join(here, "gskssl.33554467.trc"))
    for o in outcomes:
        print("Thd-%d %s[%d] %-10s rc=%d" % o)
    print(lines, "lines")
