#!/usr/bin/env bash
# Sets up what a fresh machine lacks, builds TraceLens, and runs it on the samples.
set -euo pipefail
cd "$(dirname "$0")"

# System libraries (Debian/Ubuntu): zlib for .gz traces, SQLite for the store.
missing=()
for pkg in zlib1g-dev libsqlite3-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi

echo "== building (release; the first build fetches and compiles the dependencies, a few minutes)"
swift build -c release
tl=.build/release/tracelens

# Each command is echoed so that it can be copied and run again: arguments quoted as typed.
quoted() {
  local a out=""
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=" $a"; else out+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "${out# }"
}
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$(quoted "${@:2}")"; "${@:2}"; }

step "A revoked client certificate: only the failure, inside the calls that led to it" \
  $tl format --errors samples/revoked-client-cert/gskssl.65567.trc
step "TLS 1.3 peer certificate without authorityKeyIdentifier" \
  $tl format --level ERROR samples/tls13-missing-aki/gskssl.83951642.trc
step "An Elliptic Curve client certificate against an RSA-only cipher" \
  $tl format --errors --grep 'key type' samples/ec-cert-rsa-cipher/gskssl.50331688.trc
step "A busy server, six threads interleaved: the failures of thread 5 only" \
  $tl format --errors --thread 5 samples/busy/gskssl.33554467.trc
step "The component trace: the date carries across midnight" \
  $tl format --since 2021-11-15T00:00 --level ERROR samples/attls-revoked/gsksrvr-ctrace.txt
step "Every sample file, counted (records, unparsed lines, codes)" \
  sh -c "$tl format --stats samples/*/*.trc samples/attls-revoked/gsksrvr-ctrace.txt 2>&1 >/dev/null"
step "Explain codes the way they appear" \
  $tl explain 431 0x0335306f 'alert 42' C02C 0601
step "Explain with the action to take" \
  $tl explain --long 03353041
step "Decode a GSK environment variable element by element" \
  $tl explain GSK_V3_CIPHER_SPECS_EXPANDED=C02CC02BC030C02F130313011302

# The store: every sample into one SQLite file, then the questions a user asks of it.
db=$(mktemp -d)/tracelens.db
step "Ingest every sample into a store: GSK traces, LDAP job logs and debug traces, AT-TLS syslog, client sessions; then link them (this client's clock ran an hour ahead)" \
  $tl ingest --db "$db" --offset 'ec-cert-rsa-cipher/client.txt=-3600s' samples/
step "Ingest again: nothing to add" \
  $tl ingest --db "$db" samples/revoked-client-cert/
step "What the store holds" \
  $tl summary --db "$db" --limit 8
step "The failed connections from 10.1.0.2" \
  $tl connections --db "$db" --failed --peer 10.1.0.2
conn=$($tl sql --db "$db" --csv "SELECT c.id FROM connections c JOIN sources s ON s.id = c.source WHERE s.path LIKE '%gskssl.65567.trc' AND c.outcome = 'failed' ORDER BY c.id LIMIT 1" | tail -n 1 | tr -d '\r')
step "The revoked certificate's connection, told by every source: job log, debug trace, client, GSK trace" \
  sh -c "$tl show --db '$db' $conn | grep -v '^\[gskssl' ; $tl show --db '$db' $conn | grep '^\[gskssl' | grep -E 'ERROR|EXIT gsk_secure_socket_init'"
step "The same story as a ladder: who sent what to whom, what each party logged, the failing step marked" \
  $tl show --db "$db" --ladder "$conn"
step "Why each source was linked" \
  $tl sql --db "$db" "SELECT l.conn, l.story, l.rule, l.evidence FROM links l JOIN connections c ON c.id = l.story JOIN sources s ON s.id = c.source WHERE s.path LIKE '%revoked-client-cert%'"
step "Decode an LDAP debug level" \
  $tl explain ERROR+CONNS+LDAPBE
step "Read-only SQL over the store" \
  $tl sql --db "$db" "SELECT error, count(*) AS failures FROM connections WHERE outcome = 'failed' GROUP BY error ORDER BY failures DESC"

# Live: follow a trace and a job log while they are written, as during a reproduction.
live=$(mktemp -d)
replay() {  # writes the revoked-certificate samples in pieces, as the server would
  sleep 1
  for part in 1 2 3 4; do
    sed -n "$(( (part - 1) * 60 + 1 )),$(( part * 60 ))p" samples/revoked-client-cert/gskssl.65567.trc >> "$live/gskssl.65567.trc"
    sleep 0.4
  done
  cat samples/revoked-client-cert/gldsrv.joblog >> "$live/gldsrv.joblog"
  sleep 1.5
}
watch_while_written() {
  $tl watch --errors --color never --db "$live/live.db" "$live/gskssl.*.trc" "$live/*.joblog" &
  local pid=$!
  replay
  kill -INT "$pid"
  wait "$pid"
}
printf '\n\033[1m== %s\033[0m\n$ %s\n' "Follow files live: the failures and one verdict per failed connection, as they are written" \
  "tracelens watch --errors 'gskssl.*.trc' '*.joblog'    # meanwhile the samples are written in pieces; then Ctrl-C"
watch_while_written
step "What was followed, from the store (works while watch or daemon runs)" \
  $tl status --db "$live/live.db"

# lint exits 1 when it has findings, which these files have on purpose.
lint_samples() { $tl lint "$@" || [ $? -eq 1 ]; }
printf '\n\033[1m== %s\033[0m\n$ %s\n' "Check the LDAP server's System SSL environment file and configuration file" \
  "tracelens lint samples/ec-cert-rsa-cipher/gldsrv.envvars samples/tls13-missing-aki/ds.conf samples/sigalg-missing-0503/gldsrv.envvars"
lint_samples samples/ec-cert-rsa-cipher/gldsrv.envvars samples/tls13-missing-aki/ds.conf samples/sigalg-missing-0503/gldsrv.envvars

cert_samples() { $tl cert "$@" || [ $? -eq 1 ]; }
printf '\n\033[1m== %s\033[0m\n$ %s\n' "The stories' certificates: a CA that cannot sign CRLs, a certificate without authorityKeyIdentifier, one on the CRL" \
  "tracelens cert samples/certs/ca-without-crlsign.pem samples/certs/client-without-aki.pem samples/certs/client-ecec.pem --crl samples/certs/ca.crl | grep -E ': |error|warning'"
cert_samples samples/certs/ca-without-crlsign.pem samples/certs/client-without-aki.pem samples/certs/client-ecec.pem --crl samples/certs/ca.crl | grep -E ': |error|warning'

step "The plugins loaded" \
  $tl plugins list

# Last: what went wrong in every failed connection of the samples, and what to do.
step "Why each failed connection failed: cause, evidence from every source, what to do" \
  $tl doctor --all --db "$db"

# And the report of it all: one HTML file to open in a browser or print to PDF.
report="$(dirname "$db")/report.html"
step "An HTML report of every failed connection: sources, failures by finding, timeline, ladders, records" \
  $tl report --db "$db" --all -o "$report"
echo "The report: $report  (open it in a browser: file://$report)"

printf '\n\033[1m== %s\033[0m\n' "The binary"
echo "$(pwd)/$tl"
echo "To run it by name: install -m 755 $tl /usr/local/bin/   (or add $(pwd)/.build/release to PATH)"
