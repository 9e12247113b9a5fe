package services_test

import (
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

var env *stacktest.Env

// TestMain starts a stack with the CSV connector plugin installed: an example process calls it, and
// deploying checks a connector task against its plugin.
func TestMain(m *testing.M) {
	stacktest.MainWith(m, &env, func(dataDir string) error {
		return stacktest.InstallPlugin(dataDir, "csv", "github.com/rapportcrm/rapport/plugins/connectors/csv")
	})
}
