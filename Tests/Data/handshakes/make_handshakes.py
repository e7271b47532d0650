#!/usr/bin/env python3
"""Real TLS handshakes, written into z/OS System SSL trace layouts.

For each scenario this script starts `openssl s_server` on a free loopback port, a small TCP
relay in front of it that records every chunk of raw wire bytes per direction, and
`openssl s_client -msg` connecting through the relay. It then writes, per scenario, into
Tests/Data/handshakes/<scenario>/:

  chunks.tsv           the recorded chunks (ground truth: dir c2s/s2c, lowercase hex)
  client.txt           the user's terminal: `$ date`, `$ openssl s_client ...`, s_client's output
  gskssl.<pid>.trc     the server's view as a System SSL gsktrace text trace
  gsksrvr-ctrace.txt   the same view as an IPCS CTRACE COMP(GSKSRVR) FULL listing

plus Tests/Data/handshakes/broken/{truncated,corrupted}.trc (damaged copies of the tls12-ok trace)
and the no-common-cipher files of samples/no-common-cipher/.

Only the Python 3.11 standard library and the `openssl` command (3.0) are used. The bytes
differ on every run (fresh keys and randoms); the times are the real capture times (UTC).
The server-side trace lines around the dumps (function names, INFO/ERROR texts, return codes)
are our reconstruction of what System SSL would log; the dumped bytes are the real ones.

Usage: python3 Tests/Data/handshakes/make_handshakes.py
"""

import datetime as dt
import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Tests/Data/handshakes -> the package root's samples/
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "samples")
NCC_DIR = os.path.join(SAMPLES, "no-common-cipher")

CLIENT_IP = "10.1.0.2"
SERVER_IP = "10.1.1.2"
SERVER_PORT = 1389
ENV_HANDLE = "2A4F1018"
CONN_HANDLE = "2A53C018"
SOCKET_FD = 12
THREAD = 3

# Server signature algorithms (GSK_TLS_SIG_ALG_PAIRS) given to s_server as -sigalgs/-client_sigalgs.
SERVER_SIGALGS = ("ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512:"
                  "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
                  "rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512")
SERVER_SIGALG_PAIRS = "040305030603080408050806040105010601"
ECDHE_ECDSA = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"

CA_DN = "CN=SSCA256,OU=CA,O=SSS,C=GB"
OTHER_CA_DN = "CN=OTHERCA,OU=CA,O=ELSEWHERE,C=GB"
SERVER_DN = "CN=ldap.corp.example"
EC_CLIENT_DN = "CN=ecec,O=cpwebuser,C=GB"
RSA_CLIENT_DN = "CN=rsaca256,O=cpwebuser,C=GB"

# name, pid (file name), s_server options, s_client options, environment lines, session type
SCENARIOS = [
    dict(name="tls12-ok", pid=50331701,
         server=["-tls1_2", "-cipher", ECDHE_ECDSA, "-Verify", "1", "-verify_return_error"],
         client=["-tls1_2", "-cert", "ecec.pem", "-key", "ecec.key.pem"],
         protocols=("on", "off"), ciphers="C02CC02B", key_shares=None, cl_auth=True),
    dict(name="tls13-ok", pid=50331702,
         server=["-tls1_3", "-groups", "X25519:P-256"],
         client=["-tls1_3"],
         protocols=("off", "on"), ciphers="130213031301", key_shares="00290023", cl_auth=False),
    dict(name="no-common-cipher", pid=50331703,
         server=["-tls1_2", "-cipher", ECDHE_ECDSA],
         client=["-tls1_2", "-cipher", "AES256-GCM-SHA384:AES128-GCM-SHA256"],
         protocols=("on", "off"), ciphers="C02CC02B", key_shares=None, cl_auth=False),
    dict(name="no-common-sigalg", pid=50331704,
         server=["-tls1_3", "-groups", "X25519:P-256"],
         client=["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384"],
         protocols=("off", "on"), ciphers="130213031301", key_shares="00290023", cl_auth=False,
         # The trace shows the pairs the server's EC certificate can sign with.
         trace_sigalg_pairs="040305030603"),
    dict(name="hrr", pid=50331705,
         server=["-tls1_3", "-groups", "P-256"],
         client=["-tls1_3", "-groups", "X25519:P-256"],
         protocols=("off", "on"), ciphers="130213031301", key_shares="0023", cl_auth=False),
    dict(name="client-cert-refused", pid=50331706,
         server=["-tls1_2", "-cipher", ECDHE_ECDSA, "-Verify", "1", "-verify_return_error"],
         client=["-tls1_2", "-cert", "rsaca256.pem", "-key", "rsaca256.key.pem"],
         protocols=("on", "off"), ciphers="C02CC02B", key_shares=None, cl_auth=True),
]

GROUPS = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001D: "x25519", 0x001E: "x448"}
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


# ---------------------------------------------------------------- certificates

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def make_certs(d):
    def key(name, kind):
        if kind == "ec":
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", f"{d}/{name}.key.pem"])
        else:
            run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", f"{d}/{name}.key.pem"])

    def subj(dn):
        return "/" + "/".join(reversed(dn.split(",")))

    def ca(name, dn, kind):
        key(name, kind)
        run(["openssl", "req", "-new", "-x509", "-key", f"{d}/{name}.key.pem", "-subj", subj(dn),
             "-days", "36500", "-sha256", "-out", f"{d}/{name}.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def leaf(name, dn, kind, issuer, ext):
        key(name, kind)
        run(["openssl", "req", "-new", "-key", f"{d}/{name}.key.pem", "-subj", subj(dn),
             "-out", f"{d}/{name}.csr"])
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext)
        run(["openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{issuer}.pem",
             "-CAkey", f"{d}/{issuer}.key.pem", "-CAcreateserial", "-days", "36500", "-sha256",
             "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem"])

    ca("ca", CA_DN, "ec")
    ca("otherca", OTHER_CA_DN, "rsa")
    leaf("server", SERVER_DN, "ec", "ca",
         "subjectAltName=DNS:ldap.corp.example,IP:10.1.1.2\nkeyUsage=critical,digitalSignature\n"
         "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n")
    client_ext = "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n"
    leaf("ecec", EC_CLIENT_DN, "ec", "ca", client_ext)
    leaf("rsaca256", RSA_CLIENT_DN, "rsa", "otherca", client_ext)


# ---------------------------------------------------------------- capture

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Relay:
    """Accepts one connection and forwards it to the server, recording every chunk."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.chunks = []          # (time, dir, bytes)
        self.client_port = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        c, addr = self.sock.accept()
        self.client_port = addr[1]
        s = socket.create_connection(("127.0.0.1", self.target_port))
        peers = {c: (s, "c2s"), s: (c, "s2c")}
        open_ = {c, s}
        while open_:
            r, _, _ = select.select(list(open_), [], [], 10)
            if not r:
                break
            for x in r:
                data = x.recv(65536)
                other, d = peers[x]
                if not data:
                    open_.discard(x)
                    try:
                        other.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                self.chunks.append((time.time(), d, data))
                try:
                    other.sendall(data)
                except OSError:
                    open_.discard(x)
        c.close()
        s.close()
        self.sock.close()


def capture(sc, certs):
    port = free_port()
    srv_cmd = ["openssl", "s_server", "-accept", str(port), "-naccept", "1",
               "-cert", f"{certs}/server.pem", "-key", f"{certs}/server.key.pem",
               "-CAfile", f"{certs}/ca.pem", "-sigalgs", SERVER_SIGALGS,
               "-client_sigalgs", SERVER_SIGALGS] + sc["server"]
    start = time.time()
    srv = subprocess.Popen(srv_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    srv_out = []
    while True:
        line = srv.stdout.readline()
        if not line:
            raise SystemExit(f"{sc['name']}: s_server did not start: {''.join(srv_out)}")
        srv_out.append(line)
        if line.startswith("ACCEPT"):
            break
    relay = Relay(port)
    time.sleep(0.2)
    cli_args = []
    for a in sc["client"]:
        cli_args.append(f"{certs}/{a}" if a.endswith(".pem") else a)
    date_time = time.time()
    cli_cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{relay.port}",
               "-CAfile", f"{certs}/ca.pem", "-msg"] + cli_args
    cli = subprocess.Popen(cli_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    try:
        cli.stdin.write("Q\n")
        cli.stdin.flush()
    except BrokenPipeError:
        pass
    try:
        out, _ = cli.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        cli.kill()
        out, _ = cli.communicate()
    relay.thread.join(timeout=15)
    try:
        rest, _ = srv.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        srv.kill()
        rest, _ = srv.communicate()
    srv_out.append(rest or "")
    return dict(start=start, date=date_time, chunks=relay.chunks, client_port=relay.client_port,
                relay_port=relay.port, client_out=out, server_out="".join(srv_out))


# ---------------------------------------------------------------- TLS parsing

def u16(b, i):
    return (b[i] << 8) | b[i + 1]


def split_records(data):
    recs, i = [], 0
    while i + 5 <= len(data):
        n = u16(data, i + 3)
        if i + 5 + n > len(data):
            break
        recs.append(data[i:i + 5 + n])
        i += 5 + n
    return recs, data[i:]


def extensions(b, i):
    out = {}
    if i + 2 > len(b):
        return out
    end = i + 2 + u16(b, i)
    i += 2
    while i + 4 <= end:
        t, n = u16(b, i), u16(b, i + 2)
        out[t] = b[i + 4:i + 4 + n]
        i += 4 + n
    return out


def parse_client_hello(body):
    """body: handshake message body (after the 4-byte header)."""
    i = 2 + 32
    sid = body[i]
    i += 1 + sid
    n = u16(body, i)
    ciphers = [u16(body, i + 2 + k) for k in range(0, n, 2)]
    i += 2 + n
    i += 1 + body[i]
    ext = extensions(body, i)
    groups, shares, sigalgs, versions = [], [], [], []
    if 10 in ext:
        e = ext[10]
        groups = [u16(e, 2 + k) for k in range(0, u16(e, 0), 2)]
    if 51 in ext:
        e, k = ext[51], 2
        while k + 4 <= len(e):
            shares.append(u16(e, k))
            k += 4 + u16(e, k + 2)
    if 13 in ext:
        e = ext[13]
        sigalgs = [u16(e, 2 + k) for k in range(0, u16(e, 0), 2)]
    if 43 in ext:
        e = ext[43]
        versions = [u16(e, 1 + k) for k in range(0, e[0], 2)]
    return dict(version=u16(body, 0), ciphers=ciphers, groups=groups, shares=shares,
                sigalgs=sigalgs, versions=versions)


def parse_server_hello(body):
    rnd = body[2:34]
    i = 34
    i += 1 + body[i]
    cipher = u16(body, i)
    i += 3
    ext = extensions(body, i)
    version = u16(body, 0)
    if 43 in ext:
        version = u16(ext[43], 0)
    group = u16(ext[51], 0) if 51 in ext and len(ext[51]) >= 2 else None
    return dict(hrr=rnd == HRR_RANDOM, cipher=cipher, version=version, group=group)


def handshake_msgs(rec):
    """Plaintext handshake messages of one record: [(type, body)]."""
    out, b, i = [], rec[5:], 0
    while i + 4 <= len(b):
        n = (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]
        out.append((b[i], b[i + 4:i + 4 + n]))
        i += 4 + n
    return out


def analyse(chunks):
    """Walk the wire bytes: records per direction, the hellos, alerts, encryption state."""
    c2s = b"".join(d for _, w, d in chunks if w == "c2s")
    s2c = b"".join(d for _, w, d in chunks if w == "s2c")
    crecs, crest = split_records(c2s)
    srecs, srest = split_records(s2c)
    info = dict(client_hellos=[], server_hellos=[], alerts=[], crecs=crecs, srecs=srecs,
                rest=(crest, srest), client_cert=False, tls13=False)
    enc_s = False
    for r in srecs:
        if r[0] == 22 and not enc_s:
            for t, body in handshake_msgs(r):
                if t == 2:
                    sh = parse_server_hello(body)
                    info["server_hellos"].append(sh)
                    if sh["version"] == 0x0304 and not sh["hrr"]:
                        info["tls13"] = True
                        enc_s = True
        elif r[0] == 20 and any(x["version"] == 0x0303 for x in info["server_hellos"]):
            enc_s = True
        elif r[0] == 21 and not enc_s:
            info["alerts"].append((r[5], r[6]))
    enc_c = False
    for r in crecs:
        if r[0] == 22 and not enc_c:
            for t, body in handshake_msgs(r):
                if t == 1:
                    info["client_hellos"].append(parse_client_hello(body))
                if t == 11 and len(body) > 3 and int.from_bytes(body[:3], "big") > 0:
                    info["client_cert"] = True
        elif r[0] == 20 and not info["tls13"]:
            enc_c = True
    return info


# ---------------------------------------------------------------- trace events

class Trace:
    """Server-side events, rendered both as gsktrace text and as a CTRACE listing."""

    def __init__(self, peer_port):
        self.ev = []    # (time, kind, function, text, bytes)
        self.port = peer_port
        self.t = 0.0

    def at(self, t):
        self.t = max(self.t + 0.000137, t)

    def add(self, kind, func, text, data=None):
        self.ev.append((self.t, kind, func, text, data))
        self.t += 0.000061

    def entry(self, func, handle=CONN_HANDLE, extra=""):
        self.add("ENTRY", func, ("HANDLE", handle, extra))

    def exit(self, func, rc=0):
        self.add("EXIT", func, rc)

    def info(self, func, text):
        self.add("INFO", func, text)

    def error(self, func, text):
        self.add("ERROR", func, text)

    def dump(self, func, text, data):
        self.add("DUMP", func, text, data)


def peer_gsk(port):
    return f"{CLIENT_IP}[{port}]"


def peer_ct(port):
    return f"{CLIENT_IP}.{port}"


def hexdump(data, indent):
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        groups = " ".join(chunk[k:k + 4].hex() for k in range(0, len(chunk), 4))
        text = "".join(chr(c) if 0x20 <= c < 0x7F else "." for c in chunk)
        lines.append(f"{indent}{off:08x}: {groups:<35}  *{text}*")
    return lines


def exit_text(rc):
    return f"<--- Exit status 0x{rc:08x} ({rc})"


CT_IDS = {"ENTRY": ("MESSAGE", "00000001", "SSL_ENTRY"), "EXIT": ("MESSAGE", "00000002", "SSL_EXIT"),
          "ERROR": ("MESSAGE", "00000004", "SSL_ERROR"), "INFO": ("MESSAGE", "00000008", "SSL_INFO"),
          "DUMP": ("DUMP", "00000020", "SSL_ASCII_DUMP")}


def render_ctrace(tr):
    first = dt.datetime.fromtimestamp(tr.ev[0][0], dt.timezone.utc)
    out = ["     COMPONENT TRACE FULL FORMAT", "     SYSNAME(C01)", "     COMP(GSKSRVR)",
           f"     **** {first.strftime('%m/%d/%Y')}", "",
           "     SYSNAME   MNEMONIC  ENTRY ID    TIME STAMP     DESCRIPTION",
           "     -------   --------  --------  ---------------  -------------", ""]
    for t, kind, func, text, data in tr.ev:
        if kind == "ENTRY" and func not in ("gsk_secure_socket_open", "gsk_secure_socket_init",
                                            "gsk_secure_socket_read", "gsk_secure_socket_close"):
            continue
        if kind == "EXIT" and func not in ("gsk_secure_socket_open", "gsk_secure_socket_init",
                                           "gsk_secure_socket_read", "gsk_secure_socket_close"):
            continue
        if kind == "INFO" and func == "gsk_secure_socket_init" and text.startswith("Peer address"):
            text = f"Connection from {{peer}} to {SERVER_IP}.{SERVER_PORT}, socket {SOCKET_FD}"
        if kind == "INFO" and text.startswith(("TCP_NODELAY", "GSK_FD")):
            continue
        mnem, eid, desc = CT_IDS[kind]
        ts = dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%H:%M:%S.%f")
        out.append(f"     C01       {mnem:<8}  {eid}  {ts}  {desc}")
        out.append("")
        out.append(f"       Job GLDSRV    Process 0101001C  Thread {THREAD:08X}  {func}")
        if kind == "ENTRY":
            _, handle, extra = text
            out.append(f"       Handle {handle}{extra}")
        elif kind == "EXIT":
            out.append(f"       Exit status 0x{text:08x} ({text})")
        elif kind == "DUMP":
            out.extend(hexdump(data, "       "))
        else:
            out.append("       " + text.format(peer=peer_ct(tr.port)))
        out.append("")
    return out


# ---------------------------------------------------------------- the server's story

def server_story(sc, cap, info):
    """The events System SSL would log for this connection, around the real records."""
    tr = Trace(cap["client_port"])
    chunks = cap["chunks"]
    t0 = chunks[0][0] - 0.0008
    tr.at(t0)
    tr.entry("gsk_secure_socket_open", ENV_HANDLE)
    tr.info("gsk_secure_socket_open", f"Connection handle 0x{CONN_HANDLE} allocated")
    tr.exit("gsk_secure_socket_open")
    tr.info("gsk_attribute_set_numeric_value", f"GSK_FD set to {SOCKET_FD}")
    tr.entry("gsk_secure_socket_init")
    tr.info("gsk_secure_socket_init", "Peer address {peer}")
    tr.info("gsk_secure_socket_init", f"TCP_NODELAY set for socket {SOCKET_FD}")

    ch_seen = 0
    sh_seen = 0
    c_enc = False         # client records encrypted from here on
    in_init = True
    rc_final = 0
    failed_alert = None
    post_read_open = False
    stop_reading = False
    tls13 = info["tls13"]
    pending = b""
    # Which server write ends a successful handshake: the one with CCS+Finished (TLS 1.2), or
    # the last session ticket written after the client's Finished (TLS 1.3).
    init_end = None
    if not info["alerts"]:
        if tls13:
            fin = next(i for i, (_, d, x) in enumerate(chunks)
                       if d == "c2s" and any(r[0] == 23 for r in split_records(x)[0]))
            j = fin + 1
            while j < len(chunks) and chunks[j][1] == "s2c":
                init_end = j
                j += 1
        else:
            init_end = next(i for i, (_, d, x) in enumerate(chunks)
                            if d == "s2c" and any(r[0] == 20 for r in split_records(x)[0]))
    deferred = []
    for ci, (t, d, data) in enumerate(chunks):
        tr.at(t)
        if d == "c2s":
            if stop_reading:
                continue
            recs, pending = split_records(pending + data)
            for r in recs:
                if stop_reading:
                    break
                if not in_init and not post_read_open:
                    tr.entry("gsk_secure_socket_read", CONN_HANDLE, ", Size 16384")
                    post_read_open = True
                if r[0] == 22 and not c_enc and handshake_msgs(r)[0][0] == 1:
                    tr.entry("read_v3_client_hello")
                tr.info("gsk_read_v3_record", "Calling read routine for 5 bytes")
                tr.info("gsk_read_v3_record", f"Calling read routine for {len(r) - 5} bytes")
                tr.dump("gsk_read_v3_record", f"Received {len(r)} bytes from {{peer}}", r)
                if r[0] == 22 and not c_enc:
                    for typ, body in handshake_msgs(r):
                        if typ == 1:
                            ch = parse_client_hello(body)
                            tr.info("read_v3_client_hello",
                                    f"Client hello version 0x{ch['version']:04x}, "
                                    f"{len(ch['ciphers'])} cipher suites offered")
                            ch_seen += 1
                            stop_reading = after_client_hello(tr, sc, info, ch, ch_seen)
                            if stop_reading:
                                failed_alert = info["alerts"][0][1]
                        elif typ == 11:
                            stop_reading = client_certificate(tr, sc, info)
                        elif typ == 16:
                            tr.info("read_v3_client_key_exchange", "ECDHE public key received, curve secp256r1")
                        elif typ == 15:
                            tr.info("read_v3_certificate_verify", "Signature algorithm 0x0403")
                elif r[0] == 20:
                    if not tls13:
                        c_enc = True
                        tr.info("read_v3_change_cipher_spec", "Change cipher spec received")
                elif r[0] == 23 and tls13 and in_init:
                    c_enc = True
                    tr.info("read_tls13_finished", "Client finished message verified")
                elif r[0] == 22 and c_enc and not tls13 and in_init:
                    tr.info("read_v3_finished", "Client finished message verified")
                elif (r[0] == 23 or r[0] == 21) and not in_init:
                    tr.info("gsk_read_v3_record", "Close notify alert received from {peer}")
                    tr.error("gsk_read_v3_record", "Socket closed by {peer}")
                    tr.exit("gsk_secure_socket_read", 420)
                    post_read_open = False
                    rc_final = 420
        else:
            recs, _ = split_records(data)
            first = recs[0] if recs else data
            if first[0] == 22 and sh_seen == 0 or (first[0] == 22 and info["server_hellos"]
                                                   and info["server_hellos"][0]["hrr"] and sh_seen == 1
                                                   and handshake_msgs(first)[0][0] == 2):
                sh = parse_server_hello(handshake_msgs(first)[0][1])
                sh_seen += 1
                fn = "send_tls13_server_hello" if sh["version"] == 0x0304 else "send_v3_server_hello"
                if sh["hrr"]:
                    fn = "send_tls13_hello_retry_request"
                tr.entry(fn)
                tr.dump("gsk_write_v3_record", f"Sending {len(data)} bytes to {{peer}}", data)
                tr.exit(fn)
                if not sh["hrr"]:
                    if tls13:
                        tr.info("send_tls13_encrypted_extensions", "Sending encrypted extensions")
                        tr.info("send_tls13_certificate", f"Sending certificate {SERVER_DN}")
                        tr.info("send_tls13_certificate_verify", "Signature algorithm 0x0403")
                        tr.info("send_tls13_finished", "Sending server finished message")
                    else:
                        tr.info("send_v3_certificate", f"Sending certificate {SERVER_DN}")
                        tr.info("send_v3_server_key_exchange", "Sending ECDHE parameters, curve secp256r1")
                        if sc["cl_auth"]:
                            tr.info("send_v3_certificate_request", "Requesting client certificate, 1 certificate authorities")
                        tr.info("send_v3_server_hello_done", "Sending server hello done")
            elif first[0] == 21 and in_init:
                level, desc = first[5], first[6]
                proto = "1.3" if (tls13 or sc["protocols"][1] == "on") else "1.2"
                fn = "send_tls13_alert" if proto == "1.3" else "send_v3_alert"
                tr.entry(fn)
                tr.dump("gsk_write_v3_record", f"Sending {len(data)} bytes to {{peer}}", data)
                tr.error(fn, f"Sent TLS {proto} alert {desc} to {{peer}}")
                tr.exit(fn)
                rc_final = sc["rc"]
                tr.error("gsk_secure_socket_init", "SSL V3 server handshake failed with {peer}")
                tr.info("gsk_secure_socket_init", f"TCP_NODELAY restored for socket {SOCKET_FD}")
                tr.exit("gsk_secure_socket_init", rc_final)
                in_init = False
                failed_alert = desc
            elif in_init and init_end is not None and ci <= init_end:
                if not tls13:
                    tr.info("send_v3_finished", "Sending change cipher spec and finished")
                else:
                    tr.info("send_tls13_new_session_ticket", "Sending new session ticket")
                tr.dump("gsk_write_v3_record", f"Sending {len(data)} bytes to {{peer}}", data)
                if ci == init_end:
                    tr.info("gsk_secure_socket_init", "SSL V3 server handshake completed with {peer}")
                    tr.info("gsk_secure_socket_init", f"TCP_NODELAY restored for socket {SOCKET_FD}")
                    tr.exit("gsk_secure_socket_init", 0)
                    in_init = False
            elif not in_init:
                deferred.append(data)
            else:
                tr.dump("gsk_write_v3_record", f"Sending {len(data)} bytes to {{peer}}", data)
    if post_read_open:
        tr.error("gsk_read_v3_record", "Socket closed by {peer}")
        tr.exit("gsk_secure_socket_read", 420)
    tr.at(chunks[-1][0] + 0.0004)
    tr.entry("gsk_secure_socket_close")
    for data in deferred:
        tr.info("gsk_secure_socket_close", "Sending close notify alert")
        tr.dump("gsk_write_v3_record", f"Sending {len(data)} bytes to {{peer}}", data)
    tr.info("gsk_secure_socket_close", f"Connection handle 0x{CONN_HANDLE} released")
    tr.exit("gsk_secure_socket_close")
    return tr, rc_final, failed_alert


def after_client_hello(tr, sc, info, ch, n):
    """INFO/ERROR lines after a ClientHello. True when the server reads no further."""
    name = sc["name"]
    fn = "read_v3_client_hello"
    if name == "no-common-cipher":
        tr.info(fn, "TLS 1.2 protocol selected")
        tr.error(fn, "No cipher in common with {peer}")
        tr.exit(fn, sc["rc"])
        return True
    if name == "no-common-sigalg":
        offered = " ".join(f"{s:04X}" for s in ch["sigalgs"])
        tr.info(fn, "TLS 1.3 protocol selected")
        tr.info(fn, f"Negotiated cipher 0x{info['ch_cipher']:04X}")
        tr.error(fn, f"Signature algorithms offered by {{peer}} ({offered}) cannot be used with "
                     f"certificate {SERVER_DN} (key type x509_alg_ecPublicKey, signed with 0x0403)")
        tr.exit(fn, sc["rc"])
        return True
    sh = info["server_hellos"][n - 1]
    if sh["hrr"]:
        want = " ".join(GROUPS.get(g, f"0x{g:04X}") for g in ch["shares"])
        tr.info(fn, "TLS 1.3 protocol selected")
        tr.info(fn, f"Negotiated cipher 0x{sh['cipher']:04X}")
        tr.info(fn, f"Client key share {want} not in GSK_SERVER_TLS_KEY_SHARES, "
                    f"sending hello retry request for {GROUPS[sh['group']]}")
        tr.exit(fn)
        return False
    proto = "1.3" if sh["version"] == 0x0304 else "1.2"
    tr.info(fn, f"TLS {proto} protocol selected")
    tr.info(fn, f"Negotiated cipher 0x{sh['cipher']:04X}")
    if proto == "1.3":
        tr.info(fn, f"Selected key share group {GROUPS.get(sh['group'], hex(sh['group'] or 0))}")
    else:
        tr.info(fn, "Selected elliptic curve secp256r1")
    tr.exit(fn)
    return False


def client_certificate(tr, sc, info):
    fn = "read_v3_certificate"
    tr.entry(fn)
    if sc["name"] == "client-cert-refused":
        tr.info(fn, f"Received certificate {RSA_CLIENT_DN}")
        tr.error("get_issuer_certificate", f"Issuer {OTHER_CA_DN} of {RSA_CLIENT_DN} not found in key ring")
        tr.error(fn, "Unable to validate peer certificate: certification authority is unknown")
        tr.exit(fn, sc["rc"])
        return True
    tr.info(fn, f"Received certificate {EC_CLIENT_DN}")
    tr.info("get_issuer_certificate", f"Using issuer {CA_DN}")
    tr.info("validate_certificate_basics", f"Signature of {EC_CLIENT_DN} verified with {CA_DN}")
    tr.info("validate_certificate_mode", f"Issuer {CA_DN} is a trusted certificate authority")
    tr.info("cms_validate_certificate_mode_int", "Certificate validated")
    tr.exit(fn)
    return False


def env_lines(sc):
    lines = [("ENTRY", "gsk_environment_open", "---> Handle 0x00000000"),
             ("INFO", "gsk_environment_open", "System SSL version 2.4, FIPS mode off")]
    env = [("GSK_TRACE", "0xff"), ("GSK_TRACE_FILE", "/tmp/gskssl.%.trc"),
           ("GSK_PROTOCOL_TLSV1_1", "off"), ("GSK_PROTOCOL_TLSV1_2", sc["protocols"][0]),
           ("GSK_PROTOCOL_TLSV1_3", sc["protocols"][1])]
    if sc["key_shares"]:
        env.append(("GSK_SERVER_TLS_KEY_SHARES", sc["key_shares"]))
    env += [("GSK_V3_CIPHER_SPECS_EXPANDED", sc["ciphers"]),
            ("GSK_TLS_SIG_ALG_PAIRS", sc.get("trace_sigalg_pairs", SERVER_SIGALG_PAIRS))]
    for k, v in env:
        lines.append(("INFO", "read_environment_variables", f"Environment variable {k}={v}"))
    lines += [("INFO", "gsk_environment_open", f"Environment handle 0x{ENV_HANDLE} allocated"),
              ("EXIT", "gsk_environment_open", exit_text(0)),
              ("ENTRY", "gsk_attribute_set_enum", f"---> Handle 0x{ENV_HANDLE}"),
              ("INFO", "gsk_attribute_set_enum", "GSK_SESSION_TYPE set to " +
               ("GSK_SERVER_SESSION_WITH_CL_AUTH" if sc["cl_auth"] else "GSK_SERVER_SESSION")),
              ("EXIT", "gsk_attribute_set_enum", exit_text(0)),
              ("ENTRY", "gsk_environment_init", f"---> Handle 0x{ENV_HANDLE}"),
              ("INFO", "gsk_environment_init", "Opening SAF key ring GLDSRV/LDAPRING"),
              ("INFO", "gsk_environment_init", f"Default certificate label LDAPSRV: {SERVER_DN}"),
              ("EXIT", "gsk_environment_init", exit_text(0))]
    return lines, env


# ---------------------------------------------------------------- client transcript

def client_transcript(sc, cap):
    d = dt.datetime.fromtimestamp(cap["date"], dt.timezone.utc)
    shown = ["openssl", "s_client", "-connect", f"{SERVER_IP}:{SERVER_PORT}", "-CAfile", "ca.pem", "-msg"]
    shown += sc["client"]
    out = cap["client_out"].replace(f"127.0.0.1:{cap['relay_port']}", f"{SERVER_IP}:{SERVER_PORT}")
    out = out.replace("127.0.0.1", SERVER_IP)
    lines = ["$ date", d.strftime("%a %b %e %H:%M:%S UTC %Y"), "$ " + " ".join(shell_quote(a) for a in shown)]
    lines += out.rstrip("\n").split("\n")
    return lines


def shell_quote(a):
    return a if re.fullmatch(r"[A-Za-z0-9_./:+=-]+", a) else "'" + a + "'"


# ---------------------------------------------------------------- checks

def check(sc, info, cap):
    name = sc["name"]
    sh = info["server_hellos"]
    al = info["alerts"]
    problems = []
    if name == "tls12-ok":
        if not (len(sh) == 1 and sh[0]["version"] == 0x0303 and sh[0]["cipher"] in (0xC02C, 0xC02B) and not al):
            problems.append("expected TLS 1.2 ECDHE-ECDSA success")
    elif name == "tls13-ok":
        if not (len(sh) == 1 and sh[0]["version"] == 0x0304 and not sh[0]["hrr"] and not al):
            problems.append("expected TLS 1.3 success")
    elif name == "no-common-cipher":
        if sh or al != [(2, 40)]:
            problems.append(f"expected alert 40 and no ServerHello, got {sh} {al}")
    elif name == "no-common-sigalg":
        if sh or al != [(2, 40)]:
            problems.append(f"expected alert 40 and no ServerHello, got {sh} {al}")
    elif name == "hrr":
        if not (len(sh) == 2 and sh[0]["hrr"] and not sh[1]["hrr"] and not al
                and len(info["client_hellos"]) == 2):
            problems.append(f"expected HRR then success, got {sh} {al}")
    elif name == "client-cert-refused":
        if not (len(sh) == 1 and al == [(2, 48)] and info["client_cert"]):
            problems.append(f"expected ServerHello, client certificate, alert 48, got {sh} {al}")
    if "CONNECTED(" not in cap["client_out"]:
        problems.append("s_client did not connect")
    if problems:
        sys.stderr.write(f"{name}: " + "; ".join(problems) + "\n" + cap["client_out"][-2000:] + "\n")
        raise SystemExit(1)


RC = {"tls12-ok": 0, "tls13-ok": 0, "no-common-cipher": 402, "no-common-sigalg": 467, "hrr": 0,
      "client-cert-refused": 435}


# ---------------------------------------------------------------- broken copies

def broken_copies(lines, out_dir):
    """truncated.trc: the ClientHello dump cut; corrupted.trc: three lies in the bytes."""
    os.makedirs(out_dir, exist_ok=True)
    # (a) truncated: keep the trace up to and including the first dump, minus its last 3 hex lines.
    idx = [i for i, l in enumerate(lines) if "gsk_read_v3_record(): Received" in l][0]
    end = idx + 1
    while end < len(lines) and lines[end].startswith("    0"):
        end += 1
    cut = end - 3
    with open(os.path.join(out_dir, "truncated.trc"), "w") as f:
        f.write("\n".join(lines[:cut]) + "\n")
    # (b) corrupted: rewrite three dumps' bytes.
    dumps = []
    i = 0
    while i < len(lines):
        if (" ASCII " in lines[i]) and i + 1 < len(lines) and lines[i + 1].startswith("    0"):
            j = i + 1
            while j < len(lines) and lines[j].startswith("    0"):
                j += 1
            dumps.append((i, j))
            i = j
        else:
            i += 1
    out = list(lines)
    notes = []

    def read_dump(a, b):
        return bytes.fromhex("".join(l.split(":", 1)[1].split("*")[0].replace(" ", "") for l in lines[a + 1:b]))

    def put(a, b, data):
        out[a + 1:b] = hexdump(data, "    ") + [None] * ((b - a - 1) - len(hexdump(data, "    ")))

    rng = random.Random(17)
    # 1. ClientHello: garbage inside the extensions block (last 12 bytes overwritten).
    a, b = dumps[0]
    ch = bytearray(read_dump(a, b))
    for k in range(len(ch) - 12, len(ch)):
        ch[k] = rng.randrange(256)
    put(a, b, bytes(ch))
    notes.append(f"line {a + 1}: ClientHello, last 12 bytes (inside the extensions) replaced by random bytes")
    # 2. The server's first write (ServerHello...): handshake length of the ServerHello lies (+0x40).
    a, b = dumps[1]
    sh = bytearray(read_dump(a, b))
    n = (sh[6] << 16) | (sh[7] << 8) | sh[8]
    n += 0x40
    sh[6:9] = bytes([(n >> 16) & 255, (n >> 8) & 255, n & 255])
    put(a, b, bytes(sh))
    notes.append(f"line {a + 1}: ServerHello handshake length raised by 0x40 (it now runs past its record)")
    # 3. The client's Certificate record: record length overruns the bytes dumped (+0x100).
    a, b = dumps[2]
    rec = bytearray(read_dump(a, b))
    n = u16(rec, 3) + 0x100
    rec[3:5] = bytes([n >> 8, n & 255])
    put(a, b, bytes(rec))
    notes.append(f"line {a + 1}: record length raised by 0x100 (the record overruns the {len(rec)} bytes dumped)")
    with open(os.path.join(out_dir, "corrupted.trc"), "w") as f:
        f.write("\n".join(l for l in out if l is not None) + "\n")
    return notes, lines[cut - 1], cut


# ---------------------------------------------------------------- main

def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    work = tempfile.mkdtemp(prefix="handshakes-")
    summary = []
    try:
        make_certs(work)
        for sc in SCENARIOS:
            sc["rc"] = RC[sc["name"]]
            time.sleep(3)   # the linkers' windows are 2 s: keep the captures apart
            cap = capture(sc, work)
            info = analyse(cap["chunks"])
            check(sc, info, cap)
            if info["client_hellos"]:
                ch = info["client_hellos"][0]
                info["ch_cipher"] = next((c for c in ch["ciphers"] if f"{c:04X}" in sc["ciphers"]), 0)
            out_dir = os.path.join(HERE, sc["name"])
            shutil.rmtree(out_dir, ignore_errors=True)
            os.makedirs(out_dir)
            write(os.path.join(out_dir, "chunks.tsv"),
                  ["dir\thex"] + [f"{d}\t{data.hex()}" for _, d, data in cap["chunks"]])
            write(os.path.join(out_dir, "client.txt"), client_transcript(sc, cap))
            tr, rc, alert = server_story(sc, cap, info)
            env, envvars = env_lines(sc)
            gsk = render_gsk_fixed(tr, env, cap["start"])
            write(os.path.join(out_dir, f"gskssl.{sc['pid']}.trc"), gsk)
            write(os.path.join(out_dir, "gsksrvr-ctrace.txt"), render_ctrace_fixed(tr))
            summary.append((sc, info, rc, alert, cap, gsk, envvars))
            print(f"{sc['name']}: {len(cap['chunks'])} chunks, rc {rc}, alert {alert}")
        # broken copies of tls12-ok
        sc, info, rc, alert, cap, gsk, _ = summary[0]
        notes, _, cut = broken_copies(gsk, os.path.join(HERE, "broken"))
        for n in notes:
            print("corrupted.trc", n)
        print(f"truncated.trc: {cut} lines")
        # samples/no-common-cipher/ gets its own capture of the same scenario, a few seconds
        # later, so that a store holding all of samples/ does not see the same connection twice.
        sc = dict(SCENARIOS[2], pid=50331713)
        time.sleep(4)
        cap = capture(sc, work)
        info = analyse(cap["chunks"])
        check(sc, info, cap)
        tr, rc, alert = server_story(sc, cap, info)
        env, envvars = env_lines(sc)
        gsk = render_gsk_fixed(tr, env, cap["start"])
        write_ncc((sc, info, rc, alert, cap, gsk, envvars))
        print(f"samples/no-common-cipher: port {cap['client_port']}, "
              f"{dt.datetime.fromtimestamp(cap['date'], dt.timezone.utc):%H:%M:%S}, rc {rc}, alert {alert}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render_gsk_fixed(tr, env, start):
    ev = tr.ev
    tr.ev = [e for e in ev]
    out = []
    d = dt.datetime.fromtimestamp(start, dt.timezone.utc).strftime("%m/%d/%Y-%H:%M:%S")
    for lvl, func, text in env:
        out.append(f"{d} Thd-1 {lvl} {func}(): {text}")
    for t, kind, func, text, data in ev:
        stamp = dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%m/%d/%Y-%H:%M:%S")
        pre = f"{stamp} Thd-{THREAD}"
        if kind == "ENTRY":
            if text[0] == "TEXT":
                out.append(f"{pre} ENTRY {func}(): {text[1]}")
            else:
                _, handle, extra = text
                out.append(f"{pre} ENTRY {func}(): ---> Handle 0x{handle}{extra}")
        elif kind == "EXIT":
            out.append(f"{pre} EXIT {func}(): {exit_text(text)}")
        elif kind == "DUMP":
            out.append(f"{pre} ASCII {func}(): {text.format(peer=peer_gsk(tr.port))}")
            out.extend(hexdump(data, "    "))
        else:
            out.append(f"{pre} {kind} {func}(): {text.format(peer=peer_gsk(tr.port))}")
    return out


def render_ctrace_fixed(tr):
    keep = ("gsk_secure_socket_open", "gsk_secure_socket_init", "gsk_secure_socket_read",
            "gsk_secure_socket_close")
    ev = [e for e in tr.ev if not (e[1] in ("ENTRY", "EXIT") and e[2] not in keep)]
    ev = [e for e in ev if not (e[1] == "ENTRY" and e[3][0] == "TEXT")]
    t2 = Trace(tr.port)
    t2.ev = ev
    return render_ctrace(t2)


def write_ncc(entry):
    """samples/no-common-cipher/: the server trace, the client transcript, job log, envvars, links."""
    sc, info, rc, alert, cap, gsk, envvars = entry
    os.makedirs(NCC_DIR, exist_ok=True)
    for f in os.listdir(NCC_DIR):
        if f.startswith("gskssl."):
            os.remove(os.path.join(NCC_DIR, f))
    gname = f"gskssl.{sc['pid']}.trc"
    write(os.path.join(NCC_DIR, gname), gsk)
    client = client_transcript(sc, cap)
    write(os.path.join(NCC_DIR, "client.txt"), client)
    # the failure time: the init EXIT line
    fail_line = [l for l in gsk if "EXIT gsk_secure_socket_init()" in l][-1]
    fail_t = dt.datetime.strptime(fail_line[:19], "%m/%d/%Y-%H:%M:%S")
    start_t = dt.datetime.strptime(gsk[0][:19], "%m/%d/%Y-%H:%M:%S")
    up = start_t - dt.timedelta(seconds=1)
    hm = lambda x: x.strftime("%H.%M.%S")
    day = start_t.strftime("%A").upper() + ","
    job = [
        "    J E S 2  J O B  L O G  --  S Y S T E M  S 0 W 1  --  N O D E  S 0 W 1",
        "",
        f"---- {day:<11}{start_t.day:>2} {start_t.strftime('%b').upper()} {start_t.year} ----",
        f"{hm(up)} STC04588  IEF695I START GLDSRV   WITH JOBNAME GLDSRV   IS ASSIGNED TO USER GLDSRV  , GROUP SYS1",
        f"{hm(up)} STC04588  $HASP373 GLDSRV   STARTED",
        f"{hm(up)} STC04588  IEF403I GLDSRV - STARTED - TIME={hm(up)}",
        f"{hm(start_t)} STC04588  BPXM023I (GLDSRV) GLD1004I LDAP server is ready for requests.",
        f"{hm(start_t)} STC04588  GLD1005I LDAP server start command processed.",
        f"{hm(start_t)} STC04588  BPXM023I (GLDSRV) GLD1059I Listening for requests on {SERVER_IP} port {SERVER_PORT}.",
        f"{hm(fail_t)} STC04588  BPXM023I (GLDSRV) GLD1116E Unable to initialize an SSL connection with "
        f"{CLIENT_IP}: 402 - No SSL cipher specifications.",
    ]
    write(os.path.join(NCC_DIR, "gldsrv.joblog"), job)
    env = ["# Environment file of the LDAP server (ENVVAR DD) when the Linux client offered only",
           "# RSA key exchange suites: the server allows only ECDHE-ECDSA ones.",
           "LIBPATH=/usr/lpp/ldap/lib:/usr/lib",
           "NLSPATH=/usr/lpp/ldap/lib/nls/msg/%L/%N",
           "TZ=GMT0"] + [f"{k}={v}" for k, v in envvars]
    write(os.path.join(NCC_DIR, "gldsrv.envvars"), env)
    open_line = 1 + next(i for i, l in enumerate(gsk) if "ENTRY gsk_secure_socket_open()" in l)
    cmd_line = 1 + next(i for i, l in enumerate(client) if l.startswith("$ openssl"))
    ch = info["client_hellos"][0]
    offer = "/".join(f"{c:04X}" for c in ch["ciphers"])
    links = ["file\tline\tgsk\twhy",
             f"gldsrv.joblog\t{len(job)}\t{gname}:{open_line}\t{hm(fail_t)}, {CLIENT_IP}, 402 = no cipher in common",
             f"client.txt\t{cmd_line}\t{gname}:{open_line}\t{client[1][11:19]} UTC; s_client offers {offer}, "
             f"alert 40 handshake_failure = 402"]
    write(os.path.join(NCC_DIR, "expected-links.tsv"), links)


if __name__ == "__main__":
    main()
