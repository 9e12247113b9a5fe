package outbound

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

func TestCheckURL(t *testing.T) {
	allowing, err := ParsePolicy([]string{"10.20.0.0/16", "192.168.1.5:8443", "erp.internal", "*.corp.example:443", "localhost:9000"})
	if err != nil {
		t.Fatal(err)
	}
	own := &Policy{}
	own.RefuseOwnPorts(7233)
	allowLoopback, _ := ParsePolicy([]string{"127.0.0.0/8"})
	allowLoopback.RefuseOwnPorts(7233)
	tests := []struct {
		name   string
		policy *Policy
		url    string
		refuse bool
	}{
		{"public address", &Policy{}, "https://93.184.215.14/x", false},
		{"public name (decided at connect time)", &Policy{}, "https://api.example.com/x", false},
		{"loopback", &Policy{}, "http://127.0.0.1:8080/readyz", true},
		{"loopback elsewhere in 127/8", &Policy{}, "http://127.1.2.3/", true},
		{"IPv6 loopback", &Policy{}, "http://[::1]:7233/", true},
		{"IPv4-mapped loopback", &Policy{}, "http://[::ffff:127.0.0.1]/", true},
		{"cloud metadata", &Policy{}, "http://169.254.169.254/latest/meta-data/", true},
		{"RFC 1918", &Policy{}, "http://10.0.0.5/", true},
		{"RFC 1918 172.16/12", &Policy{}, "http://172.31.255.1/", true},
		{"RFC 1918 192.168/16", &Policy{}, "http://192.168.0.1/", true},
		{"unique local IPv6", &Policy{}, "http://[fd12:3456::1]/", true},
		{"unspecified", &Policy{}, "http://0.0.0.0:8080/", true},
		{"localhost name", &Policy{}, "http://localhost:8080/", true},
		{"sub-localhost name", &Policy{}, "http://api.localhost/", true},
		{"scheme", &Policy{}, "file:///etc/passwd", true},
		{"gopher", &Policy{}, "gopher://example.com/", true},
		{"no host", &Policy{}, "http:///x", true},
		{"allowed network", allowing, "http://10.20.3.4/", false},
		{"outside the allowed network", allowing, "http://10.21.3.4/", true},
		{"allowed address and port", allowing, "https://192.168.1.5:8443/", false},
		{"allowed address, other port", allowing, "https://192.168.1.5/", true},
		{"allowed localhost port", allowing, "http://localhost:9000/", false},
		{"own port on loopback even when loopback is allowed", allowLoopback, "http://127.0.0.1:7233/", true},
		{"other loopback port when loopback is allowed", allowLoopback, "http://127.0.0.1:7234/", false},
		{"own port on a public address is someone else's", own, "http://93.184.215.14:7233/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.CheckURL(tt.url)
			if (err != nil) != tt.refuse {
				t.Fatalf("CheckURL(%q) = %v, want refused=%v", tt.url, err, tt.refuse)
			}
		})
	}
}

func TestParsePolicyRefusesGarbage(t *testing.T) {
	for _, entry := range []string{"10.0.0.0/33", "erp.internal:99999", "http://erp.internal/", "*"} {
		if _, err := ParsePolicy([]string{entry}); err == nil {
			t.Errorf("ParsePolicy(%q) accepted it", entry)
		}
	}
}

// TestClientChecksAtConnectTime runs real requests against loopback servers: the address actually
// dialled is what is checked, so a name is no way around the policy, and every redirect is checked.
func TestClientChecksAtConnectTime(t *testing.T) {
	hits := map[string]int{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits["target"]++
		_, _ = io.WriteString(w, "internal secret")
	}))
	defer target.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 2048))
	}))
	defer big.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits["redirector"]++
		http.Redirect(w, r, target.URL+"/", http.StatusFound)
	}))
	defer redirector.Close()
	_, targetPort, _ := net.SplitHostPort(target.Listener.Addr().String())

	onlyRedirector, _ := ParsePolicy([]string{redirector.Listener.Addr().String(), big.Listener.Addr().String()})
	byName, _ := ParsePolicy([]string{"localhost:" + targetPort})
	tests := []struct {
		name    string
		policy  *Policy
		url     string
		refused bool
		tooBig  bool
		hit     string
	}{
		{"default policy refuses loopback by address", &Policy{}, target.URL, true, false, ""},
		{"default policy refuses a name resolving to loopback", &Policy{}, "http://localhost:" + targetPort + "/", true, false, ""},
		{"a redirect to a refused address is refused", onlyRedirector, redirector.URL, true, false, "redirector"},
		{"a name the operator allows may be private", byName, "http://localhost:" + targetPort + "/", false, false, "target"},
		{"bodies are bounded", onlyRedirector, big.URL, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits["target"]
			c := NewClient(tt.policy, Limits{MaxResponseBytes: 1024})
			resp, err := c.Get(tt.url)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch {
			case tt.refused:
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				if hits["target"] != before {
					t.Fatal("the refused server was reached")
				}
			case tt.tooBig:
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v (read %d bytes), want ErrTooLarge", err, len(body))
				}
			default:
				if err != nil || string(body) != "internal secret" {
					t.Fatalf("err = %v, body %q", err, body)
				}
			}
			if tt.hit != "" && hits[tt.hit] == 0 {
				t.Fatalf("%s was not reached", tt.hit)
			}
		})
	}
}

func TestCheckTask(t *testing.T) {
	p := &Policy{}
	tests := []struct {
		name    string
		typ     string
		headers []bpmn.Header
		inputs  []bpmn.Mapping
		refuse  bool
	}{
		{"literal loopback header", "http", []bpmn.Header{{Key: "url", Value: "http://127.0.0.1:8080/readyz"}}, nil, true},
		{"literal public header", "http", []bpmn.Header{{Key: "url", Value: "https://mail.example.com/send"}}, nil, false},
		{"literal metadata input", "http", nil, []bpmn.Mapping{{Source: `"http://169.254.169.254/"`, Target: "url"}}, true},
		{"single-quoted literal input", "http", nil, []bpmn.Mapping{{Source: `'http://10.0.0.1/'`, Target: "url"}}, true},
		{"computed input is checked when connecting", "http", nil, []bpmn.Mapping{{Source: `baseUrl + "/x"`, Target: "url"}}, false},
		{"other task types are not http's business", "connector", []bpmn.Header{{Key: "url", Value: "http://127.0.0.1/"}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckTask(tt.typ, tt.headers, tt.inputs)
			if (err != nil) != tt.refuse {
				t.Fatalf("CheckTask = %v, want refused=%v", err, tt.refuse)
			}
		})
	}
}

func TestCheckAddrNamesTheReason(t *testing.T) {
	err := (&Policy{}).CheckAddr(netip.MustParseAddr("169.254.169.254"), 80, false)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "metadata") || !strings.Contains(err.Error(), "--http-allow") {
		t.Fatalf("err = %v", err)
	}
	if err := (&Policy{}).CheckAddr(netip.MustParseAddr("8.8.8.8"), 443, false); err != nil {
		t.Fatalf("public address refused: %v", err)
	}
}
