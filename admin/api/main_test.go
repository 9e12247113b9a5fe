package api_test

import (
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

var env *stacktest.Env

func TestMain(m *testing.M) {
	stacktest.MainWith(m, &env, func(dataDir string) error {
		if err := stacktest.InstallPlugin(dataDir, "csv", "github.com/rapportcrm/rapport/plugins/connectors/csv"); err != nil {
			return err
		}
		// The Tryton connector (against a fake Tryton) shows where configured secrets may go.
		return stacktest.InstallPlugin(dataDir, "tryton", "github.com/rapportcrm/rapport/plugins/connectors/tryton")
	})
}
