package host

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// slogLogger adapts Rapport's *slog.Logger to the hclog.Logger that go-plugin requires,
// so both go-plugin's own messages and the JSON log lines a plugin writes to stderr land
// in Rapport's log, carrying the plugin attributes the adapter was built with.
type slogLogger struct {
	l       *slog.Logger
	name    string
	implied []any
	level   hclog.Level
}

// newHCLogger returns an hclog.Logger writing to l. Its level is the lowest level l's
// handler accepts, so go-plugin does not parse lines that would be dropped anyway.
func newHCLogger(l *slog.Logger) hclog.Logger {
	lv := hclog.Error
	for _, c := range []struct {
		s slog.Level
		h hclog.Level
	}{{slog.LevelWarn, hclog.Warn}, {slog.LevelInfo, hclog.Info}, {slog.LevelDebug, hclog.Debug}, {slog.LevelDebug - 4, hclog.Trace}} {
		if l.Enabled(context.Background(), c.s) {
			lv = c.h
		}
	}
	return &slogLogger{l: l, level: lv}
}

func toSlogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (s *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level == hclog.NoLevel && s.level > hclog.Info || level != hclog.NoLevel && level < s.level {
		return
	}
	attrs := make([]any, 0, len(s.implied)+len(args)+2)
	if s.name != "" {
		attrs = append(attrs, "logger", s.name)
	}
	attrs = append(attrs, s.implied...)
	attrs = append(attrs, args...)
	s.l.Log(context.Background(), toSlogLevel(level), msg, attrs...)
}

func (s *slogLogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }
func (s *slogLogger) IsTrace() bool                 { return s.level <= hclog.Trace }
func (s *slogLogger) IsDebug() bool                 { return s.level <= hclog.Debug }
func (s *slogLogger) IsInfo() bool                  { return s.level <= hclog.Info }
func (s *slogLogger) IsWarn() bool                  { return s.level <= hclog.Warn }
func (s *slogLogger) IsError() bool                 { return s.level <= hclog.Error }
func (s *slogLogger) ImpliedArgs() []any            { return s.implied }
func (s *slogLogger) Name() string                  { return s.name }
func (s *slogLogger) SetLevel(level hclog.Level)    { s.level = level }
func (s *slogLogger) GetLevel() hclog.Level         { return s.level }

func (s *slogLogger) With(args ...any) hclog.Logger {
	c := *s
	c.implied = append(append([]any(nil), s.implied...), args...)
	return &c
}

func (s *slogLogger) Named(name string) hclog.Logger {
	c := *s
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	c := *s
	c.name = name
	return &c
}

func (s *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(opts), "", 0)
}

func (s *slogLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineWriter{emit: func(line string) { s.Info(line) }}
}

// lineWriter splits a byte stream into lines and emits each one; it serves the plugin's
// synced stdout and stderr after the handshake.
type lineWriter struct {
	mu   sync.Mutex
	buf  strings.Builder
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	s := w.buf.String()
	last := strings.LastIndexByte(s, '\n')
	if last < 0 {
		return len(p), nil
	}
	sc := bufio.NewScanner(strings.NewReader(s[:last+1]))
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			w.emit(line)
		}
	}
	rest := s[last+1:]
	w.buf.Reset()
	w.buf.WriteString(rest)
	if err := sc.Err(); err != nil {
		return len(p), fmt.Errorf("split plugin output: %w", err)
	}
	return len(p), nil
}
