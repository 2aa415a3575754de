package rotation

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// MetricsNamespace is the CloudWatch namespace of the metrics a Handler
// emits when Options.Metrics is set.
//
// Each step writes one CloudWatch Embedded Metric Format record, a single
// JSON line that CloudWatch Logs turns into metrics when it reaches a
// Lambda function's log stream. The metrics:
//
//   - StepCount (Count): 1 for every step.
//   - StepFailures (Count): 1 when the step failed, else 0. Its Sum over
//     StepCount's is the failure rate; alarm on Sum > 0.
//   - StepDuration (Milliseconds): how long the step took.
//   - SecretsManagerCalls (Count): the Secrets Manager API calls the
//     Handler made through its Client for the step (a call the SDK retried
//     counts once; calls a Rotator makes with its own clients are not
//     counted).
//
// Dimensions, all low-cardinality: FunctionName (the Lambda function, when
// running in Lambda), Step (createSecret, setSecret, testSecret,
// finishSecret, or "invalid" for an event that did not parse) and Outcome
// (done, already-current, pending-exists, failed). Two dimension sets are
// published: {FunctionName, Step} and {FunctionName, Step, Outcome}. The
// secret id and version id are record properties, not dimensions, so they
// can be searched with CloudWatch Logs Insights without creating a metric
// per secret. A record never holds a secret value, the RotationToken or an
// error's text.
const MetricsNamespace = "RotationKit"

// emf writes Embedded Metric Format records. A nil *emf writes nothing.
type emf struct {
	mu sync.Mutex // one record per Write, never interleaved
	w  io.Writer
}

func newEMF(w io.Writer) *emf {
	if w == nil {
		return nil
	}
	return &emf{w: w}
}

type callCounterKey struct{}

// begin returns ctx carrying a counter of Secrets Manager calls, which
// countingClient increments. Without metrics it returns ctx unchanged.
func (m *emf) begin(ctx context.Context) (context.Context, *atomic.Int64) {
	if m == nil {
		return ctx, nil
	}
	n := new(atomic.Int64)
	return context.WithValue(ctx, callCounterKey{}, n), n
}

// emfRecord is one record; the field names are the metric, dimension and
// property names.
type emfRecord struct {
	AWS                 emfMeta `json:"_aws"`
	FunctionName        string  `json:"FunctionName,omitempty"`
	Step                string  `json:"Step"`
	Outcome             string  `json:"Outcome"`
	StepCount           int     `json:"StepCount"`
	StepFailures        int     `json:"StepFailures"`
	StepDuration        float64 `json:"StepDuration"`
	SecretsManagerCalls int64   `json:"SecretsManagerCalls"`
	SecretID            string  `json:"SecretId"`
	VersionID           string  `json:"VersionId,omitempty"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

var emfMetrics = []emfMetric{
	{"StepCount", "Count"},
	{"StepFailures", "Count"},
	{"StepDuration", "Milliseconds"},
	{"SecretsManagerCalls", "Count"},
}

// step writes the record of one step that started at start.
func (m *emf) step(ctx context.Context, step Step, secretID, versionID string, out outcome, start time.Time, calls *atomic.Int64) {
	if m == nil {
		return
	}
	end := time.Now()
	r := emfRecord{
		Step:         string(step),
		Outcome:      string(out),
		StepCount:    1,
		StepDuration: float64(end.Sub(start).Microseconds()) / 1000,
		SecretID:     secretID,
		VersionID:    versionID,
	}
	if r.Step == "" {
		r.Step = "invalid"
	}
	if out == outcomeFailure {
		r.StepFailures = 1
	}
	if calls != nil {
		r.SecretsManagerCalls = calls.Load()
	}
	// aws-lambda-go sets FunctionName from the runtime's environment; the
	// invocation's context names the function too.
	r.FunctionName = lambdacontext.FunctionName
	if lc, ok := lambdacontext.FromContext(ctx); ok && r.FunctionName == "" {
		r.FunctionName = functionNameOf(lc.InvokedFunctionArn)
	}
	dims := [][]string{{"Step"}, {"Step", "Outcome"}}
	if r.FunctionName != "" {
		dims = [][]string{{"FunctionName", "Step"}, {"FunctionName", "Step", "Outcome"}}
	}
	r.AWS = emfMeta{
		Timestamp:         end.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{Namespace: MetricsNamespace, Dimensions: dims, Metrics: emfMetrics}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	b = append(b, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	// A metrics write that fails must not fail the rotation.
	_, _ = m.w.Write(b)
}

// functionNameOf returns the function name in a Lambda function ARN
// ("arn:aws:lambda:region:account:function:name[:qualifier]").
func functionNameOf(arn string) string {
	_, name, ok := strings.Cut(arn, ":function:")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, ":")
	return name
}

// countingClient counts the calls made through it in the counter begin
// put in the context.
type countingClient struct{ next Client }

func countCall(ctx context.Context) {
	if n, ok := ctx.Value(callCounterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

func (c countingClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	countCall(ctx)
	return c.next.DescribeSecret(ctx, in, optFns...)
}

func (c countingClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	countCall(ctx)
	return c.next.GetSecretValue(ctx, in, optFns...)
}

func (c countingClient) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	countCall(ctx)
	return c.next.PutSecretValue(ctx, in, optFns...)
}

func (c countingClient) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	countCall(ctx)
	return c.next.UpdateSecretVersionStage(ctx, in, optFns...)
}
