package api

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8, 127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		peer    string
		xff     string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: the header is ignored", "203.0.113.5", "198.51.100.1", nil, "203.0.113.5"},
		{"untrusted peer: the header is ignored", "203.0.113.5", "198.51.100.1", proxies, "203.0.113.5"},
		{"trusted peer: the client it names", "10.1.1.1", "198.51.100.1", proxies, "198.51.100.1"},
		{"forged left part is skipped", "10.1.1.1", "6.6.6.6, 198.51.100.1", proxies, "198.51.100.1"},
		{"chain of trusted proxies", "127.0.0.1", "198.51.100.1, 10.2.2.2, 10.3.3.3", proxies, "198.51.100.1"},
		{"garbage ends the walk", "10.1.1.1", "198.51.100.1, not-an-ip", proxies, "10.1.1.1"},
		{"IPv4-mapped client", "10.1.1.1", "::ffff:198.51.100.1", proxies, "198.51.100.1"},
		{"only proxies: the leftmost", "10.1.1.1", "10.9.9.9", proxies, "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientIP(tt.peer, tt.xff, tt.trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies([]string{"not-a-network"}); err == nil {
		t.Fatal("a bad entry was accepted")
	}
}
