package services_test

import (
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

var env *stacktest.Env

func TestMain(m *testing.M) { stacktest.Main(m, &env) }
