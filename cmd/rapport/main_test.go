package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
	"gopkg.in/yaml.v3"
)

// envFlag is a flag that can be set from the environment.
type envFlag interface {
	cli.Flag
	GetEnvVars() []string
}

func envVars(flags []cli.Flag) map[string]bool {
	out := map[string]bool{}
	for _, f := range flags {
		if ef, ok := f.(envFlag); ok {
			for _, v := range ef.GetEnvVars() {
				out[v] = true
			}
		}
	}
	return out
}

func TestHelpDescribesEveryFlagAndVariable(t *testing.T) {
	app := newApp(nil, nil)
	for _, cmd := range append([]*cli.Command{app}, app.Commands...) {
		t.Run(cmd.Name, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"rapport", "--help"}
			if cmd != app {
				args = []string{"rapport", cmd.Name, "--help"}
			}
			if err := newApp(&out, &out).Run(context.Background(), args); err != nil {
				t.Fatal(err)
			}
			for _, f := range cmd.Flags {
				name := f.Names()[0]
				if !strings.Contains(out.String(), "--"+name) {
					t.Errorf("help lacks --%s", name)
				}
				ef, ok := f.(envFlag)
				if !ok || len(ef.GetEnvVars()) == 0 {
					if name != "help" {
						t.Errorf("--%s has no environment variable", name)
					}
					continue
				}
				for _, v := range ef.GetEnvVars() {
					if !strings.Contains(out.String(), "$"+v) {
						t.Errorf("help lacks $%s for --%s", v, name)
					}
				}
			}
		})
	}
}

// TestComposeFile keeps docker-compose.yml honest where no Docker engine runs: every service Rapport
// needs is there, the Rapport services set every variable their command requires, and every RAPPORT_
// variable they set is one Rapport reads.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	for _, name := range []string{"mongo", "postgresql", "temporal", "temporal-ui", "rapport-server", "rapport-worker"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
	mongo := compose.Services["mongo"]
	if !slices.Contains(mongo.Command, "--replSet") || mongo.Healthcheck == nil || len(mongo.Volumes) == 0 {
		t.Errorf("mongo must run as a replica set with a health check and a volume: %+v", mongo)
	}
	if compose.Services["temporal"].Environment["DB"] != "postgres12" || compose.Services["temporal"].Environment["POSTGRES_SEEDS"] != "postgresql" {
		t.Errorf("temporal must persist to the postgresql service")
	}

	app := newApp(nil, nil)
	global := envVars(app.Flags)
	for _, cmd := range app.Commands {
		if cmd.Name != "server" && cmd.Name != "worker" {
			continue
		}
		t.Run(cmd.Name, func(t *testing.T) {
			svc, ok := compose.Services["rapport-"+cmd.Name]
			if !ok {
				t.Fatalf("no rapport-%s service", cmd.Name)
			}
			if !slices.Equal(svc.Command, []string{cmd.Name}) {
				t.Errorf("rapport-%s runs %v", cmd.Name, svc.Command)
			}
			known := envVars(cmd.Flags)
			for _, f := range cmd.Flags {
				if rf, ok := f.(cli.RequiredFlag); ok && rf.IsRequired() {
					for _, v := range f.(envFlag).GetEnvVars() {
						if svc.Environment[v] == "" {
							t.Errorf("rapport-%s does not set required %s", cmd.Name, v)
						}
					}
				}
			}
			for _, v := range []string{"RAPPORT_TEMPORAL_NAMESPACE", "RAPPORT_MONGODB_DATABASE"} {
				if svc.Environment[v] == "" {
					t.Errorf("rapport-%s does not set %s", cmd.Name, v)
				}
			}
			for v := range svc.Environment {
				if strings.HasPrefix(v, "RAPPORT_") && !known[v] && !global[v] {
					t.Errorf("rapport-%s sets %s, which rapport %s does not read", cmd.Name, v, cmd.Name)
				}
			}
			for _, v := range []string{"RAPPORT_MONGODB_URI", "RAPPORT_TEMPORAL_ADDRESS"} {
				host := strings.TrimPrefix(svc.Environment[v], "mongodb://")
				host = strings.FieldsFunc(host, func(r rune) bool { return r == ':' || r == '/' })[0]
				if _, ok := compose.Services[host]; !ok {
					t.Errorf("%s=%s points at %q, which is no service", v, svc.Environment[v], host)
				}
				if _, ok := svc.DependsOn[host]; !ok {
					t.Errorf("rapport-%s does not depend on %s", cmd.Name, host)
				}
			}
		})
	}
}
