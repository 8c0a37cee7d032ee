package main

import (
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/fluxcd/flagger/pkg/canary"
	flaggerfake "github.com/fluxcd/flagger/pkg/client/clientset/versioned/fake"
	flaggerinformers "github.com/fluxcd/flagger/pkg/client/informers/externalversions"
	"github.com/fluxcd/flagger/pkg/controller"
	"github.com/fluxcd/flagger/pkg/metrics/observers"
	"github.com/fluxcd/flagger/pkg/notifier"
	"github.com/fluxcd/flagger/pkg/router"
	"github.com/fluxcd/flagger/pkg/version"
)

// flaggerOptions are the flags a Flagger deployment would be started with.
type flaggerOptions struct {
	meshProvider string        // -mesh-provider
	window       time.Duration // -control-loop-interval (flaggerWindow)
	threadiness  int           // -threadiness
}

// startFlagger builds Flagger's controller as cmd/flagger does, from Flagger's
// own packages, on the fake clientsets, and runs it until stop is closed.
// Differences from a real Flagger: no leader election, no HTTP server, no
// Knative client (only Deployments are targets here), and a Prometheus address
// on 127.0.0.1:9 that nothing queries (the Canary has no metrics; anything
// that did query it would fail at once rather than reach the network).
func startFlagger(kube *fake.Clientset, flagger *flaggerfake.Clientset, namespace string,
	opts flaggerOptions, logger *zap.SugaredLogger, stop <-chan struct{}) error {
	factory := flaggerinformers.NewSharedInformerFactoryWithOptions(flagger, 30*time.Second,
		flaggerinformers.WithNamespace(namespace))
	infos := controller.Informers{
		CanaryInformer: factory.Flagger().V1beta1().Canaries(),
		MetricInformer: factory.Flagger().V1beta1().MetricTemplates(),
		AlertInformer:  factory.Flagger().V1beta1().AlertProviders(),
	}
	for _, informer := range []cache.SharedIndexInformer{
		infos.CanaryInformer.Informer(), infos.MetricInformer.Informer(), infos.AlertInformer.Informer(),
	} {
		go informer.Run(stop)
		if !cache.WaitForNamedCacheSync("flagger", stop, informer.HasSynced) {
			return fmt.Errorf("flagger informers did not sync")
		}
	}

	observerFactory, err := observers.NewFactory("http://127.0.0.1:9")
	if err != nil {
		return err
	}
	routerFactory := router.NewFactory(nil, kube, flagger, nil, "custom.ingress.kubernetes.io", "", logger, flagger, true)
	configTracker := &canary.ConfigTracker{Logger: logger, KubeClient: kube, FlaggerClient: flagger}
	canaryFactory := canary.NewFactory(kube, flagger, nil, configTracker,
		[]string{"app", "name", "app.kubernetes.io/name"}, []string{""}, logger)

	ctrl := controller.NewController(kube, nil, flagger, infos, opts.window, logger, &notifier.NopNotifier{},
		canaryFactory, routerFactory, observerFactory, opts.meshProvider, version.VERSION, "", "", false, nil)
	go func() {
		if err := ctrl.Run(opts.threadiness, stop); err != nil {
			logger.Errorf("controller stopped: %v", err)
		}
	}()
	return nil
}

// newFlaggerLogger is the logger handed to Flagger: its lines go to stderr
// as JSON (Flagger's format), and every line about a canary (the "canary"
// field, which Flagger sets on each event it records, webhook failures
// included) is also reported on stdout as a "flagger" line.
func newFlaggerLogger(level string, rep *reporter) (*zap.SugaredLogger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	encoder := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	stderr := zapcore.NewCore(encoder, zapcore.Lock(os.Stderr), lvl)
	return zap.New(zapcore.NewTee(stderr, &canaryLines{rep: rep})).Sugar(), nil
}

// canaryLines is a zap core that reports the info-and-above lines that carry
// a "canary" field.
type canaryLines struct {
	rep       *reporter
	hasCanary bool
}

func (c *canaryLines) Enabled(l zapcore.Level) bool { return l >= zapcore.InfoLevel }

func (c *canaryLines) With(fields []zapcore.Field) zapcore.Core {
	next := *c
	for _, f := range fields {
		if f.Key == "canary" {
			next.hasCanary = true
		}
	}
	return &next
}

func (c *canaryLines) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *canaryLines) Write(e zapcore.Entry, fields []zapcore.Field) error {
	has := c.hasCanary
	for _, f := range fields {
		has = has || f.Key == "canary"
	}
	if has {
		c.rep.emit(flaggerLine{line: c.rep.at("flagger"), Level: e.Level.String(), Message: e.Message})
	}
	return nil
}

func (c *canaryLines) Sync() error { return nil }
