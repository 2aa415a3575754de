package localsm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// MaxRequestBody is the largest request body the HTTP handler reads. Secret
// values are at most 64 KiB, so no valid request comes near it; a larger
// body is answered with 413 without being read.
const MaxRequestBody = 1 << 20

// HandlerOptions configure NewHandler. The zero value is usable.
type HandlerOptions struct {
	// Logger receives one line per call: the operation, the secret id,
	// the HTTP status, the error code and message if any, the request id
	// and the duration. It never receives a secret value, a password, a
	// ClientRequestToken's value or a RotationToken. Nil means no logging.
	Logger *slog.Logger
}

// NewHandler returns an http.Handler that serves f over the awsJson1_1
// protocol the AWS SDKs, boto3 and the AWS CLI speak to Secrets Manager:
// POST with X-Amz-Target "secretsmanager.<Operation>" and a JSON body using
// the model's member names. Responses use the same content type and carry
// an x-amzn-RequestId header. Errors are non-2xx responses with a
// {"__type", "Message"} body: 400 for client errors, 500
// InternalServiceError for server faults. Timestamps are epoch seconds and
// SecretBinary is base64, as on the wire. Unset fields are omitted.
//
// The handler rejects what AWS rejects before the service logic runs:
// malformed JSON or a member of the wrong type (SerializationException), an
// unknown X-Amz-Target (UnknownOperationException), a missing required
// member (ValidationException naming it), and a CreateSecret, UpdateSecret,
// PutSecretValue or RotateSecret without ClientRequestToken
// (InvalidRequestException: the SDKs always fill it in, raw requests must
// send it). Member names are matched exactly, as AWS does; a member spelt
// in another case is ignored. A method other than POST gets 405 and a body
// over MaxRequestBody gets 413. An empty body counts as {}. Neither the
// Content-Type nor the signature is checked.
func NewHandler(f *Fake, opts HandlerOptions) http.Handler {
	if f == nil {
		f = New(Options{})
	}
	return &handler{fake: f, logger: opts.Logger, ops: operations()}
}

type handler struct {
	fake   *Fake
	logger *slog.Logger
	ops    map[string]operation
}

// operation describes how one API operation is served.
type operation struct {
	newInput func() any // a pointer to the SDK's input struct
	call     func(ctx context.Context, f *Fake, in any) (any, error)
	required []string // members the model marks required
	// token: the input has an idempotency token (ClientRequestToken) the
	// SDKs generate. AWS rejects raw requests that omit it.
	token bool
}

func op[I, O any](fn func(*Fake, context.Context, *I, ...func(*secretsmanager.Options)) (*O, error), token bool, required ...string) operation {
	return operation{
		newInput: func() any { return new(I) },
		call: func(ctx context.Context, f *Fake, in any) (any, error) {
			out, err := fn(f, ctx, in.(*I))
			if err != nil {
				return nil, err
			}
			return out, nil
		},
		required: required,
		token:    token,
	}
}

func operations() map[string]operation {
	return map[string]operation{
		"CancelRotateSecret":       op((*Fake).CancelRotateSecret, false, "SecretId"),
		"CreateSecret":             op((*Fake).CreateSecret, true, "Name"),
		"DeleteSecret":             op((*Fake).DeleteSecret, false, "SecretId"),
		"DescribeSecret":           op((*Fake).DescribeSecret, false, "SecretId"),
		"GetRandomPassword":        op((*Fake).GetRandomPassword, false),
		"GetSecretValue":           op((*Fake).GetSecretValue, false, "SecretId"),
		"ListSecretVersionIds":     op((*Fake).ListSecretVersionIds, false, "SecretId"),
		"ListSecrets":              op((*Fake).ListSecrets, false),
		"PutSecretValue":           op((*Fake).PutSecretValue, true, "SecretId"),
		"RestoreSecret":            op((*Fake).RestoreSecret, false, "SecretId"),
		"RotateSecret":             op((*Fake).RotateSecret, true, "SecretId"),
		"UpdateSecret":             op((*Fake).UpdateSecret, true, "SecretId"),
		"UpdateSecretVersionStage": op((*Fake).UpdateSecretVersionStage, false, "SecretId", "VersionStage"),
	}
}

const (
	targetPrefix    = "secretsmanager."
	jsonContentType = "application/x-amz-json-1.1"
	tooLargeMessage = "The request body is larger than 1048576 bytes."
)

// httpCall is what the handler logs about one request.
type httpCall struct {
	op, secretID string
	status       int
	code, msg    string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := newUUID()
	c := &httpCall{}
	defer func() {
		if p := recover(); p != nil {
			// Last resort: the fake has no known panics. The panic value
			// is not logged: it could hold request data.
			c.code, c.msg = "", ""
			h.writeError(w, rid, c, &smithy.GenericAPIError{Code: "InternalServiceError", Message: "An error occurred on the server side.", Fault: smithy.FaultServer})
			c.msg = fmt.Sprintf("recovered panic (%T)", p)
		}
		h.log(r.Context(), rid, c, time.Since(start))
	}()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.writeErrorStatus(w, rid, c, http.StatusMethodNotAllowed, "UnknownOperationException", "Secrets Manager accepts only POST requests.")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, targetPrefix)
	o, known := h.ops[name]
	if !ok || !known {
		msg := "Missing or unknown X-Amz-Target header."
		if ok && validOpName(name) {
			c.op = name
			msg = "The operation " + name + " is unknown or not implemented by this local Secrets Manager."
		}
		h.writeError(w, rid, c, unknownOperation(msg))
		return
	}
	c.op = name

	if r.ContentLength > MaxRequestBody {
		h.writeErrorStatus(w, rid, c, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", tooLargeMessage)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.writeErrorStatus(w, rid, c, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", tooLargeMessage)
			return
		}
		h.writeError(w, rid, c, serializationError("The request body could not be read."))
		return
	}

	in, err := decodeInput(body, o)
	if in != nil {
		c.secretID = secretIDOf(in)
	}
	if err != nil {
		h.writeError(w, rid, c, err)
		return
	}
	out, err := o.call(r.Context(), h.fake, in)
	if err != nil {
		h.writeError(w, rid, c, err)
		return
	}
	h.write(w, rid, c, http.StatusOK, encodeOutput(out))
}

// validOpName reports whether s looks like an operation name, so that it
// can be logged and echoed without echoing arbitrary header contents.
func validOpName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (h *handler) log(ctx context.Context, rid string, c *httpCall, d time.Duration) {
	if h.logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("op", c.op),
		slog.Int("status", c.status),
		slog.Duration("duration", d),
		slog.String("request_id", rid),
	}
	if c.secretID != "" {
		attrs = append(attrs, slog.String("secret_id", c.secretID))
	}
	level := slog.LevelInfo
	if c.code != "" {
		attrs = append(attrs, slog.String("error_code", c.code), slog.String("error", c.msg))
		if c.status >= 500 {
			level = slog.LevelError
		}
	}
	h.logger.LogAttrs(ctx, level, "secretsmanager call", attrs...)
}

func (h *handler) write(w http.ResponseWriter, rid string, c *httpCall, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", jsonContentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd["x-amzn-RequestId"] = []string{rid} // the exact spelling AWS sends
	w.WriteHeader(status)
	_, _ = w.Write(body)
	c.status = status
}

// writeError answers with err's code, message and status. Errors that are
// not AWS API errors become 500 InternalServiceError; their text is not
// sent.
func (h *handler) writeError(w http.ResponseWriter, rid string, c *httpCall, err error) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		h.writeErrorStatus(w, rid, c, http.StatusInternalServerError, "InternalServiceError", "An error occurred on the server side.")
		return
	}
	h.writeErrorStatus(w, rid, c, errorStatus(ae), ae.ErrorCode(), ae.ErrorMessage())
}

func (h *handler) writeErrorStatus(w http.ResponseWriter, rid string, c *httpCall, status int, code, msg string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"Message,omitempty"`
	}{code, msg})
	c.code, c.msg = code, msg
	h.write(w, rid, c, status, body)
}

// errorStatus is the HTTP status AWS sends with an error: 500 for server
// faults, 503 when unavailable, 400 for everything else (throttling
// included, as Secrets Manager does).
func errorStatus(ae smithy.APIError) int {
	switch ae.ErrorCode() {
	case "InternalServiceError", "InternalFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "ServiceUnavailableException":
		return http.StatusServiceUnavailable
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func unknownOperation(msg string) error {
	return &smithy.GenericAPIError{Code: "UnknownOperationException", Message: msg, Fault: smithy.FaultClient}
}

func serializationError(msg string) error {
	return &smithy.GenericAPIError{Code: "SerializationException", Message: msg, Fault: smithy.FaultClient}
}

func secretIDOf(in any) string {
	v := reflect.ValueOf(in).Elem()
	for _, name := range []string{"SecretId", "Name"} {
		if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String {
			s := f.Elem().String()
			if len(s) > 2048 {
				s = s[:2048]
			}
			return s
		}
	}
	return ""
}

// --- request decoding ---

// decodeInput parses body into a new input struct for o and applies the
// checks AWS makes before its service logic: well-formed JSON of the right
// member types, enum values, required members and the idempotency token.
// The returned input is non-nil whenever the body could be parsed.
func decodeInput(body []byte, o operation) (any, error) {
	var doc any = map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, serializationError("The request body is not valid JSON.")
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, serializationError("The request body has data after the JSON object.")
		}
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, serializationError("The request body must be a JSON object.")
	}
	in := o.newInput()
	v := reflect.ValueOf(in).Elem()
	if err := assign(v, doc, ""); err != nil {
		return nil, err
	}
	var problems []string
	for _, name := range o.required {
		f := v.FieldByName(name)
		if f.IsNil() {
			problems = append(problems, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name)))
		} else if f.Elem().Kind() == reflect.String && f.Elem().Len() == 0 {
			problems = append(problems, fmt.Sprintf("Value '' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", lowerFirst(name)))
		}
	}
	problems = append(problems, checkEnums(v, "")...)
	if o.token {
		if tok := v.FieldByName("ClientRequestToken"); !tok.IsNil() {
			if c := lengthConstraint(tok.Elem().Len(), 32, 64); c != "" {
				problems = append(problems, "Value at 'clientRequestToken' failed to satisfy constraint: "+c)
			}
		}
	}
	if len(problems) > 0 {
		return in, validationError(problems)
	}
	if o.token && v.FieldByName("ClientRequestToken").IsNil() {
		// protocol.md section 4: the SDKs fill it in; AWS rejects raw
		// requests without it.
		return in, errInvalidRequest("You must provide a ClientRequestToken value. We recommend a UUID-type value.")
	}
	return in, nil
}

func validationError(problems []string) error {
	noun := "errors"
	if len(problems) == 1 {
		noun = "error"
	}
	return errValidation("%d validation %s detected: %s", len(problems), noun, strings.Join(problems, "; "))
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func memberPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

var timeType = reflect.TypeFor[time.Time]()

// fieldIndex maps a struct type's exported field names, which are the
// model's member names, to field indexes.
var fieldIndex sync.Map // reflect.Type -> map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := fieldIndex.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.IsExported() && f.Name != "ResultMetadata" {
			m[f.Name] = i
		}
	}
	fieldIndex.Store(t, m)
	return m
}

// assign stores the decoded JSON value x in v. JSON null leaves v unset.
// Object keys must match member names exactly; other keys are ignored, as
// AWS ignores unknown members. Error messages name the member, never the
// value.
func assign(v reflect.Value, x any, path string) error {
	if x == nil {
		return nil
	}
	bad := func(want string) error {
		where := "the request"
		if path != "" {
			where = "member " + path
		}
		return serializationError(fmt.Sprintf("Expected %s for %s.", want, where))
	}
	switch {
	case v.Type() == timeType:
		n, ok := x.(json.Number)
		if !ok {
			return bad("a timestamp in epoch seconds")
		}
		f, err := n.Float64()
		if err != nil {
			return bad("a timestamp in epoch seconds")
		}
		sec := int64(f)
		v.Set(reflect.ValueOf(time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()))
		return nil
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := assign(p.Elem(), x, path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		obj, ok := x.(map[string]any)
		if !ok {
			return bad("an object")
		}
		fields := fieldsOf(v.Type())
		for k, val := range obj {
			i, ok := fields[k]
			if !ok {
				continue
			}
			if err := assign(v.Field(i), val, memberPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return bad("a string")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			return bad("a boolean")
		}
		v.SetBool(b)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		n, ok := x.(json.Number)
		if !ok {
			return bad("an integer")
		}
		i, err := strconv.ParseInt(string(n), 10, v.Type().Bits())
		if err != nil {
			return bad("an integer in range")
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		n, ok := x.(json.Number)
		if !ok {
			return bad("a number")
		}
		f, err := strconv.ParseFloat(string(n), v.Type().Bits())
		if err != nil {
			return bad("a number in range")
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			s, ok := x.(string)
			if !ok {
				return bad("a base64-encoded string")
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return bad("a base64-encoded string")
			}
			v.SetBytes(b)
			return nil
		}
		list, ok := x.([]any)
		if !ok {
			return bad("a list")
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := assign(s.Index(i), e, path+"."+strconv.Itoa(i+1)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Map:
		obj, ok := x.(map[string]any)
		if !ok || v.Type().Key().Kind() != reflect.String {
			return bad("an object")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(obj))
		for k, val := range obj {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := assign(e, val, path+"."+k); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	default:
		return bad("a supported value")
	}
	return nil
}

// enumType reports whether t is an SDK enum: a named string type with a
// Values method listing the model's values.
func enumType(t reflect.Type) bool {
	if t.Kind() != reflect.String || t.PkgPath() == "" {
		return false
	}
	m, ok := t.MethodByName("Values")
	return ok && m.Type.NumIn() == 1 && m.Type.NumOut() == 1 && m.Type.Out(0).Kind() == reflect.Slice
}

var enumHolders sync.Map // reflect.Type -> bool

// holdsEnum reports whether a value of type t can contain an enum.
func holdsEnum(t reflect.Type) bool {
	if h, ok := enumHolders.Load(t); ok {
		return h.(bool)
	}
	h := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		h = holdsEnum(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField() && !h; i++ {
			h = t.Field(i).IsExported() && holdsEnum(t.Field(i).Type)
		}
	case reflect.String:
		h = enumType(t)
	}
	enumHolders.Store(t, h)
	return h
}

// checkEnums reports every enum member whose value is not in the model's
// set.
func checkEnums(v reflect.Value, path string) []string {
	if !holdsEnum(v.Type()) {
		return nil
	}
	var problems []string
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			problems = checkEnums(v.Elem(), path)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return nil
		}
		for name, i := range fieldsOf(v.Type()) {
			problems = append(problems, checkEnums(v.Field(i), memberPath(path, lowerFirst(name)))...)
		}
		sort.Strings(problems)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := 0; i < v.Len(); i++ {
				problems = append(problems, checkEnums(v.Index(i), path+"."+strconv.Itoa(i+1)+".member")...)
			}
		}
	case reflect.String:
		if v.Len() == 0 {
			return nil
		}
		allowed := v.MethodByName("Values").Call(nil)[0]
		var set []string
		for i := 0; i < allowed.Len(); i++ {
			set = append(set, allowed.Index(i).String())
		}
		if !slices.Contains(set, v.String()) {
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", truncateBody([]byte(v.String())), path, strings.Join(set, ", ")))
		}
	}
	return problems
}

// --- response encoding ---

// encodeOutput writes an SDK output struct as awsJson1_1: member names as
// the field names, timestamps as epoch seconds (millisecond precision, as
// AWS sends them), blobs as base64, and every unset member omitted: nil
// pointers, empty lists and maps, structures with no set member, and
// ResultMetadata.
func encodeOutput(out any) []byte {
	v := reflect.ValueOf(out)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return []byte("{}")
		}
		v = v.Elem()
	}
	return appendValue(nil, v)
}

// appendValue appends v's JSON to b. Struct members for which unset
// reports true are left out.
func appendValue(b []byte, v reflect.Value) []byte {
	if v.Type() == timeType {
		return appendEpoch(b, v.Interface().(time.Time))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendValue(b, v.Elem())
	case reflect.Struct:
		b = append(b, '{')
		n := 0
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" || unset(v.Field(i)) {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Name)
			b = append(b, ':')
			b = appendValue(b, v.Field(i))
			n++
		}
		return append(b, '}')
	case reflect.String:
		return appendString(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, v.Type().Bits())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, v.Bytes())
			return append(b, '"')
		}
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k.String())
			b = append(b, ':')
			b = appendValue(b, v.MapIndex(k))
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// unset reports whether a struct member has no value and must be omitted.
// A pointer carries presence: a pointer to false or "" is a value.
func unset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return true
		}
		e := v.Elem()
		return e.Kind() == reflect.Struct && e.Type() != timeType && unset(e)
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).IsZero()
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && v.Type().Field(i).Name != "ResultMetadata" && !unset(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return v.IsZero()
}

// appendEpoch appends t as epoch seconds with millisecond precision.
func appendEpoch(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	b = strconv.AppendInt(b, sec, 10)
	if frac != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	}
	return b
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// --- test server ---

// Server is a Secrets Manager endpoint on a loopback port, serving Fake
// over HTTP, in the manner of httptest.Server. Point any AWS client at URL,
// or use Client for a Go SDK client already aimed at it.
type Server struct {
	URL  string // base URL, "http://127.0.0.1:<port>"
	Fake *Fake

	ts *httptest.Server
}

// NewServer starts a server for f on 127.0.0.1 and an ephemeral port. A nil
// f is replaced by New(Options{}). The caller must call Close.
func NewServer(f *Fake) *Server {
	if f == nil {
		f = New(Options{})
	}
	ts := httptest.NewServer(NewHandler(f, HandlerOptions{}))
	return &Server{URL: ts.URL, Fake: f, ts: ts}
}

// Close shuts the server down and blocks until all requests have finished.
// Rotations still running in the fake are not waited for: call Fake.Wait
// first if their functions use the server.
func (s *Server) Close() { s.ts.Close() }

// Client returns a real *secretsmanager.Client aimed at the server: region
// the fake's, static dummy credentials (requests are signed but not
// checked), BaseEndpoint the server's URL, and the server's HTTP client.
//
// Retries are set deliberately for tests: the SDK's standard retryer with
// 3 attempts (the SDK default, so code sees the retry behaviour it gets
// against AWS: 5xx, throttling and transport errors are retried), no
// backoff delay and no client-side retry rate limiting (ratelimit.None), so
// a test that injects throttling or 500s runs fast and deterministically
// instead of sleeping or running out of retry tokens. optFns are applied
// last and may override any of this.
func (s *Server) Client(optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	opts := secretsmanager.Options{
		Region:       s.Fake.Region(),
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDLOCALSM", SecretAccessKey: "localsm-dummy-secret", Source: "localsm"}, nil
		}),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		}),
	}
	if s.ts != nil {
		opts.HTTPClient = s.ts.Client()
	}
	return secretsmanager.New(opts, optFns...)
}
