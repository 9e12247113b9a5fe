package ferret

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietDumps(t *testing.T) {
	tests := []struct {
		name    string
		level   slog.Level
		msg     string
		min     slog.Level
		visible bool
	}{
		{"dump hidden at warn", slog.LevelWarn, "Response message:\n{...}", slog.LevelWarn, false},
		{"dump shown at debug", slog.LevelWarn, "Response header: length 1", slog.LevelDebug, true},
		{"other warnings kept", slog.LevelWarn, "connection closed", slog.LevelWarn, true},
		{"errors kept", slog.LevelError, "Response message: boom", slog.LevelWarn, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(quietDumps{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.min})})
			l.Log(context.Background(), tt.level, tt.msg)
			if got := strings.Contains(buf.String(), strings.SplitN(tt.msg, "\n", 2)[0][:8]); got != tt.visible {
				t.Fatalf("visible = %v, want %v (%q)", got, tt.visible, buf.String())
			}
		})
	}
}

// TestStartRefusesNonLoopback keeps the unauthenticated embedded store off the network.
func TestStartRefusesNonLoopback(t *testing.T) {
	if _, err := Start(context.Background(), Config{Dir: t.TempDir(), Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Start on 0.0.0.0 = %v, want a loopback error", err)
	}
}
