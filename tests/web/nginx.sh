#!/usr/bin/env bash
# Serve a directory with nginx on 127.0.0.1 for tests and benchmarks of the web reader.
#
#   tests/web/nginx.sh start DIR [--port N] [--tls] [--ttl SECONDS] [--include FILE]
#       Starts nginx (a private instance: temp config, pid file and logs in a fresh temp prefix)
#       serving DIR read-only on 127.0.0.1 (port N, or a free one). With --tls it serves HTTPS
#       (and HTTP/2) with a self-signed certificate for 127.0.0.1/localhost generated with the
#       openssl command into the prefix. It stops by itself after --ttl seconds (default 600).
#       --include FILE adds FILE (nginx directives, e.g. more server blocks) inside the http
#       block. Prints shell-style lines: URL=... PORT=... PREFIX=... PID=... ACCESS_LOG=... CERT=...
#   tests/web/nginx.sh stop PREFIX
#       Stops that instance and removes its prefix.
#
# The access log has one line per request:
#   <status> <body_bytes_sent> <connection serial> <protocol> "<request>" "<Range header>" <ms>
# so tests can count requests, bytes and connection reuse.
set -euo pipefail

die() { echo "nginx.sh: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
        || /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd_start() {
    local dir="" port="" tls=0 ttl=600 include=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --tls) tls=1; shift ;;
            --ttl) ttl="${2:?--ttl needs a value}"; shift 2 ;;
            --include) include="$(realpath "${2:?--include needs a file}")"; shift 2 ;;
            -*) die "unknown option $1" ;;
            *) [ -z "$dir" ] || die "one directory only"; dir="$1"; shift ;;
        esac
    done
    [ -n "$dir" ] || die "usage: nginx.sh start DIR [--port N] [--tls] [--ttl SECONDS]"
    [ -d "$dir" ] || die "not a directory: $dir"
    case "$ttl" in ''|*[!0-9]*) die "--ttl must be a number of seconds" ;; esac
    local nginx
    nginx="$(command -v nginx || true)"
    [ -n "$nginx" ] || nginx=/usr/sbin/nginx
    [ -x "$nginx" ] || die "nginx not found (apt-get install nginx-light)"
    dir="$(cd "$dir" && pwd)"
    local prefix
    prefix="$(mktemp -d "${TMPDIR:-/tmp}/gsq-nginx.XXXXXX")"
    chmod 755 "$prefix"
    mkdir -p "$prefix/tmp"
    [ -n "$port" ] || port="$(free_port)"
    local listen="listen 127.0.0.1:$port;" tls_conf="" scheme=http cert=""
    if [ "$tls" = 1 ]; then
        command -v openssl >/dev/null || die "openssl not found"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            -keyout "$prefix/key.pem" -out "$prefix/cert.pem" >/dev/null 2>&1 \
            || die "openssl could not make a certificate"
        listen="listen 127.0.0.1:$port ssl http2;"
        tls_conf="ssl_certificate $prefix/cert.pem; ssl_certificate_key $prefix/key.pem;"
        scheme=https
        cert="$prefix/cert.pem"
    fi
    local user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root root;"
    cat >"$prefix/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    types { application/octet-stream db dbi bin; }
    default_type application/octet-stream;
    log_format gsq '\$status \$body_bytes_sent \$connection \$server_protocol "\$request" "\$http_range" \$request_time';
    keepalive_requests 10000;
    keepalive_timeout 30s;
    sendfile on;
    ${include:+include $include;}
    server {
        $listen
        $tls_conf
        server_name localhost;
        root $dir;
        access_log $prefix/access.log gsq;
        location / { autoindex off; }
    }
}
EOF
    "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon on;' \
        || { cat "$prefix/error.log" >&2 2>/dev/null; die "nginx failed to start"; }
    local i pid=""
    for i in $(seq 1 100); do
        [ -s "$prefix/nginx.pid" ] && pid="$(cat "$prefix/nginx.pid")" && break
        sleep 0.05
    done
    [ -n "$pid" ] || die "nginx did not write its pid file"
    # Stop by itself after ttl seconds (detached, so callers capturing our output don't wait).
    setsid bash -c "sleep $ttl; kill $pid 2>/dev/null; sleep 1; rm -rf '$prefix'" </dev/null >/dev/null 2>&1 &
    echo "$!" >"$prefix/watchdog.pid"
    # Wait until it answers.
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "URL=$scheme://127.0.0.1:$port"
    echo "PORT=$port"
    echo "PREFIX=$prefix"
    echo "PID=$pid"
    echo "ACCESS_LOG=$prefix/access.log"
    echo "CERT=$cert"
}

cmd_stop() {
    local prefix="${1:?usage: nginx.sh stop PREFIX}"
    case "$prefix" in */gsq-nginx.*) ;; *) die "not a prefix made by nginx.sh: $prefix" ;; esac
    [ -d "$prefix" ] || return 0
    if [ -s "$prefix/nginx.pid" ]; then
        local pid
        pid="$(cat "$prefix/nginx.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    if [ -s "$prefix/watchdog.pid" ]; then
        kill -- "-$(cat "$prefix/watchdog.pid")" 2>/dev/null || kill "$(cat "$prefix/watchdog.pid")" 2>/dev/null || true
    fi
    rm -rf "$prefix"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) die "usage: nginx.sh start DIR [--port N] [--tls] [--ttl SECONDS] [--include FILE] | nginx.sh stop PREFIX" ;;
esac
