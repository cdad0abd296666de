#!/usr/bin/env bash
# Test-only certificates for the TLS and mTLS tests (not secrets: never use them outside tests).
# A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all ECDSA P-256,
# valid for 100 years. Regenerate with: tests/data/tls/make.sh
set -euo pipefail
cd "$(dirname "$0")"
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out ca.key.sec1
openssl pkcs8 -topk8 -nocrypt -in ca.key.sec1 -out ca.key && rm ca.key.sec1
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/CN=warta test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
leaf() { # name subject extensions
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key.sec1"
  openssl pkcs8 -topk8 -nocrypt -in "$1.key.sec1" -out "$1.key" && rm "$1.key.sec1"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days $days \
    -extfile "$1.ext" -out "$1.pem"
  rm "$1.csr" "$1.ext"
}
leaf server "/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
leaf client "/CN=warta test client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ca.srl
