// Package deliverylog answers "I never got the code": it records every send of a
// sesconnector.Connector and every event SES publishes about it (Send, Delivery,
// DeliveryDelay, Bounce, Complaint, Reject, RenderingFailure) on one timeline per message,
// in PostgreSQL (many replicas) or an embedded SQLite file, and finds them by the address
// someone types or by SES's MessageId.
//
//	log, err := deliverylog.Open(ctx, "sqlite:deliveries.db", deliverylog.WithAddressKey(key))
//	conn, err := sesconnector.New(ctx, cfg, sesconnector.WithObserver(log.Observer()))
//	handler, err := feedback.NewSNSHandler(log.Feedback(markUndeliverable), feedback.WithTopicARNs(topicARN))
//	messages, err := log.ByAddress(ctx, "jane@example.com", 20)
//
// Addresses are stored only as their HMAC-SHA256 under a key of yours and in masked form
// (j***@example.com): the log can tell someone who types an address what happened to mail
// sent to it, and cannot list the addresses it holds. Error texts and SES's diagnostics are
// masked too. Forget erases an address's rows; rows older than the retention (30 days unless
// WithRetention says otherwise) are swept.
//
// Recording never stands in a send's way: the Observer and the Feedback handler put records
// on a bounded queue that one goroutine writes in batches. A full queue drops records and
// counts them (Dropped); a database that is down or slow costs the sends nothing, and writing
// resumes within a few seconds of its return. Close writes what is queued.
package deliverylog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesconnector/sesconnector"
)

// Errors of the log's look-ups. Open's problems wrap sesconnector.ErrInvalidConfig, a bad
// look-up's sesconnector.ErrInvalidParameters.
var (
	ErrNotFound = errors.New("deliverylog: no such message")
	ErrClosed   = errors.New("deliverylog: the log is closed")
)

// DefaultRetention is how long rows are kept without WithRetention; DefaultQueue is how many
// records may wait to be written without WithQueue.
const (
	DefaultRetention = 30 * 24 * time.Hour
	DefaultQueue     = 10_000
)

// minKey is the shortest address key: 256 bits.
const minKey = 32

// Option configures Open.
type Option func(*options)

type options struct {
	key       []byte
	retention time.Duration
	queue     int
	problems  []string
}

// WithAddressKey sets the key of the addresses' HMAC-SHA256: required, at least 32 bytes,
// secret, and the same for every replica and for every run (a new key cannot find the rows
// stored under the old one).
func WithAddressKey(key []byte) Option {
	return func(o *options) {
		if len(key) < minKey {
			o.problems = append(o.problems, fmt.Sprintf("WithAddressKey: the key has %d bytes; give at least %d random bytes (openssl rand 32 > key)", len(key), minKey))
			return
		}
		o.key = append([]byte(nil), key...)
	}
}

// WithRetention sets how long rows are kept; older rows are swept. The default is 30 days.
func WithRetention(d time.Duration) Option {
	return func(o *options) {
		if d < time.Hour {
			o.problems = append(o.problems, fmt.Sprintf("WithRetention(%v): keep rows for an hour or more", d))
			return
		}
		o.retention = d
	}
}

// WithQueue sets how many records may wait to be written (default 10,000); beyond it records
// are dropped and counted by Dropped.
func WithQueue(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.problems = append(o.problems, fmt.Sprintf("WithQueue(%d): give a queue of at least 1 record", n))
			return
		}
		o.queue = n
	}
}

// Log is an open delivery log. Its methods are safe for concurrent use.
type Log struct {
	db        *sql.DB
	dialect   dialect
	key       []byte
	retention time.Duration

	queue   chan record
	dropped atomic.Uint64
	closed  atomic.Bool
	stop    chan struct{}      // closed by Close: write what is queued, then end
	writing context.Context    // the writer's: canceled when Close's context ends, to stop retrying
	abort   context.CancelFunc // cancels writing
	done    chan struct{}      // closed when the writer has ended
	once    sync.Once
}

// Open opens the log at dsn, "postgres://user@host/db?..." (or "postgresql://") or
// "sqlite:path/to/file.db", applies the schema's migrations, sweeps the rows past the
// retention, and starts the writer.
func Open(ctx context.Context, dsn string, opts ...Option) (*Log, error) {
	o := options{retention: DefaultRetention, queue: DefaultQueue}
	for _, opt := range opts {
		opt(&o)
	}
	if o.key == nil && len(o.problems) == 0 {
		o.problems = append(o.problems, "WithAddressKey is required: addresses are stored only as their keyed hash")
	}
	d, driverDSN, err := parseDSN(dsn)
	if err != nil {
		o.problems = append(o.problems, err.Error())
	}
	if len(o.problems) > 0 {
		return nil, fmt.Errorf("%w: deliverylog: %s", sesconnector.ErrInvalidConfig, joinProblems(o.problems))
	}
	db, err := sql.Open(d.driver, driverDSN)
	if err != nil {
		return nil, fmt.Errorf("deliverylog: opening %s: %w", d.name, err)
	}
	d.configure(db)
	if err := migrate(ctx, db, d); err != nil {
		db.Close()
		return nil, err
	}
	l := &Log{
		db: db, dialect: d, key: o.key, retention: o.retention,
		queue: make(chan record, o.queue),
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	l.writing, l.abort = context.WithCancel(context.Background())
	l.sweep(ctx)
	go l.write()
	return l, nil
}

func joinProblems(ps []string) string {
	s := ps[0]
	for _, p := range ps[1:] {
		s += "; " + p
	}
	return s
}

// Dropped is the number of records dropped because the queue was full (or because Close's
// context ended before they were written).
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Close stops taking records, writes what is queued, and closes the database. When ctx ends
// first, what is left is dropped (and counted) and ctx's error returned.
func (l *Log) Close(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		l.closed.Store(true)
		close(l.stop)
		select {
		case <-l.done:
		case <-ctx.Done():
			l.abort()
			<-l.done
			err = fmt.Errorf("deliverylog: closing before everything queued was written: %w", ctx.Err())
		}
		if cerr := l.db.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// enqueue puts r on the queue, or counts it dropped.
func (l *Log) enqueue(r record) {
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	select {
	case l.queue <- r:
	default:
		l.dropped.Add(1)
	}
}

// Observer records every send of a Connector, sent or refused: pass it to
// sesconnector.WithObserver. It only queues, on the sender's goroutine.
func (l *Log) Observer() sesconnector.Observer { return observer{l} }

type observer struct{ l *Log }

func (observer) SendStart(context.Context, sesconnector.SendInfo) context.Context { return nil }

func (o observer) SendDone(_ context.Context, s sesconnector.SendInfo, r sesconnector.SendResult) {
	m := &sendRecord{
		to: s.To, id: r.MessageID, usage: string(s.Usage), locale: r.Locale, template: r.Template,
		region: r.Region, outcome: string(r.Outcome), at: time.Now(),
	}
	if m.locale == "" {
		m.locale = s.Locale
	}
	if r.Err != nil {
		m.err = r.Err.Error()
	}
	o.l.enqueue(record{send: m})
}

// ReadKeyFile reads an address key from a file as `sesconnector log` and examples/authserver
// do: the file's bytes without one final newline, so that a key made with
// `openssl rand -hex 32 > address.key` is its 64 characters.
func ReadKeyFile(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: deliverylog: reading the address key: %w", sesconnector.ErrInvalidConfig, err)
	}
	key = bytes.TrimSuffix(key, []byte("\n"))
	return bytes.TrimSuffix(key, []byte("\r")), nil
}
