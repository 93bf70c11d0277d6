package cometbft

import (
	"context"
	"log/slog"
	"sync/atomic"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// slogLogger adapts a *slog.Logger to CometBFT's logger, dropping records below min.
// CometBFT logs every block and peer event at info level, so drivers default min to warn.
// Once stopping is set (the node is shutting down), CometBFT's records are demoted to debug:
// its services report each other's shutdown as errors ("already stopped", "switch is not
// running").
type slogLogger struct {
	l        *slog.Logger
	min      slog.Level
	stopping *atomic.Bool
}

var _ cmtlog.Logger = slogLogger{}

func (s slogLogger) Debug(msg string, kv ...any) { s.log(slog.LevelDebug, msg, kv) }
func (s slogLogger) Info(msg string, kv ...any)  { s.log(slog.LevelInfo, msg, kv) }
func (s slogLogger) Error(msg string, kv ...any) { s.log(slog.LevelError, msg, kv) }

func (s slogLogger) With(kv ...any) cmtlog.Logger {
	return slogLogger{l: s.l.With(kv...), min: s.min, stopping: s.stopping}
}

func (s slogLogger) log(level slog.Level, msg string, kv []any) {
	if s.stopping != nil && s.stopping.Load() {
		level = slog.LevelDebug
	}
	if level < s.min {
		return
	}
	s.l.Log(context.Background(), level, msg, kv...)
}
