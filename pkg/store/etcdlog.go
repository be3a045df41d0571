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
	if q.closing.Load() && cleanStop(fs) {
		return nil
	}
	if e.Level == zapcore.ErrorLevel && bootstrapVersion(e, fs) {
		e.Level = zapcore.WarnLevel
	}
	return q.Core.Write(e, fs)
}

// bootstrapVersion is etcd's storage-version monitor running before a new member has written its
// first term or configuration (etcd-io/etcd#18978, #20495): it logs an error and succeeds on its
// next round. It stays in the log, as the warning it is.
func bootstrapVersion(e zapcore.Entry, fs []zapcore.Field) bool {
	if e.Message != "failed to update storage version" {
		return false
	}
	s := errorText(fs)
	return strings.Contains(s, "missing term information") || strings.Contains(s, "missing confstate information")
}

// errorText is the entry's "error" field as text.
func errorText(fs []zapcore.Field) string {
	for _, f := range fs {
		if f.Key != "error" {
			continue
		}
		if err, ok := f.Interface.(error); ok {
			return err.Error()
		}
		return f.String
	}
	return ""
}

func cleanStop(fs []zapcore.Field) bool {
	s := errorText(fs)
	return strings.Contains(s, "http: Server closed") || strings.Contains(s, "use of closed network connection")
}
