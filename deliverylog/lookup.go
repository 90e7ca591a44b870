package deliverylog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sesconnector/sesconnector"
)

// Message is one send and what SES said of it after.
type Message struct {
	// MessageID is SES's MessageId; "" for a send SES never took (Outcome says why).
	MessageID string
	Masked    string // the recipient, masked: j***@example.com
	Usage     string // the usage type: SignIn, Register, ...
	Locale    string // the template's locale, else the one asked for; "" for none
	Template  string // the template used: "templates[2]", "lookup"; "" when none was chosen
	Region    string // the region that took (or last refused) it; "" when none was called
	Outcome   string // sesconnector.Outcome: sent, suppressed, recipient_limited, throttled, ...
	Error     string // why it was not sent, masked; "" when it was
	At        time.Time
	Events    []Event // SES's events about it, in time order
}

// Event is one thing SES said about a message.
type Event struct {
	Type          string // Send, Delivery, DeliveryDelay, Bounce, Complaint, Reject, RenderingFailure
	BounceType    string // Permanent, Transient or Undetermined, for a Bounce
	BounceSubType string // General, NoEmail, Suppressed, MailboxFull, ..., for a Bounce
	// Diagnostic is what the receiving server or SES said, masked: the bounce's diagnostic
	// code, the delay's type, the delivery's SMTP answer, the complaint's feedback type, the
	// reject's reason, the rendering failure's message.
	Diagnostic string
	At         time.Time
}

// MaxLimit is the most messages one ByAddress returns.
const MaxLimit = 1000

const messageColumns = "id, masked, usage_type, locale, template, region, outcome, error, at"

// ByAddress returns the newest messages sent (or refused) to address, at most limit (1 to
// MaxLimit), newest first, each with its events. The address is matched whatever its letter
// case and surrounding spaces. Records still queued are not seen yet.
func (l *Log) ByAddress(ctx context.Context, address string, limit int) ([]Message, error) {
	if strings.TrimSpace(address) == "" {
		return nil, fmt.Errorf("%w: deliverylog: give the address to look up", sesconnector.ErrInvalidParameters)
	}
	if limit < 1 || limit > MaxLimit {
		return nil, fmt.Errorf("%w: deliverylog: limit %d: give 1 to %d", sesconnector.ErrInvalidParameters, limit, MaxLimit)
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := l.db.QueryContext(ctx, l.dialect.q("SELECT "+messageColumns+" FROM deliverylog_messages WHERE address_hash = ? ORDER BY at DESC LIMIT ?"),
		addressHash(l.key, address), limit)
	if err != nil {
		return nil, l.readError(err)
	}
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, l.readError(err)
		}
		out = append(out, m)
	}
	if err := rows.Close(); err != nil {
		return nil, l.readError(err)
	}
	return out, l.addEvents(ctx, out)
}

// ByMessageID returns the message SES named id, with its events, or ErrNotFound.
func (l *Log) ByMessageID(ctx context.Context, id string) (*Message, error) {
	if strings.TrimSpace(id) == "" {
		return nil, fmt.Errorf("%w: deliverylog: give the MessageId to look up", sesconnector.ErrInvalidParameters)
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	row := l.db.QueryRowContext(ctx, l.dialect.q("SELECT "+messageColumns+" FROM deliverylog_messages WHERE id = ? AND outcome = ?"),
		strings.TrimSpace(id), string(sesconnector.OutcomeSent))
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, cutID(id))
	}
	if err != nil {
		return nil, l.readError(err)
	}
	ms := []Message{m}
	if err := l.addEvents(ctx, ms); err != nil {
		return nil, err
	}
	return &ms[0], nil
}

// cutID quotes at most 80 bytes of what was asked for.
func cutID(id string) string {
	if len(id) > 80 {
		id = id[:80] + "…"
	}
	return fmt.Sprintf("%q", id)
}

type scanner interface{ Scan(dest ...any) error }

func scanMessage(s scanner) (Message, error) {
	var m Message
	var at int64
	if err := s.Scan(&m.MessageID, &m.Masked, &m.Usage, &m.Locale, &m.Template, &m.Region, &m.Outcome, &m.Error, &at); err != nil {
		return m, err
	}
	if m.Outcome != string(sesconnector.OutcomeSent) {
		m.MessageID = "" // the row's own name, refused-…
	}
	m.At = time.UnixMicro(at).UTC()
	return m, nil
}

// addEvents reads the events of the messages SES took.
func (l *Log) addEvents(ctx context.Context, ms []Message) error {
	var ids []any
	index := map[string]int{}
	for i, m := range ms {
		if m.MessageID != "" {
			ids = append(ids, m.MessageID)
			index[m.MessageID] = i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	rows, err := l.db.QueryContext(ctx, l.dialect.q("SELECT message_id, type, at, bounce_type, bounce_subtype, diagnostic FROM deliverylog_events WHERE message_id IN ("+marks+") ORDER BY at, type"), ids...)
	if err != nil {
		return l.readError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var e Event
		var at int64
		if err := rows.Scan(&id, &e.Type, &at, &e.BounceType, &e.BounceSubType, &e.Diagnostic); err != nil {
			return l.readError(err)
		}
		e.At = time.UnixMicro(at).UTC()
		ms[index[id]].Events = append(ms[index[id]].Events, e)
	}
	return l.readError(rows.Err())
}

// Forget erases every row of address: its messages and their events, after writing what is
// queued (so that a send recorded a moment ago is erased too). It returns how many rows it
// deleted. An event SES sends later about a forgotten message is stored under its MessageId
// alone, with no address, and swept with the retention.
func (l *Log) Forget(ctx context.Context, address string) (int, error) {
	if strings.TrimSpace(address) == "" {
		return 0, fmt.Errorf("%w: deliverylog: give the address to forget", sesconnector.ErrInvalidParameters)
	}
	if err := l.flush(ctx); err != nil {
		return 0, fmt.Errorf("deliverylog: writing what is queued before forgetting: %w", err)
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, l.readError(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	hash := addressHash(l.key, address)
	deleted := 0
	for _, query := range []string{
		"DELETE FROM deliverylog_events WHERE message_id IN (SELECT id FROM deliverylog_messages WHERE address_hash = ?)",
		"DELETE FROM deliverylog_messages WHERE address_hash = ?",
	} {
		res, err := tx.ExecContext(ctx, l.dialect.q(query), hash)
		if err != nil {
			return 0, l.readError(err)
		}
		n, _ := res.RowsAffected()
		deleted += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, l.readError(err)
	}
	return deleted, nil
}

// readError names the database in a failed look-up.
func (l *Log) readError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("deliverylog: reading %s: %w", l.dialect.name, err)
}
