package gitsource

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Signer names the trusted key that signed a commit.
type Signer struct {
	// Method is "openpgp" or "ssh".
	Method string `json:"method"`
	// Key is the OpenPGP primary key fingerprint (upper-case hex) or the
	// SSH key's SHA256 fingerprint.
	Key string `json:"key"`
	// Identity is the key's primary user ID (OpenPGP) or the principals
	// of its allowed_signers line (SSH).
	Identity string `json:"identity,omitempty"`
}

func (s *Signer) String() string {
	if s.Identity == "" {
		return s.Method + " " + s.Key
	}
	return fmt.Sprintf("%s %s (%s)", s.Method, s.Key, s.Identity)
}

// sshNamespace is the namespace git signs commits in (`ssh-keygen -Y sign
// -n git`); a signature made for any other purpose is not a commit
// signature.
const sshNamespace = "git"

// trust is the set of keys a commit may be signed by, read from the files
// the Options name. digest changes whenever a file's content does, so a
// revision refused for its signer is looked at again once keys change.
type trust struct {
	pgp     openpgp.EntityList
	signers []allowedSigner
	digest  [sha256.Size]byte
}

// loadTrust reads the trust files; nil (and no error) when verification
// is off.
func loadTrust(o *Options) (*trust, error) {
	if o.Verify != VerifyHead {
		return nil, nil
	}
	t := &trust{}
	h := sha256.New()
	if o.OpenPGPKeyRing != "" {
		data, err := os.ReadFile(o.OpenPGPKeyRing)
		if err != nil {
			return nil, fmt.Errorf("OpenPGP keyring: %w", err)
		}
		if t.pgp, err = readKeyRing(data); err != nil {
			return nil, fmt.Errorf("OpenPGP keyring %s: %w", o.OpenPGPKeyRing, err)
		}
		fmt.Fprintf(h, "pgp %d\n", len(data))
		h.Write(data)
	}
	if o.SSHAllowedSigners != "" {
		data, err := os.ReadFile(o.SSHAllowedSigners)
		if err != nil {
			return nil, fmt.Errorf("SSH allowed signers: %w", err)
		}
		if t.signers, err = parseAllowedSigners(data); err != nil {
			return nil, fmt.Errorf("SSH allowed signers %s: %w", o.SSHAllowedSigners, err)
		}
		fmt.Fprintf(h, "ssh %d\n", len(data))
		h.Write(data)
	}
	copy(t.digest[:], h.Sum(nil))
	return t, nil
}

// readKeyRing reads public keys, armored or binary. An armored file may
// hold several blocks, as `gpg --export --armor A >> ring` makes.
func readKeyRing(data []byte) (openpgp.EntityList, error) {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	if !bytes.Contains(data, []byte(begin)) {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if len(el) == 0 {
			return nil, errors.New("holds no keys")
		}
		return el, nil
	}
	var all openpgp.EntityList
	chunks := bytes.Split(data, []byte(begin))
	for _, c := range chunks[1:] {
		el, err := openpgp.ReadArmoredKeyRing(io.MultiReader(strings.NewReader(begin), bytes.NewReader(c)))
		if err != nil {
			return nil, err
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, errors.New("holds no keys")
	}
	return all, nil
}

// verify checks that c is signed by a trusted key and says by which. Its
// errors wrap ErrUntrustedCommit and name the commit and the signer's key.
// now is when key expiry is judged.
func (t *trust) verify(c *object.Commit, now time.Time) (*Signer, error) {
	rev := c.Hash.String()
	sig := strings.TrimSpace(c.PGPSignature)
	if sig == "" {
		return nil, fmt.Errorf("%w: commit %s is not signed", ErrUntrustedCommit, rev)
	}
	if n := strings.Count(sig, "-----BEGIN "); n > 1 {
		return nil, fmt.Errorf("%w: commit %s carries %d signatures; exactly one is accepted", ErrUntrustedCommit, rev, n)
	}
	payload := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(payload); err != nil {
		return nil, fmt.Errorf("encode commit %s: %w", rev, err)
	}
	r, err := payload.Reader()
	if err != nil {
		return nil, fmt.Errorf("encode commit %s: %w", rev, err)
	}
	defer r.Close()
	switch {
	case strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----"):
		return t.verifyOpenPGP(rev, sig, r, now)
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		return t.verifySSH(rev, sig, r, c.Committer.When)
	}
	first, _, _ := strings.Cut(sig, "\n")
	return nil, fmt.Errorf("%w: commit %s has a signature of an unsupported kind (%.40s)", ErrUntrustedCommit, rev, first)
}

func (t *trust) verifyOpenPGP(rev, sigText string, payload io.Reader, now time.Time) (*Signer, error) {
	block, err := armor.Decode(strings.NewReader(sigText))
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s: unreadable OpenPGP signature: %v", ErrUntrustedCommit, rev, err)
	}
	sigData, err := io.ReadAll(io.LimitReader(block.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s: unreadable OpenPGP signature: %v", ErrUntrustedCommit, rev, err)
	}
	issuer := "of unknown id"
	if p, err := packet.Read(bytes.NewReader(sigData)); err == nil {
		if s, ok := p.(*packet.Signature); ok {
			switch {
			case len(s.IssuerFingerprint) > 0:
				issuer = fmt.Sprintf("%X", s.IssuerFingerprint)
			case s.IssuerKeyId != nil:
				issuer = fmt.Sprintf("%016X", *s.IssuerKeyId)
			}
		}
	}
	if len(t.pgp) == 0 {
		return nil, fmt.Errorf("%w: commit %s is signed with OpenPGP key %s, but no OpenPGP keyring is configured", ErrUntrustedCommit, rev, issuer)
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	_, entity, err := openpgp.VerifyDetachedSignature(t.pgp, payload, bytes.NewReader(sigData), cfg)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return nil, fmt.Errorf("%w: commit %s is signed with OpenPGP key %s, which is not in the trusted keyring", ErrUntrustedCommit, rev, issuer)
	case err != nil:
		return nil, fmt.Errorf("%w: commit %s: bad OpenPGP signature by key %s: %v", ErrUntrustedCommit, rev, issuer, err)
	}
	s := &Signer{Method: "openpgp", Key: fmt.Sprintf("%X", entity.PrimaryKey.Fingerprint)}
	if id := entity.PrimaryIdentity(); id != nil {
		s.Identity = id.Name
	}
	return s, nil
}

func (t *trust) verifySSH(rev, sigText string, payload io.Reader, signed time.Time) (*Signer, error) {
	sig, err := sshsig.Unarmor([]byte(sigText))
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s: unreadable SSH signature: %v", ErrUntrustedCommit, rev, err)
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	var match *allowedSigner
	for i := range t.signers {
		a := &t.signers[i]
		if bytes.Equal(a.key.Marshal(), sig.PublicKey.Marshal()) && a.allows(sshNamespace, signed) {
			match = a
			break
		}
	}
	if match == nil {
		return nil, fmt.Errorf("%w: commit %s is signed with SSH key %s, which is not in allowed signers (for namespace %q at %s)",
			ErrUntrustedCommit, rev, fp, sshNamespace, signed.UTC().Format(time.RFC3339))
	}
	if err := sshsig.Verify(payload, sig, match.key, sig.HashAlgorithm, sshNamespace); err != nil {
		return nil, fmt.Errorf("%w: commit %s: bad SSH signature by key %s: %v", ErrUntrustedCommit, rev, fp, err)
	}
	return &Signer{Method: "ssh", Key: fp, Identity: strings.Join(match.principals, ",")}, nil
}

// allowedSigner is one line of an allowed_signers file.
type allowedSigner struct {
	principals  []string
	key         ssh.PublicKey
	namespaces  []string  // empty: any
	validAfter  time.Time // zero: no bound
	validBefore time.Time // zero: no bound
}

// allows reports whether the line accepts a signature in namespace made
// at t (git checks validity at the commit's committer time).
func (a *allowedSigner) allows(namespace string, t time.Time) bool {
	if len(a.namespaces) > 0 && !slices.ContainsFunc(a.namespaces, func(n string) bool { return n == namespace || n == "*" }) {
		return false
	}
	if !a.validAfter.IsZero() && t.Before(a.validAfter) {
		return false
	}
	if !a.validBefore.IsZero() && !t.Before(a.validBefore) {
		return false
	}
	return true
}

// parseAllowedSigners parses the ALLOWED SIGNERS format of ssh-keygen(1):
//
//	principals [options] keytype base64-key [comment]
//
// with options namespaces="...", valid-after="..." and valid-before="...".
// cert-authority lines are refused rather than half supported.
func parseAllowedSigners(data []byte) ([]allowedSigner, error) {
	var out []allowedSigner
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		principals, rest, ok := cutPrincipals(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want principals, then a key", n+1)
		}
		key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		a := allowedSigner{principals: principals, key: key}
		for _, opt := range options {
			name, val, _ := strings.Cut(opt, "=")
			val = strings.Trim(val, `"`)
			switch strings.ToLower(name) {
			case "namespaces":
				a.namespaces = strings.Split(val, ",")
			case "valid-after":
				if a.validAfter, err = parseSSHTime(val); err != nil {
					return nil, fmt.Errorf("line %d: valid-after: %v", n+1, err)
				}
			case "valid-before":
				if a.validBefore, err = parseSSHTime(val); err != nil {
					return nil, fmt.Errorf("line %d: valid-before: %v", n+1, err)
				}
			case "cert-authority":
				return nil, fmt.Errorf("line %d: cert-authority lines are not supported; list the signing keys themselves", n+1)
			default:
				return nil, fmt.Errorf("line %d: unknown option %q", n+1, name)
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("holds no keys")
	}
	return out, nil
}

// cutPrincipals splits the principals field (which may be quoted) from the
// rest of an allowed_signers line.
func cutPrincipals(line string) ([]string, string, bool) {
	var field, rest string
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return nil, "", false
		}
		field, rest = line[1:end+1], line[end+2:]
	} else {
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return nil, "", false
		}
		field, rest = line[:i], line[i:]
	}
	rest = strings.TrimSpace(rest)
	if field == "" || rest == "" {
		return nil, "", false
	}
	return strings.Split(field, ","), rest, true
}

// parseSSHTime parses YYYYMMDD[HHMM[SS]] with an optional trailing Z (UTC;
// otherwise local time), as ssh-keygen does.
func parseSSHTime(s string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		s, loc = s[:len(s)-1], time.UTC
	}
	for _, layout := range []string{"20060102", "200601021504", "20060102150405"} {
		if len(s) == len(layout) {
			return time.ParseInLocation(layout, s, loc)
		}
	}
	return time.Time{}, fmt.Errorf("%q is not YYYYMMDD[HHMM[SS]][Z]", s)
}
