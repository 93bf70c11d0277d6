package cometbft

import (
	"context"
	"log/slog"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// slogLogger adapts a *slog.Logger to CometBFT's logger, dropping records below min.
// CometBFT logs every block and peer event at info level, so drivers default min to warn.
type slogLogger struct {
	l   *slog.Logger
	min slog.Level
}

var _ cmtlog.Logger = slogLogger{}

func (s slogLogger) Debug(msg string, kv ...any) { s.log(slog.LevelDebug, msg, kv) }
func (s slogLogger) Info(msg string, kv ...any)  { s.log(slog.LevelInfo, msg, kv) }
func (s slogLogger) Error(msg string, kv ...any) { s.log(slog.LevelError, msg, kv) }

func (s slogLogger) With(kv ...any) cmtlog.Logger {
	return slogLogger{l: s.l.With(kv...), min: s.min}
}

func (s slogLogger) log(level slog.Level, msg string, kv []any) {
	if level < s.min {
		return
	}
	s.l.Log(context.Background(), level, msg, kv...)
}
