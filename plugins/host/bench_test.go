package host

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// benchCalls times each call of fn and reports p50 and p99 latency besides ns/op.
func benchCalls(b *testing.B, fn func(ctx context.Context) error) {
	b.Helper()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := fn(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Nanoseconds())
	}
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

func benchGetOrder(b *testing.B, c connector.Connector, dir string) {
	b.Helper()
	ctx := context.Background()
	if _, err := c.Configure(ctx, connector.ConfigureRequest{Config: cfgJSON(b, testconn.Config{Dir: dir})}); err != nil {
		b.Fatal(err)
	}
	r, err := c.CreateSalesOrder(ctx, connector.CreateSalesOrderRequest{IdempotencyKey: "bench", CustomerID: "C1",
		Lines: []connector.OrderLine{{ProductCode: "P", Quantity: "1", UnitPrice: "1"}}})
	if err != nil {
		b.Fatal(err)
	}
	benchCalls(b, func(ctx context.Context) error {
		_, err := c.GetOrder(ctx, connector.GetOrderRequest{ID: r.Order.ID})
		return err
	})
}

// BenchmarkHealth compares the smallest call, Health, in-process and through the host
// (gRPC over AutoMTLS to a plugin process, plus the host's timeout and semaphore).
func BenchmarkHealth(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		c := &testconn.Connector{}
		if _, err := c.Configure(context.Background(), connector.ConfigureRequest{Config: cfgJSON(b, testconn.Config{Dir: b.TempDir()})}); err != nil {
			b.Fatal(err)
		}
		benchCalls(b, func(ctx context.Context) error { _, err := c.Health(ctx, connector.HealthRequest{}); return err })
	})
	b.Run("host", func(b *testing.B) {
		root := b.TempDir()
		install(b, root, "testplugin", "testplugin", nil)
		h, _ := newHost(b, root, Options{HealthInterval: -1})
		in, err := h.Configure(context.Background(), "bench", "testplugin", cfgJSON(b, testconn.Config{Dir: b.TempDir()}))
		if err != nil {
			b.Fatal(err)
		}
		benchCalls(b, func(ctx context.Context) error { _, err := in.Health(ctx, connector.HealthRequest{}); return err })
	})
}

// BenchmarkGetOrder compares GetOrder (reads a small JSON file) in-process and through the host.
func BenchmarkGetOrder(b *testing.B) {
	b.Run("in-process", func(b *testing.B) { benchGetOrder(b, &testconn.Connector{}, b.TempDir()) })
	b.Run("host", func(b *testing.B) {
		root := b.TempDir()
		install(b, root, "testplugin", "testplugin", nil)
		h, _ := newHost(b, root, Options{HealthInterval: -1})
		dir := b.TempDir()
		in, err := h.Configure(context.Background(), "bench", "testplugin", cfgJSON(b, testconn.Config{Dir: dir}))
		if err != nil {
			b.Fatal(err)
		}
		benchGetOrder(b, in, dir)
	})
}
