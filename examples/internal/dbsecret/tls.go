package dbsecret

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// DefaultCAFiles returns the CA bundles Secret.TLSConfig trusts when
// neither the secret ("sslrootcert") nor the caller names one. Every file
// that exists is loaded into one pool:
//
//   - /var/task/global-bundle.pem: the Amazon RDS CA bundle
//     (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)
//     packaged next to the bootstrap in the function's zip;
//   - /opt/global-bundle.pem: the same bundle from a Lambda layer;
//   - /etc/pki/tls/certs/ca-bundle.crt: Amazon Linux (the provided.al2023
//     runtime);
//   - /etc/ssl/certs/ca-certificates.crt: Debian and Ubuntu.
//
// RDS server certificates chain to the RDS CAs, which the operating
// system bundles may lack: package the RDS bundle with the function.
func DefaultCAFiles() []string {
	return []string{
		"/var/task/global-bundle.pem",
		"/opt/global-bundle.pem",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/certs/ca-certificates.crt",
	}
}

// ErrNoCABundle means TLS verification was required but no CA bundle
// could be loaded.
var ErrNoCABundle = errors.New("no CA bundle found to verify the server certificate")

// TLSConfig returns the TLS configuration for connecting to s.Host, or
// nil when s.TLS is TLSDisable (the secret asked for plaintext
// explicitly).
//
// Verification is on unless the secret relaxed it: verify-full checks the
// chain and the host name, verify-ca the chain only, require neither. The
// CA bundles are, in order of precedence: the secret's "sslrootcert" (which
// must exist), the caFiles given (each must exist), or every existing file
// of DefaultCAFiles. TLS 1.2 is the minimum.
//
// Bundles are read once per process: the pool loaded from a list of files
// is kept and reused by later calls naming the same files (a function's
// bundles are part of its package and do not change while it runs).
// Failures are not kept, so a missing file is looked for again.
func (s *Secret) TLSConfig(caFiles ...string) (*tls.Config, error) {
	switch s.TLS {
	case TLSDisable:
		return nil, nil
	case TLSRequire:
		// Encrypted, unverified: the secret asked for exactly this.
		return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, ServerName: s.Host}, nil //nolint:gosec // explicit sslmode=require
	case TLSVerifyCA, TLSVerifyFull, "":
	default:
		return nil, fieldErr(FieldSSLMode, "is not a known TLS mode")
	}
	var pool *x509.CertPool
	var err error
	switch {
	case s.SSLRootCert != "":
		pool, err = loadPool([]string{s.SSLRootCert}, true)
		if err != nil {
			return nil, fmt.Errorf("%w: field %q: %w", ErrNoCABundle, FieldSSLRootCert, err)
		}
	case len(caFiles) > 0:
		pool, err = loadPool(caFiles, true)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCABundle, err)
		}
	default:
		pool, err = loadPool(DefaultCAFiles(), false)
		if err != nil {
			return nil, fmt.Errorf("%w: %w (set %q in the secret)", ErrNoCABundle, err, FieldSSLRootCert)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: s.Host}
	if s.TLS == TLSVerifyCA {
		// Verify the chain ourselves, without the host name.
		cfg.InsecureSkipVerify = true //nolint:gosec // replaced by VerifyConnection below
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("dbsecret: the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg, nil
}

// poolCache holds the pools loadPool built, by file list, for the life of
// the process. Pools are never modified once stored, so they are safe to
// share between tls.Configs and goroutines.
var poolCache sync.Map // poolKey -> *x509.CertPool

type poolKey struct {
	files  string // the paths, NUL-separated
	strict bool
}

// loadPool returns the pool of the PEM bundles files, reading them on the
// first call for that list only; see readPool.
func loadPool(files []string, strict bool) (*x509.CertPool, error) {
	key := poolKey{strings.Join(files, "\x00"), strict}
	if p, ok := poolCache.Load(key); ok {
		return p.(*x509.CertPool), nil
	}
	pool, err := readPool(files, strict)
	if err != nil {
		return nil, err
	}
	// Two goroutines may read the same files at once; both get a usable
	// pool, and the first stored is kept.
	p, _ := poolCache.LoadOrStore(key, pool)
	return p.(*x509.CertPool), nil
}

// readPool reads PEM bundles. With strict, every file must exist and hold
// a certificate; otherwise missing files are skipped, and only finding
// none at all is an error. Errors do not quote paths' contents.
func readPool(files []string, strict bool) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	loaded := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if !strict && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("reading CA bundle %s: %w", f, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			if !strict {
				continue
			}
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", f)
		}
		loaded++
	}
	if loaded == 0 {
		return nil, fmt.Errorf("none of %v exists", files)
	}
	return pool, nil
}

// CAFilesFromEnv reads the CA bundle list in the variable name through
// lookup (os.LookupEnv): paths separated by sep, spaces around them
// ignored; nil when the variable is unset or empty. The bundles are
// loaded now, so a missing or empty file fails the cold start naming the
// variable rather than the first rotation; TLSConfig keeps the pool for
// the life of the process, so connections do not read the files again.
func CAFilesFromEnv(lookup func(string) (string, bool), name, sep string) ([]string, error) {
	if lookup == nil {
		return nil, nil
	}
	v, _ := lookup(name)
	var files []string
	for _, f := range strings.Split(v, sep) {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	if _, err := (&Secret{TLS: TLSVerifyFull}).TLSConfig(files...); err != nil {
		return nil, fmt.Errorf("dbsecret: %s: %w", name, err)
	}
	return files, nil
}
