package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Every line on stdout is one JSON object with "t" (milliseconds since the
// program started) and "event"; the README lists each event's fields.
type line struct {
	T     int64  `json:"t"`
	Event string `json:"event"`
}

type startLine struct {
	line
	Flagger   string   `json:"flagger"`
	Canary    string   `json:"canary"`
	Revisions []string `json:"revisions"`
	Webhooks  []string `json:"webhooks"`
}

type applyLine struct {
	line
	Revision string            `json:"revision"`
	Image    string            `json:"image"`
	Env      map[string]string `json:"env,omitempty"`
	Checksum string            `json:"checksum"`
}

// phaseLine is emitted when the Canary's phase or analysed revision changes
// ("phase"), and when only its failed checks or iterations do ("status").
type phaseLine struct {
	line
	Phase        string `json:"phase"`
	Revision     string `json:"revision"`
	Checksum     string `json:"checksum"`
	FailedChecks int    `json:"failedChecks"`
	Iterations   int    `json:"iterations"`
	Primary      string `json:"primary"`
	Canary       string `json:"canary"`
}

// attemptLine is one HTTP request Flagger sent to a webhook (each retry is one).
type attemptLine struct {
	line
	Hook       string `json:"hook"`
	Type       string `json:"type"`
	Phase      string `json:"phase"`
	Revision   string `json:"revision"`
	Checksum   string `json:"checksum"`
	Endpoint   string `json:"endpoint"`
	Attempt    int    `json:"attempt"`
	Status     int    `json:"status"`
	Error      string `json:"error,omitempty"`
	RunID      string `json:"runId,omitempty"`
	RunAttempt int    `json:"runAttempt,omitempty"`
	Body       string `json:"body,omitempty"`
	DurationMs int64  `json:"durationMs"`
}

// checkLine is one webhook call as Flagger's controller made it (CallWebhook),
// retries included: its outcome is what Flagger acted on.
type checkLine struct {
	line
	Hook     string `json:"hook"`
	Type     string `json:"type"`
	Phase    string `json:"phase"`
	Revision string `json:"revision"`
	Checksum string `json:"checksum"`
	OK       bool   `json:"ok"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
	RunID    string `json:"runId,omitempty"`
	Error    string `json:"error,omitempty"`
}

// flaggerLine is one of Flagger's own messages about the canary: the text of
// the Kubernetes events it records (webhook errors included) and its logs.
type flaggerLine struct {
	line
	Level   string `json:"level"`
	Message string `json:"msg"`
}

type outcomeLine struct {
	line
	Revision string `json:"revision"`
	Outcome  string `json:"outcome"`
	Expected string `json:"expected,omitempty"`
	Primary  string `json:"primary"`
}

type doneLine struct {
	line
	OK       bool              `json:"ok"`
	Reason   string            `json:"reason,omitempty"`
	Outcomes map[string]string `json:"outcomes"`
}

// reporter writes the JSON lines; safe for concurrent use.
type reporter struct {
	mu    sync.Mutex
	enc   *json.Encoder
	start time.Time
}

func newReporter(w io.Writer) *reporter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &reporter{enc: enc, start: time.Now()}
}

func (r *reporter) at(event string) line {
	return line{T: time.Since(r.start).Milliseconds(), Event: event}
}

func (r *reporter) emit(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.enc.Encode(v)
}
