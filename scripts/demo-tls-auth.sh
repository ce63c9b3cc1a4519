#!/usr/bin/env bash
# demo-tls-auth.sh: a TLS listener with a password file. We make a throwaway
# certificate authority and server certificate with openssl, a password file
# with the password tool, and check that the right password works and a wrong
# one is refused with exit code 5 (CONNACK "not authorised").
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "TLS and passwords: encrypted connections, authenticated clients"
say "Everything is made in a temporary directory and thrown away at the end."

if ((EXTERNAL)); then
	skip "this demo configures its own broker (TLS listener, password file); MQ_HOST is ignored here"
	finish
	exit 0
fi
command -v openssl >/dev/null 2>&1 || fail "openssl is needed to make the certificates (apt-get install openssl)"

step "A throwaway certificate authority (CA)"
expect_rc 0 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ca.key -out ca.crt -days 1 -subj '/CN=mqkit demo CA' \
	-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'

step "A server certificate for 127.0.0.1, signed by the CA"
say "Clients check the name they dial (127.0.0.1) against the certificate's subjectAltName."
printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth' \
	'basicConstraints=CA:FALSE' >server.ext
expect_rc 0 openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout server.key -out server.csr -subj '/CN=localhost'
expect_rc 0 openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-days 1 -out server.crt -extfile server.ext

step "A password file with one user, alice"
say "-c creates the file, -b takes the password from the command line." \
	"The file holds a salted hash (\$7\$: PBKDF2-SHA512), never the password."
expect_rc 0 mqpasswd -c -b passwd alice 's3cret!'
if ! grep -Eq '^alice:\$[67]\$' passwd; then
	_indent passwd
	fail "passwd has no hashed line for alice"
fi
ok "passwd: $(cut -c1-24 passwd)... (hashed)"

step "Start the broker with a TLS listener that requires a password"
tls_conf() { # PORT
	conf_prelude
	cat <<EOF
listener $1 127.0.0.1
certfile $WORK/server.crt
keyfile $WORK/server.key
password_file $WORK/passwd
allow_anonymous false
EOF
}
use_broker_conf tls_conf 1
CONN=(-h 127.0.0.1 -p "${PORTS[0]}" --cafile ca.crt)
TOPIC=$T/secure

step "The right password works"
expect_rc 0 mqpub -u alice -P 's3cret!' -t "$TOPIC" -m 'hello over TLS' -r -q 1
expect_rc 0 mqsub -u alice -P 's3cret!' -t "$TOPIC" -C 1 -W 5 -F 'message: %p'
expect_lines "alice read the message back over TLS" "$LAST_OUT" 'message: ' 'message: hello over TLS'

step "A wrong password is refused: exit code 5"
say "MQTT 3.1.1 CONNACK return code 5 means 'not authorised'; the tools exit with it."
expect_rc 5 mqpub -u alice -P wrong -t "$TOPIC" -m 'should not arrive' -r -q 1
say "No user name at all (anonymous) is refused too."
expect_rc 5 mqpub -t "$TOPIC" -m 'should not arrive' -r -q 1
say "MQTT 5 has finer reason codes: 134 (bad user name or password) or 135 (not authorised)."
expect_rc '134|135' mqpub -V 5 -u alice -P wrong -t "$TOPIC" -m 'should not arrive' -r -q 1

step "Plain TCP to the TLS port fails (no --cafile, so no TLS)"
CONN=(-h 127.0.0.1 -p "${PORTS[0]}")
expect_rc '[1-9][0-9]*' mqpub -u alice -P 's3cret!' -t "$TOPIC" -m 'in clear text' -r -q 1

step "Nothing from the refused clients was stored"
say "Each refused publish above was retained: had one got through, it would be here."
CONN=(-h 127.0.0.1 -p "${PORTS[0]}" --cafile ca.crt)
expect_rc 0 mqsub -u alice -P 's3cret!' -t "$TOPIC" -C 1 -W 5 -F 'message: %p'
expect_lines "the retained message is still alice's" "$LAST_OUT" 'message: ' 'message: hello over TLS'

finish
