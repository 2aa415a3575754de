package localsm_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rotationkit/rotation/localsm"
)

// FuzzServer sends arbitrary awsJson1_1 requests to the HTTP handler:
// whatever the body and target, the answer is a well-formed response and
// never a server error (which every SDK would retry).
func FuzzServer(f *testing.F) {
	f.Add("PutSecretValue", `{"SecretId":"s","ClientRequestToken":"11111111-1111-4111-8111-111111111111","SecretString":"x"}`)
	f.Add("GetSecretValue", `{"SecretId":"s","VersionStage":"AWSCURRENT"}`)
	f.Add("CreateSecret", `{"Name":"s","SecretBinary":"AAEC","ClientRequestToken":"11111111-1111-4111-8111-111111111111"}`)
	f.Add("RotateSecret", `{"SecretId":"s","RotationRules":{"ScheduleExpression":"cron(0 */4 * * ? *)"},"ClientRequestToken":"11111111-1111-4111-8111-111111111111"}`)
	f.Add("UpdateSecretVersionStage", `{"SecretId":"s","VersionStage":"AWSCURRENT","MoveToVersionId":"x"}`)
	f.Add("ListSecrets", `{"Filters":[{"Key":"name","Values":["s"]}],"MaxResults":1}`)
	f.Add("GetRandomPassword", `{"PasswordLength":4096,"ExcludeCharacters":"abc"}`)
	f.Add("DescribeSecret", `{"SecretId":1}`)
	f.Add("Nope", `[`)
	fake := localsm.New(localsm.Options{})
	h := localsm.NewHandler(fake, localsm.HandlerOptions{})
	f.Fuzz(func(t *testing.T, op, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "secretsmanager."+op)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", op, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"__type"`) {
			t.Fatalf("%s %q: status %d without __type: %s", op, body, rec.Code, rec.Body.String())
		}
	})
}
