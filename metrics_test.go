package rotation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

const emfMarker = "emf-secret-value-3b9d"

// emfRotator rotates a "password" field; Test fails while fail is set.
type emfRotator struct{ fail bool }

func (r emfRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := current.With(map[string]any{"password": emfMarker + "-new"})
	return &rotation.CreateResponse{Pending: p}, err
}

func (emfRotator) Set(context.Context, *rotation.SetRequest) (*rotation.SetResponse, error) {
	return &rotation.SetResponse{}, nil
}

func (r emfRotator) Test(context.Context, *rotation.TestRequest) (*rotation.TestResponse, error) {
	if r.fail {
		return nil, errors.New("login refused")
	}
	return &rotation.TestResponse{}, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// emfRecords parses the EMF records in out, checking each against the
// format: every metric the directive names is a number at the top level,
// every dimension a string.
func emfRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	if strings.Contains(out, emfMarker) {
		t.Errorf("a metrics record holds a secret value:\n%s", out)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("record is not one JSON object per line: %v\n%s", err, line)
		}
		var meta struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		}
		b, _ := json.Marshal(r["_aws"])
		if err := json.Unmarshal(b, &meta); err != nil || meta.Timestamp == 0 || len(meta.CloudWatchMetrics) != 1 {
			t.Fatalf("bad _aws member: %s", b)
		}
		d := meta.CloudWatchMetrics[0]
		if d.Namespace != rotation.MetricsNamespace {
			t.Errorf("namespace %q", d.Namespace)
		}
		for _, m := range d.Metrics {
			if _, ok := r[m.Name].(float64); !ok {
				t.Errorf("metric %s is not a number in %s", m.Name, line)
			}
		}
		for _, set := range d.Dimensions {
			for _, dim := range set {
				if s, ok := r[dim].(string); !ok || s == "" {
					t.Errorf("dimension %s missing in %s", dim, line)
				}
			}
		}
		recs = append(recs, r)
	}
	return recs
}

func TestMetricsEMF(t *testing.T) {
	f := localsm.New(localsm.Options{})
	srv := localsm.NewServer(f)
	defer srv.Close()
	fc := rotationtest.NewFaultClient(srv.Client())
	var out syncBuffer
	run := func(r rotation.Rotator, ctx context.Context) {
		t.Helper()
		h, err := rotation.New(fc, r, func(o *rotation.Options) { o.Metrics = &out })
		if err != nil {
			t.Fatal(err)
		}
		arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
		if err := f.Seed(localsm.Secret{Name: "db", ARN: arn, RotationEnabled: aws.Bool(true), RotationLambdaARN: testFunctionARN,
			Versions: []localsm.Version{
				{ID: versionOld, SecretString: aws.String(`{"password":"` + emfMarker + `"}`), Stages: []string{"AWSCURRENT"}},
				{ID: versionNew, Stages: []string{"AWSPENDING"}},
			}}); err != nil {
			t.Fatal(err)
		}
		for _, step := range rotation.Steps() {
			if err := h.Handle(ctx, events.SecretsManagerSecretRotationEvent{Step: string(step), SecretID: arn, ClientRequestToken: versionNew}); err != nil {
				break
			}
		}
	}

	run(emfRotator{}, context.Background())
	recs := emfRecords(t, out.String())
	type row struct {
		Step, Outcome       string
		Failures, Count     float64
		SecretID, VersionID string
		HasFunction         bool
	}
	var got []row
	var calls float64
	for _, r := range recs {
		_, hasFn := r["FunctionName"]
		got = append(got, row{r["Step"].(string), r["Outcome"].(string), r["StepFailures"].(float64), r["StepCount"].(float64), r["SecretId"].(string), r["VersionId"].(string), hasFn})
		calls += r["SecretsManagerCalls"].(float64)
		if r["SecretsManagerCalls"].(float64) < 1 {
			t.Errorf("step %v made no Secrets Manager call", r["Step"])
		}
	}
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
	want := []row{
		{"createSecret", "done", 0, 1, arn, versionNew, false},
		{"setSecret", "done", 0, 1, arn, versionNew, false},
		{"testSecret", "done", 0, 1, arn, versionNew, false},
		{"finishSecret", "done", 0, 1, arn, versionNew, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if int(calls) != fc.Calls() {
		t.Errorf("SecretsManagerCalls sum to %v, the client saw %d calls", calls, fc.Calls())
	}

	// A failing step, inside Lambda: the function's name becomes a dimension.
	out = syncBuffer{}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{InvokedFunctionArn: testFunctionARN + ":live"})
	run(emfRotator{fail: true}, ctx)
	recs = emfRecords(t, out.String())
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3 (create, set, failed test)", len(recs))
	}
	last := recs[2]
	if last["Step"] != "testSecret" || last["Outcome"] != "failed" || last["StepFailures"] != 1.0 || last["FunctionName"] != "rotate-test" {
		t.Errorf("failed step record: %v", last)
	}
	dims, _ := json.Marshal(last["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"])
	if string(dims) != `[["FunctionName","Step"],["FunctionName","Step","Outcome"]]` {
		t.Errorf("dimensions %s", dims)
	}
	if strings.Contains(out.String(), "login refused") {
		t.Errorf("a record holds the error's text:\n%s", out.String())
	}

	// An event that does not parse.
	out = syncBuffer{}
	h, _ := rotation.New(fc, emfRotator{}, func(o *rotation.Options) { o.Metrics = &out })
	_ = h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: arn, ClientRequestToken: "short"})
	recs = emfRecords(t, out.String())
	if len(recs) != 1 || recs[0]["Outcome"] != "failed" || recs[0]["SecretsManagerCalls"] != 0.0 {
		t.Errorf("rejected event: %v", recs)
	}
}
