// Command flagger-client calls a webhook exactly the way Flagger's controller
// does, by invoking Flagger's own webhook client
// (github.com/fluxcd/flagger/pkg/controller.CallWebhook). It exists so that
// k6-gate can be tested against the real client instead of a re-implementation.
//
// It prints "ok" and exits 0 when CallWebhook returns nil, otherwise it prints
// "error: <error text>" and exits 1. Bad flags exit 2.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/fluxcd/flagger/pkg/canary"
	"github.com/fluxcd/flagger/pkg/controller"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kvFlags collects repeated -m key=value flags.
type kvFlags []string

func (k *kvFlags) String() string     { return strings.Join(*k, ",") }
func (k *kvFlags) Set(v string) error { *k = append(*k, v); return nil }

// payloadChecksum mirrors the unexported canaryChecksum in Flagger's
// pkg/controller/webhook.go so that -print-checksum can show the value that
// CallWebhook puts into the payload's "checksum" field. It uses Flagger's own
// canary.ComputeHash on the same anonymous struct.
func payloadChecksum(c flaggerv1.Canary) string {
	canaryFields := struct {
		TrackedConfigs  *map[string]string
		LastAppliedSpec string
	}{
		c.Status.TrackedConfigs,
		c.Status.LastAppliedSpec,
	}
	return canary.ComputeHash(canaryFields)
}

func usageErr(format string, a ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(2)
}

func main() {
	var (
		url       = flag.String("url", "", "webhook URL (required)")
		timeout   = flag.String("timeout", "", `webhook timeout, a Go duration such as "3s" (CanaryWebhook.Timeout; Flagger uses "10s" when shorter than 2 chars)`)
		retries   = flag.Int("retries", 0, "webhook retries (CanaryWebhook.Retries)")
		name      = flag.String("name", "podinfo", "canary name")
		namespace = flag.String("namespace", "test", "canary namespace")
		checksum  = flag.String("checksum", "", "value for Canary.Status.LastAppliedSpec; the payload's checksum is Flagger's hash of it (see -print-checksum)")
		phase     = flag.String("phase", string(flaggerv1.CanaryPhaseProgressing), "canary phase sent in the payload")
		hookType  = flag.String("type", string(flaggerv1.PreRolloutHook), "webhook type (CanaryWebhook.Type)")
		hookName  = flag.String("hook-name", "k6-gate", "webhook name (CanaryWebhook.Name)")
		metaJSON  = flag.String("meta", "", `webhook metadata as a JSON object of string->string, e.g. '{"script":"..."}'`)
		disable   = flag.Bool("disable-tls", false, "CanaryWebhook.DisableTLS")
		printSum  = flag.Bool("print-checksum", false, "print \"checksum: <value>\" (the payload checksum Flagger computes) to stderr before calling")
		kv        kvFlags
	)
	flag.Var(&kv, "m", "metadata entry key=value; repeatable; applied after -meta (overrides same key)")
	flag.Parse()

	if *url == "" {
		usageErr("-url is required")
	}
	if flag.NArg() > 0 {
		usageErr("unexpected arguments: %v", flag.Args())
	}

	var metadata *map[string]string
	if *metaJSON != "" || len(kv) > 0 {
		m := map[string]string{}
		if *metaJSON != "" {
			if err := json.Unmarshal([]byte(*metaJSON), &m); err != nil {
				usageErr("-meta: not a JSON object of strings: %v", err)
			}
		}
		for _, e := range kv {
			k, v, ok := strings.Cut(e, "=")
			if !ok || k == "" {
				usageErr("-m %q: want key=value", e)
			}
			m[k] = v
		}
		metadata = &m
	}

	cd := flaggerv1.Canary{
		ObjectMeta: metav1.ObjectMeta{Name: *name, Namespace: *namespace},
		Status: flaggerv1.CanaryStatus{
			Phase:           flaggerv1.CanaryPhase(*phase),
			LastAppliedSpec: *checksum,
		},
	}
	hook := flaggerv1.CanaryWebhook{
		Type:       flaggerv1.HookType(*hookType),
		Name:       *hookName,
		URL:        *url,
		Timeout:    *timeout,
		Retries:    *retries,
		Metadata:   metadata,
		DisableTLS: *disable,
	}

	if *printSum {
		fmt.Fprintf(os.Stderr, "checksum: %s\n", payloadChecksum(cd))
	}

	if err := controller.CallWebhook(cd, flaggerv1.CanaryPhase(*phase), hook); err != nil {
		fmt.Printf("error: %s\n", err.Error())
		os.Exit(1)
	}
	fmt.Println("ok")
}
