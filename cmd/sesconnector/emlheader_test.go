package main

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerLines are the header lines of an .eml, folded as written.
func headerLines(t testing.TB, data []byte) []string {
	head, _, ok := bytes.Cut(data, []byte("\r\n\r\n"))
	require.True(t, ok, "a header and a body")
	return strings.Split(string(head), "\r\n")
}

// emlOf builds an .eml of a Simple message with these From, Subject and headers.
func emlOf(t testing.TB, from, subject string, headers ...types.MessageHeader) []byte {
	in := &sesv2.SendEmailInput{FromEmailAddress: aws.String(from), Destination: &types.Destination{ToAddresses: []string{"preview@example.com"}},
		ReplyToAddresses: []string{from},
		Content: &types.EmailContent{Simple: &types.Message{Subject: &types.Content{Data: aws.String(subject)}, Headers: headers,
			Body: &types.Body{Text: &types.Content{Data: aws.String("text")}}}}}
	data, err := buildEML(in, time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	return data
}

// Header lines are folded: 78 characters where the text can be broken, never over 998, and
// they read back as written. The sizes are issue 25's: a Subject of 2,470 octets and a From of
// 5,164 were each one line.
func TestEMLHeadersFold(t *testing.T) {
	long := strings.Repeat("Código de verificação ", 110) // 2,420 characters, non-ASCII
	name := strings.Repeat("Ação Comercial Ltda ", 250)   // a display name of 5,000
	ascii := strings.Repeat("x", 2000)                    // one word, no space to fold at
	value := strings.Repeat("v", 870)                     // SES's longest header value
	for _, c := range []struct{ from, subject string }{
		{(&mail.Address{Name: strings.TrimSpace(name), Address: "no-reply@acme.example"}).String(), strings.TrimSpace(long)},
		{`"` + ascii + `" <no-reply@acme.example>`, ascii},
		{`"Acme  Inc" <no-reply@acme.example>`, "two  spaces and =?UTF-8?Q?not_an_encoded_word?= "},
		{"no-reply@acme.example", "Short and plain"},
	} {
		data := emlOf(t, c.from, c.subject, types.MessageHeader{Name: aws.String(strings.Repeat("N", 126)), Value: aws.String(value)})
		for _, line := range headerLines(t, data) {
			assert.LessOrEqual(t, len(line), 998)
			if len(line) > foldAt {
				assert.Equal(t, strings.Repeat("N", 126)+": "+value, line, "only a line with no space to fold at is over 78")
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		require.NoError(t, err)
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		require.NoError(t, err)
		assert.Equal(t, c.subject, subject)
		want, err := mail.ParseAddress(c.from)
		require.NoError(t, err)
		for _, h := range []string{"From", "Reply-To"} {
			got, err := mail.ParseAddress(msg.Header.Get(h))
			require.NoError(t, err, h)
			assert.Equal(t, want, got, h)
		}
	}
	lines := headerLines(t, emlOf(t, (&mail.Address{Name: strings.TrimSpace(name), Address: "no-reply@acme.example"}).String(), strings.TrimSpace(long)))
	longest := 0
	for _, line := range lines {
		longest = max(longest, len(line))
	}
	t.Logf("the longest header line of a 2,420-character subject and a 5,000-character From name: %d octets (%d lines)", longest, len(lines))
}

// Whatever the subject and display name, every header line is within 78 characters (no word
// is left that cannot be broken) and reads back as it was.
func FuzzEMLHeaders(f *testing.F) {
	f.Add("Code 123456", "Acme")
	f.Add("Código  =?x?= _ "+strings.Repeat("é", 100), strings.Repeat("\"quoted\" ", 30))
	f.Fuzz(func(t *testing.T, subject, name string) {
		if !utf8.ValidString(subject) || !utf8.ValidString(name) || strings.ContainsFunc(subject+name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return // SES's subjects and names hold no control characters; the library refuses them
		}
		from := (&mail.Address{Name: name, Address: "no-reply@acme.example"}).String()
		data := emlOf(t, from, subject)
		for _, line := range headerLines(t, data) {
			if len(line) > foldAt {
				t.Fatalf("a line of %d: %q", len(line), line)
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || got != subject {
			t.Fatalf("subject %q read back as %q (%v)", subject, got, err)
		}
		if want := strings.TrimSpace(name); want != "" && !strings.ContainsAny(want, "\"\\") {
			a, err := mail.ParseAddress(msg.Header.Get("From"))
			if err != nil || a.Name != name {
				t.Fatalf("From name %q read back as %+v (%v)", name, a, err)
			}
		}
	})
}
