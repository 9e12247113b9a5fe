package devserver_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/workflows"
	"github.com/rapportcrm/rapport/workflows/devserver"
)

// BenchmarkThroughput measures how many Ping workflows (one no-op activity each) the embedded server
// completes per second when many goroutines start them at once: the baseline later process benchmarks are
// compared against. "file" is the SQLite file `rapport dev` uses; "memory" the in-memory store.
func BenchmarkThroughput(b *testing.B) {
	for _, store := range []string{"file", "memory"} {
		b.Run(store, func(b *testing.B) {
			ctx := context.Background()
			cfg := devserver.Config{Namespace: "bench", SearchAttributes: workflows.SearchAttributes()}
			if store == "file" {
				cfg.DatabaseFile = filepath.Join(b.TempDir(), "temporal.db")
			}
			c := serve(b, cfg)
			w := worker.New(c, workflows.TaskQueue, worker.Options{})
			workflows.Register(w)
			if err := w.Start(); err != nil {
				b.Fatal(err)
			}
			defer w.Stop()

			const starters = 32
			var next atomic.Int64
			var failed atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range starters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.Ping, "x")
						if err == nil {
							err = run.Get(ctx, nil)
						}
						if err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d workflows failed", n)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "workflows/s")
		})
	}
}

// serve starts an embedded server with cfg and returns a client of its namespace; both stop when the
// test or benchmark ends.
func serve(tb testing.TB, cfg devserver.Config) client.Client {
	tb.Helper()
	srv, err := devserver.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: cfg.Namespace, Logger: quiet{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// quiet keeps the SDK's per-activity debug lines out of benchmark output.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
