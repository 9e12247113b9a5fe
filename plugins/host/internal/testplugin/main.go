// Command testplugin serves testconn as a plugin for the host's fault tests. With
// --stdout-garbage it prints to stdout before the handshake, which the host must refuse;
// with --protocol1 it speaks only connector protocol version 1, as a plugin built with
// an SDK from before described operations does.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/hashicorp/go-plugin"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

func main() {
	if slices.Contains(os.Args[1:], "--stdout-garbage") {
		fmt.Println("hello from a plugin that prints to stdout")
	}
	impl := &testconn.Connector{}
	if slices.Contains(os.Args[1:], "--protocol1") {
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: plugin.HandshakeConfig{
				MagicCookieKey:   connector.Handshake.MagicCookieKey,
				MagicCookieValue: connector.Handshake.MagicCookieValue,
			},
			VersionedPlugins: map[int]plugin.PluginSet{1: {connector.PluginName: &connector.GRPCPlugin{Impl: impl, Protocol: 1}}},
			GRPCServer:       plugin.DefaultGRPCServer,
			Logger:           connector.NewLogger("testplugin"),
		})
		return
	}
	connector.Serve(impl)
}
