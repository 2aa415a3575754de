package templates

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation/internal/schedule"
)

// The examples that must ship a template; any other examples/*/template.yaml
// is checked too.
var required = []string{"apikey", "oauth", "sshkey", "postgres", "mysql"}

// Parameter values the templates are evaluated with: distinctive, so a
// property that refers to a parameter is recognised.
const (
	secretARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:under-test-AbCdEf"
	topicARN  = "arn:aws:sns:eu-central-1:123456789012:on-call"
	kmsARN    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
	account   = "pseudo:AWS::AccountId"
)

// variant is one set of parameter values.
type variant struct {
	name     string
	vpc, kms bool
}

var variants = []variant{{"defaults", false, false}, {"vpc+endpoint+kms", true, true}}

func (v variant) overrides() map[string]interface{} {
	o := map[string]interface{}{
		"SecretArn":            secretARN,
		"NotificationTopicArn": topicARN,
		"SubnetIds":            []interface{}{},
		"KmsKeyArn":            "",
	}
	if v.vpc {
		o["SubnetIds"] = []interface{}{"subnet-0aaa", "subnet-0bbb"}
		o["VpcId"] = "vpc-0ccc"
		o["CreateSecretsManagerEndpoint"] = "true"
	}
	if v.kms {
		o["KmsKeyArn"] = kmsARN
	}
	return o
}

// refs records what a template refers to while goformation resolves it.
type refs struct {
	mu         sync.Mutex
	names      map[string]bool // Ref and ${} targets
	getAtts    map[string]bool // GetAtt resources
	conditions map[string]bool // Fn::If conditions
	// resourceConditions are the resources' Condition attributes.
	resourceConditions map[string]string
}

// parse parses path with v's parameters. Refs to resources resolve to
// "ref:Name", GetAtt to "getatt:Name.Attr", AWS::AccountId to account;
// parameters to their values; conditions are evaluated.
func parse(t *testing.T, path string, v variant) (*cloudformation.Template, *refs) {
	t.Helper()
	r := &refs{names: map[string]bool{}, getAtts: map[string]bool{}, conditions: map[string]bool{}}
	isResource := func(tmpl interface{}, name string) bool {
		m, _ := tmpl.(map[string]interface{})
		res, _ := m["Resources"].(map[string]interface{})
		_, ok := res[name]
		return ok
	}
	opts := &intrinsics.ProcessorOptions{
		ParameterOverrides: v.overrides(),
		EvaluateConditions: true,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": func(name string, input interface{}, tmpl interface{}) interface{} {
				s, _ := input.(string)
				r.mu.Lock()
				r.names[s] = true
				r.mu.Unlock()
				switch {
				case s == "AWS::AccountId":
					return account
				case isResource(tmpl, s):
					return "ref:" + s
				}
				return intrinsics.Ref(name, input, tmpl)
			},
			"Fn::GetAtt": func(name string, input interface{}, tmpl interface{}) interface{} {
				var parts []string
				switch in := input.(type) {
				case string:
					parts = strings.SplitN(in, ".", 2)
				case []interface{}:
					for _, p := range in {
						s, _ := p.(string)
						parts = append(parts, s)
					}
				}
				if len(parts) != 2 {
					t.Errorf("%s: malformed GetAtt %v", path, input)
					return nil
				}
				r.mu.Lock()
				r.getAtts[parts[0]] = true
				r.mu.Unlock()
				return "getatt:" + parts[0] + "." + parts[1]
			},
			"Fn::If": func(name string, input interface{}, tmpl interface{}) interface{} {
				if arr, ok := input.([]interface{}); ok && len(arr) == 3 {
					if c, ok := arr[0].(string); ok {
						r.mu.Lock()
						r.conditions[c] = true
						r.mu.Unlock()
					}
				}
				return intrinsics.FnIf(name, input, tmpl)
			},
			"Fn::Sub": func(name string, input interface{}, tmpl interface{}) interface{} {
				if s, ok := input.(string); ok {
					for _, part := range strings.Split(s, "${")[1:] {
						if end := strings.IndexByte(part, '}'); end > 0 && !strings.HasPrefix(part, "!") {
							ref, _, _ := strings.Cut(part[:end], ".")
							r.mu.Lock()
							r.names[ref] = true
							r.mu.Unlock()
						}
					}
				}
				return intrinsics.FnSub(name, input, tmpl)
			},
		},
	}
	// goformation's condition evaluation replaces any object holding a
	// "Condition" key, resources included, with the condition's value: set
	// the resources' conditions aside and parse the rest.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	long, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("%s: goformation cannot read it: %v", path, err)
	}
	var raw map[string]interface{}
	if err := json.Unmarshal(long, &raw); err != nil {
		t.Fatal(err)
	}
	r.resourceConditions = map[string]string{}
	resources, _ := raw["Resources"].(map[string]interface{})
	for name, res := range resources {
		if m, ok := res.(map[string]interface{}); ok {
			if c, ok := m["Condition"].(string); ok {
				r.resourceConditions[name] = c
				delete(m, "Condition")
			}
		}
	}
	long, err = json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := goformation.ParseJSONWithOptions(long, opts)
	if err != nil {
		t.Fatalf("%s: goformation cannot parse it: %v", path, err)
	}
	return tmpl, r
}

func TestTemplates(t *testing.T) {
	paths, err := filepath.Glob("../../*/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, p := range paths {
		found[filepath.Base(filepath.Dir(p))] = true
	}
	for _, name := range required {
		if !found[name] {
			t.Errorf("examples/%s has no template.yaml", name)
		}
	}
	for _, p := range paths {
		name := filepath.Base(filepath.Dir(p))
		for _, v := range variants {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				tmpl, r := parse(t, p, v)
				checkTemplate(t, tmpl, r, v)
			})
		}
	}
}

// enabled reports whether resource name is created.
func enabled(t *testing.T, tmpl *cloudformation.Template, r *refs, name string) bool {
	t.Helper()
	c, ok := r.resourceConditions[name]
	if !ok {
		return true
	}
	b, ok := tmpl.Conditions[c].(bool)
	if !ok {
		t.Errorf("condition %q does not evaluate to a boolean: %v", c, tmpl.Conditions[c])
	}
	return b
}

func checkTemplate(t *testing.T, tmpl *cloudformation.Template, r *refs, v variant) {
	if tmpl.Transform == nil || tmpl.Transform.String == nil || *tmpl.Transform.String != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform is not AWS::Serverless-2016-10-31")
	}

	// References: every Ref, ${} and GetAtt names a parameter, a pseudo
	// parameter or a resource; every Fn::If a condition.
	for name := range r.names {
		_, isParam := tmpl.Parameters[name]
		_, isRes := tmpl.Resources[name]
		if !isParam && !isRes && !strings.HasPrefix(name, "AWS::") {
			t.Errorf("Ref or ${%s} names no parameter or resource", name)
		}
	}
	for name := range r.getAtts {
		if _, ok := tmpl.Resources[name]; !ok {
			t.Errorf("GetAtt names no resource %q", name)
		}
	}
	for res, c := range r.resourceConditions {
		if _, ok := tmpl.Conditions[c]; !ok {
			t.Errorf("resource %s has an undefined Condition %q", res, c)
		}
	}
	for name := range r.conditions {
		if _, ok := tmpl.Conditions[name]; !ok {
			t.Errorf("Fn::If names no condition %q", name)
		}
	}
	for _, p := range []string{"SecretArn", "NotificationTopicArn", "KmsKeyArn", "SubnetIds", "VpcId", "CreateSecretsManagerEndpoint"} {
		if _, ok := tmpl.Parameters[p]; !ok {
			t.Errorf("no parameter %s", p)
		}
	}
	for name, res := range tmpl.Resources {
		for _, dep := range dependsOn(res) {
			if _, ok := tmpl.Resources[dep]; !ok {
				t.Errorf("%s depends on no resource %q", name, dep)
			}
		}
	}

	// The function.
	fns := tmpl.GetAllServerlessFunctionResources()
	if len(fns) != 1 {
		t.Fatalf("%d AWS::Serverless::Function resources, want 1", len(fns))
	}
	var fnName string
	for name, fn := range fns {
		fnName = name
		if got := deref(fn.Runtime); got != "provided.al2023" {
			t.Errorf("Runtime %q, want provided.al2023", got)
		}
		if diff := cmp.Diff([]string{"arm64"}, fn.Architectures); diff != "" {
			t.Errorf("Architectures (-want +got):\n%s", diff)
		}
		if got := deref(fn.Handler); got != "bootstrap" {
			t.Errorf("Handler %q, want bootstrap", got)
		}
		if fn.Policies != nil {
			t.Errorf("the function uses SAM Policies; the role must be the template's least-privilege role")
		}
		roleName, ok := strings.CutPrefix(deref(fn.Role), "getatt:")
		roleName, _ = strings.CutSuffix(roleName, ".Arn")
		roles := tmpl.GetAllIAMRoleResources()
		if role := roles[roleName]; !ok || role == nil {
			t.Errorf("Role %q is not the Arn of a role in the template", deref(fn.Role))
		} else {
			checkRole(t, role, v)
		}
		if v.kms {
			if got := deref(fn.KmsKeyArn); got != kmsARN {
				t.Errorf("KmsKeyArn %q, want the KmsKeyArn parameter (environment encrypted with the customer-managed key)", got)
			}
		} else if fn.KmsKeyArn != nil {
			t.Errorf("KmsKeyArn %q without a key given", *fn.KmsKeyArn)
		}
		if v.vpc {
			checkVPC(t, tmpl, r, fn)
		} else if fn.VpcConfig != nil {
			t.Errorf("VpcConfig %+v without subnets given", fn.VpcConfig)
		}
	}
	fnArn := "getatt:" + fnName + ".Arn"

	// The invoke permission, for this account only.
	var perm string
	for name, p := range tmpl.GetAllLambdaPermissionResources() {
		if p.Principal != "secretsmanager.amazonaws.com" {
			continue
		}
		perm = name
		if p.FunctionName != fnArn && p.FunctionName != "ref:"+fnName {
			t.Errorf("%s: FunctionName %q is not the function", name, p.FunctionName)
		}
		if p.Action != "lambda:InvokeFunction" {
			t.Errorf("%s: Action %q", name, p.Action)
		}
		if deref(p.SourceAccount) != account {
			t.Errorf("%s: SourceAccount %q, want !Ref AWS::AccountId (aws:SourceAccount)", name, deref(p.SourceAccount))
		}
	}
	if perm == "" {
		t.Errorf("no AWS::Lambda::Permission for secretsmanager.amazonaws.com")
	}

	// The schedule, valid under the rules Secrets Manager applies.
	scheds := tmpl.GetAllSecretsManagerRotationScheduleResources()
	if len(scheds) != 1 {
		t.Errorf("%d rotation schedules, want 1", len(scheds))
	}
	for name, s := range scheds {
		if s.SecretId != secretARN {
			t.Errorf("%s: SecretId %q, want the SecretArn parameter", name, s.SecretId)
		}
		if deref(s.RotationLambdaARN) != fnArn {
			t.Errorf("%s: RotationLambdaARN %q, want the function's Arn", name, deref(s.RotationLambdaARN))
		}
		if !slices.Contains(dependsOn(s), perm) {
			t.Errorf("%s: DependsOn %v lacks the invoke permission %s (the first rotation would fail)", name, dependsOn(s), perm)
		}
		if s.RotationRules == nil {
			t.Errorf("%s: no RotationRules", name)
			continue
		}
		rules := schedule.Rules{ScheduleExpression: deref(s.RotationRules.ScheduleExpression), Duration: deref(s.RotationRules.Duration)}
		if s.RotationRules.AutomaticallyAfterDays != nil {
			rules.AutomaticallyAfterDays = int64(*s.RotationRules.AutomaticallyAfterDays)
		}
		if _, err := schedule.Parse(rules); err != nil {
			t.Errorf("%s: RotationRules %+v rejected: %v", name, rules, err)
		}
	}

	// Alerts: the RotationFailed rule and the Errors alarm, both to the topic.
	var rule bool
	for name, ru := range tmpl.GetAllEventsRuleResources() {
		p, _ := ru.EventPattern.(map[string]interface{})
		detail, _ := p["detail"].(map[string]interface{})
		if !contains(p["source"], "aws.secretsmanager") || !contains(detail["eventName"], "RotationFailed") {
			continue
		}
		rule = true
		if !contains(detail["eventSource"], "secretsmanager.amazonaws.com") {
			t.Errorf("%s: detail.eventSource lacks secretsmanager.amazonaws.com", name)
		}
		extra, _ := detail["additionalEventData"].(map[string]interface{})
		if !contains(extra["SecretId"], secretARN) {
			t.Errorf("%s: the pattern does not match the secret (detail.additionalEventData.SecretId)", name)
		}
		if deref(ru.State) != "ENABLED" {
			t.Errorf("%s: State %q", name, deref(ru.State))
		}
		if !slices.ContainsFunc(ru.Targets, func(tg eventsTarget) bool { return tg.Arn == topicARN }) {
			t.Errorf("%s: no target is the NotificationTopicArn topic", name)
		}
	}
	if !rule {
		t.Errorf("no EventBridge rule on aws.secretsmanager RotationFailed")
	}
	var alarm bool
	for name, a := range tmpl.GetAllCloudWatchAlarmResources() {
		if deref(a.Namespace) != "AWS/Lambda" || deref(a.MetricName) != "Errors" {
			continue
		}
		alarm = true
		want := []alarmDim{{Name: "FunctionName", Value: "ref:" + fnName}}
		if diff := cmp.Diff(want, a.Dimensions); diff != "" {
			t.Errorf("%s: dimensions (-want +got):\n%s", name, diff)
		}
		if !slices.Contains(a.AlarmActions, topicARN) {
			t.Errorf("%s: AlarmActions %v lack the topic", name, a.AlarmActions)
		}
		if a.Threshold == nil || *a.Threshold != 0 || a.ComparisonOperator != "GreaterThanThreshold" {
			t.Errorf("%s: does not alarm on the first error", name)
		}
	}
	if !alarm {
		t.Errorf("no alarm on the function's AWS/Lambda Errors metric")
	}
}

// checkRole checks the execution role is least privilege.
func checkRole(t *testing.T, role *iamRole, v variant) {
	t.Helper()
	doc := fmt.Sprint(role.AssumeRolePolicyDocument)
	if !strings.Contains(doc, "lambda.amazonaws.com") || !strings.Contains(doc, "sts:AssumeRole") {
		t.Errorf("AssumeRolePolicyDocument %s does not let Lambda assume the role", doc)
	}
	managed := strings.Join(role.ManagedPolicyArns, " ")
	if v.vpc != strings.Contains(managed, "AWSLambdaVPCAccessExecutionRole") {
		t.Errorf("ManagedPolicyArns %v: want AWSLambdaVPCAccessExecutionRole exactly when in a VPC", role.ManagedPolicyArns)
	}
	secretActions := map[string]bool{}
	var kms bool
	for _, p := range role.Policies {
		for _, st := range statements(p.PolicyDocument) {
			actions := strs(st["Action"])
			resources := strs(st["Resource"])
			if st["Effect"] != "Allow" {
				continue
			}
			for _, a := range actions {
				if strings.Contains(a, "*") {
					t.Errorf("policy %s: wildcard action %q", p.PolicyName, a)
				}
				switch {
				case strings.HasPrefix(a, "secretsmanager:"):
					if a != "secretsmanager:GetSecretValue" && !slices.Equal(resources, []string{secretARN}) {
						t.Errorf("policy %s: %s on %v, want only the rotated secret", p.PolicyName, a, resources)
					}
					if slices.Equal(resources, []string{secretARN}) {
						secretActions[a] = true
					}
				case strings.HasPrefix(a, "kms:"):
					kms = true
					if !slices.Equal(resources, []string{kmsARN}) {
						t.Errorf("policy %s: %s on %v, want the KmsKeyArn key", p.PolicyName, a, resources)
					}
					if !strings.Contains(fmt.Sprint(st["Condition"]), "kms:ViaService") {
						t.Errorf("policy %s: %s without a kms:ViaService condition", p.PolicyName, a)
					}
				}
			}
			for _, res := range resources {
				if res == "*" {
					t.Errorf("policy %s: Resource \"*\" for %v", p.PolicyName, actions)
				}
			}
		}
	}
	want := []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
	var got []string
	for a := range secretActions {
		got = append(got, a)
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secrets Manager actions on the secret (-want +got):\n%s", diff)
	}
	if kms != v.kms {
		t.Errorf("KMS permissions present: %v, want %v (only with a customer-managed key)", kms, v.kms)
	}
}

// checkVPC checks the function's VPC placement and the interface endpoint.
func checkVPC(t *testing.T, tmpl *cloudformation.Template, r *refs, fn *serverlessFunction) {
	t.Helper()
	if fn.VpcConfig == nil {
		t.Errorf("no VpcConfig although SubnetIds were given")
		return
	}
	if diff := cmp.Diff([]string{"subnet-0aaa", "subnet-0bbb"}, fn.VpcConfig.SubnetIds); diff != "" {
		t.Errorf("VpcConfig.SubnetIds (-want +got):\n%s", diff)
	}
	for _, sg := range fn.VpcConfig.SecurityGroupIds {
		name, ok := strings.CutPrefix(sg, "ref:")
		if res, found := tmpl.Resources[name]; !ok || !found || res.AWSCloudFormationType() != "AWS::EC2::SecurityGroup" {
			t.Errorf("security group %q is not a security group of the template", sg)
		}
	}
	var endpoint bool
	for name, e := range tmpl.GetAllEC2VPCEndpointResources() {
		if !strings.HasSuffix(e.ServiceName, ".secretsmanager") || !enabled(t, tmpl, r, name) {
			continue
		}
		endpoint = true
		if deref(e.VpcEndpointType) != "Interface" || e.PrivateDnsEnabled == nil || !*e.PrivateDnsEnabled {
			t.Errorf("%s: want an Interface endpoint with private DNS", name)
		}
		if e.VpcId != "vpc-0ccc" || !cmp.Equal(fn.VpcConfig.SubnetIds, e.SubnetIds) {
			t.Errorf("%s: VpcId %q SubnetIds %v, want the function's", name, e.VpcId, e.SubnetIds)
		}
	}
	if !endpoint {
		t.Errorf("no Secrets Manager interface endpoint with CreateSecretsManagerEndpoint=true")
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// strs reads a policy field that is a string or a list of strings.
func strs(v interface{}) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []interface{}:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func contains(v interface{}, want string) bool { return slices.Contains(strs(v), want) }

// statements returns a policy document's statements.
func statements(doc interface{}) []map[string]interface{} {
	m, _ := doc.(map[string]interface{})
	var out []map[string]interface{}
	switch s := m["Statement"].(type) {
	case []interface{}:
		for _, e := range s {
			if st, ok := e.(map[string]interface{}); ok {
				out = append(out, st)
			}
		}
	case map[string]interface{}:
		out = append(out, s)
	}
	return out
}

// dependsOn returns a resource's DependsOn.
func dependsOn(r interface{}) []string {
	if d, ok := r.(interface{ DependsOnList() []string }); ok {
		return d.DependsOnList()
	}
	return reflectDependsOn(r)
}
