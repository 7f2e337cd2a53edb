#!/usr/bin/env bash
# A local certificate authority and a server certificate signed by it, made with openssl.
#
#   scripts/tls-certs.sh [--out DIR] [--hosts LIST] [--name NAME] [--days N] [--ca-days N] [--renew-days N]
#
#   --out DIR        where the files go                          default .udaconnect/tls (gitignored)
#   --hosts LIST     comma-separated DNS names and IP addresses  default localhost,127.0.0.1,::1
#                    the certificate is valid for (subjectAltName; the first one is also the CN)
#   --name NAME      file name of the server certificate/key     default server
#   --days N         validity of the server certificate          default 365
#   --ca-days N      validity of a new CA                        default 3650
#   --renew-days N   replace a certificate expiring within N days default 30
#
# Writes DIR/ca.crt + DIR/ca.key (the CA) and DIR/NAME.crt + DIR/NAME.key (the server), keys
# mode 600. Keys are EC P-256, signatures ECDSA with SHA-256; the server certificate carries
# subjectAltName, extendedKeyUsage serverAuth and is not a CA. Files that are present, valid
# for more than --renew-days and (for the server) signed by this CA and covering every host are
# reused, so running it again is cheap and clients that already trust ca.crt keep working.
# A new CA always means a new server certificate. Prints the paths on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/.udaconnect/tls"
HOSTS="localhost,127.0.0.1,::1"
NAME=server
DAYS=365
CA_DAYS=3650
RENEW_DAYS=30

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "tls-certs: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --hosts) HOSTS=${2:?--hosts needs a list}; shift 2 ;;
    --name) NAME=${2:?--name needs a name}; shift 2 ;;
    --days) DAYS=${2:?--days needs a number}; shift 2 ;;
    --ca-days) CA_DAYS=${2:?--ca-days needs a number}; shift 2 ;;
    --renew-days) RENEW_DAYS=${2:?--renew-days needs a number}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in "$DAYS" "$CA_DAYS" "$RENEW_DAYS"; do [[ "$n" =~ ^[0-9]+$ ]] || die "not a number of days: $n"; done
[[ "$NAME" =~ ^[A-Za-z0-9._-]+$ && "$NAME" != ca ]] || die "--name must be a plain file name other than 'ca': $NAME"
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"

# subjectAltName from the host list: IPv4 and IPv6 addresses as IP:, everything else as DNS:.
san=""
IFS=',' read -r -a host_list <<<"$HOSTS"
hosts=()
for h in "${host_list[@]}"; do
  h="${h#"${h%%[![:space:]]*}"}"; h="${h%"${h##*[![:space:]]}"}"   # trim
  [ -n "$h" ] || continue
  hosts+=("$h")
  if [[ "$h" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || "$h" == *:* ]]; then entry="IP:$h"
  elif [[ "$h" =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$ ]]; then entry="DNS:$h"
  else die "not a host name or IP address: $h"; fi
  san="${san:+$san,}$entry"
done
[ ${#hosts[@]} -gt 0 ] || die "--hosts is empty"
[ "$DAYS" -gt "$RENEW_DAYS" ] || echo "tls-certs: warning: --days $DAYS is not more than --renew-days $RENEW_DAYS, so every run makes a new certificate" >&2

umask 077
mkdir -p "$OUT"
CA_CRT="$OUT/ca.crt" CA_KEY="$OUT/ca.key" CRT="$OUT/$NAME.crt" KEY="$OUT/$NAME.key"
tmp=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# True when the certificate is still valid RENEW_DAYS from now.
fresh() { openssl x509 -in "$1" -noout -checkend $((RENEW_DAYS * 86400)) >/dev/null 2>&1; }
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# -set_serial: 16 random bytes, positive (high bit cleared), as CAs are required to use.
serial() { printf '0x%x%s' $((0x$(openssl rand -hex 1) & 0x7f)) "$(openssl rand -hex 15)"; }
# The key pair matches the certificate.
key_matches() { [ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]; }

ca_made=false
if [ -s "$CA_CRT" ] && [ -s "$CA_KEY" ] && fresh "$CA_CRT" && key_matches "$CA_CRT" "$CA_KEY"; then
  echo "tls-certs: reusing CA $CA_CRT" >&2
else
  new_key "$tmp/ca.key"
  openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$CA_DAYS" -set_serial "$(serial)" \
    -subj "/O=UdaConnect/CN=UdaConnect local CA $(date -u +%Y-%m-%d)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$tmp/ca.crt" 2>/dev/null || die "could not create the CA"
  chmod 600 "$tmp/ca.key"; chmod 644 "$tmp/ca.crt"
  mv -f "$tmp/ca.key" "$CA_KEY"; mv -f "$tmp/ca.crt" "$CA_CRT"
  ca_made=true
  echo "tls-certs: created CA $CA_CRT (valid $CA_DAYS days)" >&2
fi

covers_hosts() {
  local h
  for h in "${hosts[@]}"; do
    if [[ "$h" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || "$h" == *:* ]]; then
      openssl x509 -in "$CRT" -noout -checkip "$h" 2>/dev/null | grep -q 'does match' || return 1
    else
      openssl x509 -in "$CRT" -noout -checkhost "$h" 2>/dev/null | grep -q 'does match' || return 1
    fi
  done
}

if [ "$ca_made" = false ] && [ -s "$CRT" ] && [ -s "$KEY" ] && fresh "$CRT" && key_matches "$CRT" "$KEY" \
  && openssl verify -CAfile "$CA_CRT" "$CRT" >/dev/null 2>&1 && covers_hosts; then
  echo "tls-certs: reusing $CRT" >&2
else
  new_key "$tmp/server.key"
  openssl req -new -key "$tmp/server.key" -sha256 -subj "/O=UdaConnect/CN=${hosts[0]}" -out "$tmp/server.csr" 2>/dev/null \
    || die "could not create the certificate request"
  cat >"$tmp/ext.cnf" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
  openssl x509 -req -in "$tmp/server.csr" -CA "$CA_CRT" -CAkey "$CA_KEY" -set_serial "$(serial)" \
    -sha256 -days "$DAYS" -extfile "$tmp/ext.cnf" -out "$tmp/server.crt" 2>/dev/null || die "could not sign the server certificate"
  chmod 600 "$tmp/server.key"; chmod 644 "$tmp/server.crt"
  mv -f "$tmp/server.key" "$KEY"; mv -f "$tmp/server.crt" "$CRT"
  echo "tls-certs: created $CRT for ${hosts[*]} (valid $DAYS days)" >&2
fi
# Also tighten keys that were there before.
chmod 600 "$CA_KEY" "$KEY"

echo "$CA_CRT"
echo "$CRT"
echo "$KEY"
