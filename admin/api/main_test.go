package api_test

import (
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

var env *stacktest.Env

func TestMain(m *testing.M) {
	stacktest.MainWith(m, &env, func(dataDir string) error {
		return stacktest.InstallPlugin(dataDir, "csv", "github.com/rapportcrm/rapport/plugins/connectors/csv")
	})
}
