package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// pluginCommand is the plugin developer's and operator's tool: list what is installed, check that a
// plugin verifies and starts, call one method against a configuration, install or upgrade a binary, and
// tell a running Rapport to apply what changed.
func pluginCommand(stdout, stderr io.Writer) *cli.Command {
	dirFlag := &cli.StringFlag{Name: "plugins-dir", Value: "./data/plugins", Usage: "connector plugins directory", Sources: cli.EnvVars("RAPPORT_PLUGINS_DIR")}
	openHost := func(cmd *cli.Command) (*host.Host, error) {
		logger, err := newLogger(cmd, stderr)
		if err != nil {
			return nil, err
		}
		return host.New(host.Options{Dir: cmd.String("plugins-dir"), Logger: logger.With("component", "plugins"), HealthInterval: -1, ScanInterval: -1})
	}
	return &cli.Command{
		Name:  "plugin",
		Usage: "list, check, call, install and rescan connector plugins",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list installed plugins and whether their binaries match their manifests",
				Flags: []cli.Flag{dirFlag},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					h, err := openHost(cmd)
					if err != nil {
						return err
					}
					defer h.Close()
					tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tPROTOCOL\tBINARY\tSTATE")
					for _, p := range h.Plugins() {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.Manifest.ProtocolVersion, p.Manifest.Binary, pluginState(p))
					}
					return tw.Flush()
				},
			},
			{
				Name:      "check",
				Usage:     "verify a plugin's checksum, start it and print its self-description",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{dirFlag},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					name := cmd.Args().First()
					if name == "" {
						return errors.New("usage: rapport plugin check NAME")
					}
					h, err := openHost(cmd)
					if err != nil {
						return err
					}
					defer h.Close()
					d, err := h.Describe(ctx, name)
					if err != nil {
						return fmt.Errorf("plugin %s: %w", name, err)
					}
					caps := make([]string, 0, len(d.Capabilities))
					for _, c := range d.Capabilities {
						caps = append(caps, string(c))
					}
					ops := make([]string, 0, len(d.Operations))
					for _, op := range d.Operations {
						ops = append(ops, op.Name)
					}
					fmt.Fprintf(stdout, "%s %s by %s: ok\ncapabilities: %s\noperations: %s\n", d.Name, d.Version, d.Vendor,
						strings.Join(caps, ", "), strings.Join(ops, ", "))
					return nil
				},
			},
			{
				Name:      "call",
				Usage:     "configure a throw-away instance of a plugin and call one method, printing the response as JSON",
				ArgsUsage: "NAME METHOD",
				Flags: []cli.Flag{dirFlag,
					&cli.StringFlag{Name: "config", Value: "{}", Usage: "the instance configuration as JSON"},
					&cli.StringFlag{Name: "request", Value: "{}", Usage: "the method's request as JSON"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					name, method := cmd.Args().Get(0), cmd.Args().Get(1)
					if name == "" || method == "" {
						return fmt.Errorf("usage: rapport plugin call NAME METHOD (methods: %s)", strings.Join(host.Methods(), ", "))
					}
					h, err := openHost(cmd)
					if err != nil {
						return err
					}
					defer h.Close()
					cfg, err := h.ValidateConfig(ctx, name, json.RawMessage(cmd.String("config")))
					if err != nil {
						return fmt.Errorf("--config: %w", err)
					}
					inst, err := h.Configure(ctx, "cli", name, cfg)
					if err != nil {
						return fmt.Errorf("configure %s: %w", name, err)
					}
					resp, err := host.Call(ctx, inst, method, json.RawMessage(cmd.String("request")))
					if err != nil {
						return fmt.Errorf("%s.%s: %s error: %w", name, method, connector.KindOf(err), err)
					}
					return printJSON(stdout, resp)
				},
			},
			{
				Name: "install",
				Usage: "install or upgrade a plugin binary: start it once to check that it describes itself, then put it and " +
					"its manifest (with its checksum) into the plugins directory, where a running Rapport picks it up",
				ArgsUsage: "BINARY",
				Flags: []cli.Flag{dirFlag,
					&cli.StringFlag{Name: "name", Usage: "plugin name (default: the binary's name without rapport-connector-)", Sources: cli.EnvVars("RAPPORT_PLUGIN_NAME")},
					&cli.IntFlag{Name: "protocol", Value: connector.ProtocolVersion, Usage: "newest connector protocol the plugin may speak", Sources: cli.EnvVars("RAPPORT_PLUGIN_PROTOCOL")},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					bin := cmd.Args().First()
					if bin == "" {
						return errors.New("usage: rapport plugin install [--name NAME] BINARY")
					}
					logger, err := newLogger(cmd, stderr)
					if err != nil {
						return err
					}
					m, d, err := host.Install(ctx, host.InstallOptions{Dir: cmd.String("plugins-dir"), Binary: bin, Name: cmd.String("name"),
						ProtocolVersion: int(cmd.Int("protocol")), Logger: logger.With("component", "plugins")})
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "installed %s %s (%s, sha256 %s) into %s\n", m.Name, d.Version, m.Binary, m.SHA256,
						filepath.Join(cmd.String("plugins-dir"), m.Name))
					return nil
				},
			},
			{
				Name:  "rescan",
				Usage: "tell a running Rapport to apply what changed in its plugins directory now (it also notices on its own within seconds)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "url", Value: "http://localhost:8080", Usage: "the running Rapport's base URL", Sources: cli.EnvVars("RAPPORT_URL")},
					&cli.StringFlag{Name: "token", Usage: "an API token with connectors.manage", Sources: cli.EnvVars("RAPPORT_TOKEN")},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					rep, err := rescan(ctx, cmd.String("url"), cmd.String("token"))
					if err != nil {
						return err
					}
					return printJSON(stdout, rep)
				},
			},
		},
	}
}

// rescan asks the Rapport at baseURL to rescan its plugins directory and returns its report.
func rescan(ctx context.Context, baseURL, token string) (host.RescanReport, error) {
	var rep host.RescanReport
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/api/v1/plugins/rescan", nil)
	if err != nil {
		return rep, fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rep, fmt.Errorf("rescan: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return rep, fmt.Errorf("rescan: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var p struct{ Detail string }
		if json.Unmarshal(body, &p) == nil && p.Detail != "" {
			return rep, fmt.Errorf("rescan: %s: %s", resp.Status, p.Detail)
		}
		return rep, fmt.Errorf("rescan: %s", resp.Status)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return rep, fmt.Errorf("rescan: decode report: %w", err)
	}
	return rep, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// pluginState says whether a plugin is usable: its manifest loads and its binary passes the checks a
// launch makes (a regular file, no links, the manifest's checksum).
func pluginState(p host.PluginInfo) string {
	if err := p.Verify(); err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}
