package devserver

import (
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
)

// TestDynamicConfigHistoryCache: the embedded history service's cache is bounded by HistoryCache, or
// DefaultHistoryCache when it is not set, never Temporal's cluster default.
func TestDynamicConfigHistoryCache(t *testing.T) {
	key := dynamicconfig.HistoryCacheHostLevelMaxSize.Key()
	if got := dynamicConfig(Config{})[key]; got != DefaultHistoryCache {
		t.Errorf("default: %s = %v, want %d", key, got, DefaultHistoryCache)
	}
	if got := dynamicConfig(Config{HistoryCache: 250})[key]; got != 250 {
		t.Errorf("HistoryCache 250: %s = %v, want 250", key, got)
	}
}

// TestPickPortAvoidsEphemeralPorts: a free port is chosen below the systems' ephemeral ranges, where no
// outgoing connection can take it before the server binds it; a given port is kept.
func TestPickPortAvoidsEphemeralPorts(t *testing.T) {
	for range 20 {
		host, port, err := pickPort("127.0.0.1:0")
		if err != nil || host != "127.0.0.1" || port < freePortLow || port >= freePortHigh {
			t.Fatalf("pickPort = %s, %d, %v; want a port in [%d, %d)", host, port, err, freePortLow, freePortHigh)
		}
	}
	if _, port, err := pickPort("127.0.0.1:7233"); err != nil || port != 7233 {
		t.Fatalf("pickPort of a given port = %d, %v", port, err)
	}
}
