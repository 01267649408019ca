#!/usr/bin/env bash
# Give an nginx started by tests/web/nginx.sh --tls a certificate issued by a private test CA,
# so that a client trusting that CA (e.g. SSL_CERT_FILE=CA_FILE) verifies the connection:
#
#   tests/web/vfs_tls_ca.sh PREFIX
#       Makes PREFIX/vfs_ca/ca.pem (a CA valid 2 days) and a server certificate for
#       127.0.0.1/localhost signed by it, installs them as PREFIX/cert.pem and PREFIX/key.pem,
#       reloads nginx (SIGHUP) and waits until it serves the new certificate.
#       Prints CA_FILE=PREFIX/vfs_ca/ca.pem
#
# Used by tests/web_vfs.rs and tests/py/test_web.py (verified HTTPS, without web_insecure).
set -euo pipefail
die() { echo "vfs_tls_ca.sh: $*" >&2; exit 1; }

prefix="${1:?usage: vfs_tls_ca.sh PREFIX}"
case "$prefix" in */gsq-nginx.*) ;; *) die "not a prefix made by nginx.sh: $prefix" ;; esac
[ -s "$prefix/nginx.pid" ] && [ -s "$prefix/cert.pem" ] || die "no TLS nginx running in $prefix"
command -v openssl >/dev/null || die "openssl not found"
port="$(sed -n 's/.*listen 127\.0\.0\.1:\([0-9]*\) ssl.*/\1/p' "$prefix/nginx.conf" | head -n 1)"
[ -n "$port" ] || die "cannot find the TLS port in $prefix/nginx.conf"

d="$prefix/vfs_ca"
mkdir -p "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=genomicsqlite test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || die "openssl: CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || die "openssl: CSR"
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$d/ext.cnf"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" >/dev/null 2>&1 || die "openssl: sign"
cp "$d/server.pem" "$prefix/cert.pem"
cp "$d/server.key" "$prefix/key.pem"
master="$(cat "$prefix/nginx.pid")"
old_workers="$(ps -o pid= --ppid "$master" || true)"
kill -HUP "$master"
# The old workers (old certificate) finish gracefully: wait until they are gone.
for _ in $(seq 1 100); do
    alive=0
    for w in $old_workers; do kill -0 "$w" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
done
[ "$alive" = 0 ] || die "nginx's old workers did not exit after the reload"
want="$(openssl x509 -in "$d/server.pem" -noout -fingerprint -sha256)"
for _ in $(seq 1 100); do
    got="$(openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null \
        | openssl x509 -noout -fingerprint -sha256 2>/dev/null || true)"
    [ "$got" = "$want" ] && { echo "CA_FILE=$d/ca.pem"; exit 0; }
    sleep 0.1
done
die "nginx did not switch to the new certificate"
