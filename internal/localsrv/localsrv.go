// Package localsrv holds what local servers need: a free loopback address,
// whether a host names this machine (plain HTTP is allowed only there), and
// a buffer a server's output (and a test's) can be written to from several
// goroutines.
package localsrv

import (
	"bytes"
	"net"
	"strings"
	"sync"
)

// IsLoopback reports whether host (a URL's Hostname) names this machine:
// localhost, or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FreeAddr returns a loopback address, 127.0.0.1:PORT, whose port was free
// a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// Buffer is an io.Writer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
