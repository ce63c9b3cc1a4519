package broker

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2), as
// mosquitto 2.1's enable_proxy_protocol: on a listener with
// ListenerConfig.ProxyProtocol set, every connection starts with a header
// of that version, sent by a proxy, that gives the address of the client
// it relays. The header comes before anything else (a TLS handshake, an
// HTTP request); a connection without a valid one is closed. The client
// address replaces the socket's in logs and in ClientInfo.RemoteAddr().
//
// The header is read exactly, never a byte beyond it, so that the socket
// itself is handed on (raw TCP connections keep the inline write path)
// and nothing has to be buffered in between: version 2 says its length,
// version 1 is read in small steps that cannot overrun its CRLF. Reading
// is bounded by the connect timeout.
//
// Raw MQTT listeners read the header in a job of the connection (before
// its TLS handshake, readLoop), so that a connection waiting for its
// header counts against the connection limits and is closed by Shutdown
// like any other; WebSocket listeners read it on the first Read of the
// connection that http.Server serves (proxyConn), before the request.

const (
	proxyV1MaxLine = 107 // the longest v1 line, CRLF included (proxy-protocol.txt 2.1)
	proxyV1MinLine = 15  // "PROXY UNKNOWN\r\n"
	// proxyV2MaxLen bounds the address block and TLVs of a v2 header
	// (mosquitto's PROXY_PACKET_LIMIT).
	proxyV2MaxLen = 500
)

// proxyV2Sig is the signature that starts every v2 header.
var proxyV2Sig = [12]byte{'\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n'}

// v2 protocol constants.
const (
	proxyCmdLocal = 0x0
	proxyCmdProxy = 0x1

	proxyFamUnspec = 0x00
	proxyFamTCP4   = 0x11
	proxyFamTCP6   = 0x21
	proxyFamUnix   = 0x31 // AF_UNIX, SOCK_STREAM

	pp2TypeSSL          = 0x20
	pp2SubtypeSSLVer    = 0x21
	pp2SubtypeSSLCN     = 0x22
	pp2SubtypeSSLCipher = 0x23

	pp2ClientSSL      = 0x01
	pp2ClientCertSess = 0x04
)

// errProxyHeader marks a malformed PROXY header.
var errProxyHeader = errors.New("corrupt PROXY header")

func proxyErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProxyHeader, fmt.Sprintf(format, args...))
}

// proxyHeader is what a PROXY header says.
type proxyHeader struct {
	// local: the socket's own addresses stand (v2 LOCAL command, v1
	// UNKNOWN): a connection the proxy made itself, e.g. a health check.
	local bool
	// src is the client's address, "ip:port" or a unix socket path; ""
	// keeps the socket's.
	src string
	// From a v2 PP2_TYPE_SSL TLV (TLS terminated by the proxy): tls is set
	// when the client used TLS, cert when it also presented a certificate
	// that the proxy verified, cn is that certificate's Common Name.
	tls, cert           bool
	cn, tlsVer, tlsCiph string
}

// readProxyHeader reads a PROXY header of the given version (1 or 2)
// from r, and not a byte more. n is the number of bytes read.
func readProxyHeader(r io.Reader, version int) (h proxyHeader, n int, err error) {
	if version == 1 {
		return readProxyV1(r)
	}
	return readProxyV2(r)
}

// readProxyV1 reads "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or
// "PROXY UNKNOWN...\r\n".
func readProxyV1(r io.Reader) (h proxyHeader, n int, err error) {
	var buf [proxyV1MaxLine]byte
	// "PROXY " first: anything else (a client bypassing the proxy) fails
	// at once rather than after the connect timeout.
	if n, err = io.ReadFull(r, buf[:6]); err != nil {
		return h, n, err
	}
	if string(buf[:6]) != "PROXY " {
		return h, n, proxyErrorf("v1: no \"PROXY \" signature")
	}
	// Then at least the shortest line, then as many bytes as the line
	// still needs at least: 2 (CRLF) unless the last byte read is CR.
	want := proxyV1MinLine
	for {
		k, err := io.ReadFull(r, buf[n:want])
		start := n
		n += k
		if err != nil {
			return h, n, err
		}
		for i := start; i < n; i++ {
			switch buf[i] {
			case '\r':
				if i < n-2 || (i == n-2 && buf[n-1] != '\n') {
					return h, n, proxyErrorf("v1: CR inside the line")
				}
			case '\n':
				if i != n-1 || buf[i-1] != '\r' {
					return h, n, proxyErrorf("v1: LF inside the line")
				}
				h, err := parseProxyV1(string(buf[:n-2]))
				return h, n, err
			}
		}
		if n == len(buf) {
			return h, n, proxyErrorf("v1: line longer than %d bytes", proxyV1MaxLine)
		}
		want = min(n+2, len(buf))
		if buf[n-1] == '\r' {
			want = n + 1
		}
	}
}

// parseProxyV1 parses a v1 line without its CRLF. As mosquitto: ports
// 1-65535, both addresses of the announced family.
func parseProxyV1(line string) (proxyHeader, error) {
	f := strings.Split(line, " ")
	if f[1] == "UNKNOWN" {
		return proxyHeader{local: true}, nil // the rest of the line is ignored
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return proxyHeader{}, proxyErrorf("v1: want \"PROXY TCP4|TCP6 SRC DST SPORT DPORT\" or \"PROXY UNKNOWN\"")
	}
	var src netip.Addr
	for i, s := range f[2:4] {
		a, err := netip.ParseAddr(s)
		if err != nil || (f[1] == "TCP4") != a.Is4() || a.Zone() != "" {
			return proxyHeader{}, proxyErrorf("v1: bad %s address %q", f[1], s)
		}
		if i == 0 {
			src = a
		}
	}
	var sport uint16
	for i, s := range f[4:6] {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || p == 0 {
			return proxyHeader{}, proxyErrorf("v1: bad port %q", s)
		}
		if i == 0 {
			sport = uint16(p)
		}
	}
	return proxyHeader{src: netip.AddrPortFrom(src, sport).String()}, nil
}

// readProxyV2 reads a binary v2 header: the signature, version and
// command, family, length, then the address block and TLVs.
func readProxyV2(r io.Reader) (h proxyHeader, n int, err error) {
	var hdr [16]byte
	// The signature alone first (shorter than any MQTT CONNECT), so that a
	// client bypassing the proxy fails at once.
	if n, err = io.ReadFull(r, hdr[:12]); err != nil {
		return h, n, err
	}
	if [12]byte(hdr[:12]) != proxyV2Sig {
		return h, n, proxyErrorf("v2: bad signature")
	}
	k, err := io.ReadFull(r, hdr[12:])
	n += k
	if err != nil {
		return h, n, err
	}
	ver, cmd, fam := hdr[12]>>4, hdr[12]&0x0f, hdr[13]
	size := int(binary.BigEndian.Uint16(hdr[14:]))
	if ver != 2 {
		return h, n, proxyErrorf("v2: version %d", ver)
	}
	if cmd != proxyCmdLocal && cmd != proxyCmdProxy {
		return h, n, proxyErrorf("v2: unknown command %#x", cmd)
	}
	if size > proxyV2MaxLen {
		return h, n, proxyErrorf("v2: %d bytes after the header, more than %d", size, proxyV2MaxLen)
	}
	var addrLen int
	switch fam {
	case proxyFamTCP4:
		addrLen = 12
	case proxyFamTCP6:
		addrLen = 36
	case proxyFamUnix:
		addrLen = 216
	case proxyFamUnspec:
		// Only a LOCAL connection may leave the family unspecified (as
		// mosquitto; the specification lets a receiver refuse it).
		if cmd != proxyCmdLocal {
			return h, n, proxyErrorf("v2: PROXY command with an unspecified family")
		}
	default:
		return h, n, proxyErrorf("v2: unsupported family %#x", fam)
	}
	body := make([]byte, size)
	k, err = io.ReadFull(r, body)
	n += k
	if err != nil {
		return h, n, err
	}
	if cmd == proxyCmdLocal {
		// The proxy's own connection: the socket's addresses stand and the
		// rest of the block is skipped (proxy-protocol.txt 2.2).
		return proxyHeader{local: true}, n, nil
	}
	if size < addrLen {
		return h, n, proxyErrorf("v2: %d bytes for a %d-byte address block", size, addrLen)
	}
	switch fam {
	case proxyFamTCP4:
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		h.src = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:10])).String()
	case proxyFamTCP6:
		ip := netip.AddrFrom16([16]byte(body[0:16]))
		h.src = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:34])).String()
	case proxyFamUnix:
		path := body[:108]
		if i := bytes.IndexByte(path, 0); i >= 0 {
			path = path[:i]
		}
		if !utf8.Valid(path) {
			return h, n, proxyErrorf("v2: unix source path is not UTF-8")
		}
		h.src = string(path) // "" keeps the socket's address
	}
	err = h.parseTLVs(body[addrLen:])
	return h, n, err
}

// parseTLVs reads the TLVs after the address block. Only PP2_TYPE_SSL is
// used; the others are skipped, but the list must be well formed (as
// mosquitto).
func (h *proxyHeader) parseTLVs(b []byte) error {
	return eachTLV(b, func(typ byte, v []byte) error {
		if typ != pp2TypeSSL {
			return nil
		}
		// PP2_TYPE_SSL: client flags (1 byte), verify (4 bytes), then
		// sub-TLVs.
		if len(v) < 5 {
			return proxyErrorf("v2: SSL TLV of %d bytes", len(v))
		}
		client, verify := v[0], binary.BigEndian.Uint32(v[1:5])
		h.tls = client&pp2ClientSSL != 0
		// As mosquitto: a certificate presented in the TLS session and
		// verified by the proxy (verify 0).
		h.cert = h.tls && client&pp2ClientCertSess != 0 && verify == 0
		return eachTLV(v[5:], func(typ byte, v []byte) error {
			switch typ {
			case pp2SubtypeSSLCN:
				if !utf8.Valid(v) || bytes.IndexByte(v, 0) >= 0 {
					return proxyErrorf("v2: certificate Common Name is not UTF-8")
				}
				h.cn = string(v)
			case pp2SubtypeSSLVer:
				h.tlsVer = strings.ToValidUTF8(string(v), "?")
			case pp2SubtypeSSLCipher:
				h.tlsCiph = strings.ToValidUTF8(string(v), "?")
			}
			return nil
		})
	})
}

// eachTLV calls f for each type-length-value of b.
func eachTLV(b []byte, f func(typ byte, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return proxyErrorf("v2: truncated TLV")
		}
		typ, size := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		b = b[3:]
		if size > len(b) {
			return proxyErrorf("v2: TLV %#x of %d bytes, %d left", typ, size, len(b))
		}
		if err := f(typ, b[:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// proxyAccept reads the PROXY header of a connection from nc (the socket,
// under any TLS) for l, whose remote address is remote, and applies the
// listener's TLS requirements. It returns the client's address (remote
// when the header keeps the socket's) and the Common Name of its verified
// certificate, if the proxy terminated TLS and said so. Failures are
// logged, as mosquitto does, and returned as a closeError, except a
// timeout (a connect timeout for the caller) and an end of input before
// the first byte (a probe that connected and left).
func (l *listener) proxyAccept(nc net.Conn, remote string) (addr, cn string, err error) {
	b := l.b
	h, n, err := readProxyHeader(nc, l.cfg.ProxyProtocol)
	b.stats.bytesReceived.Add(int64(n))
	if err != nil {
		var ne net.Error
		if (errors.As(err, &ne) && ne.Timeout()) || (n == 0 && errors.Is(err, io.EOF)) {
			return "", "", err
		}
		b.cfg.Logger.Info(fmt.Sprintf("Connection from %s rejected, corrupt PROXY header.", remote), "err", err)
		return "", "", &closeError{reason: CloseProxyHeader, err: err}
	}
	addr = remote
	if !h.local && h.src != "" {
		addr = h.src
	}
	reject := func(why string) error {
		b.cfg.Logger.Info(fmt.Sprintf("Connection from %s rejected, %s.", addr, why))
		return &closeError{reason: CloseProxyHeader, err: errors.New(why)}
	}
	// A LOCAL connection carries no TLS information, so these refuse it.
	if l.cfg.ProxyRequireTLS && !h.tls {
		return "", "", reject("client did not connect using TLS")
	}
	if l.cfg.ProxyRequireCertificate && !h.cert {
		return "", "", reject("client did not provide a certificate")
	}
	if h.tlsVer != "" && h.tlsCiph != "" {
		b.logc("Connection from %s negotiated %s cipher %s", addr, h.tlsVer, h.tlsCiph)
	}
	if h.cert {
		cn = h.cn
	}
	return addr, cn, nil
}

// readProxy is a connection's proxy job (raw MQTT listeners): it reads
// the PROXY header from the socket, under any TLS whose handshake has not
// started yet, then takes the client's address and logs the new
// connection. The connect timeout's read deadline is set.
func (c *conn) readProxy() error {
	nc := c.netConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	addr, cn, err := c.lis.proxyAccept(nc, c.remote())
	if err != nil {
		return err
	}
	// Before CONNECT, info carries the address and the proxy's
	// certificate identity to handleConnect (certCommonName).
	c.info.SetRemoteAddr(addr)
	c.info.CertCommonName = cn
	if c.b.cfg.ConnectionMessages {
		c.logNewConnection()
	}
	return nil
}

// proxyListener hands http.Server (WebSocket listeners) connections that
// read their PROXY header first (proxyConn).
type proxyListener struct {
	net.Listener
	l *listener
}

func (pl proxyListener) Accept() (net.Conn, error) {
	nc, err := pl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxyConn{Conn: nc, l: pl.l}, nil
}

// proxyConn is a connection of a WebSocket listener with the PROXY
// protocol: its first Read, by http.Server (for the TLS handshake or the
// HTTP request), reads the header, and RemoteAddr then returns the
// client's address. A bad header closes it.
type proxyConn struct {
	net.Conn
	l      *listener
	once   sync.Once
	err    error
	done   atomic.Bool // the header was read (remote and cn are set)
	remote proxyAddr
	cn     string // Common Name of the client certificate verified by the proxy
}

// proxyAddr is a client address taken from a PROXY header.
type proxyAddr string

func (a proxyAddr) Network() string { return "tcp" }
func (a proxyAddr) String() string  { return string(a) }

func (pc *proxyConn) Read(p []byte) (int, error) {
	pc.once.Do(pc.readHeader)
	if pc.err != nil {
		return 0, pc.err
	}
	return pc.Conn.Read(p)
}

func (pc *proxyConn) readHeader() {
	_ = pc.Conn.SetReadDeadline(time.Now().Add(pc.l.b.cfg.ConnectTimeout))
	addr, cn, err := pc.l.proxyAccept(pc.Conn, pc.Conn.RemoteAddr().String())
	if err != nil {
		pc.err = err
		pc.Conn.Close()
		return
	}
	pc.remote, pc.cn = proxyAddr(addr), cn
	pc.done.Store(true)
}

func (pc *proxyConn) RemoteAddr() net.Addr {
	if pc.done.Load() {
		return pc.remote
	}
	return pc.Conn.RemoteAddr()
}
