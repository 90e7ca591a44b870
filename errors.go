package sesconnector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The sentinel errors. Every error this package returns matches one of them with errors.Is
// (ErrThrottled matches ErrSendFailed as well; ErrRecipientLimited, ErrSuppressed and ErrUndeliverable match
// ErrInvalidParameters), and wraps its cause: errors.As reaches
// the smithy API error and the typed SES exception, and errors.Is(err, context.Canceled) works.
var (
	// ErrInvalidConfig reports a Config or an Option that failed validation.
	ErrInvalidConfig = errors.New("sesconnector: invalid config")
	// ErrTemplateNotFound reports that no template fits the usage type, not even a Generic one.
	ErrTemplateNotFound = errors.New("sesconnector: template not found")
	// ErrInvalidParameters reports a bad send call: a recipient that is not one bare address,
	// an unknown usage type, a placeholder the payload does not resolve, or CR/LF in a header.
	ErrInvalidParameters = errors.New("sesconnector: invalid parameters")
	// ErrSendFailed reports that SES refused the message or could not be reached.
	ErrSendFailed = errors.New("sesconnector: send failed")
	// ErrThrottled reports that SES throttled the send after the SDK's retries, or that the
	// client-side send rate would delay it past the context's deadline. It also matches
	// ErrSendFailed.
	ErrThrottled error = &subError{msg: "sesconnector: throttled", parent: ErrSendFailed}
)

// subError is a sentinel that also matches its parent sentinel.
type subError struct {
	msg    string
	parent error
}

func (e *subError) Error() string        { return e.msg }
func (e *subError) Is(target error) bool { return target == e.parent }

// kindError has a text of its own and matches both kind (a sentinel) and cause.
type kindError struct {
	text        string
	kind, cause error
}

func (e *kindError) Error() string   { return e.text }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.cause} }

// Problem is one reason a Config is invalid: the JSON path of the field at fault and what to fix.
type Problem struct {
	Path    string // e.g. "templates[2].usageType"; "" for the document as a whole
	Message string
}

// String returns the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ConfigError lists every problem found in a Config at once. It matches ErrInvalidConfig.
type ConfigError struct {
	Problems []Problem
}

// Error returns all problems, one per line after the first.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidConfig.Error())
	if len(e.Problems) == 1 {
		b.WriteString(": ")
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// problems collects validation problems in the order they are found.
type problems []Problem

// maxQuoted is how much of a bad value a problem quotes: enough to recognize it, not a page.
const maxQuoted = 100

// quote quotes s as %q does, at most maxQuoted bytes of it (on a character boundary), saying
// how long the rest was.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	end := maxQuoted
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return fmt.Sprintf("%s… (%d bytes in all)", strconv.Quote(s[:end]), len(s))
}

func (ps *problems) add(path, msg string) { *ps = append(*ps, Problem{Path: path, Message: msg}) }

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ConfigError{Problems: ps}
}
