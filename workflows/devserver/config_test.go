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
