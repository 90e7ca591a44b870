package main

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// The .eml download's header lines follow RFC 5322 section 2.1.1: at most 78 characters where
// the text can be broken, never more than 998. A line is broken only at a space, which the
// reader joins back ("unfolding"); a word that could not fit is written as RFC 2047
// encoded-words, which may be broken between any two.

const (
	foldAt   = 78 // the line length to keep to where a line can be broken
	maxWord  = 66 // an encoded-word (RFC 2047 allows 75) that fits after "Reply-To: " within foldAt
	plainMax = 60 // a plain word longer than this is encoded, so that its line can stay within foldAt
	wordHead = "=?UTF-8?Q?"
)

// writeHeader writes "name: value" to b, folded.
func writeHeader(b *bytes.Buffer, name, value string) {
	line := len(name) + 1 // "name:"
	b.WriteString(name)
	b.WriteByte(':')
	for _, word := range strings.Split(value, " ") {
		if line > len(name)+1 && line+1+len(word) > foldAt {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		line += 1 + len(word)
	}
	b.WriteString("\r\n")
}

// unstructured is a Subject-like value as it goes in a header: as it is when it is printable
// ASCII in words that fold, otherwise all of it as encoded-words.
func unstructured(s string) string {
	if plainFolds(s) {
		return s
	}
	return encodeWords(s)
}

// plainFolds says whether s can go in a header as it is: printable ASCII words between single
// spaces (a reader collapses the spaces around a fold), none that looks like an encoded-word
// or is too long to fold.
func plainFolds(s string) bool {
	for _, word := range strings.Split(s, " ") {
		if word == "" || len(word) > plainMax || strings.Contains(word, "=?") {
			return false
		}
		for i := 0; i < len(word); i++ {
			if word[i] < '!' || word[i] > '~' {
				return false
			}
		}
	}
	return true
}

// encodeWords writes s as Q-encoded UTF-8 encoded-words of at most maxWord characters, each
// holding whole characters, separated by spaces (which a reader drops between encoded-words).
func encodeWords(s string) string {
	var out, word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			if out.Len() > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(wordHead + word.String() + "?=")
			word.Reset()
		}
	}
	room := maxWord - len(wordHead) - len("?=")
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!*+-/", r)):
			enc = string(r)
		default:
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				enc += fmt.Sprintf("=%02X", c)
			}
		}
		if word.Len()+len(enc) > room {
			flush()
		}
		word.WriteString(enc)
	}
	flush()
	return out.String()
}

// mailbox is an address as it goes in a From or Reply-To header: a display name that does not
// fold as it is becomes encoded-words.
func mailbox(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name == "" {
		return s
	}
	if plainFolds(a.Name) {
		// Quoting adds a backslash before each '"' and '\': the quoted name must fold too.
		quoted := a.String()
		if display, ok := strings.CutSuffix(quoted, " <"+a.Address+">"); ok && plainFolds(display) {
			return quoted
		}
	}
	return encodeWords(a.Name) + " <" + a.Address + ">"
}
