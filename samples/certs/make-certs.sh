#!/usr/bin/env bash
# Makes the certificates and the CRL of the sample stories with openssl (the committed files in
# this folder came from this script; the tests run it again into a temporary folder).
#   ./make-certs.sh [OUTDIR] [checks]
# Long validity on purpose: the samples must not expire. With `checks`, it also makes one
# certificate for each other check of `tracelens cert` (the tests use them; one of them expires
# in ten days, so they are not committed).
set -euo pipefail
out=${1:-$(dirname "$0")}
mkdir -p "$out"
cd "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=36500

ext() { printf '%s\n' "$@" > "$work/ext.cnf"; echo "$work/ext.cnf"; }

# A CA as it should be: keyCertSign and cRLSign, key identifiers (revoked-client-cert, and the CRL).
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
openssl req -new -x509 -key "$work/ca.key" -subj "/C=GB/O=SSS/OU=CA/CN=SSCA256" -days $days -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -addext "subjectKeyIdentifier=hash" -out ca.pem

# The crl-issuer-without-crlsign story: a CA that can sign certificates but not CRLs.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca-nocrl.key"
openssl req -new -x509 -key "$work/ca-nocrl.key" -subj "/C=GB/O=SSS/OU=CA/CN=SSCANOCRL" -days $days -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -addext "subjectKeyIdentifier=hash" -out ca-without-crlsign.pem

# The Elliptic Curve client certificate of the revoked and ec-cert-rsa-cipher stories (serial 0A).
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ecec.key"
openssl req -new -key "$work/ecec.key" -subj "/C=GB/O=cpwebuser/CN=ecec" -out "$work/ecec.csr"
openssl x509 -req -in "$work/ecec.csr" -CA ca.pem -CAkey "$work/ca.key" -set_serial 0x0A -days $days -sha256 \
  -extfile "$(ext 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=clientAuth' \
                 'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always,issuer:always')" -out client-ecec.pem

# The tls13-missing-aki story: the same kind of certificate without authorityKeyIdentifier.
openssl req -new -key "$work/ecec.key" -subj "/C=GB/O=cpwebuser/CN=ecec" -out "$work/noaki.csr"
openssl x509 -req -in "$work/noaki.csr" -CA ca.pem -CAkey "$work/ca.key" -set_serial 0x0B -days $days -sha256 \
  -extfile "$(ext 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=clientAuth' \
                 'subjectKeyIdentifier=none' 'authorityKeyIdentifier=none')" -out client-without-aki.pem

# The sigalg-missing-0503 story: an RSA client certificate signed with ecdsa-with-SHA384 (0503).
openssl genrsa -out "$work/rsa.key" 2048 2>/dev/null
openssl req -new -key "$work/rsa.key" -subj "/C=GB/O=cpwebuser/CN=rsaca384" -out "$work/rsa.csr"
openssl x509 -req -in "$work/rsa.csr" -CA ca.pem -CAkey "$work/ca.key" -set_serial 0x0C -days $days -sha384 \
  -extfile "$(ext 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth' \
                 'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always,issuer:always')" -out client-rsaca384.pem

# The CA's CRL, revoking serial 0A for keyCompromise (the revoked-client-cert story).
mkdir -p "$work/db"
: > "$work/db/index.txt"
echo 01 > "$work/db/crlnumber"
cat > "$work/ca.cnf" <<CNF
[ ca ]
default_ca = sample
[ sample ]
database = $work/db/index.txt
crlnumber = $work/db/crlnumber
default_md = sha256
default_crl_days = $days
CNF
openssl ca -config "$work/ca.cnf" -cert ca.pem -keyfile "$work/ca.key" -revoke client-ecec.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config "$work/ca.cnf" -cert ca.pem -keyfile "$work/ca.key" -gencrl -out ca.crl 2>/dev/null
if [ "${2:-}" = checks ]; then
  ca() { openssl req -new -x509 -key "$work/ca.key" -subj "/C=GB/O=SSS/OU=CA/CN=$1" -days $days -sha256 -addext "basicConstraints=critical,CA:TRUE" "${@:3}" -out "$2"; }
  ca CANOSKI ca-without-ski.pem -addext "keyUsage=critical,keyCertSign,cRLSign" -addext "subjectKeyIdentifier=none"
  ca CANOKU ca-without-key-usage.pem -addext "subjectKeyIdentifier=hash"
  ca CANOCERTSIGN ca-without-keycertsign.pem -addext "keyUsage=critical,cRLSign" -addext "subjectKeyIdentifier=hash"
  leaf() {  # name, key file, extensions file, days
    openssl req -new -key "$2" -subj "/C=GB/O=cpwebuser/CN=$1" -out "$work/$1.csr"
    openssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey "$work/ca.key" -set_serial "0x$(openssl rand -hex 4)" -days "$4" -sha256 -extfile "$3" -out "$1.pem"
  }
  openssl genrsa -out "$work/rsa1024.key" 1024 2>/dev/null
  leaf client-no-digital-signature "$work/rsa.key" "$(ext 'keyUsage=critical,keyEncipherment' 'authorityKeyIdentifier=keyid:always')" $days
  leaf client-rsa-no-key-encipherment "$work/rsa.key" "$(ext 'keyUsage=critical,digitalSignature' 'authorityKeyIdentifier=keyid:always')" $days
  leaf client-code-signing "$work/ecec.key" "$(ext 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=codeSigning' 'authorityKeyIdentifier=keyid:always')" $days
  leaf client-rsa1024 "$work/rsa1024.key" "$(ext 'keyUsage=critical,digitalSignature,keyEncipherment' 'authorityKeyIdentifier=keyid:always')" $days
  leaf client-expires-soon "$work/ecec.key" "$(ext 'keyUsage=critical,digitalSignature' 'authorityKeyIdentifier=keyid:always')" 10
fi
echo "made: $(ls "$PWD" | tr '\n' ' ')"
