package smtpd

import (
	"net"
	"net/netip"
)

// Defaults for the connection caps of Config.
const (
	DefaultMaxConnections          = 200
	DefaultMaxConnectionsPerClient = 20
)

// connLimit caps the connections a Server holds open, in total and per
// client, so that one host cannot take every session (DESIGN §6). Its
// counts are guarded by the Server's mutex.
type connLimit struct {
	total     int // 0 or less: no cap
	perClient int // 0 or less: no cap per client
	open      int
	byClient  map[string]int
}

// Why admit refused a connection: the reason is the 421's text and the log's.
const (
	refusedTotal     = "too many connections, please try again later"
	refusedPerClient = "too many connections from your address, please try again later"
)

// admit counts one more connection from client ("" when it cannot be told
// apart, which only the total applies to), unless a cap is reached: then it
// returns the reason and counts nothing.
func (l *connLimit) admit(client string) (refused string) {
	if l.total > 0 && l.open >= l.total {
		return refusedTotal
	}
	if client != "" && l.perClient > 0 && l.byClient[client] >= l.perClient {
		return refusedPerClient
	}
	l.open++
	if client != "" {
		if l.byClient == nil {
			l.byClient = make(map[string]int)
		}
		l.byClient[client]++
	}
	return ""
}

// release undoes one admit of client.
func (l *connLimit) release(client string) {
	l.open--
	if client == "" {
		return
	}
	if l.byClient[client]--; l.byClient[client] <= 0 {
		delete(l.byClient, client)
	}
}

// clientKey names the client a connection counts against: its IP address,
// or for IPv6 its /64, since one host commonly holds a whole /64 and could
// otherwise open its per-client share from each address in it. "" for
// anything but TCP (a Unix socket's peer is the MTA in front).
func clientKey(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}
