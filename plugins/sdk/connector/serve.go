package connector

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ProtocolVersion is the newest connector protocol this SDK speaks. Version 1 has the
// fixed ERP methods; version 2 adds the described operations behind Invoke. Each version
// has its entry in PluginSets, so hosts keep launching version-1 plugins and plugins
// built with this SDK still work with hosts that only know version 1.
const ProtocolVersion = 2

// PluginName is the key under which the connector is dispensed from a plugin set.
const PluginName = "connector"

// Handshake is shared by Rapport and every connector plugin. The magic cookie is not a
// security measure: it stops a user from running a plugin binary by hand and lets a
// binary tell that it was launched as a Rapport plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RAPPORT_CONNECTOR_PLUGIN",
	MagicCookieValue: "7b1f4c9e-erp-connector",
}

// PluginSets returns the protocol versions a host accepts, each with its plugin set.
// go-plugin negotiates the highest version both sides share.
func PluginSets() map[int]plugin.PluginSet { return pluginSets(nil) }

// pluginSets builds one plugin set per protocol version, serving impl (nil on the host).
func pluginSets(impl Connector) map[int]plugin.PluginSet {
	sets := make(map[int]plugin.PluginSet, ProtocolVersion)
	for v := 1; v <= ProtocolVersion; v++ {
		sets[v] = plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl, Protocol: v}}
	}
	return sets
}

// NewLogger returns the logger a plugin should use: JSON lines on stderr, which the host
// parses and re-emits in Rapport's log with the plugin's name attached. Plugins must
// never write to stdout, which carries go-plugin's handshake.
func NewLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Debug,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// Serve runs impl as a connector plugin and blocks until the host stops it. Call it from
// the plugin's main function. The plugin logs through NewLogger("connector"); a panic in
// a method is recovered and reported to the host as an internal error instead of
// killing the process.
func Serve(impl Connector) {
	ServeWithLogger(impl, NewLogger("connector"))
}

// ServeWithLogger is Serve with the caller's logger, for plugins that name or level
// their logs themselves.
func ServeWithLogger(impl Connector, logger hclog.Logger) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			MagicCookieKey:   Handshake.MagicCookieKey,
			MagicCookieValue: Handshake.MagicCookieValue,
		},
		VersionedPlugins: pluginSets(impl),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.ChainUnaryInterceptor(recoverInterceptor(logger)))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
}

// recoverInterceptor turns a panic inside a connector method into an Internal status so
// one bad request does not crash the plugin and every other call in flight.
func recoverInterceptor(logger hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("connector method panicked", "method", info.FullMethod, "panic", fmt.Sprint(r),
					"stack", string(debug.Stack()))
				resp, err = nil, status.Errorf(codes.Internal, "connector panicked in %s: %v", info.FullMethod, r)
			}
		}()
		return next(ctx, req)
	}
}
