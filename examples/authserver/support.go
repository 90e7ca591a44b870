package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
)

// minTokenLength is the shortest support token accepted: long enough that guessing it is
// hopeless (openssl rand -hex 32 makes 64 characters).
const minTokenLength = 32

// supportLimit is the most messages one look-up returns.
const supportLimit = 50

// Support answers "I never got the code" at GET /support/deliveries?address=: every code sent
// to the address and what SES said of it after, newest first, from the delivery log, as JSON,
// for a request with the support token (Authorization: Bearer TOKEN). A browser that opens
// /support/deliveries is given a small page that asks for the token and the address and
// fetches the JSON with them: the page holds no data of its own.
type Support struct {
	log   *deliverylog.Log
	token [sha256.Size]byte // compared as hashes, in constant time
}

// NewSupport serves log's look-ups to holders of token.
func NewSupport(log *deliverylog.Log, token string) (*Support, error) {
	if len(token) < minTokenLength {
		return nil, fmt.Errorf("the support token has %d characters; give at least %d (openssl rand -hex 32)", len(token), minTokenLength)
	}
	return &Support{log: log, token: sha256.Sum256([]byte(token))}, nil
}

// supportMessage is a message as the support page shows it.
type supportMessage struct {
	MessageID string         `json:"messageId"`
	To        string         `json:"to"` // masked
	Usage     string         `json:"usageType"`
	Locale    string         `json:"locale"`
	Region    string         `json:"region"`
	Outcome   string         `json:"outcome"`
	Error     string         `json:"error,omitempty"`
	At        time.Time      `json:"at"`
	Events    []supportEvent `json:"events"`
}

type supportEvent struct {
	Type          string    `json:"type"`
	BounceType    string    `json:"bounceType,omitempty"`
	BounceSubType string    `json:"bounceSubType,omitempty"`
	Diagnostic    string    `json:"diagnostic,omitempty"`
	At            time.Time `json:"at"`
}

// ServeHTTP answers a look-up: 401 without the token, 400 without an address, 503 when the log
// cannot be read; the page to a browser that asks for HTML without a token.
func (s *Support) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" && strings.Contains(r.Header.Get("Accept"), "text/html") {
		s.page(w)
		return
	}
	given, ok := strings.CutPrefix(auth, "Bearer ")
	if h := sha256.Sum256([]byte(given)); !ok || subtle.ConstantTimeCompare(h[:], s.token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="support"`)
		writeError(w, http.StatusUnauthorized, "give the support token: Authorization: Bearer TOKEN")
		return
	}
	address := r.URL.Query().Get("address")
	if strings.TrimSpace(address) == "" {
		writeError(w, http.StatusBadRequest, "give the address: /support/deliveries?address=jane@example.com")
		return
	}
	messages, err := s.log.ByAddress(r.Context(), address, supportLimit)
	switch {
	case errors.Is(err, ses.ErrInvalidParameters):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the delivery log cannot be read now; try again")
		return
	}
	out := make([]supportMessage, 0, len(messages))
	for _, m := range messages {
		sm := supportMessage{MessageID: m.MessageID, To: m.Masked, Usage: m.Usage, Locale: m.Locale, Region: m.Region,
			Outcome: m.Outcome, Error: m.Error, At: m.At, Events: make([]supportEvent, 0, len(m.Events))}
		for _, e := range m.Events {
			sm.Events = append(sm.Events, supportEvent{Type: e.Type, BounceType: e.BounceType, BounceSubType: e.BounceSubType, Diagnostic: e.Diagnostic, At: e.At})
		}
		out = append(out, sm)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// page serves the look-up page, its script allowed by a nonce of this answer alone.
func (s *Support) page(w http.ResponseWriter) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := base64.StdEncoding.EncodeToString(b[:])
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = supportPage.Execute(w, nonce)
}

// supportPage asks for the token (kept in this tab's sessionStorage) and the address, fetches
// the JSON, and writes every value with textContent: nothing from the log becomes markup.
var supportPage = template.Must(template.New("support").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deliveries</title>
<style nonce="{{.}}">body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-top:1em}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}.event td{color:#555;padding-left:2em}
#status{margin-top:1em}</style></head>
<body><h1>What happened to the codes sent to an address</h1>
<form id="lookup"><label>Support token <input id="token" type="password" autocomplete="off" required></label>
<label>Address <input id="address" type="email" required></label> <button id="go">Look up</button></form>
<p id="status" role="status"></p>
<table hidden id="results"><thead><tr><th>When (UTC)</th><th>What</th><th>Detail</th><th>MessageId</th></tr></thead><tbody></tbody></table>
<script nonce="{{.}}">
const $ = (id) => document.getElementById(id);
$("token").value = sessionStorage.getItem("supportToken") || "";
function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const text of cells) { const td = document.createElement("td"); td.textContent = text || ""; tr.append(td); }
  return tr;
}
const when = (t) => new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
$("lookup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("supportToken", $("token").value);
  const body = $("results").tBodies[0];
  body.replaceChildren();
  $("results").hidden = true;
  $("status").textContent = "Looking up…";
  try {
    const resp = await fetch("/support/deliveries?address=" + encodeURIComponent($("address").value),
      {headers: {"Authorization": "Bearer " + $("token").value, "Accept": "application/json"}});
    const data = await resp.json();
    if (!resp.ok) { $("status").textContent = data.error || resp.statusText; return; }
    for (const m of data.messages) {
      body.append(row([when(m.at), m.usageType + " to " + m.to + ": " + m.outcome, m.error || m.region, m.messageId || "(not sent)"]));
      for (const e of m.events) {
        const what = e.type + (e.bounceType ? " " + e.bounceType + "/" + e.bounceSubType : "");
        body.append(row([when(e.at), what, e.diagnostic, ""], "event"));
      }
    }
    $("status").textContent = data.messages.length + " messages, newest first";
    $("results").hidden = data.messages.length === 0;
  } catch (err) {
    $("status").textContent = "The look-up failed: " + err.message;
  }
});
</script></body></html>
`))
