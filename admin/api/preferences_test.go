package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/access"
)

// TestPreferences: a person's saved views and columns are kept on the server for them alone, come
// back exactly as stored, and bad keys or values are refused naming the parameter or the field.
func TestPreferences(t *testing.T) {
	_, ann := newUser(t, "ann.prefs@example.test", []string{access.RoleAgent}, nil)
	_, bob := newUser(t, "bob.prefs@example.test", []string{access.RoleAgent}, nil)
	views := `{"value":[{"name":"My hot leads","query":"f_status=new&sort=-score"}]}`
	suite := Suite{Tokens: map[string]string{"ann": ann, "bob": bob}}
	suite.Run(t, []Scenario{
		{Name: "nothing stored yet", As: "ann", Method: http.MethodGet, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusNotFound},
		{Name: "signed-out callers have none", Method: http.MethodGet, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusUnauthorized},
		{Name: "store saved views", As: "ann", Method: http.MethodPut, URL: "/api/v1/auth/me/preferences/views.lead", Body: views, Status: http.StatusOK, Contains: []string{"My hot leads"}},
		{Name: "read them back", As: "ann", Method: http.MethodGet, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusOK,
			Contains: []string{`"name":"My hot leads"`, `"query":"f_status=new&sort=-score"`}},
		{Name: "another person does not see them", As: "bob", Method: http.MethodGet, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusNotFound, Lacks: []string{"My hot leads"}},
		{Name: "replace them", As: "ann", Method: http.MethodPut, URL: "/api/v1/auth/me/preferences/views.lead", Body: `{"value":[]}`, Status: http.StatusOK},
		{Name: "the replacement is what is read", As: "ann", Method: http.MethodGet, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusOK, Contains: []string{`"value":[]`}, Lacks: []string{"My hot leads"}},
		{Name: "a key starting with a dot is refused", As: "ann", Method: http.MethodPut, URL: "/api/v1/auth/me/preferences/.views", Body: `{"value":1}`, Status: http.StatusUnprocessableEntity, Contains: []string{`"parameter":"key"`}},
		{Name: "a value over 64 KiB is refused", As: "ann", Method: http.MethodPut, URL: "/api/v1/auth/me/preferences/columns.lead",
			Body: `{"value":"` + strings.Repeat("x", 70<<10) + `"}`, Status: http.StatusUnprocessableEntity, Contains: []string{`"pointer":"/value"`}},
		{Name: "forget them", As: "ann", Method: http.MethodDelete, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusNoContent},
		{Name: "forgotten", As: "ann", Method: http.MethodGet, URL: "/api/v1/auth/me/preferences/views.lead", Status: http.StatusNotFound},
	})
}
