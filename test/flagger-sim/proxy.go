package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
)

// hookProxy stands where the network between Flagger and k6-gate would be (a
// Service, a sidecar): Flagger's webhook URL points at it, and it forwards
// every request unchanged to the webhook's endpoints, one after the other, as
// a Service spreads new connections over replicas. It records what Flagger
// sent and what came back, because Flagger's CallWebhook keeps the response
// body of a passed check to itself (the run id is in it).
//
// When Flagger gives up on a request (its `timeout`), it closes the
// connection; the proxy then cancels its own request to k6-gate, so k6-gate
// sees the disconnect just as it would without the proxy.
type hookProxy struct {
	hook      flaggerv1.CanaryWebhook
	target    *url.URL
	endpoints []string
	next      atomic.Uint64
	client    *http.Client
	rep       *reporter
	index     *revisionIndex
	// onCheck runs when Flagger's call (all its attempts) is over.
	onCheck func(checkLine)

	mu       sync.Mutex
	attempts int
}

var runIDInBody = regexp.MustCompile(`(?m)^run (\S+), attempt (\d+)`)

// hopHeaders are per connection and not forwarded (RFC 9110 section 7.6.1).
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		if hopHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

func startHookProxy(p *hookProxy) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	p.client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	go func() { _ = http.Serve(ln, p) }()
	u := *p.target
	u.Host = ln.Addr().String()
	return u.String(), nil
}

// retryable is go-retryablehttp's DefaultRetryPolicy, which Flagger's
// webhook client uses: transport errors, 429, and 5xx except 501.
func retryable(status int) bool {
	return status == 0 || status == http.StatusTooManyRequests ||
		(status >= 500 && status != http.StatusNotImplemented)
}

func (p *hookProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	var payload struct {
		Phase    string `json:"phase"`
		Checksum string `json:"checksum"`
	}
	_ = json.Unmarshal(body, &payload)
	rev := p.index.revisionOf(payload.Checksum)

	p.mu.Lock()
	p.attempts++
	attempt := p.attempts
	p.mu.Unlock()

	endpoint := p.endpoints[int(p.next.Add(1)-1)%len(p.endpoints)]
	rec := attemptLine{
		Hook: p.hook.Name, Type: string(p.hook.Type), Phase: payload.Phase, Revision: rev,
		Checksum: payload.Checksum, Endpoint: endpoint, Attempt: attempt,
	}
	// The status Flagger saw; 0 when it saw none (it gave up first).
	seen := 0
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+endpoint+r.URL.RequestURI(), bytes.NewReader(body))
	if err == nil {
		copyHeaders(req.Header, r.Header)
		var resp *http.Response
		resp, err = p.client.Do(req)
		if err == nil {
			respBody, readErr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			rec.Status = resp.StatusCode
			rec.Body = strings.TrimSpace(string(respBody))
			if m := runIDInBody.FindStringSubmatch(rec.Body); m != nil {
				rec.RunID = m[1]
				rec.RunAttempt, _ = strconv.Atoi(m[2])
			}
			err = readErr
			if err == nil {
				copyHeaders(w.Header(), resp.Header)
				w.WriteHeader(resp.StatusCode)
				if _, werr := w.Write(respBody); werr != nil || r.Context().Err() != nil {
					rec.Error = "Flagger closed the connection before the response reached it"
				} else {
					seen = resp.StatusCode
				}
			}
		}
	}
	if err != nil {
		if r.Context().Err() != nil {
			rec.Error = "Flagger closed the connection (its webhook timeout)"
		} else {
			rec.Error = "k6-gate unreachable: " + err.Error()
			http.Error(w, rec.Error, http.StatusBadGateway)
			seen = http.StatusBadGateway
			rec.Status = seen
		}
	}
	rec.DurationMs = time.Since(started).Milliseconds()
	rec.line = p.rep.at("webhook")
	p.rep.emit(rec)

	if retryable(seen) && attempt < p.hook.Retries+1 {
		return // Flagger sends this call again
	}
	p.mu.Lock()
	p.attempts = 0
	p.mu.Unlock()
	check := checkLine{
		Hook: p.hook.Name, Type: string(p.hook.Type), Phase: payload.Phase, Revision: rev,
		Checksum: payload.Checksum, OK: seen != 0 && seen <= 202, Status: seen, Attempts: attempt,
		RunID: rec.RunID,
	}
	switch {
	case check.OK:
	case retryable(seen):
		check.Error = fmt.Sprintf("POST %s giving up after %d attempt(s)", p.target, attempt)
		if seen == 0 {
			check.Error += ": " + rec.Error
		}
	default:
		check.Error = rec.Body
	}
	check.line = p.rep.at("check")
	p.rep.emit(check)
	if p.onCheck != nil {
		p.onCheck(check)
	}
}

// revisionIndex maps the checksum Flagger puts in webhook payloads to the
// revision it was computed from.
type revisionIndex struct {
	mu         sync.Mutex
	byChecksum map[string]string
	bySpec     map[string]string
}

func newRevisionIndex() *revisionIndex {
	return &revisionIndex{byChecksum: map[string]string{}, bySpec: map[string]string{}}
}

func (x *revisionIndex) add(spec, checksum, revision string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if spec != "" {
		x.bySpec[spec] = revision
	}
	if checksum != "" {
		x.byChecksum[checksum] = revision
	}
}

func (x *revisionIndex) revisionOf(checksum string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.byChecksum[checksum]
}

func (x *revisionIndex) revisionOfSpec(spec string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bySpec[spec]
}
