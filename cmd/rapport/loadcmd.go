package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/rapportcrm/rapport/cmd/rapport/load"
)

// loadCommand drives the API at fixed rates and prints the Markdown report BENCHMARKS.md keeps.
func loadCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "drive the API of a fresh `rapport dev` (or a loopback URL) at fixed request rates and report latency percentiles, errors and memory",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "a running Rapport on this machine to drive (default: start `rapport dev` in a temporary directory)", Sources: cli.EnvVars("RAPPORT_LOAD_URL")},
			&cli.StringFlag{Name: "email", Usage: "administrator to log in as with --url", Sources: cli.EnvVars("RAPPORT_LOAD_EMAIL")},
			&cli.StringFlag{Name: "password", Usage: "that administrator's password", Sources: cli.EnvVars("RAPPORT_LOAD_PASSWORD")},
			&cli.IntFlag{Name: "pid", Usage: "process ID of the server given by --url, to sample its memory", Sources: cli.EnvVars("RAPPORT_LOAD_PID")},
			&cli.StringFlag{Name: "rates", Value: "20,40,80", Usage: "requests per second of each step, run in order", Sources: cli.EnvVars("RAPPORT_LOAD_RATES")},
			&cli.DurationFlag{Name: "duration", Value: 3 * time.Minute, Usage: "how long each step lasts", Sources: cli.EnvVars("RAPPORT_LOAD_DURATION")},
			&cli.DurationFlag{Name: "warmup", Value: 15 * time.Second, Usage: "unmeasured run at the first rate before the steps", Sources: cli.EnvVars("RAPPORT_LOAD_WARMUP")},
			&cli.IntFlag{Name: "seed", Value: 200, Usage: "leads created before the first step", Sources: cli.EnvVars("RAPPORT_LOAD_SEED")},
			&cli.IntFlag{Name: "max-in-flight", Value: 256, Usage: "requests in flight at most; a request finding none free counts as an error", Sources: cli.EnvVars("RAPPORT_LOAD_MAX_IN_FLIGHT")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			var rates []float64
			for _, f := range strings.Split(cmd.String("rates"), ",") {
				r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return fmt.Errorf("--rates: %q is not a number", f)
				}
				rates = append(rates, r)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the rapport binary: %w", err)
			}
			rep, err := load.Run(ctx, load.Config{URL: cmd.String("url"), Binary: self, Email: cmd.String("email"),
				Password: cmd.String("password"), PID: int(cmd.Int("pid")), Rates: rates, Duration: cmd.Duration("duration"),
				Warmup: cmd.Duration("warmup"), Seed: int(cmd.Int("seed")), MaxInFlight: int(cmd.Int("max-in-flight")), Log: stderr})
			if rep != nil {
				fmt.Fprintf(stdout, "Load on %s, %s per rate, started %s:\n\n", describeTarget(cmd.String("url")), cmd.Duration("duration"), rep.Started.Format("2006-01-02 15:04 UTC"))
				rep.Markdown(stdout)
			}
			return err
		},
	}
}

func describeTarget(url string) string {
	if url == "" {
		return "a fresh `rapport dev` (embedded FerretDB and Temporal, one process)"
	}
	return url
}
