#!/bin/sh
# Makes a throw-away CA and PEM certificates for trying TLS listeners and
# for the tests: a broker certificate (key and chain in one PEM file, as
# ssl.keystore.location takes it), client certificates signed by the CA,
# and a second, untrusted CA with a client certificate of its own.
#
#   scripts/make-test-certs.sh DIR [broker host names...]   (default: localhost 127.0.0.1)
#
# Only the openssl CLI is needed. Keys are unencrypted: for tests only.
set -eu
dir=${1:?usage: make-test-certs.sh DIR [hosts...]}
shift
[ $# -gt 0 ] || set -- localhost 127.0.0.1
mkdir -p "$dir"
cd "$dir"

san=""
for host in "$@"; do
    case $host in
        *[!0-9.]*) san="$san,DNS:$host" ;;
        *) san="$san,IP:$host" ;;
    esac
done
san=${san#,}

make_ca() {  # name subject
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.pem" -days 365 \
        -subj "$2" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

sign() {  # name subject ca extensions
    openssl req -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" -CAcreateserial -out "$1-cert.pem" \
        -days 365 -extfile "$1.ext" 2>/dev/null
    cat "$1-key.pem" "$1-cert.pem" "$3.pem" > "$1.pem"  # key + chain: ssl.keystore.location
    rm -f "$1.csr" "$1.ext"
}

make_ca ca "/CN=Strata Test CA"
sign broker "/CN=broker" ca "subjectAltName=$san
extendedKeyUsage=serverAuth,clientAuth"
sign client "/O=Strata/CN=alice" ca "extendedKeyUsage=clientAuth"
make_ca other-ca "/CN=Another CA"
sign stranger "/CN=stranger" other-ca "extendedKeyUsage=clientAuth"
echo "wrote $(pwd): ca.pem (trust store), broker.pem (broker key + chain), client.pem / client-key.pem /"
echo "client-cert.pem (User:CN=alice,O=Strata), stranger-*.pem (signed by other-ca.pem, not trusted)"
