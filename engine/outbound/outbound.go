// Package outbound is Rapport's one way out to other HTTP servers on behalf of what analysts configure
// (the http service task). Everything it sends passes one Policy: by default nothing private is reached —
// loopback, link-local (169.254.169.254, the cloud metadata service), RFC 1918, unique-local IPv6 and the
// other special-purpose ranges — and never this server's own ports; the operator widens it with an allow
// list of hosts and networks (`--http-allow`). The check is made on the address actually connected to,
// at connect time, so a name that resolves to a private address (DNS rebinding included) is refused
// too, and every redirect is checked again. Responses are bounded in size and time.
package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrRefused is wrapped by every refusal of a destination.
var ErrRefused = errors.New("outbound: destination refused by the HTTP policy")

// RefusedError names a refused destination and why.
type RefusedError struct {
	Destination string
	Reason      string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s is refused: %s (allow it with --http-allow)", e.Destination, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Policy decides which destinations outbound HTTP may reach. The zero value refuses every special-purpose
// address and allows public ones; ParsePolicy adds the operator's allow list. It is safe for concurrent
// use.
type Policy struct {
	nets  []netip.Prefix
	addrs []netip.AddrPort
	hosts []hostRule

	mu       sync.RWMutex
	ownPorts map[uint16]bool
	local    []netip.Addr
}

// hostRule allows a host name (or every name under a domain, "*.corp.example"), on one port or any (0).
type hostRule struct {
	name     string
	wildcard bool
	port     uint16
}

// ParsePolicy reads the operator's allow list: CIDRs ("10.20.0.0/16"), addresses with or without a port
// ("10.20.1.5", "10.20.1.5:8443", "[fd00::5]:443") and host names with or without a port
// ("erp.internal", "*.corp.example:443"). An allowed name may resolve to a private address; an allowed
// address or network may be reached by any name.
func ParsePolicy(allow []string) (*Policy, error) {
	p := &Policy{}
	for _, raw := range allow {
		for _, item := range strings.Split(raw, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if err := p.add(item); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func (p *Policy) add(item string) error {
	if pfx, err := netip.ParsePrefix(item); err == nil {
		p.nets = append(p.nets, pfx.Masked())
		return nil
	}
	if a, err := netip.ParseAddr(item); err == nil {
		a = a.Unmap()
		p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	if ap, err := netip.ParseAddrPort(item); err == nil {
		p.addrs = append(p.addrs, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		return nil
	}
	name, port := item, uint16(0)
	if h, ps, err := net.SplitHostPort(item); err == nil {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("http allow entry %q: bad port", item)
		}
		name, port = h, uint16(n)
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	wildcard := strings.HasPrefix(name, "*.")
	name = strings.TrimPrefix(name, "*.")
	if name == "" || strings.ContainsAny(name, "/*[]@ ") {
		return fmt.Errorf("http allow entry %q is not a CIDR, an address or a host name", item)
	}
	p.hosts = append(p.hosts, hostRule{name: name, wildcard: wildcard, port: port})
	return nil
}

// RefuseOwnPorts marks the ports this process listens on (HTTP API, embedded MongoDB and Temporal): no
// outbound request may reach them on a local address, whatever the allow list says.
func (p *Policy) RefuseOwnPorts(ports ...int) {
	local := localAddrs()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ownPorts == nil {
		p.ownPorts = map[uint16]bool{}
	}
	for _, port := range ports {
		if port > 0 && port < 1<<16 {
			p.ownPorts[uint16(port)] = true
		}
	}
	p.local = local
}

// localAddrs lists this machine's interface addresses.
func localAddrs() []netip.Addr {
	var out []netip.Addr
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// nameAllowed reports whether the allow list names host (a host name) on port.
func (p *Policy) nameAllowed(host string, port uint16) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, r := range p.hosts {
		if r.port != 0 && r.port != port {
			continue
		}
		if host == r.name || (r.wildcard && strings.HasSuffix(host, "."+r.name)) {
			return true
		}
	}
	return false
}

// CheckAddr decides one connection: to ip on port, for a request whose host name is allowed by name
// (byName) or not. It is called with the address actually dialled.
func (p *Policy) CheckAddr(ip netip.Addr, port uint16, byName bool) error {
	ip = ip.Unmap()
	dest := netip.AddrPortFrom(ip, port).String()
	p.mu.RLock()
	own := p.ownPorts[port] && (ip.IsLoopback() || ip.IsUnspecified() || slices.Contains(p.local, ip))
	p.mu.RUnlock()
	if own {
		return &RefusedError{Destination: dest, Reason: "it is a port of this Rapport server"}
	}
	if byName || slices.Contains(p.addrs, netip.AddrPortFrom(ip, port)) ||
		slices.ContainsFunc(p.nets, func(n netip.Prefix) bool { return n.Contains(ip) }) {
		return nil
	}
	if reason := special(ip); reason != "" {
		return &RefusedError{Destination: dest, Reason: reason}
	}
	return nil
}

// CheckURL checks what can be known of a URL without resolving it: http or https, a host, and — when
// the host is an address literal or a localhost name — the same decision as at connect time. Names are
// decided when connecting. It is what publishing a process checks for literal URLs.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: only http and https are allowed", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("url %q has no host", raw)
	}
	port := uint16(80)
	if u.Scheme == "https" {
		port = 443
	}
	if ps := u.Port(); ps != "" {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil {
			return fmt.Errorf("url %q: bad port", raw)
		}
		port = uint16(n)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(ip, port, false)
	}
	lower := strings.TrimSuffix(strings.ToLower(host), ".")
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		if p.nameAllowed(lower, port) {
			return nil
		}
		return p.CheckAddr(netip.IPv6Loopback(), port, false)
	}
	return nil
}

// specialRanges are the address blocks nothing may reach unless allowed: not globally routable, or
// reaching this machine, its network or the cloud provider's metadata service.
var specialRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
	{netip.MustParsePrefix("::/96"), "unspecified, loopback or IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "discard-only address"},
	{netip.MustParsePrefix("2001::/32"), "Teredo address"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("2002::/16"), "6to4 address"},
	{netip.MustParsePrefix("fc00::/7"), "unique local address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

// special names the reason ip is special-purpose, "" for a public address.
func special(ip netip.Addr) string {
	for _, r := range specialRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}
