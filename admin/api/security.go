package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

// CSRF double submit: login sets CSRFCookie (readable by the page's script, unlike the session cookie);
// every state-changing request authenticated by the session cookie must echo it in CSRFHeader. The
// value is also bound to the session (its digest is stored with it), so a cookie planted by a sibling
// subdomain does not pass.
const (
	CSRFCookie = "rapport_csrf"
	CSRFHeader = "X-CSRF-Token"
)

// MaxPageSize is the largest page any list operation returns.
const MaxPageSize = 200

// registerAccess adds the users, teams, roles, API tokens and audit operations.
func (s *Server) registerAccess() {
	s.registerUsers()
	s.registerTeams()
	s.registerRoles()
	s.registerTokens()
	s.registerAudit()
}

// securityDefaults fills the access model, the audit log and the policy when the caller left them out,
// so a Server built with only a database is still a guarded one.
func securityDefaults(deps Deps) Deps {
	if deps.Access == nil {
		p, err := access.NewPolicy(context.Background(), deps.DB, access.Options{})
		if err != nil {
			deps.Logger.Error("load roles; only built-in roles apply", "error", err)
			p, _ = access.NewPolicy(context.Background(), nil, access.Options{})
		}
		deps.Access = p
	}
	if deps.Policy == nil {
		deps.Policy = deps.Access
	}
	if deps.Audit == nil {
		if deps.DB != nil {
			deps.Audit = audit.New(deps.DB, nil)
		} else {
			deps.Audit = audit.Discard{}
		}
	}
	return deps
}

// secureHeaders adds the headers every response carries, and CORS when origins are configured. API
// responses (JSON) are never cached and never rendered as a page.
func (s *Server) secureHeaders() fiber.Handler {
	var corsHandler fiber.Handler
	if len(s.deps.CORSOrigins) > 0 {
		corsHandler = cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.deps.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PUT,PATCH,DELETE",
			AllowHeaders:  "Authorization,Content-Type,Idempotency-Key,If-Match," + CSRFHeader,
			ExposeHeaders: "Retry-After,ETag,Location",
			MaxAge:        600,
		})
	}
	return func(c *fiber.Ctx) error {
		h := &c.Response().Header
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.deps.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		path := c.Path()
		if strings.HasPrefix(path, "/api/v1/") || path == "/api/openapi.json" || path == "/healthz" || path == "/readyz" {
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		if corsHandler != nil {
			return corsHandler(c)
		}
		return c.Next()
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// csrfOK checks the double submit: the header equals the cookie and matches the session's token.
func (s *Server) csrfOK(ctx huma.Context, cred *identity.Credential) bool {
	header := ctx.Header(CSRFHeader)
	fc := humafiber.Unwrap(ctx)
	if header == "" || fc == nil || cred == nil {
		return false
	}
	cookie := fc.Cookies(CSRFCookie)
	if subtle.ConstantTimeCompare([]byte(header), []byte(cookie)) != 1 {
		return false
	}
	return identity.VerifyCSRF(cred.Session, header)
}

// csrfCookie carries the CSRF token to the page's script; it is deliberately not HttpOnly.
func (s *Server) csrfCookie(token string, expires time.Time) http.Cookie {
	return http.Cookie{
		Name: CSRFCookie, Value: token, Path: "/", Expires: expires.UTC(),
		Secure: s.deps.SecureCookies, SameSite: http.SameSiteStrictMode,
	}
}

// rateKey is the bucket a request spends from: the API token's own, or else the user's.
func rateKey(p *Principal) string {
	if p.Credential != nil && p.Credential.Kind == identity.KindToken {
		return "token:" + p.Credential.ID
	}
	return "user:" + p.User.ID
}

func rateLimited(wait time.Duration) *Problem {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return Typed(http.StatusTooManyRequests, "rate-limited",
		"too many requests; try again in "+strconv.Itoa(secs)+" seconds").WithHeader("Retry-After", strconv.Itoa(secs))
}

// ClientIP is the address a request came from, as login limits, rate limits and the audit log see it.
// The peer is the client unless it is one of the trusted proxies; then X-Forwarded-For is read from the
// right, skipping trusted proxies, and the first address that is not one is the client: everything left
// of it was written by the client and may be forged. With no trusted proxies the header is ignored.
func ClientIP(peer, forwardedFor string, trusted []netip.Prefix) string {
	isTrusted := func(ip string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || forwardedFor == "" || !isTrusted(peer) {
		return peer
	}
	hops := strings.Split(forwardedFor, ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			// A malformed entry: whatever lies beyond it cannot be trusted.
			return client
		}
		client = a.Unmap().String()
		if !isTrusted(client) {
			return client
		}
	}
	return client
}

// ParseTrustedProxies reads the --trusted-proxies list: CIDRs or single addresses.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, raw := range list {
		for _, item := range strings.Split(raw, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if p, err := netip.ParsePrefix(item); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR", item)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}
