package api_test

import (
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/engine/access"
)

// TestSegmentScheduleAPI: the segment schedule is read back as it was set (cron or every, window and
// rules) with its next runs, by whoever may read analytics; only analytics.manage changes it.
func TestSegmentScheduleAPI(t *testing.T) {
	_, analyst := newUser(t, "ann.schedule@example.test", []string{access.RoleAnalyst}, nil)
	_, viewer := newUser(t, "vic.schedule@example.test", []string{access.RoleViewer}, nil)
	_, robot := newUser(t, "robot.schedule@example.test", []string{access.RoleIntegration}, nil)
	const url = "/api/v1/analytics/segments/schedule/company"
	suite := Suite{Tokens: map[string]string{"analyst": analyst, "viewer": viewer, "robot": robot}}
	suite.Run(t, []Scenario{
		{Name: "none set yet", As: "analyst", Method: http.MethodGet, URL: url, Status: http.StatusNotFound,
			Contains: []string{"not recomputed on a schedule"}},
		{Name: "signed-out callers may not read it", Method: http.MethodGet, URL: url, Status: http.StatusUnauthorized},
		{Name: "a viewer may not set it", As: "viewer", Method: http.MethodPut, URL: url, Body: map[string]any{"cron": "0 3 * * *"}, Status: http.StatusForbidden},
		{Name: "set by cron", As: "analyst", Method: http.MethodPut, URL: url, Body: map[string]any{"cron": "0 3 * * *", "windowDays": 730}, Status: http.StatusNoContent},
		{Name: "read back as set", As: "analyst", Method: http.MethodGet, URL: url, Status: http.StatusOK,
			Contains: []string{`"customer":"company"`, `"cron":"0 3 * * *"`, `"windowDays":730`, `"paused":false`, `"nextRuns":["`, `T03:00:00Z"`},
			Lacks:    []string{`"every"`}},
		{Name: "a viewer reads it too", As: "viewer", Method: http.MethodGet, URL: url, Status: http.StatusOK, Contains: []string{`"cron":"0 3 * * *"`}},
		{Name: "a caller without analytics.read may not", As: "robot", Method: http.MethodGet, URL: url, Status: http.StatusForbidden, Lacks: []string{"0 3 * * *"}},
		{Name: "an unknown customer entity is refused", As: "analyst", Method: http.MethodGet, URL: "/api/v1/analytics/segments/schedule/order", Status: http.StatusUnprocessableEntity,
			Contains: []string{"customer"}},
		{Name: "replaced by an interval", As: "analyst", Method: http.MethodPut, URL: url, Body: map[string]any{"every": "24h", "rules": "rfm-segments-company"}, Status: http.StatusNoContent},
		{Name: "the interval is what is read", As: "analyst", Method: http.MethodGet, URL: url, Status: http.StatusOK,
			Contains: []string{`"every":"24h0m0s"`, `"rules":"rfm-segments-company"`}, Lacks: []string{`"cron"`, `"windowDays"`}},
		{Name: "removed", As: "analyst", Method: http.MethodDelete, URL: url, Status: http.StatusNoContent},
		{Name: "gone", As: "analyst", Method: http.MethodGet, URL: url, Status: http.StatusNotFound},
	})
}
