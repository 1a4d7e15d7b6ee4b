package smtpd

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail/internal/mailtest"
)

// greet connects to addr from the local IP from ("" for any; network "unix"
// takes none) and returns the greeting's code and text, and the connection.
func greet(t *testing.T, network, addr, from string) (int, string, net.Conn) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	code, msg, err := textproto.NewReader(bufio.NewReader(nc)).ReadResponse(0)
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return code, msg, nc
}

// TestSMTPConnectionCaps: beyond the caps per client and in total, a new
// connection gets 421 4.7.0 with the reason and is closed; a closed one makes
// room again.
func TestSMTPConnectionCaps(t *testing.T) {
	logs := &logBuffer{}
	_, addr := startServerLog(t, Config{MaxConnections: 3, MaxConnectionsPerClient: 2}, &testDeliverer{}, logs)
	steps := []struct {
		from string
		code int
		text string // in the reply
	}{
		{"127.0.0.1", 220, ""},
		{"127.0.0.1", 220, ""},
		{"127.0.0.1", 421, "4.7.0 gw.example " + refusedPerClient},
		{"127.0.0.2", 220, ""},
		{"127.0.0.3", 421, "4.7.0 gw.example " + refusedTotal},
	}
	var first net.Conn
	for i, st := range steps {
		code, msg, nc := greet(t, "tcp", addr, st.from)
		if code != st.code || !strings.Contains(msg, st.text) {
			t.Fatalf("connection %d from %s: %d %q, want %d %q", i, st.from, code, msg, st.code, st.text)
		}
		if code == 421 {
			if _, err := nc.Read(make([]byte, 1)); err == nil {
				t.Errorf("connection %d still open after 421", i)
			}
		}
		if i == 0 {
			first = nc
		}
	}
	if lines := logged(t, logs, "connection refused"); len(lines) != 2 || lines[0]["reason"] != refusedPerClient ||
		lines[1]["reason"] != refusedTotal || lines[0]["remote"] == nil {
		t.Errorf("log lines: %v", lines)
	}

	first.Close()
	mailtest.WaitFor(t, "room for a new connection", func() bool {
		code, _, nc := greet(t, "tcp", addr, "127.0.0.3")
		nc.Close()
		return code == 220
	})
}

// TestLMTPConnectionCaps: the MTA in front is one client whatever it opens:
// only the total applies.
func TestLMTPConnectionCaps(t *testing.T) {
	addr := startLMTP(t, "unix", Config{MaxConnections: 3, MaxConnectionsPerClient: 1}, &testDeliverer{}, nil)
	for i, want := range []int{220, 220, 220, 421} {
		if code, msg, _ := greet(t, "unix", addr, ""); code != want {
			t.Fatalf("connection %d: %d %q, want %d", i, code, msg, want)
		}
	}
	tcp := startLMTP(t, "tcp", Config{MaxConnections: 3, MaxConnectionsPerClient: 1}, &testDeliverer{}, nil)
	for i, want := range []int{220, 220, 220, 421} {
		if code, msg, _ := greet(t, "tcp", tcp, "127.0.0.1"); code != want {
			t.Fatalf("tcp connection %d: %d %q, want %d", i, code, msg, want)
		}
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 25}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 25}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 25}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 25}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 25}, "2001:db8:1:3::/64"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, ""},
		{&net.TCPAddr{}, ""},
	}
	for _, tc := range tests {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
