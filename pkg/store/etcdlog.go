package store

import (
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"
)

// etcdLog is the embedded member's own log: warnings and errors, JSON, in one file that rotates
// (10 MiB, five old files kept) so that a member with a flapping peer cannot fill the log disk.
func etcdLog(path string, closing *atomic.Bool) *zap.Logger {
	w := zapcore.AddSync(&lumberjack.Logger{Filename: path, MaxSize: 10, MaxBackups: 5, LocalTime: true})
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), w, zap.WarnLevel)
	return zap.New(&quietStop{Core: core, closing: closing}, zap.AddCaller())
}

// quietStop drops what etcd reports as errors while it stops as asked: its listeners closing
// ("http: Server closed", "use of closed network connection") is how a clean stop goes, and an
// operator reading "error" in the log would look for a fault that is not there.
type quietStop struct {
	zapcore.Core
	closing *atomic.Bool
}

func (q *quietStop) With(fs []zapcore.Field) zapcore.Core {
	return &quietStop{Core: q.Core.With(fs), closing: q.closing}
}

func (q *quietStop) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !q.Enabled(e.Level) {
		return ce
	}
	return ce.AddCore(e, q)
}

func (q *quietStop) Write(e zapcore.Entry, fs []zapcore.Field) error {
	if q.closing.Load() && cleanStop(e, fs) {
		return nil
	}
	return q.Core.Write(e, fs)
}

func cleanStop(e zapcore.Entry, fs []zapcore.Field) bool {
	for _, f := range fs {
		if f.Key != "error" {
			continue
		}
		var s string
		if err, ok := f.Interface.(error); ok {
			s = err.Error()
		} else {
			s = f.String
		}
		if strings.Contains(s, "http: Server closed") || strings.Contains(s, "use of closed network connection") {
			return true
		}
	}
	return false
}
