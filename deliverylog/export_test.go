package deliverylog

import "context"

// Flush waits until everything queued is written: for the benchmarks, which time the writer.
func Flush(ctx context.Context, l *Log) error { return l.flush(ctx) }
