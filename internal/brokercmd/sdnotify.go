package brokercmd

import (
	"net"
	"os"
	"strings"
)

// sdNotify sends state to the service manager over $NOTIFY_SOCKET, the
// sd_notify(3) protocol written by hand (one datagram on a unixgram
// socket; a name starting with '@' is in the abstract namespace). With
// systemd's Type=notify, "READY=1" says the listeners are open,
// "RELOADING=1" then "READY=1" frame a reload (SIGHUP, systemctl reload),
// "STOPPING=1" starts a shutdown. Without $NOTIFY_SOCKET (not run by
// systemd) it does nothing; a failure to send is returned for logging but
// never stops the broker.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
