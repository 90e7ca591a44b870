package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// This file reads request bodies and writes answers.

const bodyShape = `{"email", "usageType", "locale"} to /codes, {"email", "usageType", "code"} to /verify`

// maxBody bounds a request body; a code request is a few dozen bytes.
const maxBody = 4096

// decode reads the request body as one JSON object, and answers 400 with what is wrong with
// it, naming the field at fault, or 413 for a body over 4 KiB.
func decode(w http.ResponseWriter, r *http.Request, v *codeRequest) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "the body is over 4 KiB")
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "the body could not be read")
		return false
	}
	if msg := decodeProblem(body, v); msg != "" {
		writeError(w, http.StatusBadRequest, msg+": send "+bodyShape)
		return false
	}
	return true
}

// decodeProblem decodes body into v and says what is wrong, or "".
func decodeProblem(body []byte, v *codeRequest) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "the body must be a JSON object, not " + typeErr.Value
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s must be a string, not %s", typeErr.Field, typeErr.Value)
	case errors.As(err, &syntax):
		return "the body is not JSON" + near(body, syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is not JSON: it ends too soon" + near(body, int64(len(body)))
	default:
		return "the body is not JSON"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "the body holds more after its JSON object"
	}
	var missing []string
	if v.Email == "" {
		missing = append(missing, "email")
	}
	if v.UsageType == "" {
		missing = append(missing, "usageType")
	}
	if len(missing) > 0 {
		return strings.Join(missing, " and ") + map[bool]string{true: " is", false: " are"}[len(missing) == 1] + " required"
	}
	return ""
}

// lastKey finds the field whose value a syntax error at offset is in.
var lastKey = regexp.MustCompile(`"(\w+)"\s*:[^:]*$`)

// near names the field before offset, if any: `(in "email")`.
func near(body []byte, offset int64) string {
	if m := lastKey.FindSubmatch(body[:min(max(offset, 0), int64(len(body)))]); m != nil {
		return fmt.Sprintf(" (in %q)", m[1])
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
