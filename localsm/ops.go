package localsm

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation"
)

// ptrTime returns &t, or nil for the zero time (unset fields are omitted).
func ptrTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func ptrString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// begin locks the fake, counts the call and purges secrets whose recovery
// window has passed. The caller must call f.mu.Unlock.
func (f *Fake) begin(op string) time.Time {
	f.mu.Lock()
	f.count(op)
	now := f.now()
	if f.purgeAt.IsZero() || f.purgeAt.After(now) {
		return now
	}
	f.purgeAt = time.Time{}
	for _, s := range slices.Clone(f.secrets) {
		switch {
		case s.deleted() && !s.DeletionDate.After(now):
			f.remove(s)
		default:
			f.schedulePurge(s)
		}
	}
	return now
}

// checkSecretID checks the required SecretId member.
func checkSecretID(id *string) error {
	if id == nil || *id == "" {
		return errValidation("1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	return nil
}

// find finds a secret, even one marked for deletion.
func (f *Fake) find(id *string) (*Secret, error) {
	if err := checkSecretID(id); err != nil {
		return nil, err
	}
	s := f.lookup(*id)
	if s == nil {
		return nil, errNotFoundSecret()
	}
	return s, nil
}

// live finds a secret that is not marked for deletion.
func (f *Fake) live(id *string) (*Secret, error) {
	s, err := f.find(id)
	if err != nil {
		return nil, err
	}
	if s.deleted() {
		return nil, errMarkedForDeletion()
	}
	return s, nil
}

// requestToken returns the request's ClientRequestToken, checked, or a new
// UUID when it has none, as the SDK fills one in.
func requestToken(p *string) (string, error) {
	tok := aws.ToString(p)
	if tok == "" {
		return newUUID(), nil
	}
	return tok, checkToken(tok)
}

func checkToken(tok string) error {
	if c := lengthConstraint(len(tok), 32, 64); c != "" {
		return errValidation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: %s", c)
	}
	return nil
}

// lengthConstraint returns AWS's wording of the bound a length n breaks
// (one message per bound, as AWS words them), or "" if n is in range.
func lengthConstraint(n, lo, hi int) string {
	switch {
	case n < lo:
		return fmt.Sprintf("Member must have length greater than or equal to %d", lo)
	case n > hi:
		return fmt.Sprintf("Member must have length less than or equal to %d", hi)
	}
	return ""
}

// valueConstraint is lengthConstraint for a number's value.
func valueConstraint(v, lo, hi int64) string {
	switch {
	case v < lo:
		return fmt.Sprintf("Member must have value greater than or equal to %d", lo)
	case v > hi:
		return fmt.Sprintf("Member must have value less than or equal to %d", hi)
	}
	return ""
}

// The checks below are split the way AWS splits them: the API model's
// constraints (lengths, list sizes) are checked by the front end before
// the secret is even looked up, and fail with ValidationException; the
// service's own rules (one of string or binary, at most 20 labels) are
// checked after it, with the service's exceptions. The model checks
// report every problem at once, as AWS does.

// valueProblems returns the model's complaints about a value: each of
// SecretString and SecretBinary is 1-65536 bytes. Values are never quoted.
func valueProblems(str *string, bin []byte) []string {
	var problems []string
	for _, m := range []struct {
		name string
		set  bool
		n    int
	}{{"secretString", str != nil, len(aws.ToString(str))}, {"secretBinary", bin != nil, len(bin)}} {
		switch {
		case !m.set:
		case m.n < 1:
			problems = append(problems, "Value at '"+m.name+"' failed to satisfy constraint: Member must have length greater than or equal to 1")
		case m.n > maxSecretSize:
			problems = append(problems, "Value at '"+m.name+"' failed to satisfy constraint: Member must have length less than or equal to 65536")
		}
	}
	return problems
}

// stagesProblems returns the model's complaints about VersionStages: a
// list given must have 1-20 members, each 1-256 characters.
func stagesProblems(stages []string) []string {
	if stages == nil {
		return nil
	}
	if len(stages) == 0 {
		return []string{"Value '[]' at 'versionStages' failed to satisfy constraint: Member must have length greater than or equal to 1"}
	}
	for _, st := range stages {
		if c := lengthConstraint(len(st), 1, 256); c != "" {
			return []string{"Value at 'versionStages' failed to satisfy constraint: " + c}
		}
	}
	return nil
}

// tokenProblems returns the model's complaint about a ClientRequestToken
// that is set but not 32-64 characters long.
func tokenProblems(tok *string) []string {
	if tok == nil || *tok == "" {
		return nil // the SDK fills one in
	}
	if c := lengthConstraint(len(*tok), 32, 64); c != "" {
		return []string{"Value at 'clientRequestToken' failed to satisfy constraint: " + c}
	}
	return nil
}

// checkModel turns the model's complaints into a ValidationException.
func checkModel(problems ...[]string) error {
	all := slices.Concat(problems...)
	if len(all) == 0 {
		return nil
	}
	return validationError(all)
}

// checkValue applies the service's rule to a SecretString/SecretBinary
// pair: not both, and one of them if required.
func checkValue(str *string, bin []byte, required bool) error {
	if str != nil && bin != nil {
		return errInvalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if str == nil && bin == nil && required {
		return errInvalidParameter("You must provide either SecretString or SecretBinary.")
	}
	return nil
}

func sameValue(v *Version, str *string, bin []byte) bool {
	if str != nil {
		return v.SecretString != nil && *v.SecretString == *str
	}
	return v.SecretString == nil && v.SecretBinary != nil && bytes.Equal(v.SecretBinary, bin)
}

// putVersion is the shared body of CreateSecret, PutSecretValue and
// UpdateSecret: it writes a value under token with the given stages
// (nil = AWSCURRENT), following the API's idempotency rules. The caller
// holds f.mu.
func (f *Fake) putVersion(s *Secret, token string, str *string, bin []byte, stages []string, rotationToken string, now time.Time) (*Version, error) {
	if stages == nil {
		stages = []string{stageCurrent}
	}
	var all []string // the labels the version will carry
	if v := s.version(token); v != nil {
		if !v.Placeholder() {
			if sameValue(v, str, bin) {
				return v, nil
			}
			return nil, errResourceExists("You can't modify an existing version, you can only create a new version.")
		}
		all = slices.Clone(v.Stages)
	}
	hadCurrent := s.staged(stageCurrent) != nil
	if !hadCurrent && !slices.Contains(stages, stageCurrent) {
		stages = append(slices.Clone(stages), stageCurrent)
	}
	for _, st := range stages {
		if !slices.Contains(all, st) {
			all = append(all, st)
		}
	}
	// Checked before anything is written: a rejected call changes nothing.
	if len(all) > maxStagesPerVersion {
		return nil, errLimitExceeded("A version can have at most %d staging labels.", maxStagesPerVersion)
	}
	if s.version(token) == nil {
		s.Versions = append(s.Versions, Version{ID: token, CreatedDate: now})
	}
	v := s.version(token)
	if str != nil {
		c := *str
		v.SecretString = &c
	} else {
		v.SecretBinary = slices.Clone(bin)
	}
	v.RotationToken = rotationToken
	manual := false
	for _, st := range stages {
		if st == stageCurrent && !v.HasStage(stageCurrent) && !slices.Contains(stages, stagePending) {
			manual = true
			f.abandon(s)
		}
		s.attach(token, st)
	}
	if manual {
		f.manualWrite(s, now)
	}
	f.releaseStale(s) // AWSPENDING may have moved to this version
	s.LastChangedDate = now
	s.prune(now)
	return s.version(token), nil
}

// abandon removes AWSPENDING wherever it is, as the service does when a
// manual write moves AWSCURRENT, and, if a rotation was in progress,
// records RotationAbandoned and releases the rotation's in-flight slot at
// once, so that RotateSecret works again even while the abandoned
// rotation's current step still runs (that rotation ends at its next
// check, see Fake.halted). The caller holds f.mu.
func (f *Fake) abandon(s *Secret) {
	p := s.staged(stagePending)
	if p == nil {
		return
	}
	inProgress := !p.HasStage(stageCurrent)
	p.removeStage(stagePending)
	if !inProgress {
		return
	}
	f.record(Event{Name: EventRotationAbandoned, SecretARN: s.ARN, VersionID: p.ID})
	if r := f.inflight[s.ARN]; r != nil && r.VersionID == p.ID {
		r.cancel()
		delete(f.inflight, s.ARN)
	}
	f.pruneIssued(s)
}

// manualWrite does the schedule's bookkeeping after a manual write moved
// AWSCURRENT (PutSecretValue or UpdateSecret with default stages). The
// caller holds f.mu.
//
// protocol.md section 2, last bullet of the abandonment rule: such a
// write "also counts as a rotation for AutomaticallyAfterDays schedules".
// We read that as holding whether or not a rotation was in progress: the
// secret's value changed, which is what the days-since-last-rotation
// schedule measures, so LastRotatedDate becomes now and the next rotation
// is scheduled from it. rate() and cron() schedules name their windows
// independently of the last rotation, so a manual write does not count
// for them: LastRotatedDate stays, and only a NextRotationDate that an
// abandoned rotation had cleared is set again. (Unconfirmed against AWS;
// this is the reading that never delays a rotation a cron() schedule
// promises.)
func (f *Fake) manualWrite(s *Secret, now time.Time) {
	if s.RotationEnabled == nil || !*s.RotationEnabled || s.RotationRules == nil {
		return
	}
	if s.RotationRules.AutomaticallyAfterDays > 0 && s.RotationRules.ScheduleExpression == "" {
		s.LastRotatedDate = now
		f.schedule(s, now)
		return
	}
	if s.NextRotationDate.IsZero() && f.inflight[s.ARN] == nil {
		f.schedule(s, now)
	}
}

// CreateSecret creates a secret, with a first version if a value is given.
func (f *Fake) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	now := f.begin("CreateSecret")
	defer f.mu.Unlock()
	if in == nil || in.Name == nil || *in.Name == "" {
		return nil, errValidation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	name := *in.Name
	if len(name) > 512 {
		return nil, errValidation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 512")
	}
	if strings.HasPrefix(name, "arn:") {
		return nil, errInvalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+=.@-!", r)) {
			return nil, errInvalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
		}
	}
	if err := checkModel(tokenProblems(in.ClientRequestToken), valueProblems(in.SecretString, in.SecretBinary)); err != nil {
		return nil, err
	}
	if err := checkValue(in.SecretString, in.SecretBinary, false); err != nil {
		return nil, err
	}
	token, err := requestToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	if s := f.byName[name]; s != nil {
		if s.deleted() {
			return nil, errInvalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, errResourceExists("The operation failed because the secret %s already exists.", name)
	}
	s := &Secret{
		ARN:             f.newARN(name),
		Name:            name,
		Description:     aws.ToString(in.Description),
		KmsKeyID:        aws.ToString(in.KmsKeyId),
		CreatedDate:     now,
		LastChangedDate: now,
	}
	for _, t := range in.Tags {
		if s.Tags == nil {
			s.Tags = map[string]string{}
		}
		s.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	out := &secretsmanager.CreateSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(name)}
	if in.SecretString != nil || in.SecretBinary != nil {
		if _, err := f.putVersion(s, token, in.SecretString, in.SecretBinary, nil, "", now); err != nil {
			return nil, err
		}
		out.VersionId = aws.String(token)
	}
	f.add(s)
	return out, nil
}

// DescribeSecret returns a secret's metadata; unset fields are omitted.
func (f *Fake) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.begin("DescribeSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.DescribeSecretInput{}
	}
	s, err := f.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	e := listEntry(s)
	return &secretsmanager.DescribeSecretOutput{
		ARN:                e.ARN,
		Name:               e.Name,
		Description:        e.Description,
		KmsKeyId:           e.KmsKeyId,
		CreatedDate:        e.CreatedDate,
		LastChangedDate:    e.LastChangedDate,
		LastAccessedDate:   e.LastAccessedDate,
		LastRotatedDate:    e.LastRotatedDate,
		NextRotationDate:   e.NextRotationDate,
		DeletedDate:        e.DeletedDate,
		RotationEnabled:    e.RotationEnabled,
		RotationLambdaARN:  e.RotationLambdaARN,
		RotationRules:      e.RotationRules,
		Tags:               e.Tags,
		VersionIdsToStages: e.SecretVersionsToStages,
	}, nil
}

// listEntry is a secret's metadata as ListSecrets lists it and, under
// other member names, as DescribeSecret returns it; unset fields are
// omitted.
func listEntry(s *Secret) types.SecretListEntry {
	e := types.SecretListEntry{
		ARN:                    aws.String(s.ARN),
		Name:                   aws.String(s.Name),
		Description:            ptrString(s.Description),
		KmsKeyId:               ptrString(s.KmsKeyID),
		CreatedDate:            ptrTime(s.CreatedDate),
		LastChangedDate:        ptrTime(s.LastChangedDate),
		LastAccessedDate:       ptrTime(s.LastAccessedDate),
		LastRotatedDate:        ptrTime(s.LastRotatedDate),
		NextRotationDate:       ptrTime(s.NextRotationDate),
		DeletedDate:            ptrTime(s.DeletedDate),
		RotationLambdaARN:      ptrString(s.RotationLambdaARN),
		RotationRules:          rulesOut(s.RotationRules),
		Tags:                   tagsOut(s.Tags),
		SecretVersionsToStages: s.Labels(),
	}
	if s.RotationEnabled != nil {
		e.RotationEnabled = aws.Bool(*s.RotationEnabled)
	}
	if len(e.SecretVersionsToStages) == 0 {
		e.SecretVersionsToStages = nil
	}
	return e
}

func rulesOut(r *RotationRules) *types.RotationRulesType {
	if r == nil {
		return nil
	}
	out := &types.RotationRulesType{}
	if r.AutomaticallyAfterDays != 0 {
		out.AutomaticallyAfterDays = aws.Int64(r.AutomaticallyAfterDays)
	}
	out.ScheduleExpression = ptrString(r.ScheduleExpression)
	out.Duration = ptrString(r.Duration)
	return out
}

func tagsOut(tags map[string]string) []types.Tag {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// GetSecretValue returns one version's value: by VersionId, by VersionStage,
// or AWSCURRENT when neither is given.
func (f *Fake) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	now := f.begin("GetSecretValue")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.GetSecretValueInput{}
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	var v *Version
	switch {
	case in.VersionId != nil && *in.VersionId != "":
		v = s.version(*in.VersionId)
		if v == nil || v.Placeholder() {
			return nil, errNotFoundVersionID(*in.VersionId)
		}
		if in.VersionStage != nil && *in.VersionStage != "" && !v.HasStage(*in.VersionStage) {
			return nil, errInvalidRequest("You provided a VersionStage that is not associated to the provided VersionId.")
		}
	default:
		stage := stageCurrent
		if in.VersionStage != nil && *in.VersionStage != "" {
			stage = *in.VersionStage
		}
		v = s.staged(stage)
		if v == nil || v.Placeholder() {
			return nil, errNotFoundStage(stage)
		}
	}
	day := now.Truncate(24 * time.Hour)
	s.LastAccessedDate = day
	v.LastAccessed = day
	out := &secretsmanager.GetSecretValueOutput{
		ARN:           aws.String(s.ARN),
		Name:          aws.String(s.Name),
		VersionId:     aws.String(v.ID),
		VersionStages: slices.Clone(v.Stages),
		CreatedDate:   ptrTime(v.CreatedDate),
		SecretBinary:  slices.Clone(v.SecretBinary),
	}
	if v.SecretString != nil {
		out.SecretString = aws.String(*v.SecretString)
	}
	return out, nil
}

// PutSecretValue stores a new version, or fills in the rotation
// placeholder whose id is the ClientRequestToken. A nil token is filled in
// with a UUID, as the SDK does; over HTTP a request without one is rejected.
func (f *Fake) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	now := f.begin("PutSecretValue")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.PutSecretValueInput{}
	}
	if err := checkSecretID(in.SecretId); err != nil {
		return nil, err
	}
	if err := checkModel(tokenProblems(in.ClientRequestToken), valueProblems(in.SecretString, in.SecretBinary), stagesProblems(in.VersionStages)); err != nil {
		return nil, err
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	token, err := requestToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	if err := checkValue(in.SecretString, in.SecretBinary, true); err != nil {
		return nil, err
	}
	if len(in.VersionStages) > maxStagesPerVersion {
		return nil, errLimitExceeded("A version can have at most %d staging labels.", maxStagesPerVersion)
	}
	v, err := f.putVersion(s, token, in.SecretString, in.SecretBinary, in.VersionStages, aws.ToString(in.RotationToken), now)
	if err != nil {
		return nil, err
	}
	return &secretsmanager.PutSecretValueOutput{
		ARN:           aws.String(s.ARN),
		Name:          aws.String(s.Name),
		VersionId:     aws.String(v.ID),
		VersionStages: slices.Clone(v.Stages),
	}, nil
}

// UpdateSecret changes a secret's metadata and, with a value, stores a new
// AWSCURRENT version (abandoning a rotation in progress).
func (f *Fake) UpdateSecret(ctx context.Context, in *secretsmanager.UpdateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretOutput, error) {
	now := f.begin("UpdateSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.UpdateSecretInput{}
	}
	if err := checkSecretID(in.SecretId); err != nil {
		return nil, err
	}
	if err := checkModel(tokenProblems(in.ClientRequestToken), valueProblems(in.SecretString, in.SecretBinary)); err != nil {
		return nil, err
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	if err := checkValue(in.SecretString, in.SecretBinary, false); err != nil {
		return nil, err
	}
	token, err := requestToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	out := &secretsmanager.UpdateSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name)}
	if in.SecretString != nil || in.SecretBinary != nil {
		v, err := f.putVersion(s, token, in.SecretString, in.SecretBinary, nil, "", now)
		if err != nil {
			return nil, err
		}
		out.VersionId = aws.String(v.ID)
	}
	if in.Description != nil {
		s.Description = *in.Description
	}
	if in.KmsKeyId != nil {
		s.KmsKeyID = *in.KmsKeyId
	}
	s.LastChangedDate = now
	return out, nil
}

// UpdateSecretVersionStage moves or removes one staging label.
func (f *Fake) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	now := f.begin("UpdateSecretVersionStage")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.UpdateSecretVersionStageInput{}
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	stage := aws.ToString(in.VersionStage)
	if stage == "" {
		return nil, errValidation("1 validation error detected: Value null at 'versionStage' failed to satisfy constraint: Member must not be null")
	}
	if len(stage) > 256 {
		return nil, errValidation("1 validation error detected: Value at 'versionStage' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	moveTo := aws.ToString(in.MoveToVersionId)
	removeFrom := aws.ToString(in.RemoveFromVersionId)
	if moveTo == "" && removeFrom == "" {
		return nil, errInvalidParameter("You must specify either MoveToVersionId or RemoveFromVersionId.")
	}
	holder := s.staged(stage)
	if removeFrom != "" {
		rv := s.version(removeFrom)
		if rv == nil {
			return nil, errInvalidParameter("The parameter RemoveFromVersionId %s doesn't refer to a version of this secret.", removeFrom)
		}
		if !rv.HasStage(stage) {
			return nil, errInvalidParameter("The staging label %s is not attached to version %s, so it can't be removed from it.", stage, removeFrom)
		}
	}
	out := &secretsmanager.UpdateSecretVersionStageOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name)}
	if moveTo == "" {
		if stage == stageCurrent {
			return nil, errInvalidParameter("You can't remove the staging label AWSCURRENT from a version; move it to another version instead.")
		}
		s.version(removeFrom).removeStage(stage)
		f.releaseStale(s)
		s.LastChangedDate = now
		s.prune(now) // the version may have lost its last label
		return out, nil
	}
	target := s.version(moveTo)
	if target == nil {
		return nil, errInvalidParameter("The parameter MoveToVersionId %s doesn't refer to a version of this secret.", moveTo)
	}
	if holder != nil && holder.ID != moveTo && holder.ID != removeFrom {
		return nil, errInvalidParameter("The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder.ID)
	}
	if !target.HasStage(stage) && len(target.Stages) >= maxStagesPerVersion {
		return nil, errLimitExceeded("A version can have at most %d staging labels.", maxStagesPerVersion)
	}
	if stage == stageCurrent && target.Placeholder() {
		return nil, errInvalidRequest("You can't attach the staging label AWSCURRENT to a version that has no secret value.")
	}
	s.attach(moveTo, stage)
	if removeFrom != "" && removeFrom != moveTo {
		s.version(removeFrom).removeStage(stage)
	}
	f.releaseStale(s)
	s.LastChangedDate = now
	s.prune(now)
	return out, nil
}

// GetRandomPassword generates a password with crypto/rand, honouring every
// option of the API.
func (f *Fake) GetRandomPassword(ctx context.Context, in *secretsmanager.GetRandomPasswordInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error) {
	f.begin("GetRandomPassword")
	f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.GetRandomPasswordInput{}
	}
	p := rotation.PasswordPolicy{
		ExcludeCharacters:  aws.ToString(in.ExcludeCharacters),
		ExcludeNumbers:     aws.ToBool(in.ExcludeNumbers),
		ExcludePunctuation: aws.ToBool(in.ExcludePunctuation),
		ExcludeUppercase:   aws.ToBool(in.ExcludeUppercase),
		ExcludeLowercase:   aws.ToBool(in.ExcludeLowercase),
		IncludeSpace:       aws.ToBool(in.IncludeSpace),
		AllowMissingTypes:  in.RequireEachIncludedType != nil && !*in.RequireEachIncludedType,
	}
	if in.PasswordLength != nil {
		n := *in.PasswordLength
		if c := valueConstraint(n, 1, 4096); c != "" {
			return nil, errValidation("1 validation error detected: Value '%d' at 'passwordLength' failed to satisfy constraint: %s", n, c)
		}
		p.Length = int(n)
	}
	if len(p.ExcludeCharacters) > 4096 {
		return nil, errValidation("1 validation error detected: Value at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096")
	}
	pw, err := p.Generate()
	if err != nil {
		return nil, errInvalidParameter("%v", err)
	}
	return &secretsmanager.GetRandomPasswordOutput{RandomPassword: aws.String(pw)}, nil
}

// ListSecretVersionIds lists a secret's versions, newest first; deprecated
// ones only with IncludeDeprecated.
func (f *Fake) ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error) {
	f.begin("ListSecretVersionIds")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.ListSecretVersionIdsInput{}
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	var all []types.SecretVersionsListEntry
	for i := len(s.Versions) - 1; i >= 0; i-- {
		v := s.Versions[i]
		if v.Deprecated() && !aws.ToBool(in.IncludeDeprecated) {
			continue
		}
		e := types.SecretVersionsListEntry{
			VersionId:        aws.String(v.ID),
			CreatedDate:      ptrTime(v.CreatedDate),
			LastAccessedDate: ptrTime(v.LastAccessed),
			VersionStages:    slices.Clone(v.Stages),
		}
		if s.KmsKeyID != "" {
			e.KmsKeyIds = []string{s.KmsKeyID}
		} else {
			e.KmsKeyIds = []string{"DefaultEncryptionKey"}
		}
		all = append(all, e)
	}
	page, next, err := paginate(len(all), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &secretsmanager.ListSecretVersionIdsOutput{
		ARN:       aws.String(s.ARN),
		Name:      aws.String(s.Name),
		Versions:  all[page[0]:page[1]],
		NextToken: next,
	}, nil
}

// paginate returns the [start, end) window for a list of n items.
func paginate(n int, maxResults *int32, nextToken *string) ([2]int, *string, error) {
	start := 0
	if t := aws.ToString(nextToken); t != "" {
		i, err := strconv.Atoi(strings.TrimPrefix(t, "page-"))
		if err != nil || !strings.HasPrefix(t, "page-") || i < 0 || i > n {
			return [2]int{}, nil, errInvalidNextToken()
		}
		start = i
	}
	size := 100
	if maxResults != nil {
		if c := valueConstraint(int64(*maxResults), 1, 100); c != "" {
			return [2]int{}, nil, errValidation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: %s", *maxResults, c)
		}
		size = int(*maxResults)
	}
	end := min(start+size, n)
	var next *string
	if end < n {
		next = aws.String("page-" + strconv.Itoa(end))
	}
	return [2]int{start, end}, next, nil
}

// ListSecrets lists secrets, with the API's filters, sorting and paging.
func (f *Fake) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	if in == nil {
		in = &secretsmanager.ListSecretsInput{}
	}
	// The model's limits are checked, and each filter value lower-cased,
	// once and before the lock: a request cannot make the fake match a
	// huge value against every secret while other callers wait.
	q, err := compileFilters(in.Filters)
	if err != nil {
		f.begin("ListSecrets")
		f.mu.Unlock()
		return nil, err
	}
	f.begin("ListSecrets")
	views := make([]secretView, 0, len(f.secrets))
	for _, s := range f.secrets {
		if s.deleted() && !aws.ToBool(in.IncludePlannedDeletion) {
			continue
		}
		views = append(views, viewOf(s, q.needTags))
	}
	f.mu.Unlock()

	// Matching and sorting work on the snapshot, outside the lock.
	list := views[:0]
	for _, v := range views {
		if q.match(&v) {
			list = append(list, v)
		}
	}
	switch in.SortBy {
	case "", types.SortByTypeCreatedDate:
		// creation order
	case types.SortByTypeName:
		sort.SliceStable(list, func(i, j int) bool { return list[i].name < list[j].name })
	case types.SortByTypeLastAccessedDate:
		sort.SliceStable(list, func(i, j int) bool { return list[i].accessed.Before(list[j].accessed) })
	case types.SortByTypeLastChangedDate:
		sort.SliceStable(list, func(i, j int) bool { return list[i].changed.Before(list[j].changed) })
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set", in.SortBy)
	}
	switch in.SortOrder {
	case "", types.SortOrderTypeDesc:
		slices.Reverse(list)
	case types.SortOrderTypeAsc:
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set", in.SortOrder)
	}
	page, next, err := paginate(len(list), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &secretsmanager.ListSecretsOutput{NextToken: next}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range list[page[0]:page[1]] {
		out.SecretList = append(out.SecretList, listEntry(v.s))
	}
	return out, nil
}

// secretView is what ListSecrets matches and sorts on, copied under the
// lock.
type secretView struct {
	s                 *Secret
	name, description string
	tags              [][2]string // copied only when a filter looks at tags
	accessed, changed time.Time
}

func viewOf(s *Secret, withTags bool) secretView {
	v := secretView{s: s, name: s.Name, description: s.Description, accessed: s.LastAccessedDate, changed: s.LastChangedDate}
	if withTags {
		for k, val := range s.Tags {
			v.tags = append(v.tags, [2]string{k, val})
		}
	}
	return v
}

// Limits of ListSecrets' Filters, from the API model.
const (
	maxFilters          = 10
	maxFilterValues     = 10
	maxFilterValueLen   = 512
	filterValuePattern  = `^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`
	filterValueAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :_@/+=.-!"
)

// filterValue is one compiled filter value.
type filterValue struct {
	neg   bool
	value string   // as given, without the "!"
	lower string   // lower-cased once
	words []string // for "all": the value's words, lower-cased
}

type compiledFilter struct {
	key    types.FilterNameStringType
	values []filterValue
}

type filterQuery struct {
	filters  []compiledFilter
	needTags bool
}

// compileFilters checks filters against the model (ValidationException,
// every problem at once, worded as AWS words them) and prepares them for
// matching.
func compileFilters(filters []types.Filter) (filterQuery, error) {
	var q filterQuery
	var problems []string
	if c := lengthConstraint(len(filters), 0, maxFilters); c != "" {
		problems = append(problems, "Value at 'filters' failed to satisfy constraint: "+c)
	}
	for i, flt := range filters {
		if i >= maxFilters {
			break
		}
		path := fmt.Sprintf("filters.%d.member", i+1)
		if flt.Key != "" && !slices.Contains(flt.Key.Values(), flt.Key) {
			problems = append(problems, fmt.Sprintf("Value '%s' at '%s.key' failed to satisfy constraint: Member must satisfy enum value set: [%s]", truncated(string(flt.Key)), path, strings.Join(enumStrings(flt.Key.Values()), ", ")))
		}
		if c := lengthConstraint(len(flt.Values), 1, maxFilterValues); c != "" && flt.Values != nil {
			problems = append(problems, fmt.Sprintf("Value at '%s.values' failed to satisfy constraint: %s", path, c))
		}
		cf := compiledFilter{key: flt.Key}
		for j, val := range flt.Values {
			if j >= maxFilterValues {
				break
			}
			vpath := fmt.Sprintf("%s.values.%d.member", path, j+1)
			if c := lengthConstraint(len(val), 0, maxFilterValueLen); c != "" {
				problems = append(problems, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", vpath, c))
				continue
			}
			if !validFilterValue(val) {
				problems = append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", val, vpath, filterValuePattern))
				continue
			}
			fv := filterValue{neg: strings.HasPrefix(val, "!")}
			fv.value = strings.TrimPrefix(val, "!")
			fv.lower = strings.ToLower(fv.value)
			if flt.Key == types.FilterNameStringTypeAll {
				fv.words = strings.Fields(fv.lower)
			}
			cf.values = append(cf.values, fv)
		}
		switch flt.Key {
		case types.FilterNameStringTypeTagKey, types.FilterNameStringTypeTagValue, types.FilterNameStringTypeAll:
			q.needTags = true
		}
		q.filters = append(q.filters, cf)
	}
	if len(problems) > 0 {
		return q, validationError(problems)
	}
	return q, nil
}

// validFilterValue reports whether v matches the model's pattern: an
// optional leading "!", then letters, digits and " :_@/+=.-!".
func validFilterValue(v string) bool {
	for _, r := range strings.TrimPrefix(v, "!") {
		if r > unicode.MaxASCII || !strings.ContainsRune(filterValueAlphabet, r) {
			return false
		}
	}
	return true
}

func enumStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// truncated shortens a value echoed in an error message.
func truncated(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// match reports whether v passes every filter: a secret passes a filter
// when one of its values matches (a "!" value matches when its prefix
// does not). As the API reference describes, name, tag-key, tag-value,
// primary-region and owning-service are case-sensitive prefix matches,
// description is a prefix match that ignores case, and "all" splits the
// value into words, each of which must begin (ignoring case) the name, the
// description, a tag key or a tag value. The fake's secrets have no
// primary region or owning service.
func (q filterQuery) match(v *secretView) bool {
	for _, flt := range q.filters {
		ok := false
		for _, fv := range flt.values {
			if fv.matches(flt.key, v) != fv.neg {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (fv filterValue) matches(key types.FilterNameStringType, v *secretView) bool {
	switch key {
	case types.FilterNameStringTypeName:
		return strings.HasPrefix(v.name, fv.value)
	case types.FilterNameStringTypeDescription:
		return hasPrefixFold(v.description, fv.lower)
	case types.FilterNameStringTypeTagKey:
		for _, t := range v.tags {
			if strings.HasPrefix(t[0], fv.value) {
				return true
			}
		}
		return false
	case types.FilterNameStringTypeTagValue:
		for _, t := range v.tags {
			if strings.HasPrefix(t[1], fv.value) {
				return true
			}
		}
		return false
	case types.FilterNameStringTypePrimaryRegion, types.FilterNameStringTypeOwningService:
		return fv.value == ""
	case types.FilterNameStringTypeAll:
		for _, w := range fv.words {
			found := hasPrefixFold(v.name, w) || hasPrefixFold(v.description, w)
			for _, t := range v.tags {
				found = found || hasPrefixFold(t[0], w) || hasPrefixFold(t[1], w)
			}
			if !found {
				return false
			}
		}
		return true
	}
	return true
}

// hasPrefixFold reports whether s begins with lowerPrefix, ignoring case;
// lowerPrefix is already lower-case.
func hasPrefixFold(s, lowerPrefix string) bool {
	return len(s) >= len(lowerPrefix) && strings.EqualFold(s[:len(lowerPrefix)], lowerPrefix)
}

// DeleteSecret schedules a secret for deletion after a recovery window
// (7-30 days, default 30) or, with ForceDeleteWithoutRecovery, deletes it
// at once.
func (f *Fake) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	now := f.begin("DeleteSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.DeleteSecretInput{}
	}
	s, err := f.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	force := aws.ToBool(in.ForceDeleteWithoutRecovery)
	if force && in.RecoveryWindowInDays != nil {
		return nil, errInvalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	out := &secretsmanager.DeleteSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name)}
	if force {
		f.remove(s)
		out.DeletionDate = &now
		return out, nil
	}
	if s.deleted() {
		return nil, errInvalidRequest("You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, errInvalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	s.DeletedDate = now
	s.DeletionDate = now.Add(time.Duration(days) * 24 * time.Hour)
	f.schedulePurge(s)
	d := s.DeletionDate
	out.DeletionDate = &d
	return out, nil
}

// RestoreSecret cancels a scheduled deletion.
func (f *Fake) RestoreSecret(ctx context.Context, in *secretsmanager.RestoreSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error) {
	now := f.begin("RestoreSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.RestoreSecretInput{}
	}
	s, err := f.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	s.DeletedDate = time.Time{}
	s.DeletionDate = time.Time{}
	s.LastChangedDate = now
	return &secretsmanager.RestoreSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name)}, nil
}
