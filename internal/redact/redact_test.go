package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pw is a 32-character credential with every kind of character that
// escaping changes.
const pw = `Xq7'v"Lm\Zp3&<k>9 +/%wR8t=Jd?n2Y`

func TestFindsEveryForm(t *testing.T) {
	basic := func(prefix string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(prefix+pw))
	}
	jsonQ, _ := json.Marshal(pw)
	var slogText, slogJSON strings.Builder
	slog.New(slog.NewTextHandler(&slogText, nil)).Info("x", "password", pw)
	slog.New(slog.NewJSONHandler(&slogJSON, nil)).Info("x", "password", pw)
	u := url.URL{Scheme: "postgres", User: url.UserPassword("app", pw), Host: "db:5432"}
	tests := map[string]string{
		"raw":                  "password=" + pw + ";",
		"go quoted":            fmt.Sprintf("pw %q", pw),
		"go quoted ascii":      strconv.QuoteToASCII(pw + "é"),
		"json":                 string(jsonQ),
		"slog text":            slogText.String(),
		"slog json":            slogJSON.String(),
		"url query":            "https://x/?p=" + url.QueryEscape(pw),
		"url query lower hex":  "p=" + regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(pw), strings.ToLower),
		"url path":             "/a/" + url.PathEscape(pw) + "/b",
		"url userinfo":         u.String(),
		"base64 std":           base64.StdEncoding.EncodeToString([]byte(pw)),
		"base64 url raw":       base64.RawURLEncoding.EncodeToString([]byte(pw)),
		"basic header align 0": basic("abc:"),
		"basic header align 1": basic("ab:"),
		"basic header align 2": basic("a:"),
		"basic header url":     base64.URLEncoding.EncodeToString([]byte("user:" + pw + "!")),
		"hex":                  "0x" + hex.EncodeToString([]byte(pw)),
		"hex upper":            strings.ToUpper(hex.EncodeToString([]byte(pw))),
		"bytes":                fmt.Sprint([]byte(pw)),
		"sql doubled":          "ALTER USER app PASSWORD '" + strings.ReplaceAll(pw, "'", "''") + "'",
		"backslash quotes":     `SET PASSWORD = '` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + `'`,
		"backslash all":        backslashedPunct(pw),
		"regexp":               regexp.QuoteMeta(pw),
		"masked tail":          pw[:28] + "****",
		"masked head":          "****" + pw[4:],
		"masked middle":        pw[:14] + "****" + pw[18:],
	}
	m := Compile([]Needle{{Value: "unrelated-credential-zzz", Partial: true}, {Value: pw, Partial: true}})
	for name, text := range tests {
		if diff := cmp.Diff([]int{1}, m.Find(text)); diff != "" {
			t.Errorf("%s: Find(%q) (-want +got):\n%s", name, text, diff)
		}
		got, changed := m.Redact(text, "[R]")
		if !changed || m.Find(got) != nil {
			t.Errorf("%s: Redact(%q) = %q, %v; want the credential gone", name, text, got, changed)
		}
	}
}

func TestNoFalsePositives(t *testing.T) {
	secret := `{"username":"app_user","password":"initial-password-1","host":"db.internal","port":5432}`
	var needles []Needle
	for _, c := range Credentials([]byte(secret)) {
		needles = append(needles, Needle{Value: c.Value, Partial: c.Partial})
	}
	needles = append(needles, Needle{Value: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----", Partial: true})
	needles = append(needles, Needle{Value: "correct horse battery staple", Partial: true})
	m := Compile(needles)
	for _, text := range []string{
		`time=2026-01-01 level=INFO msg="rotation step" step=createSecret secret=arn:aws:secretsmanager:us-east-1:1:secret:x version=0123456789abcdef outcome=done`,
		`{"username":"app_user","host":"db.internal","port":5432}`,
		`connecting to db.internal:5432 as app_user`,
		"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
		"password-1 is not a leak of a run shorter than WindowLen",
		"a horse of a battery",
		`{"username":"app_user","password":"[REDACTED]","host":"db.internal"}`,
	} {
		if got := m.Find(text); got != nil {
			t.Errorf("Find(%q) = %v, want nothing", text, got)
		}
	}
}

func TestShortNeedlesAreNotLookedFor(t *testing.T) {
	m := Compile([]Needle{{Value: "abc1234", Partial: true}})
	if got := m.Find("the value abc1234 is short"); got != nil {
		t.Errorf("a %d-character needle was found: %v", len("abc1234"), got)
	}
	// Runs only for credentials of WindowFrom characters or more.
	m = Compile([]Needle{{Value: "Ab3-Ab3-Ab3-Ab3", Partial: true}}) // 15
	if got := m.Find("Ab3-Ab3-Ab3-"); got != nil {
		t.Errorf("a run of a %d-character needle was found", len("Ab3-Ab3-Ab3-Ab3"))
	}
}

func TestLongCredentialRunsAreSampled(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "K%03dx", i%997) // 5000 characters, no run repeated
	}
	long := b.String()
	m := Compile([]Needle{{Value: long, Partial: true}})
	if n := len(m.pats); n > maxRuns+len(Forms(long)) {
		t.Errorf("%d patterns for one needle, want at most %d runs and its forms", n, maxRuns)
	}
	// stride 5: any run of WindowLen+4 characters is found.
	if got := m.Find("x " + long[2001:2001+WindowLen+4] + " y"); len(got) != 1 {
		t.Errorf("a run of %d characters of a 5000-character credential was not found", WindowLen+4)
	}
}

func TestWholeJSONValueHasNoRuns(t *testing.T) {
	secret := `{"username":"app","password":"abcdefghijKLMNOP12345"}`
	m := Compile([]Needle{{Value: secret}})
	if got := m.Find(`logged {"username":"app"}`); got != nil {
		t.Errorf("a run of a whole JSON value was found: %v", got)
	}
	if got := m.Find("v=" + secret); len(got) != 1 {
		t.Errorf("the whole value was not found")
	}
}

func TestCredentials(t *testing.T) {
	secret := `{"username":"app_user_name","pwd":"pwd-value-0001","pass":"pass-value-0001",
		"passphrase":"a passphrase of words","keyId":"AKIAIDNOTSECRET01","apiKey":"api-key-value-01",
		"token_url":"https://auth.example.com/token","client_secret":"client-secret-001",
		"pin":12345678901,"enabled":true,"port":5432,"public_key":"ssh-ed25519 AAAAC3Nza",
		"db":{"host":"db.example.com","password":"nested-password-1"},
		"credentials":{"user":"nested-user-name","value":"nested-credential-1"},
		"private_key":{"kty":"RSA","d":"private-exponent-1","n":"modulus-not-secret"},
		"admin_user":{"username":"admin-name-01","password":"admin-password-01"},
		"api_keys":["listed-key-00001","listed-key-00002"],"secret_number":1234567890123}`
	got := map[string]string{}
	for _, c := range Credentials([]byte(secret)) {
		if c.Field == "" {
			t.Errorf("the whole value is listed although it holds credentials: %+v", c)
			continue
		}
		got[c.Field] = c.Value
	}
	want := map[string]string{
		"pwd": "pwd-value-0001", "pass": "pass-value-0001", "passphrase": "a passphrase of words",
		"apiKey": "api-key-value-01", "client_secret": "client-secret-001",
		"db.password": "nested-password-1", "credentials.value": "nested-credential-1",
		"private_key.d": "private-exponent-1", "private_key.n": "modulus-not-secret",
		"admin_user.password": "admin-password-01", "secret_number": "1234567890123",
		"api_keys[0]": "listed-key-00001", "api_keys[1]": "listed-key-00002",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Credentials (-want +got):\n%s", diff)
	}
	noCredential := `{"username":"app","host":"db.internal"}`
	if c := Credentials([]byte(noCredential)); len(c) != 1 || c[0].Value != noCredential || c[0].Partial {
		t.Errorf("a JSON value without credentials: %+v, want the whole value, not partial", c)
	}
	if c := Credentials([]byte("plain-api-key-value")); len(c) != 1 || !c[0].Partial {
		t.Errorf("a plain string secret: %+v, want one partial credential", c)
	}
}

func TestIsCredentialField(t *testing.T) {
	credential := []string{"password", "Password", "passwd", "pwd", "pass", "passphrase",
		"secret", "client_secret", "token", "access_token", "key", "apiKey", "api-key",
		"private_key", "privateKey", "credential", "secret_access_key"}
	notCredential := []string{"username", "host", "keyId", "key_id", "secretArn", "public_key",
		"publicKey", "token_url", "tokenType", "passwordLength", "key_name", "dbname", "masterarn"}
	for _, k := range credential {
		if !IsCredentialField(k) {
			t.Errorf("IsCredentialField(%q) = false, want true", k)
		}
	}
	for _, k := range notCredential {
		if IsCredentialField(k) {
			t.Errorf("IsCredentialField(%q) = true, want false", k)
		}
	}
}

func TestRedactMergesOverlaps(t *testing.T) {
	m := Compile([]Needle{{Value: "outer-Secret-0001-inner", Partial: true}, {Value: "Secret-0001", Partial: true}})
	got, _ := m.Redact("a outer-Secret-0001-inner b Secret-0001 c", "[R]")
	if want := "a [R] b [R] c"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	var nilM *Matcher
	if got, changed := nilM.Redact("x", "[R]"); got != "x" || changed {
		t.Errorf("nil Matcher changed the text")
	}
}

// BenchmarkCompile measures building a Matcher for one secret's
// credentials, as Scrub does for every error it cleans.
func BenchmarkCompile(b *testing.B) {
	secret := []byte(`{"username":"app","password":"` + pw + `","host":"db.internal"}`)
	var needles []Needle
	for _, c := range Credentials(secret) {
		needles = append(needles, Needle{c.Value, c.Partial})
	}
	for b.Loop() {
		Compile(needles)
	}
}

// BenchmarkFind measures the scan over log text with the needles of a
// conformance rule (40 versions, 80 RotationTokens).
func BenchmarkFind(b *testing.B) {
	var needles []Needle
	for i := range 40 {
		p := fmt.Sprintf("%s-%02d", pw, i)
		needles = append(needles, Needle{Value: `{"username":"app","password":` + strconv.Quote(p) + `}`}, Needle{Value: p, Partial: true})
	}
	for i := range 80 {
		needles = append(needles, Needle{Value: fmt.Sprintf("token%031d", i), Partial: true})
	}
	m := Compile(needles)
	line := `time=2026-01-01T00:00:00Z level=INFO msg="rotation step" step=createSecret secret=arn:aws:secretsmanager:us-east-1:123456789012:secret:conformance/secret-AbCdEf version=0123456789abcdef0123456789abcdef duration=1.2ms outcome=done` + "\n"
	text := strings.Repeat(line, 256)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if m.Find(text) != nil {
			b.Fatal("false positive")
		}
	}
	b.ReportMetric(float64(len(m.pats)), "patterns")
}
