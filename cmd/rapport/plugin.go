package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// pluginCommand is the plugin developer's and operator's tool: list what is installed, check that a
// plugin verifies and starts, and call one method against a configuration.
func pluginCommand(stdout, stderr io.Writer) *cli.Command {
	dirFlag := &cli.StringFlag{Name: "plugins-dir", Value: "./data/plugins", Usage: "connector plugins directory", Sources: cli.EnvVars("RAPPORT_PLUGINS_DIR")}
	openHost := func(cmd *cli.Command) (*host.Host, error) {
		logger, err := newLogger(cmd, stderr)
		if err != nil {
			return nil, err
		}
		return host.New(host.Options{Dir: cmd.String("plugins-dir"), Logger: logger.With("component", "plugins"), HealthInterval: -1})
	}
	return &cli.Command{
		Name:  "plugin",
		Usage: "list, check and call connector plugins",
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
					fmt.Fprintf(stdout, "%s %s by %s: ok\ncapabilities: %s\n", d.Name, d.Version, d.Vendor, strings.Join(caps, ", "))
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
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(resp)
				},
			},
		},
	}
}

// pluginState says whether a plugin is usable: its manifest loads and its binary matches the checksum.
func pluginState(p host.PluginInfo) string {
	if p.Err != nil {
		return "error: " + p.Err.Error()
	}
	sum, err := host.FileSHA256(filepath.Join(p.Dir, p.Manifest.Binary))
	if err != nil {
		return "error: " + err.Error()
	}
	if !strings.EqualFold(sum, p.Manifest.SHA256) {
		return "error: checksum mismatch"
	}
	return "ok"
}
