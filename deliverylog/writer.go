package deliverylog

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"time"
)

// Writing: one goroutine takes what is queued, waiting up to linger after a first record for
// more (a flush or Close writes at once), up to maxBatch records, and writes them in one
// transaction, each try bounded by writeTimeout. A batch that fails is tried again
// after retryFirst, then at most every retryMost, until it is written or Close gives up: the
// queue behind it fills and drops meanwhile, and writing resumes within retryMost (plus the
// time to connect) of the database's return.
const (
	maxBatch     = 1000
	linger       = 200 * time.Millisecond
	writeTimeout = 5 * time.Second
	retryFirst   = 100 * time.Millisecond
	retryMost    = time.Second
	sweepTimeout = time.Minute
)

// write is the writer goroutine.
func (l *Log) write() {
	defer close(l.done)
	defer l.abort() // releases the context's resources
	ctx := l.writing
	mac := hmac.New(sha256.New, l.key)
	batch := make([]record, 0, maxBatch)
	sweep := time.NewTimer(l.sweepEvery()) // Open swept first
	defer sweep.Stop()
	for {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		case <-sweep.C:
			l.sweep(ctx)
			sweep.Reset(l.sweepEvery())
			continue
		case <-l.stop:
			for { // what is queued, in batches, then end
				batch = l.take(batch[:0])
				if len(batch) == 0 {
					return
				}
				if !l.store(ctx, mac, batch) {
					l.drop(batch)
					return
				}
			}
		}
		batch = l.gather(batch)
		if !l.store(ctx, mac, batch) {
			l.drop(batch)
			return
		}
		batch = batch[:0]
	}
}

// gather adds to batch what comes within linger, up to maxBatch; a flush, or Close, ends the
// wait.
func (l *Log) gather(batch []record) []record {
	if batch[len(batch)-1].flush != nil {
		return l.take(batch)
	}
	wait := time.NewTimer(linger)
	defer wait.Stop()
	for len(batch) < maxBatch {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
			if r.flush != nil {
				return l.take(batch)
			}
		case <-wait.C:
			return batch
		case <-l.stop:
			return batch
		}
	}
	return batch
}

// drop counts as dropped the records of batch, which Close gave up writing, and those still
// queued.
func (l *Log) drop(batch []record) {
	for {
		for _, r := range batch {
			if r.flush == nil {
				l.dropped.Add(1)
			}
		}
		if batch = l.take(batch[:0]); len(batch) == 0 {
			return
		}
	}
}

// take adds to batch what is queued, without waiting, up to maxBatch.
func (l *Log) take(batch []record) []record {
	for len(batch) < maxBatch {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// store writes batch, trying again until it is written (true) or Close gave up (false), and
// then releases the flushes waiting on it.
func (l *Log) store(ctx context.Context, mac hash.Hash, batch []record) bool {
	sends := make([]sendRow, 0, len(batch))
	events := make([]*eventRecord, 0, len(batch))
	var flushes []chan struct{}
	for _, r := range batch {
		switch {
		case r.send != nil:
			sends = append(sends, row(mac, r.send))
		case r.event != nil:
			r.event.diagnostic = masked(r.event.diagnostic)
			events = append(events, r.event)
		case r.flush != nil:
			flushes = append(flushes, r.flush)
		}
	}
	defer func() {
		for _, f := range flushes {
			close(f)
		}
	}()
	if len(sends) == 0 && len(events) == 0 {
		return true
	}
	wait := retryFirst
	for {
		tctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := l.dialect.insert(tctx, l.db, sends, events)
		cancel()
		if err == nil {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMost)
	}
}

// row hashes (with the writer's HMAC) and masks a send for storing.
func row(mac hash.Hash, s *sendRecord) sendRow {
	id := s.id
	if id == "" {
		id = refusedID()
	}
	return sendRow{
		id: id, hash: sum(mac, s.to), masked: maskAddress(s.to), usage: s.usage, locale: s.locale,
		template: s.template, region: s.region, outcome: s.outcome, err: masked(s.err), at: s.at.UnixMicro(),
	}
}

// sweepEvery is how often rows past the retention are deleted: hourly, or more often for a
// short retention.
func (l *Log) sweepEvery() time.Duration { return min(time.Hour, l.retention/4) }

// sweep deletes the rows older than the retention; a failure waits for the next sweep.
func (l *Log) sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	cutoff := time.Now().Add(-l.retention).UnixMicro()
	for _, table := range []string{"deliverylog_events", "deliverylog_messages"} {
		if _, err := l.db.ExecContext(ctx, l.dialect.q("DELETE FROM "+table+" WHERE at < ?"), cutoff); err != nil {
			return
		}
	}
}

// flush waits until everything queued before it is written, or ctx ends.
func (l *Log) flush(ctx context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	done := make(chan struct{})
	select {
	case l.queue <- record{flush: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
