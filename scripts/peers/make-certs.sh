#!/usr/bin/env bash
# make-certs.sh DIR: a private test CA (ca.crt) and a server certificate signed by it
# (server.crt, server.key, server-chain.crt) for localhost, 127.0.0.1 and ::1. Kept if present.
set -euo pipefail
dir=${1:?directory}
mkdir -p "$dir"
cd "$dir"
[ -s server-chain.crt ] && [ -s server.key ] && [ -s ca.crt ] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.crt \
    -subj "/CN=squall test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
cat >server.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -sha256 -days 825 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -extfile server.ext -out server.crt 2>/dev/null
cat server.crt ca.crt >server-chain.crt
chmod 644 server.key
rm -f server.csr server.ext
