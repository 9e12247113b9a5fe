package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeMonitoring checks docker-compose.yml's optional monitoring where no Docker engine runs:
// Prometheus, Grafana and Jaeger only start with the observability profile, the files they mount
// exist in the repository, and Prometheus scrapes both Rapport processes on the port their
// RAPPORT_METRICS_ADDR opens.
func TestComposeMonitoring(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Profiles    []string          `yaml:"profiles"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"prometheus", "grafana", "jaeger"} {
		svc, ok := compose.Services[name]
		if !ok {
			t.Errorf("service %s is missing", name)
			continue
		}
		if !slices.Equal(svc.Profiles, []string{"observability"}) {
			t.Errorf("%s runs outside the observability profile: %v", name, svc.Profiles)
		}
		for _, v := range svc.Volumes {
			if src, _, _ := strings.Cut(v, ":"); strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	promRaw, err := os.ReadFile("../../docs/monitoring/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(promRaw, &prom); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.MetricsPath != "/metrics" {
			t.Errorf("scrape path %q", sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, name := range []string{"rapport-server", "rapport-worker"} {
		addr := compose.Services[name].Environment["RAPPORT_METRICS_ADDR"]
		_, port, ok := strings.Cut(addr, ":")
		if !ok || strings.HasPrefix(addr, "127.") {
			t.Errorf("%s: RAPPORT_METRICS_ADDR=%q is not reachable from Prometheus", name, addr)
			continue
		}
		if !slices.Contains(targets, name+":"+port) {
			t.Errorf("Prometheus does not scrape %s:%s (targets %v)", name, port, targets)
		}
	}
}
