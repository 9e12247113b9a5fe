package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Limits bound one outbound request; zero values take the defaults.
type Limits struct {
	// Timeout bounds a whole request, redirects and reading the body included (default 2 minutes; a
	// task's own shorter timeout still applies through its context).
	Timeout time.Duration
	// MaxResponseBytes bounds a response body (default 4 MiB); reading past it fails.
	MaxResponseBytes int64
	// MaxRedirects bounds how many redirects are followed (default 5), each checked like the first URL.
	MaxRedirects int
}

// ErrTooLarge is returned when reading a response body past Limits.MaxResponseBytes.
var ErrTooLarge = errors.New("outbound: response body exceeds the size limit")

// NewClient returns the HTTP client every outbound call uses: it connects only where p allows (checked
// on the address dialled, at connect time), ignores proxy environment variables (a proxy would hide the
// destination from the check), re-checks every redirect and bounds time and response size.
func NewClient(p *Policy, l Limits) *http.Client {
	if l.Timeout <= 0 {
		l.Timeout = 2 * time.Minute
	}
	if l.MaxResponseBytes <= 0 {
		l.MaxResponseBytes = 4 << 20
	}
	if l.MaxRedirects <= 0 {
		l.MaxRedirects = 5
	}
	base := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, portText, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("outbound: address %q: %w", addr, err)
			}
			port, err := strconv.ParseUint(portText, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("outbound: port of %q: %w", addr, err)
			}
			byName := false
			if _, err := netip.ParseAddr(host); err != nil {
				byName = p.nameAllowed(host, uint16(port))
			}
			d := *base
			// Control runs for every address the name resolved to, right before connecting to it: the
			// address checked is the address used, so a rebinding DNS answer gains nothing.
			d.Control = func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("outbound: dialled address %q: %w", address, err)
				}
				if err := p.CheckAddr(ap.Addr(), ap.Port(), byName); err != nil {
					var re *RefusedError
					if errors.As(err, &re) {
						re.Destination = host + " (" + re.Destination + ")"
					}
					return err
				}
				return nil
			}
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  60 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Timeout:   l.Timeout,
		Transport: limitedBodies{next: transport, max: l.MaxResponseBytes},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > l.MaxRedirects {
				return fmt.Errorf("outbound: stopped after %d redirects", l.MaxRedirects)
			}
			return p.CheckURL(req.URL.String())
		},
	}
}

// limitedBodies refuses requests that are not http(s) and bounds every response body.
type limitedBodies struct {
	next http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (l limitedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("outbound: scheme %q: only http and https are allowed", req.URL.Scheme)
	}
	resp, err := l.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > l.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, resp.ContentLength, l.max)
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: l.max}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
