package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// ContentHash returns "sha256:<hex>" of the rule set's canonical JSON
// (object keys sorted, no insignificant white space), so a published
// version can be identified and verified, and two drafts with the same
// content hash alike regardless of key order in the submitted JSON.
func ContentHash(rs *RuleSet) (string, error) {
	canon, err := CanonicalJSON(rs)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// CanonicalJSON encodes the rule set with sorted object keys and without
// HTML escaping; it is what ContentHash hashes.
func CanonicalJSON(rs *RuleSet) ([]byte, error) {
	raw, err := json.Marshal(rs)
	if err != nil {
		return nil, fmt.Errorf("encode rule set %q: %w", rs.Key, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("decode rule set %q: %w", rs.Key, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, fmt.Errorf("canonicalise rule set %q: %w", rs.Key, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
